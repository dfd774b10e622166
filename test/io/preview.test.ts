import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sheetLayout } from '../../src/core/contact-sheet.js';
import { PREVIEW_MAX_BYTES, SHEET_MAX_BYTES, ThumbnailPrefetch, contactSheet, describePreview, previewFiles, singlePreview, thumbnail } from '../../src/io/preview.js';
import { ICON_ELEMENTS, ICON_SVG, animatedGif, frameColour } from '../fixtures/svg-gif.js';
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
    const made = (await prefetch.cache.get(`${layout.tileWidth}x${layout.tileHeight}:${blue}`))!;
    const again = await thumbnail(blue!, layout.tileWidth, layout.tileHeight);
    // Buffers compared as bytes: a deep equal walks a 1 MB buffer element by element (seconds).
    expect({ ...made, data: made.data.length }).toEqual({ ...again, data: again.data.length });
    expect(made.data.equals(again.data)).toBe(true);
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

describe('SVG previews', () => {
  /** RGB at (x, y) of a preview or sheet, decoded. */
  async function rgbAt(webp: Buffer, x: number, y: number): Promise<number[]> {
    const { data, info } = await sharp(webp).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (y * info.width + x) * 3;
    return [...data.subarray(at, at + 3)];
  }
  const near = (colour: number[], expected: number[]) => colour.every((v, i) => Math.abs(v - expected[i]!) <= 30);
  const GREEN = [47, 155, 67]; // the icon's gradient, near its middle

  /** A red PNG beside the SVG, and an SVG that draws it over its whole area, by relative and absolute path. */
  async function lureFiles(): Promise<{ relative: string; absolute: string; red: string }> {
    const red = path.join(ws.dir, 'secret.png');
    await sharp({ create: { width: 24, height: 24, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toFile(red);
    const lure = (href: string) => ICON_SVG.replace('</svg>', `<image href="${href}" x="0" y="0" width="24" height="24"/></svg>`);
    const relative = path.join(ws.dir, 'lure-relative.svg');
    const absolute = path.join(ws.dir, 'lure-absolute.png'); // an SVG whatever its name says
    await writeFile(relative, lure('secret.png'));
    await writeFile(absolute, lure(`file://${red}`));
    return { relative, absolute, red };
  }

  it('rasterises an SVG to a 512 px preview within 48 KB, and carries its check', async () => {
    const file = path.join(ws.dir, 'icon.svg');
    await writeFile(file, ICON_SVG);
    const preview = await singlePreview(file);
    expect(preview.data.length).toBeLessThanOrEqual(PREVIEW_MAX_BYTES);
    const meta = await sharp(preview.data).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 512, height: 512, hasAlpha: true });
    expect(preview.svg).toMatchObject({ ok: true, elements: ICON_ELEMENTS, findings: [] });
    expect(near(await rgbAt(preview.data, 100, 256), GREEN)).toBe(true);
    expect(describePreview(preview)).toBe('Preview: the SVG rasterised at 512x512, without any active or external content.');
  });

  it('never lets librsvg read a local file an SVG points to', async () => {
    const { relative, absolute } = await lureFiles();
    // The danger is real: rendered by path, librsvg draws the red file over the icon.
    const direct = await sharp(relative).removeAlpha().raw().toBuffer();
    expect([...direct.subarray(0, 3)]).toEqual([255, 0, 0]);
    for (const file of [relative, absolute]) {
      const preview = await singlePreview(file);
      expect(preview.svg!.findings.map((f) => f.kind)).toEqual(['external-href']);
      expect(near(await rgbAt(preview.data, 100, 256), GREEN)).toBe(true);
    }
  });

  it('refuses what is neither a raster image nor an SVG, with the reason', async () => {
    const text = path.join(ws.dir, 'notes.png');
    await writeFile(text, 'just some notes, not an image');
    await expect(singlePreview(text)).rejects.toThrow(/not well-formed XML/);
    const html = path.join(ws.dir, 'page.svg');
    await writeFile(html, '<html><script>alert(1)</script></html>');
    await expect(singlePreview(html)).rejects.toThrow('The file has the root element <html>, not <svg>.');
  });

  it('shows several SVGs as rasterised thumbnails on one sheet, each from its cleaned copy', async () => {
    const { relative } = await lureFiles();
    const icon = path.join(ws.dir, 'icon.svg');
    await writeFile(icon, ICON_SVG);
    const blue = path.join(ws.dir, 'blue.svg');
    await writeFile(blue, '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 2"><rect width="4" height="2" fill="#0000ff"/></svg>');
    const sheet = await contactSheet([icon, blue, relative]);
    expect(sheet).toMatchObject({ shown: 3, total: 3 });
    const layout = sheetLayout(3, 1);
    const tileAt = (i: number) => rgbAt(sheet.data, layout.cells[i]!.left + Math.floor(layout.tileWidth / 5), layout.cells[i]!.top + Math.floor(layout.tileHeight / 2));
    expect(near(await tileAt(0), GREEN)).toBe(true);
    expect(near(await tileAt(1), [0, 0, 255])).toBe(true);
    expect(near(await tileAt(2), GREEN)).toBe(true); // not the red file it points to
  });

  it('makes SVG thumbnails ahead like any other', async () => {
    const icon = path.join(ws.dir, 'icon.svg');
    await writeFile(icon, ICON_SVG);
    const prefetch = new ThumbnailPrefetch(100, 100);
    prefetch.add(icon);
    await prefetch.settled();
    expect(await prefetch.cache.get(`100x100:${icon}`)).toMatchObject({ width: 100, height: 100, hasAlpha: true });
  });
});

describe('GIF previews', () => {
  /** RGB at (x, y) of a decoded preview. */
  async function rgbAt(webp: Buffer, x: number, y: number): Promise<number[]> {
    const { data, info } = await sharp(webp).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (y * info.width + x) * 3;
    return [...data.subarray(at, at + 3)];
  }
  const near = (colour: number[], expected: { r: number; g: number; b: number }) =>
    [expected.r, expected.g, expected.b].every((v, i) => Math.abs(v - colour[i]!) <= 30);

  it('shows an animated GIF as a strip of numbered frames: first, last and between', async () => {
    const file = path.join(ws.dir, 'spin.gif');
    await writeFile(file, await animatedGif({ width: 120, height: 120, frames: 9 }));
    expect((await sharp(file).metadata()).pages).toBe(9);
    const preview = await singlePreview(file);
    expect(preview.frames).toEqual({ shown: [1, 4, 6, 9], total: 9 });
    expect(preview.data.length).toBeLessThanOrEqual(PREVIEW_MAX_BYTES);
    const meta = await sharp(preview.data).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(512);
    expect({ width: meta.width, height: meta.height }).toEqual({ width: preview.width, height: preview.height });
    // Each tile is its frame: the frame's colour at the tile's bottom (below the moving bar, away from the badge).
    const layout = sheetLayout(4, 1, { maxWidth: 512, maxHeight: 512 });
    for (const [tile, frame] of [0, 3, 5, 8].entries()) {
      const cell = layout.cells[tile]!;
      const colour = await rgbAt(preview.data, cell.left + Math.floor(layout.tileWidth / 2), cell.top + layout.tileHeight - 8);
      expect(near(colour, frameColour(frame)), `tile ${tile + 1} shows frame ${frame + 1}`).toBe(true);
    }
    expect(describePreview(preview)).toBe(`Preview: frames 1, 4, 6, 9 of 9 of the GIF, numbered (${preview.width}x${preview.height}; the saved file is full size and animated).`);
  });

  it('shows every frame of a two-frame GIF, and a still GIF as a plain preview', async () => {
    const two = path.join(ws.dir, 'two.gif');
    await writeFile(two, await animatedGif({ width: 64, height: 32, frames: 2 }));
    const preview = await singlePreview(two);
    expect(preview.frames).toEqual({ shown: [1, 2], total: 2 });
    expect(describePreview(preview)).toContain('all 2 frames');
    const still = path.join(ws.dir, 'still.gif');
    await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 0, g: 0, b: 255 } } }).gif().toFile(still);
    const plain = await singlePreview(still);
    expect(plain.frames).toBeUndefined();
    expect(plain).toMatchObject({ width: 40, height: 30 });
  });

  it('keeps a strip of 16 noisy frames within 48 KB', async () => {
    const width = 256;
    const frames = 16;
    const file = path.join(ws.dir, 'noise.gif');
    await sharp(randomBytes(width * width * frames * 3), { raw: { width, height: width * frames, channels: 3, pageHeight: width } }).gif({ effort: 1 }).toFile(file);
    const preview = await singlePreview(file);
    expect(preview.frames).toEqual({ shown: [1, 6, 11, 16], total: 16 });
    expect(preview.data.length).toBeLessThanOrEqual(PREVIEW_MAX_BYTES);
  });

  it('puts a GIF on a contact sheet by its first frame', async () => {
    const file = path.join(ws.dir, 'spin.gif');
    await writeFile(file, await animatedGif({ width: 120, height: 120, frames: 3 }));
    const sheet = await contactSheet([file, file]);
    const layout = sheetLayout(2, 1);
    const cell = layout.cells[1]!;
    expect(near(await rgbAt(sheet.data, cell.left + Math.floor(layout.tileWidth / 2), cell.top + layout.tileHeight - 8), frameColour(0))).toBe(true);
  });
});

describe('previews of hostile files', () => {
  it('refuses a FIFO in a saved file\'s place without waiting on it', async () => {
    const fifo = path.join(ws.dir, 'pipe.svg');
    execFileSync('mkfifo', [fifo]);
    await expect(singlePreview(fifo)).rejects.toThrow('not a regular file');
    const sheet = await contactSheet([fifo, fifo]);
    expect(sheet.total).toBe(2);
  });

  it('says why an SVG of impossible dimensions has no preview', async () => {
    const file = path.join(ws.dir, 'zero.svg');
    await writeFile(file, '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"/>');
    await expect(singlePreview(file)).rejects.toThrow(/could not be rasterised .*check its width, height and viewBox/);
  });
});
