import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeImagesApi, type FakeImagesApi, type RecordedRequest } from '../fake-images-api.js';
import { spawnServer, tempWorkspace, textOf, type ServerHandle, startHarness, type Harness, filesUnder } from '../helpers.js';

let fake: FakeImagesApi;
let server: ServerHandle;
let harness: Harness;
let ws: { dir: string; cleanup: () => Promise<void> };

interface BatchJobOut {
  number: number;
  line?: number;
  label: string;
  status: string;
  model: string;
  prompt: string;
  images: Array<{ path: string; width?: number; height?: number; format: string; bytes?: number; web_path?: string }>;
  error?: string;
  attempts: number;
  usage?: Record<string, unknown>;
  request?: { endpoint: string; payload: Record<string, unknown> };
}
interface BatchOut {
  dry_run: boolean;
  out_dir: string;
  manifest?: string;
  summary: string;
  counts: { jobs: number; done: number; failed: number; skipped: number; cancelled: number };
  plan?: string;
  jobs: BatchJobOut[];
  warnings: string[];
  usage?: Record<string, unknown>;
}
interface Manifest {
  out_dir: string;
  summary: BatchOut['counts'];
  jobs: Array<{ number: number; status: string; files: string[]; attempts: number; error?: string; usage?: unknown; request: { endpoint: string; payload: Record<string, unknown> } }>;
}

const batch = (result: { structuredContent?: unknown }) => result.structuredContent as unknown as BatchOut;
const ENV = { IMAGEGEN_TODAY: '2026-11-24', IMAGEGEN_HEARTBEAT_MS: '100' };
const SIZE = '1024x1024';

const readManifest = async (dir: string): Promise<Manifest> => JSON.parse(await readFile(path.join(ws.dir, dir, 'manifest.json'), 'utf8')) as Manifest;
const requestsFor = (prompt: string): RecordedRequest[] => fake.requests.filter((r) => r.body.prompt === prompt);
const generations = () => fake.requests.filter((r) => r.path === '/v1/images/generations');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function expectImage(file: string, size = { width: 1024, height: 1024 }, format = 'png') {
  expect(await sharp(path.join(ws.dir, file)).metadata()).toMatchObject({ format, ...size });
}

beforeAll(async () => {
  harness = await startHarness({ structured: true, env: ENV });
  ({ fake, ws, server } = harness);
});

afterAll(async () => {
  await harness?.close();
});

beforeEach(() => {
  fake.reset();
});

describe('tools/list', () => {
  it('lists generate_batch with a flat schema, out_dir required, and an output schema', async () => {
    const { tools } = await server.client.listTools();
    const tool = tools.find((t) => t.name === 'generate_batch');
    expect(tool).toBeDefined();
    expect(tool!.inputSchema.type).toBe('object');
    for (const key of ['oneOf', 'anyOf', 'allOf']) expect(tool!.inputSchema).not.toHaveProperty(key);
    expect(tool!.inputSchema.required).toEqual(['out_dir']);
    expect(Object.keys(tool!.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['jobs', 'input', 'out_dir', 'concurrency', 'fail_fast', 'resume', 'model', 'size', 'quality', 'force', 'dry_run', 'max_attempts', 'style']),
    );
    expect(tool!.inputSchema.properties).not.toHaveProperty('prompt');
    expect(tool!.inputSchema.properties).not.toHaveProperty('out');
    expect(tool!.outputSchema?.type).toBe('object');
  });
});

describe('a batch against the fake API', () => {
  it('saves every job in out_dir, reports each one, writes the manifest and sends progress', async () => {
    const progress: Progress[] = [];
    const result = await server.call(
      'generate_batch',
      {
        out_dir: 'b/basic',
        size: SIZE,
        jobs: ['A red fox!', { prompt: 'a home icon', out: 'icons/home.png' }, { prompt: 'two cats', n: 2, output_format: 'jpeg', size: '1536x1024' }],
      },
      { onprogress: (p) => progress.push(p) },
    );
    expect(result.isError).toBeFalsy();
    await expectImage('b/basic/001-a-red-fox.png');
    await expectImage('b/basic/icons/home.png');
    await expectImage('b/basic/003-two-cats-1.jpg', { width: 1536, height: 1024 }, 'jpeg');
    await expectImage('b/basic/003-two-cats-2.jpg', { width: 1536, height: 1024 }, 'jpeg');
    expect(await filesUnder(path.join(ws.dir, 'b/basic'))).toEqual(['001-a-red-fox.png', '003-two-cats-1.jpg', '003-two-cats-2.jpg', 'icons/home.png', 'manifest.json']);

    const out = batch(result);
    expect(out.counts).toEqual({ jobs: 3, done: 3, failed: 0, skipped: 0, cancelled: 0 });
    expect(out.jobs.map((j) => [j.number, j.label, j.status, j.attempts])).toEqual([
      [1, 'A red fox!', 'done', 1],
      [2, 'icons/home.png', 'done', 1],
      [3, 'two cats', 'done', 1],
    ]);
    expect(out.jobs[2]!.images.map((i) => i.path)).toEqual(['b/basic/003-two-cats-1.jpg', 'b/basic/003-two-cats-2.jpg']);
    expect(out.usage).toMatchObject({ total_tokens: expect.any(Number) });
    expect(textOf(result)).toMatch(/Batch of 3 jobs: 3 done, 0 failed, 0 skipped, 0 cancelled/);
    expect(textOf(result)).toContain('- job 2: b/basic/icons/home.png (1024x1024 png');
    expect(result.content.filter((b) => b.type === 'resource_link')).toHaveLength(5);

    const manifest = await readManifest('b/basic');
    expect(manifest.summary).toEqual(out.counts);
    expect(manifest.jobs.map((j) => [j.number, j.status, j.files])).toEqual([
      [1, 'done', ['b/basic/001-a-red-fox.png']],
      [2, 'done', ['b/basic/icons/home.png']],
      [3, 'done', ['b/basic/003-two-cats-1.jpg', 'b/basic/003-two-cats-2.jpg']],
    ]);
    expect(manifest.jobs[2]!.request).toEqual({
      endpoint: '/v1/images/generations',
      payload: { model: 'gpt-image-2', n: 2, size: '1536x1024', quality: 'medium', output_format: 'jpeg', prompt: 'two cats' },
    });
    expect(manifest.jobs[0]!.usage).toMatchObject({ total_tokens: expect.any(Number) });

    const values = progress.map((p) => p.progress);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]!);
    expect(progress.at(-1)).toMatchObject({ progress: 3, total: 3 });
  });

  it('reads jobs from a JSONL file in the CLI format, with batch defaults and per-job overrides', async () => {
    await mkdir(path.join(ws.dir, 'tmp'), { recursive: true });
    const lines = [
      '# sprites',
      '{"prompt": "a knight", "subject": "knight in silver armour", "out": "knight.png"}',
      '',
      '{"prompt": "a wizard", "fields": {"style": "pixel art", "negative": "text"}, "size": "1024x1536", "quality": null}',
      'a dragon',
    ];
    await writeFile(path.join(ws.dir, 'tmp/jobs.jsonl'), `${lines.join('\n')}\n`);
    const result = await server.call('generate_batch', { input: 'tmp/jobs.jsonl', out_dir: 'b/jsonl', size: SIZE, quality: 'low', style: 'flat vector' });
    expect(result.isError).toBeFalsy();
    expect(batch(result).jobs.map((j) => [j.number, j.line, j.status])).toEqual([
      [1, 2, 'done'],
      [2, 4, 'done'],
      [3, 5, 'done'],
    ]);
    expect(requestsFor('Primary request: a knight\nSubject: knight in silver armour\nStyle/medium: flat vector')[0]!.body).toMatchObject({ size: SIZE, quality: 'low' });
    expect(requestsFor('Primary request: a wizard\nStyle/medium: pixel art\nAvoid: text')[0]!.body).toMatchObject({ size: '1024x1536', quality: 'low' });
    await expectImage('b/jsonl/knight.png');
    await expectImage('b/jsonl/002-a-wizard.png', { width: 1024, height: 1536 });
    await expectImage('b/jsonl/003-a-dragon.png');
  });

  it('says so in the text when jobs route to another model or raise warnings', async () => {
    const result = await server.call('generate_batch', {
      out_dir: 'b/routed',
      jobs: [{ prompt: 'a sprite', background: 'transparent', size: SIZE }, { prompt: 'a logo', model: 'gpt-image-1.5', size: SIZE }],
    });
    expect(result.isError).toBeFalsy();
    const out = batch(result);
    expect(out.jobs.map((j) => j.model)).toEqual(['gpt-image-1.5', 'gpt-image-1.5']);
    expect(textOf(result)).toMatch(/job 2: gpt-image-1\.5 is announced to shut down/);
    expect((await sharp(path.join(ws.dir, 'b/routed/001-a-sprite.png')).metadata()).hasAlpha).toBe(true);
  });
});

describe('validation before spending', () => {
  it('takes a JSONL line\'s numbers sent as text and its nulls as an inline job\'s', async () => {
    await writeFile(path.join(ws.dir, 'texty.jsonl'), '{"prompt": "two gems", "n": "2", "output_compression": null, "quality": "low"}\n');
    const result = await server.call('generate_batch', { input: 'texty.jsonl', out_dir: 'b/texty', dry_run: true });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(batch(result).jobs[0]!.images.map((i) => i.path)).toEqual(['b/texty/001-two-gems-1.png', 'b/texty/001-two-gems-2.png']);
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses the whole batch for one invalid job, listing every problem by number and line, and makes no API call', async () => {
    await writeFile(
      path.join(ws.dir, 'bad.jsonl'),
      ['{"prompt": "fine"}', '{"prompt": "too wide", "size": "3840x2160"}', '{"prompt": broken}', '{"prompt": "x", "qualty": "high"}', '{"prompt": "fine", "out": "001-fine.png"}'].join('\n'),
    );
    const result = await server.call('generate_batch', { input: 'bad.jsonl', out_dir: 'b/bad' });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(/^Refused: the batch has 4 problems, so nothing was sent/);
    expect(text).toMatch(/bad\.jsonl, line 3: not valid JSON/);
    expect(text).toMatch(/job 2 \(line 2\): size 3840x2160 .*Try 3824x2160/);
    expect(text).toMatch(/job 3 \(line 4\): "qualty" is not a job key/);
    expect(text).toMatch(/job 4 \(line 5\) would write b\/bad\/001-fine\.png, which job 1 \(line 1\) writes too/);
    expect(fake.requests).toHaveLength(0);
    expect(await filesUnder(path.join(ws.dir, 'b/bad'))).toEqual([]);
  });

  it('refuses a JSONL line and an inline job with the same mistakes in the same words, the line named too, and makes no API call', async () => {
    const jobs = ['a fox', { prompt: 'x', n: 'two', qualty: 'high', fields: { colour: 'red' } }];
    await writeFile(path.join(ws.dir, 'same.jsonl'), `${jobs.map((j) => JSON.stringify(j)).join('\n')}\n`);
    const fromFile = textOf(await server.call('generate_batch', { input: 'same.jsonl', out_dir: 'b/same' }));
    const inline = textOf(await server.call('generate_batch', { jobs, out_dir: 'b/same' }));
    const sentences = (text: string) => text.split('\n').filter((l) => l.startsWith('- ')).map((l) => l.slice(2));
    expect(sentences(fromFile)).toEqual([
      'job 2 (line 2): n must be a whole number from 1 to 10 (it is "two"): n makes variants of one prompt; distinct assets are separate jobs in generate_batch.',
      expect.stringMatching(/^job 2 \(line 2\): fields\.colour is not an augmentation field\. Fields are: use_case, asset_type/),
      expect.stringMatching(/^job 2 \(line 2\): "qualty" is not a job key\. A job takes: prompt, out, model, n, size, quality/),
    ]);
    expect(sentences(inline)).toEqual(sentences(fromFile).map((l) => l.replace(' (line 2)', '')));
    expect(fromFile).toMatch(/^Refused: the batch has 3 problems, so nothing was sent/);
    expect(inline).toMatch(/^Refused: 3 problems with the arguments, so nothing was sent/);
    expect(fake.requests).toHaveLength(0);
    expect(await filesUnder(path.join(ws.dir, 'b/same'))).toEqual([]);
  });

  it('lists at most 100 problems of a file of bad lines, saying how many more there are', async () => {
    const lines = Array.from({ length: 250 }, (_, i) => JSON.stringify({ prompt: `sprite ${i}`, qualty: 'high' }));
    await writeFile(path.join(ws.dir, 'typos.jsonl'), `${lines.join('\n')}\n`);
    const text = textOf(await server.call('generate_batch', { input: 'typos.jsonl', out_dir: 'b/typos' }));
    expect(text).toMatch(/^Refused: the batch has 250 problems, so nothing was sent/);
    const listed = text.split('\n').filter((l) => l.startsWith('- '));
    expect(listed).toHaveLength(101);
    expect(listed[0]).toMatch(/^- job 1 \(line 1\): "qualty" is not a job key/);
    expect(listed[99]).toMatch(/^- job 100 \(line 100\): "qualty" is not a job key/);
    expect(listed[100]).toBe('- …and 150 more: fix these, and call again to see the rest.');
    expect(Buffer.byteLength(text)).toBeLessThan(64 * 1024);
    expect(fake.requests).toHaveLength(0);
  });

  it('lists a file\'s problems in line order, whichever check found them (the rules, the JSON, the job schema)', async () => {
    const lines = ['{"prompt": "a fox", "size": "3840x2160"}', '{"prompt": "a wolf",', '{"prompt": "a bear", "qualty": "high"}'];
    await writeFile(path.join(ws.dir, 'mixed.jsonl'), `${lines.join('\n')}\n`);
    const text = textOf(await server.call('generate_batch', { input: 'mixed.jsonl', out_dir: 'b/mixed' }));
    expect(text.split('\n').filter((l) => l.startsWith('- '))).toEqual([
      expect.stringMatching(/^- job 1 \(line 1\): size 3840x2160 .*3824x2160/),
      expect.stringMatching(/^- mixed\.jsonl, line 2: not valid JSON/),
      expect.stringMatching(/^- job 2 \(line 3\): "qualty" is not a job key/),
    ]);
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses a batch-level default the image options do not take, naming it and its values, before reading any job', async () => {
    const result = await server.call('generate_batch', { input: 'missing.jsonl', out_dir: 'b/ultra', quality: 'ultra', dry_run: true });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('Refused: quality is "ultra"; use one of low, medium, high, xhigh, max, auto. Nothing was sent.');
    const spelled = await server.call('generate_batch', { jobs: ['a fox'], out_dir: 'b/spelled', quality: 'LOW', output_format: 'JPG', dry_run: true });
    expect(spelled.isError, textOf(spelled)).toBeFalsy();
    const plan = JSON.parse(await readFile(path.join(ws.dir, batch(spelled).plan!), 'utf8')) as { jobs: Array<{ request: { payload: Record<string, unknown> } }> };
    expect(plan.jobs[0]!.request.payload).toMatchObject({ quality: 'low', output_format: 'jpeg' });
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses, before anything is sent, a job whose whole path passes PATH_MAX in a folder that took another job', async () => {
    // A folder 3,900 bytes deep: the manifest and job 1's default name fit under 4,000; job 2's long name does not.
    let outDir = 'b';
    while (Buffer.byteLength(path.join(ws.dir, outDir)) < 3900 - 241) outDir += `/${'d'.repeat(240)}`;
    outDir += `/${'e'.repeat(3900 - Buffer.byteLength(path.join(ws.dir, outDir)) - 1)}`;
    expect(Buffer.byteLength(path.join(ws.dir, outDir))).toBe(3900);
    const result = await server.call('generate_batch', { out_dir: outDir, size: SIZE, jobs: ['a fox', { prompt: 'a wolf', out: `${'w'.repeat(146)}.png` }] });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/has 1 problem, so nothing was sent.*\njob 2: out "b\/d+…" makes a path of 4051 bytes; file systems allow 4096 .*Choose a shorter path\.$/);
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses a batch whose files exist (naming them) unless resume or force, and a job out leaving out_dir', async () => {
    await mkdir(path.join(ws.dir, 'b/taken'), { recursive: true });
    await writeFile(path.join(ws.dir, 'b/taken/hero.png'), 'not mine');
    const taken = await server.call('generate_batch', { out_dir: 'b/taken', jobs: [{ prompt: 'hero', out: 'hero.png' }, { prompt: 'x', out: '../x.png' }] });
    expect(taken.isError).toBe(true);
    expect(textOf(taken)).toMatch(/job 2: out "\.\.\/x\.png" must be a file name inside out_dir/);
    const fixed = await server.call('generate_batch', { out_dir: 'b/taken', jobs: [{ prompt: 'hero', out: 'hero.png' }] });
    expect(textOf(fixed)).toMatch(/job 1: b\/taken\/hero\.png already exists\. Set resume: true .* force: true/);
    expect(fake.requests).toHaveLength(0);
    expect(await readFile(path.join(ws.dir, 'b/taken/hero.png'), 'utf8')).toBe('not mine');

    const forced = await server.call('generate_batch', { out_dir: 'b/taken', jobs: [{ prompt: 'hero', out: 'hero.png' }], size: SIZE, force: true });
    expect(forced.isError).toBeFalsy();
    await expectImage('b/taken/hero.png');
  });

  it('refuses jobs and input together, neither, and an input outside the workspace', async () => {
    const both = await server.call('generate_batch', { out_dir: 'b/x', jobs: ['a'], input: 'a.jsonl' });
    expect(textOf(both)).toMatch(/either jobs .* or input/);
    const neither = await server.call('generate_batch', { out_dir: 'b/x' });
    expect(textOf(neither)).toMatch(/no jobs/);
    const outside = await server.call('generate_batch', { out_dir: 'b/x', input: '/etc/passwd' });
    expect(textOf(outside)).toMatch(/outside the workspace/);
    const prompt = await server.call('generate_batch', { out_dir: 'b/x', prompt: 'a fox' });
    expect(textOf(prompt)).toMatch(/takes its prompts per job/);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('faults: retries, failures, fail_fast, cancel', () => {
  it('retries a 429 after the stated retry-after, and the batch finishes', async () => {
    fake.inject({ fault: { kind: 'rate_limit', retryAfter: '1' }, model: 'gpt-image-1.5' });
    const result = await server.call('generate_batch', {
      out_dir: 'b/429',
      size: SIZE,
      jobs: ['first', { prompt: 'limited', model: 'gpt-image-1.5' }, 'third'],
    });
    expect(result.isError).toBeFalsy();
    const [first, second] = requestsFor('limited');
    expect(first!.status).toBe(429);
    expect(second!.status).toBe(200);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expect(batch(result).jobs.map((j) => [j.status, j.attempts])).toEqual([
      ['done', 1],
      ['done', 2],
      ['done', 1],
    ]);
    await expectImage('b/429/002-limited.png');
  });

  it('retries 500 twice, then succeeds', async () => {
    fake.inject({ fault: { kind: 'server_error' }, times: 2, model: 'gpt-image-1.5' });
    const result = await server.call('generate_batch', { out_dir: 'b/500', size: SIZE, jobs: ['calm', { prompt: 'flaky', model: 'gpt-image-1.5' }] });
    expect(result.isError).toBeFalsy();
    expect(requestsFor('flaky').map((r) => r.status)).toEqual([500, 500, 200]);
    expect(batch(result).jobs[1]).toMatchObject({ status: 'done', attempts: 3 });
    expect((await readManifest('b/500')).jobs[1]).toMatchObject({ status: 'done', attempts: 3 });
  });

  it('does not retry a moderation block; the other jobs finish and the batch is not an error', async () => {
    fake.inject({ fault: { kind: 'moderation' }, model: 'gpt-image-1-mini' });
    const result = await server.call('generate_batch', {
      out_dir: 'b/moderation',
      size: SIZE,
      jobs: ['one', { prompt: 'blocked', model: 'gpt-image-1-mini' }, 'three', 'four'],
    });
    expect(result.isError).toBeFalsy();
    expect(requestsFor('blocked')).toHaveLength(1);
    const out = batch(result);
    expect(out.counts).toEqual({ jobs: 4, done: 3, failed: 1, skipped: 0, cancelled: 0 });
    expect(out.jobs[1]).toMatchObject({ status: 'failed', attempts: 1, images: [] });
    expect(out.jobs[1]!.error).toMatch(/safety system.*Reword/);
    expect(textOf(result)).toMatch(/- job 2 failed: The request was refused by the API's safety system/);
    expect(textOf(result)).toMatch(/resume: true/);
    expect(await filesUnder(path.join(ws.dir, 'b/moderation'))).toEqual(['001-one.png', '003-three.png', '004-four.png', 'manifest.json']);
    expect((await readManifest('b/moderation')).jobs[1]).toMatchObject({ status: 'failed', error: expect.stringMatching(/safety system/) });
  });

  it('is an error when every job failed, still listing each', async () => {
    fake.inject({ fault: { kind: 'forbidden' }, times: 2 });
    const result = await server.call('generate_batch', { out_dir: 'b/allfail', size: SIZE, jobs: ['a', 'b'] });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^Failed: the batch made no image \(0 done, 2 failed/);
    expect(batch(result).jobs.map((j) => j.status)).toEqual(['failed', 'failed']);
  });

  it('fail_fast aborts the requests in flight at the first failure and starts no new job', async () => {
    fake.inject({ fault: { kind: 'slow', delayMs: 5_000 }, times: Infinity, model: 'gpt-image-2' });
    fake.inject({ fault: { kind: 'model_not_found' }, model: 'gpt-image-1-mini' });
    const result = await server.call('generate_batch', {
      out_dir: 'b/failfast',
      size: SIZE,
      concurrency: 2,
      fail_fast: true,
      jobs: ['slow one', { prompt: 'doomed', model: 'gpt-image-1-mini' }, 'three', 'four', 'five'],
    });
    const out = batch(result);
    expect(out.counts).toEqual({ jobs: 5, done: 0, failed: 1, skipped: 0, cancelled: 4 });
    expect(out.jobs[1]).toMatchObject({ status: 'failed' });
    expect(out.jobs[0]!.error).toMatch(/job 2 failed and fail_fast is set/);
    expect(out.jobs[4]!.error).toMatch(/^Not started/);
    expect(generations()).toHaveLength(2); // no new job started
    await waitFor(() => requestsFor('slow one')[0]!.status === 0, 'the slow request to be dropped', 2_000);
    expect(await filesUnder(path.join(ws.dir, 'b/failfast'))).toEqual(['manifest.json']);
    expect((await readManifest('b/failfast')).summary).toEqual(out.counts);
  });

  it('a cancel mid-batch aborts the requests in flight and leaves no partial file', async () => {
    fake.inject({ fault: { kind: 'slow', delayMs: 5_000 }, times: Infinity, model: 'gpt-image-2' });
    const controller = new AbortController();
    const call = server
      .call(
        'generate_batch',
        { out_dir: 'b/cancel', size: SIZE, concurrency: 3, jobs: [{ prompt: 'quick', model: 'gpt-image-1-mini' }, 'slow 2', 'slow 3', 'slow 4', 'slow 5'] },
        { signal: controller.signal },
      )
      .catch((e: unknown) => e);
    await waitFor(() => generations().length === 4, 'the first jobs to be in flight');
    await waitFor(async () => (await filesUnder(path.join(ws.dir, 'b/cancel'))).includes('001-quick.png'), 'job 1 to finish');
    controller.abort();
    expect(await call).toBeInstanceOf(Error);
    await waitFor(async () => (await readManifest('b/cancel').catch(() => undefined))?.summary.cancelled === 4, 'the manifest to record the cancel');
    expect(generations().filter((r) => r.body.prompt !== 'quick').map((r) => r.status)).toEqual([0, 0, 0]);
    expect(generations()).toHaveLength(4); // slow 5 never started
    expect(await filesUnder(path.join(ws.dir, 'b/cancel'))).toEqual(['001-quick.png', 'manifest.json']);
    await expectImage('b/cancel/001-quick.png');
    expect((await server.client.listTools()).tools.length).toBeGreaterThan(0);
  });
});

describe('a cancel while large answers stream in', () => {
  it('removes the temp files being written and leaves only complete images', async () => {
    const big = await startFakeImagesApi({ imageStyle: 'noise', latencyMs: 50, today: ENV.IMAGEGEN_TODAY });
    const bigWs = await tempWorkspace();
    const bigServer = await spawnServer({ structured: true, cwd: bigWs.dir, env: { OPENAI_API_KEY: big.apiKey, OPENAI_BASE_URL: big.url, ...ENV } });
    const dir = path.join(bigWs.dir, 'big');
    try {
      const controller = new AbortController();
      const jobs = Array.from({ length: 12 }, (_, i) => `noise ${i + 1}`);
      const call = bigServer
        .call('generate_batch', { out_dir: 'big', size: '3824x2160', concurrency: 4, jobs }, { signal: controller.signal })
        .catch((e: unknown) => e);
      await waitFor(async () => (await filesUnder(dir)).some((f) => f.endsWith('.tmp')), 'an image to be mid-stream', 20_000);
      controller.abort();
      expect(await call).toBeInstanceOf(Error);
      await waitFor(async () => {
        const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8').catch(() => '{}')) as Partial<Manifest>;
        return (manifest.jobs ?? []).every((j) => j.status !== 'pending') && (manifest.summary?.cancelled ?? 0) > 0;
      }, 'the manifest to record the cancel');
      const files = await filesUnder(dir);
      expect(files.filter((f) => f.endsWith('.tmp') || f.startsWith('.'))).toEqual([]);
      const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
      const saved = manifest.jobs.filter((j) => j.status === 'done').flatMap((j) => j.files.map((f) => path.relative('big', f)));
      expect(files).toEqual([...saved, 'manifest.json'].sort());
      expect(saved.length).toBeLessThan(jobs.length);
      for (const file of saved) {
        // A full decode, not a header check: a partial PNG would fail here.
        const { info } = await sharp(path.join(dir, file)).raw().toBuffer({ resolveWithObject: true });
        expect(info).toMatchObject({ width: 3824, height: 2160 });
      }
    } finally {
      await bigServer.close();
      await big.close();
      await bigWs.cleanup();
    }
  });
});

describe('heartbeats', () => {
  it('sends heartbeats between jobs (finished + k/1000, increasing) naming what is in flight', async () => {
    fake.inject({ fault: { kind: 'slow', delayMs: 600 }, times: 2 });
    const progress: Progress[] = [];
    const result = await server.call('generate_batch', { out_dir: 'b/heartbeat', size: SIZE, concurrency: 1, jobs: ['first', 'second'] }, { onprogress: (p) => progress.push(p) });
    expect(result.isError).toBeFalsy();
    const values = progress.map((p) => p.progress);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]!);
    const beats = progress.filter((p) => !Number.isInteger(p.progress));
    expect(beats.some((p) => p.progress > 0 && p.progress < 1 && /0 of 2 jobs finished; waiting for job 1 \(first\)/.test(p.message ?? ''))).toBe(true);
    expect(beats.some((p) => p.progress > 1 && p.progress < 2 && /waiting for job 2 \(second\)/.test(p.message ?? ''))).toBe(true);
    expect(progress.filter((p) => Number.isInteger(p.progress)).map((p) => [p.progress, p.total])).toEqual([
      [1, 2],
      [2, 2],
    ]);
  });
});

describe('resume', () => {
  it('a resumed batch makes no API call for finished jobs and runs the failed one', async () => {
    fake.inject({ fault: { kind: 'moderation' }, model: 'gpt-image-1-mini' });
    const args = { out_dir: 'b/resume', size: SIZE, jobs: ['one', { prompt: 'two', model: 'gpt-image-1-mini' }, 'three'] };
    const first = await server.call('generate_batch', args);
    expect(batch(first).counts).toMatchObject({ done: 2, failed: 1 });
    fake.reset();

    const again = await server.call('generate_batch', args);
    expect(textOf(again)).toMatch(/manifest\.json exists: an earlier batch wrote to this folder\. Set resume: true/);
    expect(fake.requests).toHaveLength(0);

    const resumed = await server.call('generate_batch', { ...args, resume: true });
    expect(resumed.isError).toBeFalsy();
    expect(generations().map((r) => r.body.prompt)).toEqual(['two']);
    expect(batch(resumed).jobs.map((j) => j.status)).toEqual(['skipped', 'done', 'skipped']);
    expect(batch(resumed).jobs[0]!.images).toEqual([expect.objectContaining({ path: 'b/resume/001-one.png', width: 1024, height: 1024 })]);
    expect((await readManifest('b/resume')).jobs.map((j) => j.status)).toEqual(['skipped', 'done', 'skipped']);
    await expectImage('b/resume/002-two.png');
  });

  it('resumes a batch whose server was killed half-way without redoing finished jobs', async () => {
    const killedWs = await tempWorkspace();
    const env = { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url, ...ENV };
    const jobs = ['fast one', 'fast two', 'slow three', 'slow four', 'slow five'].map((prompt) => ({ prompt, ...(prompt.startsWith('fast') ? { model: 'gpt-image-1-mini' } : {}) }));
    const args = { out_dir: 'sprites', size: SIZE, concurrency: 3, jobs };
    try {
      fake.inject({ fault: { kind: 'slow', delayMs: 10_000 }, times: Infinity, model: 'gpt-image-2' });
      const doomed = await spawnServer({ structured: true, cwd: killedWs.dir, env });
      void doomed.call('generate_batch', args).catch(() => undefined);
      const done = ['001-fast-one.png', '002-fast-two.png'];
      await waitFor(async () => {
        const list = await filesUnder(path.join(killedWs.dir, 'sprites'));
        return done.every((f) => list.includes(f));
      }, 'the fast jobs');
      await doomed.close(); // the server process goes away mid-batch
      fake.reset();

      const fresh = await spawnServer({ structured: true, cwd: killedWs.dir, env });
      try {
        const resumed = await fresh.call('generate_batch', { ...args, resume: true });
        expect(resumed.isError).toBeFalsy();
        expect(generations().map((r) => r.body.prompt).sort()).toEqual(['slow five', 'slow four', 'slow three']);
        expect(batch(resumed).counts).toEqual({ jobs: 5, done: 3, failed: 0, skipped: 2, cancelled: 0 });
        expect((await filesUnder(path.join(killedWs.dir, 'sprites'))).filter((f) => f.startsWith('.'))).toEqual([]);
      } finally {
        await fresh.close();
      }
    } finally {
      await killedWs.cleanup();
    }
  });
});

describe('dry run', () => {
  it('writes every payload and planned path to the plan file, with no key, no call and no image', async () => {
    const dryWs = await tempWorkspace();
    const noKey = await spawnServer({ structured: true, cwd: dryWs.dir, env: { OPENAI_BASE_URL: fake.url, ...ENV } });
    try {
      const result = await noKey.call('generate_batch', {
        out_dir: 'plan',
        size: '2048x1152',
        quality: 'high',
        downscale_max_dim: 512,
        dry_run: true,
        jobs: ['a castle', { prompt: 'a moat', out: 'moat.webp', output_format: 'webp', n: 2 }],
      });
      expect(result.isError).toBeFalsy();
      const out = batch(result);
      expect(out.dry_run).toBe(true);
      expect(out.counts).toEqual({ jobs: 2, done: 0, failed: 0, skipped: 0, cancelled: 0 });
      expect(out.jobs.map((j) => j.status)).toEqual(['planned', 'planned']);
      expect(out.jobs[1]!.images).toEqual([
        { path: 'plan/moat-1.webp', format: 'webp', width: 2048, height: 1152, web_path: 'plan/moat-1-web.webp' },
        { path: 'plan/moat-2.webp', format: 'webp', width: 2048, height: 1152, web_path: 'plan/moat-2-web.webp' },
      ]);
      expect(out.plan).toBe('tmp/imagegen/batch-plan-plan.json');
      const plan = JSON.parse(await readFile(path.join(dryWs.dir, out.plan!), 'utf8')) as { jobs: Array<{ status: string; files: string[]; request: unknown }> };
      expect(plan.jobs[0]!.request).toEqual({
        endpoint: '/v1/images/generations',
        payload: { model: 'gpt-image-2', n: 1, size: '2048x1152', quality: 'high', output_format: 'png', prompt: 'a castle' },
      });
      expect(plan.jobs[1]!.files).toEqual(['plan/moat-1.webp', 'plan/moat-2.webp']);
      expect(textOf(result)).toMatch(/^Dry run: nothing was sent or saved\. 2 of 2 jobs would run/);
      expect(textOf(result)).toContain('Full plan (every job\'s exact request and files): tmp/imagegen/batch-plan-plan.json');
      expect(result.content.some((b) => b.type === 'resource_link' && b.name === 'tmp/imagegen/batch-plan-plan.json')).toBe(true);
      expect(fake.requests).toHaveLength(0);
      expect(await filesUnder(dryWs.dir)).toEqual(['tmp/imagegen/batch-plan-plan.json']);

      const real = await noKey.call('generate_batch', { out_dir: 'plan', jobs: ['a castle'] });
      expect(real.isError).toBe(true);
      expect(textOf(real)).toMatch(/OPENAI_API_KEY is not set/);
    } finally {
      await noKey.close();
      await dryWs.cleanup();
    }
  });
});

describe('what a batch shows, costs and records', () => {
  it('returns one numbered contact sheet, the cost from usage, and a history line per image', async () => {
    const result = await server.call('generate_batch', {
      out_dir: 'shown',
      model: 'gpt-image-1.5',
      size: SIZE,
      jobs: ['a red gem', 'a blue gem', { prompt: 'a green gem', n: 2 }],
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const pictures = result.content.filter((b) => b.type === 'image') as Array<{ data: string }>;
    expect(pictures).toHaveLength(1);
    const sheet = Buffer.from(pictures[0]!.data, 'base64');
    expect(sheet.length).toBeLessThanOrEqual(96 * 1024);
    expect((await sharp(sheet).metadata()).width).toBeLessThanOrEqual(1024);
    const out = result.structuredContent as { cost_usd?: number; jobs: BatchJobOut[] };
    expect(out.cost_usd).toBeGreaterThan(0);
    expect(textOf(result)).toMatch(/Cost: \$/);
    const history = (await readFile(path.join(ws.dir, 'output/imagegen/history.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; tool: string });
    const lines = history.filter((h) => h.path.startsWith('shown/'));
    expect(lines.map((l) => l.path).sort()).toEqual(out.jobs.flatMap((j) => j.images.map((i) => i.path)).sort());
    expect(lines).toHaveLength(4);
  });

  it('refuses a batch over the spending cap before anything is sent, and estimates legacy batches in a dry run', async () => {
    const jobs = ['a coin', 'a key', 'a map'];
    const refused = await server.call('generate_batch', { out_dir: 'capped', jobs, size: SIZE, max_cost_usd: 0.5 });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/This batch/);
    expect(textOf(refused)).toMatch(/max_cost_usd/);
    expect(fake.requests).toHaveLength(0);

    const dry = await server.call('generate_batch', { out_dir: 'capped', jobs, size: SIZE, model: 'gpt-image-1.5', quality: 'low', dry_run: true });
    const estimate = (dry.structuredContent as { estimated_cost_usd?: number }).estimated_cost_usd;
    // 272 output tokens per low 1024x1024 image at $32 per 1M, three jobs, plus a few prompt tokens.
    expect(estimate).toBeGreaterThanOrEqual((3 * 272 * 32) / 1e6);
    expect(estimate).toBeLessThan((3 * 272 * 32) / 1e6 + 0.001);
  });

  it('takes transparency per job: a chroma_key job is keyed out on gpt-image-2', async () => {
    const result = await server.call('generate_batch', {
      out_dir: 'sprites',
      size: SIZE,
      jobs: [{ prompt: 'a knight sprite', background: 'transparent', transparency: 'chroma_key', out: 'knight.png' }, 'a plain backdrop'],
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const knight = requestsFor(generations().find((r) => String(r.body.prompt).startsWith('a knight sprite'))!.body.prompt as string)[0]!;
    expect(knight.body).toMatchObject({ model: 'gpt-image-2', background: 'opaque' });
    const meta = await sharp(path.join(ws.dir, 'sprites/knight.png')).metadata();
    expect(meta.hasAlpha).toBe(true);
  });
});
