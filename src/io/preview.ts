/**
 * Small pictures of saved images that an agent can look at without flooding its context: one
 * preview (longest edge <= 512 px, <= 48 KB) for one image, one numbered contact sheet (<= 1024 px
 * wide, <= 96 KB) for several. Made from the saved files on disk, never from the API's answer, so
 * the agent sees exactly what was written. WebP keeps alpha, so transparent assets show as such.
 *
 * An SVG is rasterised from its cleaned copy (core/svg), from memory: librsvg resolves hrefs to
 * local files (relative to the file it renders), so `<image href="/etc/...">` must never reach it.
 * An animated GIF's preview is a strip of a few of its frames, numbered.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { ImageContent } from '@modelcontextprotocol/sdk/types.js';
import type { Sharp } from 'sharp';
import { LARGE_IMAGE_PIXELS, badgeScale, numberBadge, sheetLayout, type SheetLayout, type SheetLimits } from '../core/contact-sheet.js';
import { previewFrames } from '../core/gif.js';
import type { SvgCheck } from '../core/svg.js';
import { loadSharp } from './images.js';

// The SVG check (and its XML parser, ~150 ms to load) is loaded by the first SVG, not at start-up.
let svgModule: Promise<typeof import('../core/svg.js')> | undefined;
const loadSvg = () => (svgModule ??= import('../core/svg.js'));

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
  /** An animated GIF: the frames pictured (1 = the first), of how many. */
  frames?: { shown: number[]; total: number };
  /** An SVG: the check of the saved file (the picture is of its cleaned copy). */
  svg?: SvgCheck;
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

/** A saved file as sharp should read it: a raster file by path, an SVG as its cleaned copy. */
type Source = { kind: 'raster'; file: string; gif: boolean } | { kind: 'svg'; svg: Buffer; check: SvgCheck };

const startsWith = (head: Buffer, bytes: readonly number[], at = 0) => bytes.every((b, i) => head[at + i] === b);
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** Formats sharp reads whose loaders fetch nothing, told by their first bytes. */
function rasterFormat(head: Buffer): 'gif' | 'other' | undefined {
  if (startsWith(head, ascii('GIF8'))) return 'gif';
  const raster =
    startsWith(head, [0x89, 0x50, 0x4e, 0x47]) || // png
    startsWith(head, [0xff, 0xd8, 0xff]) || // jpeg
    (startsWith(head, ascii('RIFF')) && startsWith(head, ascii('WEBP'), 8)) ||
    startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || // tiff
    startsWith(head, [0x4d, 0x4d, 0x00, 0x2a]) ||
    startsWith(head, ascii('ftyp'), 4); // avif, heif
  return raster ? 'other' : undefined;
}

/**
 * Opens a saved file for a picture. Anything that is not a known raster format is read as an SVG
 * (sharp would otherwise hand it to librsvg by path), checked, and cleaned if it needs to be.
 */
async function openSource(file: string): Promise<Source> {
  // Non-blocking: a FIFO put in a file's place must not hang the call (it is refused below).
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error('not a regular file');
    const head = Buffer.alloc(16);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const raster = rasterFormat(head.subarray(0, bytesRead));
    if (raster) return { kind: 'raster', file, gif: raster === 'gif' };
    const { MAX_SVG_CHECK_BYTES, checkAndCleanSvg } = await loadSvg();
    const size = stats.size;
    if (size > MAX_SVG_CHECK_BYTES) throw new Error(`not a known raster format, and at ${(size / 1024 / 1024).toFixed(1)} MB too large to check as an SVG`);
    const bytes = await handle.readFile();
    const { verdict, cleaned } = checkAndCleanSvg(bytes);
    if (!verdict.ok) throw new Error(verdict.reason);
    if (!cleaned) return { kind: 'svg', svg: bytes, check: verdict };
    if (!cleaned.ok) throw new Error(cleaned.reason);
    return { kind: 'svg', svg: Buffer.from(cleaned.svg), check: verdict };
  } finally {
    await handle.close();
  }
}

/**
 * An SVG rendered to fit `width` x `height` (enlarged if small: it is a vector). The density is
 * chosen so librsvg draws at about the final size, rather than drawing large and shrinking.
 */
async function rasterSvg(source: Extract<Source, { kind: 'svg' }>, width: number, height: number): Promise<Sharp> {
  const sharp = await loadSharp();
  const svg = source.svg;
  const { svgPixelSize } = await loadSvg();
  // The size from the check when the root states it plainly; librsvg's reading (a second parse) otherwise.
  const natural =
    svgPixelSize(source.check) ??
    (await sharp(svg)
      .metadata()
      .catch((error: unknown) => {
        throw new Error(`the SVG could not be rasterised (${error instanceof Error ? error.message : String(error)}); check its width, height and viewBox`);
      }));
  const scale = Math.min(width / (natural.width || width), height / (natural.height || height));
  const density = Math.min(100_000, Math.max(1, 72 * scale));
  return sharp(svg, { density }).resize({ width, height, fit: 'inside' });
}

async function sizeOf(source: Source): Promise<{ width: number; height: number } | undefined> {
  const sharp = await loadSharp();
  const stated = source.kind === 'svg' ? (await loadSvg()).svgPixelSize(source.check) : undefined;
  if (stated) return stated;
  const meta = await sharp(source.kind === 'svg' ? source.svg : source.file).metadata();
  return meta.width && meta.height ? { width: meta.width, height: meta.height } : undefined;
}

/** One preview of one saved image: an SVG rasterised, an animated GIF as a strip of frames. */
export async function singlePreview(file: string, limits: PreviewLimits = {}): Promise<Preview> {
  const sharp = await loadSharp();
  const maxEdge = limits.maxEdge ?? PREVIEW_MAX_EDGE;
  const maxBytes = limits.maxBytes ?? PREVIEW_MAX_BYTES;
  const source = await openSource(file);
  if (source.kind === 'svg') {
    const encoded = await encodeUnder(await rawOf(await rasterSvg(source, maxEdge, maxEdge)), maxBytes);
    return { ...encoded, mimeType: 'image/webp', shown: 1, total: 1, svg: source.check };
  }
  if (source.gif) {
    const meta = await sharp(file).metadata();
    if ((meta.pages ?? 1) > 1) return gifStrip(file, meta.pages!, meta.width! / (meta.pageHeight ?? meta.height!), maxEdge, maxBytes);
  }
  let raw = await rawOf(sharp(file).resize({ width: maxEdge, height: maxEdge, fit: 'inside', withoutEnlargement: true }));
  if (limits.checkerboard && raw.channels === 4) {
    const board = sharp(checkerboard(raw.width, raw.height), { raw: { width: raw.width, height: raw.height, channels: 3 } });
    raw = await rawOf(board.composite([{ input: raw.data, raw: { width: raw.width, height: raw.height, channels: 4 } }]).removeAlpha());
  }
  const encoded = await encodeUnder(raw, maxBytes);
  return { ...encoded, mimeType: 'image/webp', shown: 1, total: 1 };
}

/** A few frames of an animated GIF (first, last, evenly between), numbered, within one preview's caps. */
async function gifStrip(file: string, pages: number, widthOverHeight: number, maxEdge: number, maxBytes: number): Promise<Preview> {
  const sharp = await loadSharp();
  const frames = previewFrames(pages);
  const layout = sheetLayout(frames.length, 1 / widthOverHeight, { maxWidth: maxEdge, maxHeight: maxEdge });
  // One frame at a time (`page`): a hostile file with thousands of frames is never decoded whole.
  const made = frames.map((page) => async () => {
    const raw = await rawOf(sharp(file, { page }).resize({ width: layout.tileWidth, height: layout.tileHeight, fit: 'inside' }).ensureAlpha());
    return { ...raw, hasAlpha: true };
  });
  const labels = frames.map((page) => String(page + 1));
  const sheet = await composeSheet(layout, made, labels, 1, maxBytes);
  return { ...sheet, shown: 1, total: 1, frames: { shown: frames.map((page) => page + 1), total: pages } };
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

/** A saved image made small enough to fit a tile (it decodes the whole image; an SVG is rasterised). */
export async function thumbnail(file: string, tileWidth: number, tileHeight: number): Promise<Thumbnail> {
  const sharp = await loadSharp();
  const source = await openSource(file);
  if (source.kind === 'svg') {
    const raw = await rawOf((await rasterSvg(source, tileWidth, tileHeight)).ensureAlpha());
    return { data: raw.data, width: raw.width, height: raw.height, hasAlpha: true };
  }
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
  if (files.length === 0) throw new Error('a contact sheet needs at least one image');
  const first = await openSource(files[0]!)
    .then(sizeOf)
    .catch(() => undefined);
  const aspect = first ? first.height / first.width : 1;
  const layout = sheetLayout(files.length, aspect, options);
  const makers = files.slice(0, layout.shown).map((file) => async () => {
    const made = await options.thumbnails?.get(thumbnailKey(file, layout.tileWidth, layout.tileHeight));
    return made ?? (await thumbnail(file, layout.tileWidth, layout.tileHeight));
  });
  // Each thumbnail decodes a whole image: two at a time (on two cores four were no faster), one at
  // a time for large images (~15 MB each at 3824x2160), where the memory matters more than the
  // second or so a sheet of 48 takes.
  const pixels = (first?.width ?? 0) * (first?.height ?? 0);
  const labels = makers.map((_, i) => options.labels?.[i] ?? String(i + 1));
  const sheet = await composeSheet(layout, makers, labels, pixels > LARGE_IMAGE_PIXELS ? 1 : 2, options.maxBytes ?? SHEET_MAX_BYTES);
  return { ...sheet, shown: layout.shown, total: files.length };
}

/** Thumbnails in the layout's cells, each with its label; a thumbnail that fails leaves its tile empty. */
async function composeSheet(
  layout: SheetLayout,
  makers: ReadonlyArray<() => Promise<Thumbnail>>,
  labels: readonly string[],
  concurrency: number,
  maxBytes: number,
): Promise<{ data: Buffer; width: number; height: number; mimeType: 'image/webp' }> {
  const sharp = await loadSharp();
  const scale = badgeScale(layout.tileWidth);
  const tiles = await mapLimited(makers, concurrency, async (make, i) => {
    const cell = layout.cells[i]!;
    const layers: Array<{ input: Buffer; raw: { width: number; height: number; channels: 3 | 4 }; left: number; top: number }> = [];
    try {
      const thumb = await make();
      const left = cell.left + Math.floor((layout.tileWidth - thumb.width) / 2);
      const top = cell.top + Math.floor((layout.tileHeight - thumb.height) / 2);
      if (thumb.hasAlpha) layers.push({ input: checkerboard(thumb.width, thumb.height), raw: { width: thumb.width, height: thumb.height, channels: 3 }, left, top });
      layers.push({ input: thumb.data, raw: { width: thumb.width, height: thumb.height, channels: 4 }, left, top });
    } catch {
      // unreadable: the tile stays empty, its number still shows
    }
    const badge = numberBadge(labels[i] ?? String(i + 1), scale);
    layers.push({ input: Buffer.from(badge.data), raw: { width: badge.width, height: badge.height, channels: 4 }, left: cell.left, top: cell.top });
    return layers;
  });

  const background = Buffer.alloc(layout.width * layout.height * 3, SHEET_GREY);
  const canvas = sharp(background, { raw: { width: layout.width, height: layout.height, channels: 3 } }).composite(tiles.flat());
  const encoded = await encodeUnder(await rawOf(canvas), maxBytes);
  return { ...encoded, mimeType: 'image/webp' };
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
  if (preview.frames) {
    const { shown, total } = preview.frames;
    const which = shown.length < total ? `frames ${shown.join(', ')} of ${total}` : `all ${total} frames`;
    return `Preview: ${which} of the GIF, numbered (${preview.width}x${preview.height}; the saved file is full size and animated).`;
  }
  if (preview.svg) return `Preview: the SVG rasterised at ${preview.width}x${preview.height}, without any active or external content.`;
  if (preview.total === 1) return `Preview: ${preview.width}x${preview.height} (the saved file is full size).`;
  const which = preview.shown < preview.total ? `the first ${preview.shown} of ${preview.total} images` : `all ${preview.total} images`;
  return `Preview: one contact sheet of ${which}, numbered in the order listed above.`;
}
