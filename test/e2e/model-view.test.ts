/**
 * What a model is handed: hosts such as Codex and Claude Code show their model only the JSON of
 * structuredContent when a result has one, so by default results carry none and their text comes
 * first. These tests read results as such a host would, and measure what tools/list costs a model.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ResourceListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnServer, startHarness, textOf, type Harness, type ServerHandle } from '../helpers.js';

let harness: Harness;
let structuredServer: ServerHandle;
const ENV = { IMAGEGEN_TODAY: '2026-12-02' };
const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

beforeAll(async () => {
  harness = await startHarness({
    env: ENV,
    prepare: async (dir) => {
      await mkdir(path.join(dir, 'art'), { recursive: true });
      const disc = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><circle cx="100" cy="100" r="60" fill="#c03030"/></svg>');
      await sharp({ create: { width: 200, height: 200, channels: 3, background: '#00ff00' } })
        .composite([{ input: disc }])
        .png()
        .toFile(path.join(dir, 'art', 'sprite.png'));
    },
  });
  structuredServer = await spawnServer({ cwd: harness.ws.dir, env: { OPENAI_API_KEY: harness.fake.apiKey, OPENAI_BASE_URL: harness.fake.url, ...ENV }, structured: true });
});

afterAll(async () => {
  await structuredServer?.close();
  await harness?.close();
});

beforeEach(() => harness.fake.reset());

/** What a model reads of each tool in every conversation: name, description and input schema, compact. */
function modelVisibleBytes(tools: Array<{ name: string; description?: string; inputSchema: unknown }>): number {
  return tools.reduce((sum, t) => sum + bytesOf({ name: t.name, description: t.description, inputSchema: t.inputSchema }), 0);
}

describe('tools/list', () => {
  it('costs a model at most 10,000 bytes for the four image tools, 800 for batch_status, and the whole answer at most 12 KB', async () => {
    const listed = await harness.server.client.listTools();
    expect(listed.tools.map((t) => t.name)).toEqual(['generate', 'edit', 'generate_batch', 'remove_background', 'batch_status']);
    const imageTools = listed.tools.filter((t) => t.name !== 'batch_status');
    expect(modelVisibleBytes(imageTools)).toBeLessThanOrEqual(10_000);
    expect(modelVisibleBytes(listed.tools.filter((t) => t.name === 'batch_status'))).toBeLessThanOrEqual(800);
    expect(bytesOf(listed)).toBeLessThanOrEqual(12 * 1024);
    const json = JSON.stringify(listed);
    expect(json).not.toContain('$schema');
    expect(json).not.toContain(String(Number.MAX_SAFE_INTEGER));
    for (const tool of listed.tools) {
      expect(tool.outputSchema).toBeUndefined();
      expect(tool.inputSchema.type).toBe('object');
      for (const key of ['oneOf', 'anyOf', 'allOf']) expect(tool.inputSchema).not.toHaveProperty(key);
    }
  });

  it('declares the fields of a batch job object, so a model sees them', async () => {
    const { tools } = await harness.server.client.listTools();
    const jobs = (tools.find((t) => t.name === 'generate_batch')!.inputSchema.properties! as Record<string, { items: { anyOf: Array<{ type: string; properties?: Record<string, unknown> }> } }>).jobs;
    const object = jobs!.items.anyOf.find((branch) => branch.type === 'object')!;
    expect(Object.keys(object.properties!)).toEqual(
      expect.arrayContaining(['prompt', 'out', 'model', 'n', 'size', 'quality', 'background', 'transparency', 'key_color', 'output_format', 'output_compression', 'moderation', 'use_case', 'style', 'negative', 'fields']),
    );
  });

  it('with --structured-output declares output schemas, and stays within 24 KB', async () => {
    const listed = await structuredServer.client.listTools();
    expect(bytesOf(listed)).toBeLessThanOrEqual(24 * 1024);
    for (const tool of listed.tools) expect(tool.outputSchema?.properties).toHaveProperty('summary');
  });
});

/** The blocks in order, as a host hands them on. */
const kinds = (result: CallToolResult) => result.content.map((b) => b.type);

describe('a default result', () => {
  it('has no structuredContent: the text comes first with the path, size, model, prompt and cost, then the picture, then the link', async () => {
    const result = await harness.server.call('generate', { prompt: 'a red fox', size: '1024x1024', out: 'output/imagegen/fox.png' });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toBeUndefined();
    expect(kinds(result)).toEqual(['text', 'image', 'resource_link']);
    const text = textOf(result);
    expect(text.split('\n')[0]).toMatch(/^Saved output\/imagegen\/fox\.png \(1024x1024 png, [\d.]+ KB\) with gpt-image-2\.$/);
    expect(text).toContain('Prompt: a red fox');
    expect(text).toMatch(/Cost: \$[\d.]+ \(from usage/);
    expect(text).toMatch(/Next: check the preview/);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1500);
  });

  it('keeps one image\'s text within 1,500 bytes however long the prompt, and says where the whole prompt is', async () => {
    const prompt = Array.from({ length: 300 }, (_, i) => `line ${i}: a red fox in fresh snow, soft light.`).join('\n');
    const result = await harness.server.call('generate', { prompt, size: '1024x1024', out: 'output/imagegen/long.png', augment: false });
    expect(result.isError).toBeFalsy();
    const text = textOf(result);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1500);
    expect(text).toContain(`all ${prompt.length.toLocaleString('en-US')} characters are in output/imagegen/history.jsonl`);
    const history = (await readFile(path.join(harness.ws.dir, 'output/imagegen/history.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { path: string; prompt: string });
    expect(history.find((h) => h.path === 'output/imagegen/long.png')?.prompt).toBe(prompt);
  });

  it('with --structured-output carries structuredContent that validates against the declared schema, with the text as summary', async () => {
    await structuredServer.client.listTools(); // the SDK client validates results against what was listed
    const result = await structuredServer.call('generate', { prompt: 'a blue fox', size: '1024x1024', out: 'output/imagegen/blue.png' });
    expect(result.isError).toBeFalsy();
    const facts = result.structuredContent as { summary: string; images: Array<{ path: string }>; model: string };
    expect(facts.summary).toBe(textOf(result));
    expect(facts.images[0]!.path).toBe('output/imagegen/blue.png');
    expect(kinds(result)[0]).toBe('text');
  });
});

describe('arguments as models send them', () => {
  it('takes numbers and booleans sent as strings', async () => {
    const result = await harness.server.call('generate', { prompt: 'two foxes', size: '1024x1024', n: '2', dry_run: 'true', out: 'output/imagegen/pair.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(textOf(result)).toMatch(/^Dry run: nothing was sent or saved\. .* save output\/imagegen\/pair-1\.png, output\/imagegen\/pair-2\.png\./);
    expect(harness.fake.requests).toHaveLength(0);
  });

  it('refuses anything else, naming the argument', async () => {
    const result = await harness.server.call('generate', { prompt: 'a fox', n: 'two', preview: 'maybe' });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(/^Refused: 2 problems with the arguments, so nothing was sent:/);
    expect(text).toContain('- n must be a whole number from 1 to 10 (it is "two"): n makes variants of one prompt; distinct assets are separate jobs in generate_batch.');
    expect(text).toContain('- preview must be true or false, not "maybe".');
    expect(harness.fake.requests).toHaveLength(0);
  });
});

describe('failures start with a word no model can misread', () => {
  it('Refused: for what the server refused before spending', async () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['generate', { prompt: 'a fox', size: '3840x2160' }],
      ['generate', { prompt: 'a fox', mask: 'm.png' }],
      ['generate', { prompt: 'a fox', max_cost_usd: 0.01, quality: 'high', size: '1024x1024' }],
      ['edit', { prompt: 'a fox', images: ['nowhere.png'] }],
      ['generate_batch', { out_dir: 'b', jobs: [{ prompt: 'x', qualty: 'low' }] }],
      ['remove_background', { image: '../outside.png' }],
    ];
    for (const [tool, args] of cases) {
      const result = await harness.server.call(tool, args);
      expect(result.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(result), `${tool} ${JSON.stringify(args)}`).toMatch(/^Refused: /);
    }
    expect(harness.fake.requests).toHaveLength(0);
  });

  it('Failed: for what the API or the network did', async () => {
    harness.fake.inject({ fault: { kind: 'server_error', status: 500 }, times: 1 });
    const api = await harness.server.call('generate', { prompt: 'a fox', size: '1024x1024', max_attempts: 1 });
    expect(api.isError).toBe(true);
    expect(textOf(api)).toMatch(/^Failed: The Images API had a server error \(500\)/);
    harness.fake.inject({ fault: { kind: 'moderation' }, times: 1 });
    const blocked = await harness.server.call('generate', { prompt: 'a fox', size: '1024x1024' });
    expect(textOf(blocked)).toMatch(/^Failed: The request was refused by the API's safety system/);
  });
});

describe('remove_background', () => {
  it('shows the cutout on a checkerboard, links it, and tells clients the gallery changed', async () => {
    let changed = 0;
    harness.server.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
      changed++;
    });
    const result = await harness.server.call('remove_background', { image: 'art/sprite.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(kinds(result)).toEqual(['text', 'image', 'resource_link']);
    expect(textOf(result)).toMatch(/^Saved art\/sprite-cutout\.png \(200x200 png/);
    const picture = result.content[1] as { data: string };
    const meta = await sharp(Buffer.from(picture.data, 'base64')).metadata();
    expect(meta).toMatchObject({ width: 200, height: 200, hasAlpha: false });
    // A corner that was green is now checkerboard grey, not green.
    const { data } = await sharp(Buffer.from(picture.data, 'base64')).raw().toBuffer({ resolveWithObject: true });
    expect(Math.abs(data[0]! - data[1]!)).toBeLessThan(20);
    await expect.poll(() => changed).toBeGreaterThan(0);
  });
});

describe('a batch of 500 jobs', () => {
  const jobs = Array.from({ length: 500 }, (_, i) => `sprite number ${i + 1}, a small ${i % 2 ? 'red' : 'blue'} gem`);

  it('answers within 4 KB of text, 21 links and 150 KB whole', async () => {
    const result = await harness.server.call('generate_batch', { jobs, out_dir: 'gems', size: '1024x1024', quality: 'low', concurrency: 25 });
    expect(result.isError, textOf(result)).toBeFalsy();
    const text = textOf(result);
    expect(text).toMatch(/^Batch of 500 jobs: 500 done, 0 failed/);
    expect(text).toContain('500 images saved in gems/ (named in gems/manifest.json).');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    const links = result.content.filter((b) => b.type === 'resource_link');
    expect(links.length).toBeLessThanOrEqual(21);
    expect(links.at(-1)).toMatchObject({ name: 'gems/manifest.json' });
    expect(result.content.filter((b) => b.type === 'image')).toHaveLength(1);
    expect(bytesOf(result)).toBeLessThanOrEqual(150 * 1024);
  }, 120_000);

  it('and its dry run: a summary within 4 KB, the whole plan in a linked file', async () => {
    const result = await harness.server.call('generate_batch', { jobs, out_dir: 'gems-plan', size: '1024x1024', dry_run: true });
    expect(result.isError, textOf(result)).toBeFalsy();
    const text = textOf(result);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    expect(text).toContain('Models: 500 × gpt-image-2. Sizes: 500 × 1024x1024.');
    expect(result.content.filter((b) => b.type === 'resource_link')).toHaveLength(1);
    expect(bytesOf(result)).toBeLessThanOrEqual(150 * 1024);
    const plan = JSON.parse(await readFile(path.join(harness.ws.dir, 'tmp/imagegen/batch-plan-gems-plan.json'), 'utf8')) as {
      jobs: Array<{ number: number; files: string[]; request: { payload: { prompt: string } } }>;
    };
    expect(plan.jobs).toHaveLength(500);
    expect(plan.jobs.map((j) => j.request.payload.prompt)).toEqual(jobs);
    expect(plan.jobs[499]!.files).toEqual(['gems-plan/500-sprite-number-500-a-small-red-gem.png']);
    expect(harness.fake.requests).toHaveLength(0);
  });

  it('lists at most 20 failures with their reasons, then how many more and where', async () => {
    harness.fake.inject({ fault: { kind: 'forbidden' }, times: 30 });
    const result = await harness.server.call('generate_batch', { jobs: jobs.slice(0, 40), out_dir: 'gems-fail', size: '1024x1024', concurrency: 1 });
    const text = textOf(result);
    expect(text).toMatch(/^Batch of 40 jobs: 10 done, 30 failed/);
    expect(text.match(/^- job \d+ failed: /gm)).toHaveLength(20);
    expect(text).toMatch(/^- job 1 failed: The Images API denied access to gpt-image-2 \(403\)/m);
    expect(text).toContain('- job 2 failed: the same as job 1');
    expect(text).toContain('- … and 10 more failed or cancelled jobs, each with its error in gems-fail/manifest.json.');
    expect(text).toMatch(/Next: repeat the same call with resume: true/);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
  });
});

describe('words that are true today', () => {
  it('no tool description or argument names a model that has shut down', async () => {
    const { tools } = await harness.server.client.listTools();
    expect(JSON.stringify(tools)).not.toMatch(/gpt-image-1(\.5|-mini)?\b|chatgpt-image-latest/);
  });

  it('remove_background on a photo-like image says the border is too grey to be a key', async () => {
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toFile(path.join(harness.ws.dir, 'art', 'grey.png'));
    const result = await harness.server.call('remove_background', { image: 'art/grey.png' });
    expect(textOf(result)).toMatch(/^Refused: Nothing was written: the border of art\/grey\.png is #808080, too grey to be a key colour/);
  });
});
