/**
 * The geometry of a contact sheet (a grid of numbered thumbnails) and the number badges drawn on
 * it. Pure: the pixels of a badge come from a tiny built-in digit font, so labels look the same on
 * every machine whatever fonts are installed.
 */

export const SHEET_MAX_WIDTH = 1024;
export const SHEET_MAX_HEIGHT = 1024;
/** More images than this are summarised by the first ones; the text says how many are shown. */
export const SHEET_MAX_TILES = 48;
const GAP = 6;
const MAX_COLUMNS = 8;

export interface Cell {
  left: number;
  top: number;
}

export interface SheetLayout {
  width: number;
  height: number;
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  cells: Cell[];
  /** Thumbnails on the sheet (the first `shown` images). */
  shown: number;
  total: number;
}

export interface SheetLimits {
  maxWidth?: number;
  maxHeight?: number;
  maxTiles?: number;
}

/**
 * A grid for `count` images whose typical shape is `aspect` (height / width): up to three in a row,
 * then a near-square grid; tiles as large as the width and height caps allow.
 */
export function sheetLayout(count: number, aspect: number, limits: SheetLimits = {}): SheetLayout {
  const maxWidth = limits.maxWidth ?? SHEET_MAX_WIDTH;
  const maxHeight = limits.maxHeight ?? SHEET_MAX_HEIGHT;
  const total = Math.max(0, Math.floor(count));
  const shown = Math.max(1, Math.min(total, limits.maxTiles ?? SHEET_MAX_TILES));
  const columns = shown <= 3 ? shown : Math.min(MAX_COLUMNS, Math.ceil(Math.sqrt(shown)));
  const rows = Math.ceil(shown / columns);
  const shape = Math.min(3, Math.max(1 / 3, Number.isFinite(aspect) && aspect > 0 ? aspect : 1));

  let tileWidth = Math.floor((maxWidth - GAP * (columns + 1)) / columns);
  let tileHeight = Math.round(tileWidth * shape);
  if (rows * tileHeight + GAP * (rows + 1) > maxHeight) {
    tileHeight = Math.floor((maxHeight - GAP * (rows + 1)) / rows);
    tileWidth = Math.min(tileWidth, Math.round(tileHeight / shape));
  }
  tileWidth = Math.max(1, tileWidth);
  tileHeight = Math.max(1, tileHeight);

  const cells: Cell[] = [];
  for (let i = 0; i < shown; i++) {
    const column = i % columns;
    const row = Math.floor(i / columns);
    cells.push({ left: GAP + column * (tileWidth + GAP), top: GAP + row * (tileHeight + GAP) });
  }
  return {
    width: columns * tileWidth + GAP * (columns + 1),
    height: rows * tileHeight + GAP * (rows + 1),
    columns,
    rows,
    tileWidth,
    tileHeight,
    cells,
    shown,
    total,
  };
}

/**
 * Above this many pixels (4 MP) a sheet decodes its images one at a time, and a batch does not
 * make its thumbnails ahead (its memory is for the answers it receives).
 */
export const LARGE_IMAGE_PIXELS = 4_000_000;

export interface ThumbnailsAhead {
  tileWidth: number;
  tileHeight: number;
  /** Per job, how many of its images (from its first) will be on the sheet. */
  shownPerJob: number[];
}

/**
 * Which thumbnails a batch can make while it runs: the tile size its sheet will have if every job
 * succeeds (`imageCounts` per job, the shape of the first job's size) and the images that will be
 * on it. None for one image (that is a preview, not a sheet), an `auto` size, or large images.
 */
export function thumbnailsAhead(imageCounts: readonly number[], firstSize: { width: number; height: number } | undefined): ThumbnailsAhead | undefined {
  if (!firstSize || firstSize.width * firstSize.height > LARGE_IMAGE_PIXELS) return undefined;
  const total = imageCounts.reduce((sum, n) => sum + n, 0);
  if (total < 2) return undefined;
  const layout = sheetLayout(total, firstSize.height / firstSize.width);
  let first = 0;
  const shownPerJob = imageCounts.map((n) => {
    const shown = Math.max(0, Math.min(n, layout.shown - first));
    first += n;
    return shown;
  });
  return { tileWidth: layout.tileWidth, tileHeight: layout.tileHeight, shownPerJob };
}

// 5x7 digits, one string per row, '1' = ink.
const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  '0': ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
  '1': ['00100', '01100', '00100', '00100', '00100', '00100', '01110'],
  '2': ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
  '3': ['11110', '00001', '00001', '01110', '00001', '00001', '11110'],
  '4': ['00010', '00110', '01010', '10010', '11111', '00010', '00010'],
  '5': ['11111', '10000', '11110', '00001', '00001', '10001', '01110'],
  '6': ['00110', '01000', '10000', '11110', '10001', '10001', '01110'],
  '7': ['11111', '00001', '00010', '00100', '01000', '01000', '01000'],
  '8': ['01110', '10001', '10001', '01110', '10001', '10001', '01110'],
  '9': ['01110', '10001', '10001', '01111', '00001', '00010', '01100'],
};
const GLYPH_WIDTH = 5;
const GLYPH_HEIGHT = 7;

export interface Badge {
  width: number;
  height: number;
  /** RGBA, row by row. */
  data: Uint8Array;
}

/** White digits on a dark, slightly see-through box; `scale` px per font pixel. */
export function numberBadge(label: string, scale: number): Badge {
  const digits = [...label].filter((c) => GLYPHS[c]);
  const s = Math.max(1, Math.round(scale));
  const pad = 2 * s;
  const width = pad * 2 + digits.length * GLYPH_WIDTH * s + Math.max(0, digits.length - 1) * s;
  const height = pad * 2 + GLYPH_HEIGHT * s;
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data[i * 4 + 3] = 210; // dark box: r = g = b = 0
  }
  digits.forEach((digit, index) => {
    const glyph = GLYPHS[digit]!;
    const x0 = pad + index * (GLYPH_WIDTH + 1) * s;
    for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        if (glyph[gy]![gx] !== '1') continue;
        for (let dy = 0; dy < s; dy++) {
          for (let dx = 0; dx < s; dx++) {
            const p = ((pad + gy * s + dy) * width + x0 + gx * s + dx) * 4;
            data[p] = data[p + 1] = data[p + 2] = data[p + 3] = 255;
          }
        }
      }
    }
  });
  return { width, height, data };
}

/** Badge scale for a tile: legible on small tiles, not shouting on large ones. */
export function badgeScale(tileWidth: number): number {
  if (tileWidth >= 300) return 4;
  if (tileWidth >= 160) return 3;
  return 2;
}
