/**
 * Small pictures of saved images that an agent can look at without flooding its context: one
 * preview (longest edge <= 512 px, <= 48 KB) for one image, one numbered contact sheet (<= 1024 px
 * wide, <= 96 KB) for several. Made from the saved files on disk, never from the API's answer, so
 * the agent sees exactly what was written. WebP keeps alpha, so transparent assets show as such.
 */
import type { ImageContent } from '@modelcontextprotocol/sdk/types.js';
import type { Sharp } from 'sharp';
import { LARGE_IMAGE_PIXELS, badgeScale, numberBadge, sheetLayout, type SheetLimits } from '../core/contact-sheet.js';
import { loadSharp } from './images.js';

export const PREVIEW_MAX_EDGE = 512;
export const PREVIEW_MAX_BYTES = 48 * 1024;
export const SHEET_MAX_BYTES = 96 * 1024;

export interface Preview {
  data: Buffer;
  mimeType: 'image/webp';
  width: number;
  height: number;
  /** Images pictured (a contact sheet may show the first ones only). */
  shown: number;
  /** Images asked for. */
  total: number;
}

interface Raw {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

// Qualities tried in turn; below the last, the picture is made smaller instead.
const QUALITIES = [80, 62, 45, 30];
const SHRINK = 0.75;
const MAX_SHRINKS = 8;

async function rawOf(pipeline: Sharp): Promise<Raw> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** Encodes as WebP under `maxBytes`: lower quality first, then smaller dimensions. */
async function encodeUnder(raw: Raw, maxBytes: number): Promise<{ data: Buffer; width: number; height: number }> {
  const sharp = await loadSharp();
  let current = raw;
  for (let shrink = 0; ; shrink++) {
    const input = () => sharp(current.data, { raw: { width: current.width, height: current.height, channels: current.channels } });
    for (const quality of QUALITIES) {
      const data = await input().webp({ quality, alphaQuality: quality, effort: 2 }).toBuffer();
      if (data.length <= maxBytes) return { data, width: current.width, height: current.height };
    }
    if (shrink >= MAX_SHRINKS || (current.width <= 16 && current.height <= 16)) {
      throw new Error(`could not fit a preview in ${maxBytes} bytes`);
    }
    current = await rawOf(
      input().resize({
        width: Math.max(1, Math.round(current.width * SHRINK)),
        height: Math.max(1, Math.round(current.height * SHRINK)),
        fit: 'fill',
      }),
    );
  }
}

export interface PreviewLimits {
  maxEdge?: number;
  maxBytes?: number;
  /** Show transparent areas on a light checkerboard (as contact sheets do) instead of keeping alpha. */
  checkerboard?: boolean;
}

/** One preview of one saved image. */
export async function singlePreview(file: string, limits: PreviewLimits = {}): Promise<Preview> {
  const sharp = await loadSharp();
  const maxEdge = limits.maxEdge ?? PREVIEW_MAX_EDGE;
  let raw = await rawOf(sharp(file).resize({ width: maxEdge, height: maxEdge, fit: 'inside', withoutEnlargement: true }));
  if (limits.checkerboard && raw.channels === 4) {
    const board = sharp(checkerboard(raw.width, raw.height), { raw: { width: raw.width, height: raw.height, channels: 3 } });
    raw = await rawOf(board.composite([{ input: raw.data, raw: { width: raw.width, height: raw.height, channels: 4 } }]).removeAlpha());
  }
  const encoded = await encodeUnder(raw, limits.maxBytes ?? PREVIEW_MAX_BYTES);
  return { ...encoded, mimeType: 'image/webp', shown: 1, total: 1 };
}

const SHEET_GREY = 32; // a dark neutral background between tiles
const CHECKER = 8;

/** A light checkerboard, drawn behind thumbnails with alpha so transparency is visible. */
function checkerboard(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const light = (Math.floor(x / CHECKER) + Math.floor(y / CHECKER)) % 2 === 0;
      data.fill(light ? 236 : 204, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return data;
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface SheetOptions extends SheetLimits {
  maxBytes?: number;
  /** Labels drawn on the tiles, in order; default 1, 2, 3 ... */
  labels?: readonly string[];
  /** Thumbnails made ahead (see ThumbnailPrefetch); a tile of another size is made from its file. */
  thumbnails?: ThumbnailCache;
}

export interface Thumbnail {
  /** RGBA pixels. */
  data: Buffer;
  width: number;
  height: number;
  hasAlpha: boolean;
}

/** Thumbnails by tile size and file: `${width}x${height}:${file}`. */
export type ThumbnailCache = Map<string, Promise<Thumbnail | undefined>>;

const thumbnailKey = (file: string, tileWidth: number, tileHeight: number) => `${tileWidth}x${tileHeight}:${file}`;

/** A saved image made small enough to fit a tile (it decodes the whole image). */
export async function thumbnail(file: string, tileWidth: number, tileHeight: number): Promise<Thumbnail> {
  const sharp = await loadSharp();
  const raw = await rawOf(sharp(file).resize({ width: tileWidth, height: tileHeight, fit: 'inside' }).ensureAlpha());
  const meta = await sharp(file).metadata();
  return { data: raw.data, width: raw.width, height: raw.height, hasAlpha: meta.hasAlpha ?? false };
}

/**
 * Makes a contact sheet's thumbnails while a batch still runs (one at a time, as its images are
 * saved), so the sheet at the end only composes them. Made for the tile size the batch expects;
 * if the sheet turns out otherwise (jobs failed), it makes its tiles from the files as usual.
 */
export class ThumbnailPrefetch {
  readonly cache: ThumbnailCache = new Map();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly tileWidth: number,
    readonly tileHeight: number,
  ) {}

  add(file: string): void {
    const key = thumbnailKey(file, this.tileWidth, this.tileHeight);
    if (this.cache.has(key)) return;
    const made = this.queue.then(() => thumbnail(file, this.tileWidth, this.tileHeight)).catch(() => undefined);
    this.queue = made;
    this.cache.set(key, made);
  }

  /** Resolves once every thumbnail asked for so far is made (or failed). */
  async settled(): Promise<void> {
    await this.queue;
  }
}

/**
 * One contact sheet of several saved images: thumbnails in a grid, each with its number in the
 * top-left corner (1 = the first file). A file that cannot be read leaves its tile empty.
 */
export async function contactSheet(files: readonly string[], options: SheetOptions = {}): Promise<Preview> {
  const sharp = await loadSharp();
  if (files.length === 0) throw new Error('a contact sheet needs at least one image');
  const first = await sharp(files[0]!).metadata().catch(() => undefined);
  const aspect = first?.width && first.height ? first.height / first.width : 1;
  const layout = sheetLayout(files.length, aspect, options);
  const shownFiles = files.slice(0, layout.shown);
  const scale = badgeScale(layout.tileWidth);

  // Each thumbnail decodes a whole image: two at a time (on two cores four were no faster), one at
  // a time for large images (~15 MB each at 3824x2160), where the memory matters more than the
  // second or so a sheet of 48 takes.
  const pixels = (first?.width ?? 0) * (first?.height ?? 0);
  const tiles = await mapLimited(shownFiles, pixels > LARGE_IMAGE_PIXELS ? 1 : 2, async (file, i) => {
    const cell = layout.cells[i]!;
    const layers: Array<{ input: Buffer; raw: { width: number; height: number; channels: 3 | 4 }; left: number; top: number }> = [];
    try {
      const made = await options.thumbnails?.get(thumbnailKey(file, layout.tileWidth, layout.tileHeight));
      const thumb = made ?? (await thumbnail(file, layout.tileWidth, layout.tileHeight));
      const left = cell.left + Math.floor((layout.tileWidth - thumb.width) / 2);
      const top = cell.top + Math.floor((layout.tileHeight - thumb.height) / 2);
      if (thumb.hasAlpha) layers.push({ input: checkerboard(thumb.width, thumb.height), raw: { width: thumb.width, height: thumb.height, channels: 3 }, left, top });
      layers.push({ input: thumb.data, raw: { width: thumb.width, height: thumb.height, channels: 4 }, left, top });
    } catch {
      // unreadable: the tile stays empty, its number still shows
    }
    const badge = numberBadge(options.labels?.[i] ?? String(i + 1), scale);
    layers.push({ input: Buffer.from(badge.data), raw: { width: badge.width, height: badge.height, channels: 4 }, left: cell.left, top: cell.top });
    return layers;
  });

  const background = Buffer.alloc(layout.width * layout.height * 3, SHEET_GREY);
  const canvas = sharp(background, { raw: { width: layout.width, height: layout.height, channels: 3 } }).composite(tiles.flat());
  const raw = await rawOf(canvas);
  const encoded = await encodeUnder(raw, options.maxBytes ?? SHEET_MAX_BYTES);
  return { ...encoded, mimeType: 'image/webp', shown: layout.shown, total: files.length };
}

/** The picture for a call's saved files: none, one preview, or one contact sheet. */
export async function previewFiles(files: readonly string[], thumbnails?: ThumbnailCache, labels?: readonly string[]): Promise<Preview | undefined> {
  if (files.length === 0) return undefined;
  if (files.length === 1) return singlePreview(files[0]!);
  return contactSheet(files, { ...(thumbnails ? { thumbnails } : {}), ...(labels ? { labels } : {}) });
}

export function previewBlock(preview: Preview): ImageContent {
  return { type: 'image', data: preview.data.toString('base64'), mimeType: preview.mimeType };
}

/** One sentence for the text result, so a person knows what the picture is. */
export function describePreview(preview: Preview): string {
  if (preview.total === 1) return `Preview: ${preview.width}x${preview.height} (the saved file is full size).`;
  const which = preview.shown < preview.total ? `the first ${preview.shown} of ${preview.total} images` : `all ${preview.total} images`;
  return `Preview: one contact sheet of ${which}, numbered in the order listed above.`;
}
