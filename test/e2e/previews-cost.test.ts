/**
 * What a generate result looks like to an agent: one small preview (or one contact sheet), links,
 * structuredContent that matches the declared outputSchema, a bounded size; the history line per
 * image; cost estimates, real costs and the spending guard; logging and its level.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { CallToolResult, ImageContent, ResourceLink } from '@modelcontextprotocol/sdk/types.js';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeImagesApi } from '../fake-images-api.js';
import { spawnServer, structured, tempWorkspace, textOf, type ServerHandle, startHarness, type Harness } from '../helpers.js';

let fake: FakeImagesApi;
let server: ServerHandle;
let harness: Harness;
let ws: { dir: string; cleanup: () => Promise<void> };

const images = (r: CallToolResult) => r.content.filter((b): b is ImageContent => b.type === 'image');
const links = (r: CallToolResult) => r.content.filter((b): b is ResourceLink => b.type === 'resource_link');
const resultBytes = (r: CallToolResult) => Buffer.byteLength(JSON.stringify(r.content));
const generations = () => fake.requests.filter((r) => r.path === '/v1/images/generations');

async function decode(block: ImageContent) {
  const bytes = Buffer.from(block.data, 'base64');
  return { bytes: bytes.length, meta: await sharp(bytes).metadata() };
}

interface HistoryLine {
  time: string;
  tool: string;
  path: string;
  model: string;
  prompt: string;
  params: Record<string, unknown>;
  call_usage?: Record<string, number>;
  cost_usd?: number;
}

async function historyLines(dir: string): Promise<HistoryLine[]> {
  const text = await readFile(path.join(dir, 'output/imagegen/history.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as HistoryLine);
}

beforeAll(async () => {
  // High-entropy pixels, so previews meet the byte caps on images that do not compress to nothing.
  harness = await startHarness({ structured: true, fake: { imageStyle: 'noise' }, env: { IMAGEGEN_TODAY: '2026-11-24' } });
  ({ fake, ws, server } = harness);
});

afterAll(async () => {
  await harness?.close();
});

beforeEach(() => fake.reset());

describe('the result an agent sees', () => {
  it('has one preview (decodes, <= 512 px, <= 48 KB), a resource_link, and structuredContent valid against the outputSchema', async () => {
    const { tools } = await server.client.listTools();
    const outputSchema = tools.find((t) => t.name === 'generate')!.outputSchema!;
    const validate = new AjvJsonSchemaValidator().getValidator(outputSchema);

    const result = await server.call('generate', { prompt: 'a harbour at dawn', size: '1536x1024', out: 'shots/harbour.png' });
    expect(result.isError).toBeFalsy();
    const [preview, ...more] = images(result);
    expect(more).toHaveLength(0);
    const { bytes, meta } = await decode(preview!);
    expect(preview!.mimeType).toBe('image/webp');
    expect(meta.format).toBe('webp');
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(512);
    expect(meta.width! / meta.height!).toBeCloseTo(1.5, 1);
    expect(bytes).toBeLessThanOrEqual(48 * 1024);

    const file = path.join(ws.dir, 'shots/harbour.png');
    expect(links(result)).toEqual([expect.objectContaining({ uri: `file://${file}`, name: 'shots/harbour.png', mimeType: 'image/png' })]);
    expect(fileURLToPath(links(result)[0]!.uri)).toBe(file);

    const verdict = validate(result.structuredContent);
    expect(verdict.errorMessage).toBeUndefined();
    expect(verdict.valid).toBe(true);
    expect(structured(result).images[0]).toMatchObject({ path: 'shots/harbour.png', width: 1536, height: 1024, format: 'png' });

    // The dry-run shape validates too (one schema for both).
    const dry = await server.call('generate', { prompt: 'a harbour at dawn', size: '1536x1024', dry_run: true });
    expect(validate(dry.structuredContent).valid).toBe(true);
    expect(images(dry)).toHaveLength(0);
  });

  it('gives n: 4 one numbered contact sheet (<= 1024 px wide, <= 96 KB) and stays under 200 KB in all', async () => {
    const result = await server.call('generate', { prompt: 'four icon variants', n: 4, size: '1024x1024', out: 'icons/set.png' });
    expect(result.isError).toBeFalsy();
    expect(images(result)).toHaveLength(1);
    const { bytes, meta } = await decode(images(result)[0]!);
    expect(meta.width).toBeLessThanOrEqual(1024);
    expect(meta.width).toBeGreaterThan(512); // a grid, not a single thumbnail
    expect(bytes).toBeLessThanOrEqual(96 * 1024);
    expect(links(result)).toHaveLength(4);
    expect(resultBytes(result)).toBeLessThanOrEqual(200 * 1024);
    const text = textOf(result);
    for (let i = 1; i <= 4; i++) expect(text).toContain(`${i}. icons/set-${i}.png`);
    expect(text).toMatch(/contact sheet of all 4 images, numbered/);
  });

  it('keeps a 3824x2160 result under 100 KB', async () => {
    const result = await server.call('generate', { prompt: 'a 4k wallpaper', size: '3824x2160', out: 'wall/4k.png' });
    expect(result.isError).toBeFalsy();
    const saved = await stat(path.join(ws.dir, 'wall/4k.png'));
    expect(saved.size).toBeGreaterThan(5 * 1024 * 1024); // the full image stays on disk, not in the result
    expect(resultBytes(result)).toBeLessThanOrEqual(100 * 1024);
    const { meta } = await decode(images(result)[0]!);
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(512);
  });

  it('leaves the picture out with preview: false, and keeps the links', async () => {
    const result = await server.call('generate', { prompt: 'no picture', size: '1024x1024', n: 2, out: 'nopic/a.png', preview: false });
    expect(result.isError).toBeFalsy();
    expect(images(result)).toHaveLength(0);
    expect(links(result)).toHaveLength(2);
  });
});

describe('history', () => {
  it('appends one line per saved image with tool, path, model, final prompt, parameters, usage and cost', async () => {
    const before = (await historyLines(ws.dir)).length;
    const result = await server.call('generate', {
      prompt: 'history test',
      subject: 'a red kite',
      n: 3,
      size: '1024x1024',
      quality: 'low',
      out: 'hist/kite.png',
    });
    expect(result.isError).toBeFalsy();
    const lines = await historyLines(ws.dir);
    expect(lines).toHaveLength(before + 3);
    const mine = lines.slice(before);
    expect(mine.map((l) => l.path)).toEqual(['hist/kite-1.png', 'hist/kite-2.png', 'hist/kite-3.png']);
    const s = structured(result);
    for (const line of mine) {
      expect(line).toMatchObject({ tool: 'generate', model: 'gpt-image-2', prompt: s.prompt });
      expect(line.params).toMatchObject({ size: '1024x1024', quality: 'low', n: 3, output_format: 'png' });
      expect(line.call_usage).toEqual(s.usage);
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
    }
    // Each line carries its share, so the lines add up to the call's cost.
    expect(mine.reduce((sum, l) => sum + l.cost_usd!, 0)).toBeCloseTo(s.cost_usd!, 5); // shares are rounded to micro-dollars
    // Every image saved in this file so far has its line: one per file under the folders used.
    const everyPath = lines.map((l) => l.path);
    expect(new Set(everyPath).size).toBe(everyPath.length);
    expect(everyPath).toEqual(expect.arrayContaining(['shots/harbour.png', 'icons/set-4.png', 'wall/4k.png', 'nopic/a-2.png']));
  });
});

describe('cost', () => {
  const price = {
    'gpt-image-1.5': { text: 5, image: 8, out: 32 },
    'gpt-image-1-mini': { text: 2, image: 2.5, out: 8 },
    'gpt-image-2': { text: 5, image: 8, out: 30 },
  } as const;

  it('estimates a dry run on a legacy size and quality as the published token count × price', async () => {
    const prompt = 'a lamp on a desk';
    const dry = await server.call('generate', { prompt, model: 'gpt-image-1.5', size: '1536x1024', quality: 'high', n: 2, dry_run: true });
    expect(dry.isError).toBeFalsy();
    const promptTokens = Math.ceil(prompt.length / 4);
    const expected = (2 * 6208 * price['gpt-image-1.5'].out + promptTokens * price['gpt-image-1.5'].text) / 1e6;
    expect(structured(dry).estimated_cost_usd).toBeCloseTo(expected, 6);
    expect(textOf(dry)).toContain('2 × 6,208 output tokens at $32/1M');

    const mini = await server.call('generate', { prompt, model: 'gpt-image-1-mini', size: '1024x1536', quality: 'low', dry_run: true });
    expect(structured(mini).estimated_cost_usd).toBeCloseTo((408 * 8 + promptTokens * 2) / 1e6, 6);
    expect(fake.requests).toHaveLength(0);
  });

  it('says when there is no published figure (gpt-image-2 flexible sizes)', async () => {
    const dry = await server.call('generate', { prompt: 'x', size: '2048x1152', dry_run: true });
    expect(structured(dry).estimated_cost_usd).toBeUndefined();
    expect(structured(dry).cost_note).toMatch(/gpt-image-2 has no published token count for its flexible sizes/);
    expect(textOf(dry)).toMatch(/Estimated cost: none \(gpt-image-2 has no published token count .*\); the real cost is reported from the API's usage/);
  });

  it("reports a real call's cost as the fake's usage × price, matching the dry-run estimate on legacy models", async () => {
    const args = { prompt: 'a brass key', model: 'gpt-image-1.5', size: '1024x1024', quality: 'medium', out: 'cost/key.png' };
    const dry = await server.call('generate', { ...args, dry_run: true });
    const real = await server.call('generate', args);
    expect(real.isError).toBeFalsy();
    const s = structured(real);
    const usage = s.usage as { input_tokens_details: { text_tokens: number; image_tokens: number }; output_tokens: number };
    const p = price['gpt-image-1.5'];
    const expected = (usage.input_tokens_details.text_tokens * p.text + usage.input_tokens_details.image_tokens * p.image + usage.output_tokens * p.out) / 1e6;
    expect(usage.output_tokens).toBe(1056);
    expect(s.cost_usd).toBeCloseTo(expected, 6);
    expect(s.cost_usd).toBeCloseTo(structured(dry).estimated_cost_usd!, 6);
    expect(textOf(real)).toMatch(/Cost: \$0\.03\d+ \(from usage: \d+ text-in, 1,056 image-out tokens\)/);

    const flexible = await server.call('generate', { prompt: 'a brass key', size: '2048x1152', quality: 'low', out: 'cost/flex.png' });
    const f = structured(flexible);
    const fu = f.usage as { input_tokens_details: { text_tokens: number }; output_tokens: number };
    expect(f.cost_usd).toBeCloseTo((fu.input_tokens_details.text_tokens * 5 + fu.output_tokens * 30) / 1e6, 6);
  });
});

describe('logging', () => {
  const apiLine = /generations model=gpt-image-2 size=1024x1024 quality=low n=1 duration_ms=\d+ attempts=1/;

  it('logs one line per API call with model, size, quality, duration and attempts, and respects logging/setLevel', async () => {
    const settle = () => new Promise((r) => setTimeout(r, 100));
    await server.client.setLoggingLevel('warning');
    server.logs.length = 0;
    await server.call('generate', { prompt: 'quiet', size: '1024x1024', quality: 'low', out: 'log/quiet.png' });
    await settle();
    expect(server.logs.filter((l) => apiLine.test(l))).toHaveLength(0);

    await server.client.setLoggingLevel('info');
    await server.call('generate', { prompt: 'loud', size: '1024x1024', quality: 'low', out: 'log/loud.png' });
    await settle();
    expect(server.logs.filter((l) => apiLine.test(l))).toHaveLength(1);
  });
});

describe('the spending guard', () => {
  let capped: ServerHandle;
  let cappedWs: { dir: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    cappedWs = await tempWorkspace();
    capped = await spawnServer({
    structured: true,
      cwd: cappedWs.dir,
      env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url, IMAGEGEN_TODAY: '2026-11-24', IMAGEGEN_MAX_COST_USD: '0.05' },
    });
  });
  afterAll(async () => {
    await capped?.close();
    await cappedWs?.cleanup();
  });

  const dear = { prompt: 'a chair', model: 'gpt-image-1.5', size: '1024x1024', quality: 'high' };

  it('refuses a call estimated above IMAGEGEN_MAX_COST_USD, with the estimate and how to proceed, sending nothing', async () => {
    const result = await capped.call('generate', dear);
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(/would cost about \$0\.13\d+/);
    expect(text).toContain('1 × 4,160 output tokens at $32/1M');
    expect(text).toMatch(/over the spending cap of \$0\.05 set by IMAGEGEN_MAX_COST_USD/);
    expect(text).toMatch(/max_cost_usd: 0\.14/);
    expect(fake.requests).toHaveLength(0);
  });

  it('lets max_cost_usd raise the cap for one call', async () => {
    const result = await capped.call('generate', { ...dear, max_cost_usd: 0.14, out: 'ok/chair.png' });
    expect(result.isError).toBeFalsy();
    expect(generations()).toHaveLength(1);
  });

  it('guards by image count where no estimate exists, and says what it assumed', async () => {
    const result = await capped.call('generate', { prompt: 'a chair', size: '1024x1024', n: 2 });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/would cost about \$1\.00 \(2 images × \$0\.50 assumed per image, as gpt-image-2 has no published token count/);
    expect(fake.requests).toHaveLength(0);
  });

  it('lets cheap calls through, and warns in a dry run that a real call would be refused', async () => {
    const cheap = await capped.call('generate', { ...dear, quality: 'low', out: 'ok/cheap.png' });
    expect(cheap.isError).toBeFalsy();
    const dry = await capped.call('generate', { ...dear, dry_run: true });
    expect(dry.isError).toBeFalsy();
    expect(textOf(dry)).toMatch(/Next: without dry_run this call would be refused/);
  });

  it('refuses real calls while IMAGEGEN_MAX_COST_USD is not an amount, and says how to fix it', async () => {
    const badWs = await tempWorkspace();
    const bad = await spawnServer({ structured: true, cwd: badWs.dir, env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url, IMAGEGEN_MAX_COST_USD: 'ten' } });
    try {
      const result = await bad.call('generate', { prompt: 'x', size: '1024x1024' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/IMAGEGEN_MAX_COST_USD is "ten".*max_cost_usd/s);
      expect(fake.requests).toHaveLength(0);
    } finally {
      await bad.close();
      await badWs.cleanup();
    }
  });
});
