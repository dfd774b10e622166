/**
 * Image formats, by the names sharp and the Images API give them (`jpeg`, not `jpg`): their MIME
 * types and the file extensions that stand for them. The one table for uploads, result links and
 * the gallery.
 */
import path from 'node:path';

const MIME_TYPES = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  svg: 'image/svg+xml',
} as const;

export type ImageFormat = keyof typeof MIME_TYPES;

const FORMAT_OF_EXTENSION: Readonly<Record<string, ImageFormat>> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.webp': 'webp',
  '.gif': 'gif',
  '.tif': 'tiff',
  '.tiff': 'tiff',
  '.svg': 'svg',
};

export const OCTET_STREAM = 'application/octet-stream';

/** `jpeg` → `image/jpeg`; a format not in the table is plain bytes. */
export function mimeTypeOf(format: string): string {
  // hasOwn: a format named `constructor` must not find Object's prototype.
  return Object.hasOwn(MIME_TYPES, format) ? MIME_TYPES[format as ImageFormat] : OCTET_STREAM;
}

/** The image format a file name's extension stands for (any case), or undefined. */
export function imageFormatOfFile(file: string): ImageFormat | undefined {
  const ext = path.extname(file).toLowerCase();
  return Object.hasOwn(FORMAT_OF_EXTENSION, ext) ? FORMAT_OF_EXTENSION[ext] : undefined;
}
