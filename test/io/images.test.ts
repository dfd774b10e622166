/**
 * Reading an answer's header from its first bytes (headerOf): the same format and size sharp
 * reads from the whole file for every format the Images API answers in, and nothing (so the file
 * is read instead) when the first bytes do not tell.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { headerOf, inspectImage } from '../../src/io/images.js';
import { HEAD_BYTES } from '../../src/io/receive.js';

const still = (width: number, height: number) => sharp({ create: { width, height, channels: 4, background: { r: 200, g: 40, b: 40, alpha: 0.5 } } });
const encoded = {
  png: (w: number, h: number) => still(w, h).png().toBuffer(),
  jpeg: (w: number, h: number) => still(w, h).jpeg().toBuffer(),
  webp: (w: number, h: number) => still(w, h).webp().toBuffer(),
  'webp (lossless)': (w: number, h: number) => still(w, h).webp({ lossless: true }).toBuffer(),
  gif: (w: number, h: number) => still(w, h).gif().toBuffer(),
};
const jpegComment = (bytes: number) => Buffer.concat([Buffer.from([0xff, 0xfe, (bytes + 2) >> 8, (bytes + 2) & 0xff]), Buffer.alloc(bytes, 0x20)]);

describe('headerOf', () => {
  it.each(Object.keys(encoded) as (keyof typeof encoded)[])('reads %s format and size from the first bytes as sharp reads them from the whole image', async (kind) => {
    for (const [w, h] of [
      [1024, 1024],
      [3824, 2160],
      [16, 3840],
    ] as const) {
      const bytes = await encoded[kind](w, h);
      const { format, width, height } = await inspectImage(bytes);
      expect(headerOf(bytes.subarray(0, HEAD_BYTES))).toEqual({ format, width, height });
      expect({ width, height }).toEqual({ width: w, height: h });
    }
  });

  it('says nothing when a JPEG frame header lies past the first bytes, or the bytes are cut inside the header', async () => {
    const jpeg = await encoded.jpeg(1024, 1024);
    const late = Buffer.concat([jpeg.subarray(0, 2), jpegComment(HEAD_BYTES), jpeg.subarray(2)]);
    expect(headerOf(late.subarray(0, HEAD_BYTES))).toBeUndefined();
    expect(headerOf(late)).toEqual({ format: 'jpeg', width: 1024, height: 1024 });
    const png = await encoded.png(1024, 1024);
    expect(headerOf(png.subarray(0, 20))).toBeUndefined(); // the signature, not the size
    expect(headerOf(Buffer.alloc(0))).toBeUndefined();
  });

  it('says nothing for bytes that are not one of the formats the API answers in', async () => {
    const tiff = await still(64, 64).tiff().toBuffer();
    expect(headerOf(tiff)).toBeUndefined();
    expect(headerOf(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'))).toBeUndefined();
    expect(headerOf(Buffer.from('{"error":"not an image"}'))).toBeUndefined();
    expect(headerOf(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Buffer.alloc(40)]))).toBeUndefined(); // a PNG signature with a zero size
  });
});
