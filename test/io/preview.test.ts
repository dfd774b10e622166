import { randomBytes } from 'node:crypto';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sheetLayout } from '../../src/core/contact-sheet.js';
import { PREVIEW_MAX_BYTES, SHEET_MAX_BYTES, ThumbnailPrefetch, contactSheet, previewFiles, singlePreview, thumbnail } from '../../src/io/preview.js';
import { tempWorkspace } from '../helpers.js';

let ws: { dir: string; cleanup: () => Promise<void> };
let noise: string;
let wide: string;
let clear: string;

beforeAll(async () => {
  ws = await tempWorkspace('imagegen-preview-');
  // Full-entropy pixels: the worst case for the byte caps.
  noise = path.join(ws.dir, 'noise.png');
  await sharp(randomBytes(1024 * 1024 * 3), { raw: { width: 1024, height: 1024, channels: 3 } }).png().toFile(noise);
  wide = path.join(ws.dir, 'wide.jpg');
  await sharp(randomBytes(1536 * 512 * 3), { raw: { width: 1536, height: 512, channels: 3 } }).jpeg().toFile(wide);
  clear = path.join(ws.dir, 'clear.png');
  await sharp({ create: { width: 300, height: 200, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toFile(clear);
});
afterAll(() => ws.cleanup());

describe('previews', () => {
  it('keeps one preview within 512 px and 48 KB even for pure noise', async () => {
    for (const file of [noise, wide]) {
      const preview = await singlePreview(file);
      expect(preview.data.length).toBeLessThanOrEqual(PREVIEW_MAX_BYTES);
      const meta = await sharp(preview.data).metadata();
      expect(meta.format).toBe('webp');
      expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(512);
      expect({ width: meta.width, height: meta.height }).toEqual({ width: preview.width, height: preview.height });
    }
  });

  it('never enlarges a small image and keeps its alpha', async () => {
    const preview = await singlePreview(clear);
    const meta = await sharp(preview.data).metadata();
    expect(meta).toMatchObject({ width: 300, height: 200, hasAlpha: true });
  });

  it('makes one contact sheet within 1024 px wide and 96 KB, summarising long lists', async () => {
    const files = Array.from({ length: 60 }, (_, i) => [noise, wide, clear][i % 3]!);
    const sheet = await contactSheet(files);
    expect(sheet).toMatchObject({ shown: 48, total: 60 });
    expect(sheet.data.length).toBeLessThanOrEqual(SHEET_MAX_BYTES);
    const meta = await sharp(sheet.data).metadata();
    expect(meta.width).toBeLessThanOrEqual(1024);
  });

  it('leaves the tile of an unreadable file empty rather than failing', async () => {
    const sheet = await contactSheet([noise, path.join(ws.dir, 'missing.png')]);
    expect(sheet.total).toBe(2);
  });

  it('picks none, one preview or one sheet by the number of files', async () => {
    expect(await previewFiles([])).toBeUndefined();
    expect((await previewFiles([clear]))!.total).toBe(1);
    expect((await previewFiles([clear, clear]))!.total).toBe(2);
  });
});

describe('thumbnails made ahead', () => {
  /** Two 1024x1024 files of one flat colour each (blue, green). */
  async function flatFiles(): Promise<string[]> {
    const files: string[] = [];
    for (const [name, colour] of [['blue.png', { r: 0, g: 0, b: 255 }], ['green.png', { r: 0, g: 255, b: 0 }]] as const) {
      const file = path.join(ws.dir, name);
      await sharp({ create: { width: 1024, height: 1024, channels: 3, background: colour } }).png().toFile(file);
      files.push(file);
    }
    return files;
  }

  /** The colour at the centre of tile `index` of a sheet of `count` square images. */
  async function tileCentre(sheet: Buffer, count: number, index: number): Promise<number[]> {
    const layout = sheetLayout(count, 1);
    const cell = layout.cells[index]!;
    const { data, info } = await sharp(sheet).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = ((cell.top + Math.floor(layout.tileHeight / 2)) * info.width + cell.left + Math.floor(layout.tileWidth / 2)) * 3;
    return [...data.subarray(at, at + 3)];
  }
  const near = (colour: number[], expected: number[]) => colour.every((v, i) => Math.abs(v - expected[i]!) <= 24);

  it('composes a tile from a thumbnail made ahead at its size, and makes any other from its file', async () => {
    const [blue, green] = await flatFiles();
    const layout = sheetLayout(2, 1);
    const prefetch = new ThumbnailPrefetch(layout.tileWidth, layout.tileHeight);
    // A red stand-in for the blue file: only the cache can put red on the sheet.
    const red = await sharp({ create: { width: layout.tileWidth, height: layout.tileHeight, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 1 } } }).raw().toBuffer();
    prefetch.cache.set(`${layout.tileWidth}x${layout.tileHeight}:${blue}`, Promise.resolve({ data: red, width: layout.tileWidth, height: layout.tileHeight, hasAlpha: false }));
    // One of another tile size is not used.
    prefetch.cache.set(`10x10:${green}`, Promise.resolve({ data: Buffer.alloc(400), width: 10, height: 10, hasAlpha: false }));
    const sheet = await contactSheet([blue!, green!], { thumbnails: prefetch.cache });
    expect(near(await tileCentre(sheet.data, 2, 0), [255, 0, 0])).toBe(true);
    expect(near(await tileCentre(sheet.data, 2, 1), [0, 255, 0])).toBe(true);
  });

  it('makes each thumbnail once as files are added; the sheet from them is the sheet from the files', async () => {
    const [blue, green] = await flatFiles();
    const layout = sheetLayout(2, 1);
    const prefetch = new ThumbnailPrefetch(layout.tileWidth, layout.tileHeight);
    prefetch.add(blue!);
    prefetch.add(green!);
    prefetch.add(blue!); // asked twice, made once
    expect(prefetch.cache.size).toBe(2);
    await prefetch.settled();
    const made = await prefetch.cache.get(`${layout.tileWidth}x${layout.tileHeight}:${blue}`);
    expect(made).toEqual(await thumbnail(blue!, layout.tileWidth, layout.tileHeight));
    const ahead = await contactSheet([blue!, green!], { thumbnails: prefetch.cache });
    const fromFiles = await contactSheet([blue!, green!]);
    expect(ahead.data.equals(fromFiles.data)).toBe(true);
  });

  it('a thumbnail that could not be made is made again from its file, or left empty', async () => {
    const prefetch = new ThumbnailPrefetch(100, 100);
    prefetch.add(path.join(ws.dir, 'missing.png'));
    await prefetch.settled();
    expect(await prefetch.cache.get(`100x100:${path.join(ws.dir, 'missing.png')}`)).toBeUndefined();
  });
});
