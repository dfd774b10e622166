import { randomBytes } from 'node:crypto';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREVIEW_MAX_BYTES, SHEET_MAX_BYTES, contactSheet, previewFiles, singlePreview } from '../../src/io/preview.js';
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
