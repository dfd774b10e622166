/**
 * The edge to the image libraries: image-size for an answer's header from its first bytes, and
 * sharp, loaded on first use (start-up and dry runs do not pay for libvips), for everything else.
 * Saved files are checked from their header only; derived copies are separate files.
 */
import { imageSize } from 'image-size';
import type { Sharp, SharpOptions } from 'sharp';
import type { ImageHeader } from '../core/answer-limits.js';
import type { OutputFormat } from '../core/paths.js';

type SharpFactory = (input?: Buffer | string, options?: SharpOptions) => Sharp;
let sharpFactory: Promise<SharpFactory> | undefined;

/**
 * No image with more pixels than this is ever decoded (sharp's `limitInputPixels`; its own default
 * is 268 million): 100 million pixels, room for a 10000x10000 input photo, while a 16000x16000
 * "pixel bomb" (1 GB once decoded) is refused from its header.
 */
export const MAX_DECODE_PIXELS = 100_000_000;

/** sharp, with every image it opens bounded by MAX_DECODE_PIXELS unless a caller asks for less. */
export function loadSharp(): Promise<SharpFactory> {
  sharpFactory ??= import('sharp').then((m) => {
    const sharp = m.default as unknown as SharpFactory;
    return (input, options) => sharp(input, { limitInputPixels: MAX_DECODE_PIXELS, ...options });
  });
  return sharpFactory;
}

export interface ImageFacts {
  format: string;
  width: number;
  height: number;
  hasAlpha: boolean;
}

/** Reads format, size and alpha from the header, without decoding the pixels. */
export async function inspectImage(input: Buffer | string): Promise<ImageFacts> {
  const sharp = await loadSharp();
  // The header only (no pixel is decoded), so no pixel limit: callers compare the size themselves.
  const meta = await sharp(input, { limitInputPixels: false }).metadata();
  if (!meta.format || !meta.width || !meta.height) throw new Error('not an image sharp can read');
  return { format: meta.format, width: meta.width, height: meta.height, hasAlpha: meta.hasAlpha ?? false };
}

/** The formats the Images API answers in whose first bytes say their size, as image-size names them. */
const HEADER_FORMATS = new Map([
  ['png', 'png'],
  ['jpg', 'jpeg'],
  ['webp', 'webp'],
  ['gif', 'gif'],
]);

/**
 * Format and size from an image's first bytes, with no decoding and no I/O (image-size), or
 * undefined when they do not tell (another format, a header past these bytes); then inspectImage
 * reads the file. Every answer of a batch is checked, and this costs microseconds where sharp's
 * metadata costs ~0.3 ms of the event loop and a thread-pool job.
 */
export function headerOf(bytes: Uint8Array): ImageHeader | undefined {
  // image-size reads through a DataView to the end of the underlying memory: give it memory that
  // ends where these bytes end, so a header cut short is refused, not completed by what follows.
  const exact = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
  try {
    const size = imageSize(exact);
    const format = size.type === undefined ? undefined : HEADER_FORMATS.get(size.type);
    if (format === undefined || !(size.width > 0) || !(size.height > 0)) return undefined;
    return { format, width: size.width, height: size.height };
  } catch {
    return undefined; // not one of these formats, or cut short before its size
  }
}

/**
 * A copy whose longest edge is at most `maxDim` (never enlarged), in the same format. JPEG has no
 * alpha, so transparent pixels are flattened on white rather than turning black.
 */
export async function downscale(input: Buffer | string, maxDim: number, format: OutputFormat): Promise<Buffer> {
  const sharp = await loadSharp();
  let pipeline = sharp(input).resize({ width: maxDim, height: maxDim, fit: 'inside', withoutEnlargement: true });
  if (format === 'jpeg') pipeline = pipeline.flatten({ background: '#ffffff' }).jpeg({ quality: 85 });
  else if (format === 'webp') pipeline = pipeline.webp();
  else pipeline = pipeline.png();
  return pipeline.toBuffer();
}
