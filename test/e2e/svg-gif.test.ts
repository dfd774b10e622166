/**
 * SVG and animated GIF output end to end: what the fake API answered is what is saved, the SVG's
 * check names each hostile part, sanitize writes a copy without them, a GIF keeps its frames, and
 * every refusal happens before any call, naming the fix.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CallToolResult, ImageContent, ResourceLink } from '@modelcontextprotocol/sdk/types.js';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkSvg } from '../../src/core/svg.js';
import { SVG_VARIANTS, type FakeImagesApi } from '../fake-images-api.js';
import { startHarness, textOf, type Harness } from '../helpers.js';

let harness: Harness;
let fake: FakeImagesApi;
let dir: string;

const images = (r: CallToolResult) => r.content.filter((b): b is ImageContent => b.type === 'image');
const links = (r: CallToolResult) => r.content.filter((b): b is ResourceLink => b.type === 'resource_link');
const generations = () => fake.requests.filter((r) => r.path === '/v1/images/generations');

beforeAll(async () => {
  harness = await startHarness({ env: { IMAGEGEN_TODAY: '2026-12-02' } });
  ({ fake } = harness);
  dir = harness.ws.dir;
});
afterAll(async () => {
  await harness?.close();
});
beforeEach(() => fake.reset());

const call = (name: string, args: Record<string, unknown>) => harness.server.client.callTool({ name, arguments: args }) as Promise<CallToolResult>;

describe('svg', () => {
  it('saves the answer byte-identical as .svg, previews it, and reports a clean file as clean', async () => {
    const result = await call('generate', { prompt: 'a check mark icon', model: 'gpt-image-2.6-flare', output_format: 'svg', out: 'icons/done.svg' });
    const text = textOf(result);
    expect(result.isError ?? false, text).toBe(false);
    const saved = await readFile(path.join(dir, 'icons/done.svg'), 'utf8');
    expect(saved).toBe(SVG_VARIANTS.clean);
    expect(text).toContain('SVG check: clean');
    expect(text).toContain('viewBox 0 0 24 24');
    expect(text).toContain('10 elements');
    expect(text).not.toContain('<svg');
    const [preview] = images(result);
    const meta = await sharp(Buffer.from(preview!.data, 'base64')).metadata();
    expect(meta.format).toBe('webp');
    expect(meta.width).toBeGreaterThan(24);
    expect(links(result).map((l) => l.mimeType)).toEqual(['image/svg+xml']);
    expect(generations()[0]?.body).toMatchObject({ output_format: 'svg', model: 'gpt-image-2.6-flare' });
    expect(generations()[0]?.body.svg).toBeUndefined();
  });

  it('sends svg_model and svg_effort as the svg object', async () => {
    const result = await call('generate', { prompt: 'a logo', model: 'gpt-image-2.6-sunburst', output_format: 'svg', svg_model: 'gpt-5.2-codex', svg_effort: 'low', out: 'logo.svg' });
    expect(result.isError ?? false, textOf(result)).toBe(false);
    expect(generations()[0]?.body.svg).toEqual({ model: 'gpt-5.2-codex', reasoning: { effort: 'low' } });
    // svg_usage is reported by its author model, and the cost says it leaves it out.
    expect(textOf(result)).toMatch(/SVG authoring: [\d,]+ in, 2,400 out \(1,800 reasoning\) tokens by gpt-5\.2-codex.*not in this server's table/);
  });

  for (const [variant, name] of [['script', 'script: <script>'], ['onload', 'event-handler: onload'], ['external_href', 'external-href']] as const) {
    it(`names the ${variant} variant, and sanitize writes a clean copy that parses and renders`, async () => {
      fake.inject({ fault: { kind: 'svg_variant', variant } });
      const out = `hostile/${variant}.svg`;
      const result = await call('generate', { prompt: 'an icon', model: 'gpt-image-2.6-flare', output_format: 'svg', out, sanitize: true });
      const text = textOf(result);
      expect(result.isError ?? false, text).toBe(false);
      expect(text).toContain(name);
      expect(text).toContain(`Clean copy: hostile/${variant}-clean.svg`);
      expect(await readFile(path.join(dir, out), 'utf8')).toBe(SVG_VARIANTS[variant]);
      const clean = await readFile(path.join(dir, `hostile/${variant}-clean.svg`));
      const check = checkSvg(clean);
      expect(check.ok && check.findingsTotal).toBe(0);
      const rendered = await sharp(clean).png().toBuffer();
      expect((await sharp(rendered).metadata()).width).toBe(24);
      expect(links(result).map((l) => l.name)).toContain(`hostile/${variant}-clean.svg`);
    });
  }

  it('refuses svg on other models, n > 1 and output_compression before any call, naming the fix', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ model: 'gpt-image-2' }, /gpt-image-2\.6-sunburst and gpt-image-2\.6-flare/],
      [{ model: 'gpt-image-2.6-flare', n: 2 }, /drop n/],
      [{ model: 'gpt-image-2.6-flare', output_compression: 80 }, /leave it out/],
      [{ model: 'gpt-image-2.6-flare', downscale_max_dim: 64 }, /drop downscale_max_dim/],
    ];
    for (const [args, fix] of cases) {
      const result = await call('generate', { prompt: 'x', output_format: 'svg', ...args });
      expect(result.isError, JSON.stringify(args)).toBe(true);
      expect(textOf(result)).toMatch(fix);
    }
    expect(fake.requests).toHaveLength(0);
  });
});

describe('gif', () => {
  it('saves the animated GIF with its frames and previews numbered frames', async () => {
    const result = await call('generate', { prompt: 'a spinner', model: 'gpt-image-2.6-flare', output_format: 'gif', size: '720x720', frame_count: 16, frame_duration_ms: 80, out: 'anim/spin.gif', sanitize: true });
    const text = textOf(result);
    expect(result.isError ?? false, text).toBe(false);
    const file = path.join(dir, 'anim/spin.gif');
    const meta = await sharp(file, { animated: true }).metadata();
    expect(meta).toMatchObject({ format: 'gif', pages: 16, pageHeight: 720, width: 720 });
    expect((await stat(file)).size).toBeGreaterThan(0);
    expect(text).toContain('GIF: 16 frames of 80 ms (1.28 s a loop), 720x720.');
    expect(text).toContain('sanitize cleans SVG output only');
    expect(text).toMatch(/Preview: frames 1, 6, 11, 16 of 16 of the GIF, numbered/);
    expect(links(result).map((l) => l.mimeType)).toEqual(['image/gif']);
    expect(generations()[0]?.body).toMatchObject({ output_format: 'gif', frame_count: 16, frame_duration_ms: 80 });
  });

  it('refuses an oversized frame, output_compression and other models before any call, naming the fix', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ model: 'gpt-image-2.6-flare', size: '960x960', frame_count: 16 }, /Use size 720x720/],
      [{ model: 'gpt-image-2.6-flare', output_compression: 50 }, /leave it out/],
      [{ model: 'gpt-image-2.5-flare' }, /gpt-image-2\.6-flare/],
      [{ model: 'gpt-image-2.6-flare', frame_count: 40 }, /from 2 to 16/],
    ];
    for (const [args, fix] of cases) {
      const result = await call('generate', { prompt: 'x', output_format: 'gif', ...args });
      expect(result.isError, JSON.stringify(args)).toBe(true);
      expect(textOf(result)).toMatch(fix);
    }
    expect(fake.requests).toHaveLength(0);
  });
});

describe('batch', () => {
  it('saves a batch of SVG icons as .svg files and shows one contact sheet', async () => {
    const result = await call('generate_batch', {
      jobs: ['a home icon', 'a search icon', 'a settings icon'],
      out_dir: 'icons',
      model: 'gpt-image-2.6-flare',
      output_format: 'svg',
    });
    const text = textOf(result);
    expect(result.isError ?? false, text).toBe(false);
    const saved = links(result).filter((l) => l.name.endsWith('.svg'));
    expect(saved).toHaveLength(3);
    for (const link of saved) expect(await readFile(path.join(dir, link.name), 'utf8')).toBe(SVG_VARIANTS.clean);
    expect(saved.every((l) => l.mimeType === 'image/svg+xml')).toBe(true);
    const sheets = images(result);
    expect(sheets).toHaveLength(1);
    expect((await sharp(Buffer.from(sheets[0]!.data, 'base64')).metadata()).format).toBe('webp');
    expect(generations().every((r) => r.body.output_format === 'svg')).toBe(true);
  });
});

describe('edit', () => {
  it('turns a raster sketch into an SVG, sending the svg object in the multipart form', async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(dir, 'sketch'), { recursive: true });
    await sharp({ create: { width: 256, height: 256, channels: 3, background: '#ffffff' } }).png().toFile(path.join(dir, 'sketch/logo.png'));
    const result = await call('edit', { images: ['sketch/logo.png'], prompt: 'the same logo as a clean flat vector', model: 'gpt-image-2.6-sunburst', output_format: 'svg', svg_effort: 'high' });
    const text = textOf(result);
    expect(result.isError ?? false, text).toBe(false);
    expect(text).toContain('output/imagegen/logo-edit.svg');
    expect(text).toContain('an SVG is not an edit input');
    expect(text).toContain('SVG check: clean');
    const edits = fake.requests.filter((r) => r.path === '/v1/images/edits');
    expect(edits[0]?.body).toMatchObject({ output_format: 'svg', 'svg[reasoning][effort]': 'high' });
    const history = (await readFile(path.join(dir, 'output/imagegen/history.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { path: string; format: string; params: Record<string, unknown> });
    expect(history.at(-1)).toMatchObject({ path: 'output/imagegen/logo-edit.svg', format: 'svg', params: { output_format: 'svg', svg: { reasoning: { effort: 'high' } } } });
  });

  it('refuses a gif with a mask before any call, naming the fix', async () => {
    const result = await call('edit', { images: ['sketch/logo.png'], mask: 'sketch/logo.png', prompt: 'animate it', model: 'gpt-image-2.6-flare', output_format: 'gif' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('leave out mask');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('hostile answers', () => {
  const answer = (bytes: Buffer) => ({ kind: 'status' as const, status: 200, body: { created: 1, data: [{ b64_json: bytes.toString('base64') }], usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } } });

  it('refuses a PNG answered for an svg request, and XML that is not an SVG, saving nothing', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000000' } }).png().toBuffer();
    const cases: Array<[Buffer, RegExp]> = [
      [png, /it is PNG, not the SVG that was requested/],
      [Buffer.from('<?xml version="1.0"?><html><body onload="x()"/></html>'), /not an image/],
    ];
    for (const [bytes, why] of cases) {
      fake.inject({ fault: answer(bytes) });
      const result = await call('generate', { prompt: 'x', model: 'gpt-image-2.6-flare', output_format: 'svg', out: 'bad/answer.svg' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(why);
      await expect(stat(path.join(dir, 'bad/answer.svg'))).rejects.toThrow();
    }
  });
});

describe('gallery', () => {
  it('serves a saved SVG as image/svg+xml text, and refuses an .svg that is not one', async () => {
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(path.join(dir, 'gallery'), { recursive: true });
    await writeFile(path.join(dir, 'gallery/ok.svg'), SVG_VARIANTS.clean);
    await writeFile(path.join(dir, 'gallery/fake.svg'), 'not xml at all');
    const { pathToFileURL } = await import('node:url');
    const read = await harness.server.client.readResource({ uri: pathToFileURL(path.join(dir, 'gallery/ok.svg')).href });
    expect(read.contents[0]).toMatchObject({ mimeType: 'image/svg+xml', text: SVG_VARIANTS.clean });
    await expect(harness.server.client.readResource({ uri: pathToFileURL(path.join(dir, 'gallery/fake.svg')).href })).rejects.toThrow(/is not served: it is named like an SVG/);
  });
});
