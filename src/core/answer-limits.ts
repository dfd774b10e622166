/**
 * What an Images API answer may plausibly hold, judged before anything is decoded: how many bytes
 * one image may weigh, and whether an image's header matches what was asked for. A hostile or
 * broken endpoint can send a gzip bomb (megabytes on the wire, gigabytes once inflated) or a
 * 16000x16000 PNG (gigabytes once decoded); both are refused here, from sizes and headers alone.
 */
import { FLEXIBLE_RULES, parseSize } from './sizes.js';

/** Formats made at exactly the requested size (stills). */
const EXACT_SIZE_FORMATS = new Set(['png', 'jpeg', 'webp']);

/** What is read of an error answer (a 4xx/5xx body); the rest is dropped unread. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Room for a file's own structure (headers, metadata, compression overhead) beyond its pixels. */
export const IMAGE_BYTES_ALLOWANCE = 1024 * 1024;

/** The pixels an image may have: the requested size, or for `auto` the largest any model makes. */
export function plausiblePixels(size: string): number {
  const parsed = parseSize(size);
  return parsed.kind === 'dimensions' ? parsed.width * parsed.height : FLEXIBLE_RULES.maxPixels;
}

/**
 * The most bytes one image of the answer may decode to: 4 bytes (RGBA) per plausible pixel plus a
 * fixed allowance. No PNG, JPEG or WebP of that size is larger (compression only shrinks it; a PNG
 * stored uncompressed adds a byte a row and a few per block), so anything past it is not the image
 * that was asked for. 1024x1024: 5 MB; auto (and animated or vector formats): 34.2 MB.
 */
export function maxImageBytes(size: string, outputFormat = 'png'): number {
  // An animation's frames add up; a vector's bytes do not follow its size: both get the widest cap.
  const pixels = EXACT_SIZE_FORMATS.has(outputFormat) ? plausiblePixels(size) : FLEXIBLE_RULES.maxPixels;
  return pixels * 4 + IMAGE_BYTES_ALLOWANCE;
}

export interface ImageHeader {
  format: string;
  width: number;
  height: number;
}

export interface ExpectedImage {
  size: string;
  outputFormat: string;
}

/**
 * Why an image's header does not match the request, or undefined when it does: the format must be
 * the requested output_format (an SVG or a GIF saved under .png is refused), and the dimensions the
 * requested size (for `auto`, and for animated or vector formats, within the largest range any
 * model makes).
 */
export function headerMismatch(header: ImageHeader, expected: ExpectedImage): string | undefined {
  const { width, height, format } = header;
  if (format !== expected.outputFormat) {
    return `it is ${format.toUpperCase()}, not the ${expected.outputFormat.toUpperCase()} that was requested`;
  }
  const size = parseSize(expected.size);
  // Only stills are made at exactly the requested size; an animation's frames or a vector's
  // nominal size may differ, so those are held to the range alone.
  if (size.kind === 'dimensions' && EXACT_SIZE_FORMATS.has(format)) {
    if (width !== size.width || height !== size.height) return `it is ${width}x${height}, not the ${size.width}x${size.height} that was requested`;
    return undefined;
  }
  if (Math.max(width, height) >= FLEXIBLE_RULES.maxEdgeExclusive || width * height > FLEXIBLE_RULES.maxPixels) {
    return `it is ${width}x${height}, larger than any size the Images API makes (edges under ${FLEXIBLE_RULES.maxEdgeExclusive} px, at most ${FLEXIBLE_RULES.maxPixels.toLocaleString('en-US')} pixels)`;
  }
  return undefined;
}
