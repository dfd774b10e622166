/**
 * generate_batch with engine "batch_api" and batch_status, end to end through stdio against the
 * fake's Files and Batches APIs: submit, progress, collect, collect again, expired, restart, refusal.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Progress, Resource } from '@modelcontextprotocol/sdk/types.js';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { filesUnder, spawnServer, startHarness, textOf, type Harness } from '../helpers.js';

let harness: Harness;
const ENV = { IMAGEGEN_TODAY: '2026-12-02' };
const SIZE = '1024x1024';

interface ManifestJob {
  number: number;
  status: string;
  files: string[];
  custom_id?: string;
  error?: string;
  cost_usd?: number;
  request: { payload: Record<string, unknown> };
}
interface Manifest {
  engine: string;
  batch: { id: string; status: string; input_file_id: string; requests_file: string; collected: boolean };
  jobs: ManifestJob[];
}

const manifestOf = async (outDir: string) => JSON.parse(await readFile(path.join(harness.ws.dir, outDir, 'manifest.json'), 'utf8')) as Manifest;
const jobs = (count: number, tag: string) => Array.from({ length: count }, (_, i) => `${tag} sprite number ${i + 1}`);
const submit = (outDir: string, list: unknown[], extra: Record<string, unknown> = {}) =>
  harness.server.call('generate_batch', { jobs: list, out_dir: outDir, size: SIZE, quality: 'low', engine: 'batch_api', ...extra });
const idOf = (text: string) => /Submitted batch (batch_[0-9a-f]+)/.exec(text)?.[1] ?? '';

beforeAll(async () => {
  harness = await startHarness({ env: ENV });
});
afterAll(async () => harness?.close());
beforeEach(() => harness.fake.reset());

describe('engine batch_api', () => {
  it('uploads one JSONL matching the planned requests, reports progress without writing, collects all 200 images once', async () => {
    const submitted = await submit('cat200', jobs(200, 'cat'));
    const text = textOf(submitted);
    expect(submitted.isError).toBeFalsy();
    const id = idOf(text);
    expect(text).toContain('200 jobs');
    expect(text).toMatch(/Next: call batch_status with out_dir "cat200"/);

    // One upload, purpose batch, one line per job, each the job's planned request.
    const uploads = harness.fake.requests.filter((r) => r.path === '/v1/files' && r.method === 'POST');
    expect(uploads).toHaveLength(1);
    expect(uploads[0]!.body.purpose).toBe('batch');
    expect(harness.fake.requests.filter((r) => r.path === '/v1/images/generations')).toHaveLength(0);
    const lines = uploads[0]!.files[0]!.bytes.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { custom_id: string; method: string; url: string; body: Record<string, unknown> });
    expect(lines).toHaveLength(200);
    const manifest = await manifestOf('cat200');
    expect(manifest.engine).toBe('batch_api');
    expect(manifest.batch.id).toBe(id);
    expect(manifest.batch.input_file_id).toBe(harness.fake.batch.batches.get(id)!.input_file_id);
    for (const [i, line] of lines.entries()) {
      const job = manifest.jobs[i]!;
      expect(line.method).toBe('POST');
      expect(line.url).toBe('/v1/images/generations');
      expect(line.custom_id).toBe(job.custom_id);
      expect(line.custom_id).toMatch(new RegExp(`^job-${i + 1}-`));
      expect(line.body).toEqual(job.request.payload);
      expect(line.body).toMatchObject({ model: 'gpt-image-2', size: SIZE, quality: 'low', prompt: `cat sprite number ${i + 1}` });
    }
    const batch = harness.fake.batch.batches.get(id)!;
    expect(batch.completion_window).toBe('24h');
    expect(batch.endpoint).toBe('/v1/images/generations');

    // In progress: counts, no file written, manifest untouched.
    harness.fake.batch.progress(id, 'in_progress', 120);
    const before = await readFile(path.join(harness.ws.dir, 'cat200', 'manifest.json'), 'utf8');
    const progress = await harness.server.call('batch_status', { out_dir: 'cat200' });
    expect(textOf(progress)).toMatch(/is in_progress: 120 of 200 requests done/);
    expect(await filesUnder(path.join(harness.ws.dir, 'cat200'))).toEqual(['manifest.json']);
    expect(await readFile(path.join(harness.ws.dir, 'cat200', 'manifest.json'), 'utf8')).toBe(before);

    // Completed: every image at its planned path, decodable, the manifest done.
    await harness.fake.batch.settle(id, 'completed');
    const seen: Progress[] = [];
    const collected = await harness.server.call('batch_status', { out_dir: 'cat200' }, { onprogress: (p) => seen.push(p) });
    expect(collected.isError).toBeFalsy();
    expect(textOf(collected)).toMatch(/200 done, 0 failed/);
    expect(collected.content.some((b) => b.type === 'image')).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    const after = await manifestOf('cat200');
    expect(after.batch.collected).toBe(true);
    expect(after.jobs.every((j) => j.status === 'done')).toBe(true);
    const pngs = (await filesUnder(path.join(harness.ws.dir, 'cat200'))).filter((f) => f.endsWith('.png'));
    expect(pngs).toHaveLength(200);
    expect(pngs).toEqual(after.jobs.flatMap((j) => j.files.map((f) => path.relative('cat200', f))).sort());
    const meta = await sharp(path.join(harness.ws.dir, after.jobs[0]!.files[0]!)).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([1024, 1024, 'png']);
    expect(after.jobs[0]!.cost_usd).toBeGreaterThan(0);
    const history = (await readFile(path.join(harness.ws.dir, 'output/imagegen/history.jsonl'), 'utf8')).trim().split('\n');
    expect(history.filter((l) => l.includes('"batch":"cat200"'))).toHaveLength(200);

    // Again: nothing written, not even the manifest.
    const stamp = await readFile(path.join(harness.ws.dir, 'cat200', 'manifest.json'), 'utf8');
    const downloads = harness.fake.requests.filter((r) => r.path.endsWith('/content')).length;
    const again = await harness.server.call('batch_status', { batch_id: id });
    expect(textOf(again)).toMatch(/collected already.*nothing was written/);
    expect(await readFile(path.join(harness.ws.dir, 'cat200', 'manifest.json'), 'utf8')).toBe(stamp);
    expect(harness.fake.requests.filter((r) => r.path.endsWith('/content')).length).toBe(downloads);
    expect((await filesUnder(path.join(harness.ws.dir, 'cat200'))).filter((f) => f.endsWith('.png'))).toHaveLength(200);
  }, 120_000);

  it('an expired batch with 150 outputs saves those and lists the other 50 as failed with the reason', async () => {
    const id = idOf(textOf(await submit('expired', jobs(200, 'dog'))));
    // Not collected yet: submitting the rest again would pay twice.
    const early = await submit('expired', jobs(200, 'dog'), { resume: true });
    expect(textOf(early)).toMatch(/^Refused: .*batch_\w+, which has not been collected.*batch_status/s);
    await harness.fake.batch.settle(id, 'expired', { outputs: 150 });
    const result = await harness.server.call('batch_status', { out_dir: 'expired' });
    const text = textOf(result);
    expect(result.isError).toBeFalsy();
    expect(text).toMatch(/150 done, 50 failed/);
    expect(text).toContain('completion window expired');
    const manifest = await manifestOf('expired');
    expect(manifest.jobs.filter((j) => j.status === 'done').map((j) => j.number)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    const failedJobs = manifest.jobs.filter((j) => j.status === 'failed');
    expect(failedJobs).toHaveLength(50);
    for (const job of failedJobs) expect(job.error).toMatch(/completion window expired.*batch_expired/);
    expect((await filesUnder(path.join(harness.ws.dir, 'expired'))).filter((f) => f.endsWith('.png'))).toHaveLength(150);

    // The 50 run again with resume: one new batch with only those lines.
    const again = await submit('expired', jobs(200, 'dog'), { resume: true });
    expect(textOf(again)).toMatch(/50 jobs \(150 already done, skipped\)/);
    const upload = harness.fake.requests.filter((r) => r.path === '/v1/files' && r.method === 'POST').at(-1)!;
    const numbers = upload.files[0]!.bytes.toString('utf8').trim().split('\n').map((l) => Number(/^job-(\d+)-/.exec((JSON.parse(l) as { custom_id: string }).custom_id)![1]));
    expect(numbers).toEqual(Array.from({ length: 50 }, (_, i) => 151 + i));
  }, 120_000);

  it('a server restarted between submit and collect collects from the manifest', async () => {
    const id = idOf(textOf(await submit('restart', jobs(5, 'owl'))));
    const env = { OPENAI_API_KEY: harness.fake.apiKey, OPENAI_BASE_URL: harness.fake.url, ...ENV };
    await harness.fake.batch.settle(id, 'completed');
    // The server that submitted is gone; a fresh one knows only the workspace.
    const fresh = await spawnServer({ cwd: harness.ws.dir, env });
    try {
      const result = await fresh.call('batch_status', { batch_id: id });
      expect(textOf(result)).toMatch(/5 done, 0 failed/);
    } finally {
      await fresh.close();
    }
    expect((await filesUnder(path.join(harness.ws.dir, 'restart'))).filter((f) => f.endsWith('.png'))).toHaveLength(5);
  }, 60_000);

  it('a refused job makes no upload at all, and a model the Batch API does not take is named with the fix', async () => {
    const bad = await submit('refused', ['a fine fox', { prompt: 'a bad size', size: '100x100' }, { prompt: 'vector', model: 'gpt-image-2.6-flare' }]);
    const text = textOf(bad);
    expect(bad.isError).toBe(true);
    expect(text).toMatch(/^Refused:/);
    expect(text).toContain('job 2');
    expect(harness.fake.requests.filter((r) => r.path.startsWith('/v1/files') || r.path.startsWith('/v1/batches'))).toHaveLength(0);
    const model = await submit('refused-model', ['a fine fox', { prompt: 'a flare fox', model: 'gpt-image-2.6-flare' }]);
    expect(textOf(model)).toMatch(/job 2.*gpt-image-2\.6-flare is not accepted by OpenAI's Batch API.*engine "direct"/s);
    expect(harness.fake.requests).toHaveLength(0);
    expect(await filesUnder(path.join(harness.ws.dir, 'refused-model'))).toEqual([]);
  }, 60_000);

  it('a failed batch says why; a cancel asks the API to cancel', async () => {
    const failing = idOf(textOf(await submit('failing', jobs(2, 'eel'))));
    await harness.fake.batch.settle(failing, 'failed');
    const failedResult = await harness.server.call('batch_status', { out_dir: 'failing' });
    expect(failedResult.isError).toBe(true);
    expect(textOf(failedResult)).toMatch(/^Failed: Batch batch_\w+ failed.*Injected batch failure/s);

    const id = idOf(textOf(await submit('cancel', jobs(3, 'ant'))));
    const cancelled = await harness.server.call('batch_status', { out_dir: 'cancel', cancel: true });
    expect(textOf(cancelled)).toMatch(/cancel batch .* status cancelling/);
    expect(harness.fake.batch.batches.get(id)!.status).toBe('cancelling');
    await harness.fake.batch.settle(id, 'cancelled', { outputs: 1 });
    const after = await harness.server.call('batch_status', { out_dir: 'cancel' });
    expect(textOf(after)).toMatch(/1 done, 2 failed/);
    expect(textOf(after)).toContain('cancelled before this job ran');
  }, 60_000);

  it('a collection cut off half-way resumes without rewriting; a file in the way or bytes that are not an image fail only their job', async () => {
    const id = idOf(textOf(await submit('resume', jobs(4, 'bee'))));
    await harness.fake.batch.settle(id, 'completed');
    const planned = (await manifestOf('resume')).jobs.map((j) => path.join(harness.ws.dir, j.files[0]!));
    // Job 1 was saved by a collection that stopped before the manifest caught up; job 2's file is junk.
    await mkdir(path.dirname(planned[0]!), { recursive: true });
    await sharp({ create: { width: 1024, height: 1024, channels: 3, background: '#123456' } }).png().toFile(planned[0]!);
    const earlier = (await stat(planned[0]!)).mtimeMs;
    await writeFile(planned[1]!, 'not an image');
    // Job 3's answer carries bytes that are not an image.
    const batch = harness.fake.batch.batches.get(id)!;
    const output = harness.fake.batch.files.get(batch.output_file_id!)!;
    const lines = output.bytes.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { custom_id: string; response: { body: { data: Array<{ b64_json: string }> } } });
    lines.find((l) => l.custom_id.startsWith('job-3-'))!.response.body.data[0]!.b64_json = Buffer.from('plain text, no picture').toString('base64');
    output.bytes = Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');

    const result = await harness.server.call('batch_status', { out_dir: 'resume' });
    const text = textOf(result);
    expect(text).toMatch(/2 done, 2 failed/);
    expect(text).toMatch(/job 2 failed: .*exists and is not an image; remove it/);
    expect(text).toMatch(/job 3 failed: .*not an image; nothing was saved/);
    expect((await stat(planned[0]!)).mtimeMs).toBe(earlier);
    expect(await readFile(planned[1]!, 'utf8')).toBe('not an image');
    // No file for job 3, and no temp file left behind.
    const expected = [planned[0]!, planned[1]!, planned[3]!].map((f) => path.relative(path.join(harness.ws.dir, 'resume'), f));
    expect(await filesUnder(path.join(harness.ws.dir, 'resume'))).toEqual([...expected, 'manifest.json'].sort());
  }, 60_000);

  it('with --structured-output, submit and collect results match their declared schemas', async () => {
    const env = { OPENAI_API_KEY: harness.fake.apiKey, OPENAI_BASE_URL: harness.fake.url, ...ENV };
    const structured = await spawnServer({ cwd: harness.ws.dir, env, structured: true });
    try {
      const sent = await structured.call('generate_batch', { jobs: jobs(2, 'yak'), out_dir: 'structured', size: SIZE, quality: 'low', engine: 'batch_api' });
      expect(sent.isError).toBeFalsy();
      const facts = sent.structuredContent as { counts: { jobs: number }; estimated_cost_usd?: number; batch: { id: string } };
      expect(facts.counts.jobs).toBe(2);
      expect(facts.batch.id).toMatch(/^batch_/);
      const waiting = await structured.call('batch_status', { out_dir: 'structured' });
      expect(waiting.isError).toBeFalsy();
      await harness.fake.batch.settle(facts.batch.id, 'completed');
      const collected = await structured.call('batch_status', { out_dir: 'structured' });
      expect(collected.isError).toBeFalsy();
      expect((collected.structuredContent as { counts: { done: number } }).counts.done).toBe(2);
      const again = await structured.call('batch_status', { out_dir: 'structured' });
      expect((again.structuredContent as { counts: { done: number } }).counts.done).toBe(2);
    } finally {
      await structured.close();
    }
  }, 60_000);

  it('lines that are not JSON or name no job of ours are skipped with a warning; a missing output file fails the call, and the next call collects', async () => {
    const id = idOf(textOf(await submit('hostile', jobs(3, 'elk'))));
    await harness.fake.batch.settle(id, 'completed');
    const batch = harness.fake.batch.batches.get(id)!;
    const output = harness.fake.batch.files.get(batch.output_file_id!)!;
    const good = output.bytes;
    harness.fake.batch.files.delete(batch.output_file_id!);
    const missing = await harness.server.call('batch_status', { out_dir: 'hostile' });
    expect(textOf(missing)).toMatch(/^Failed: Reading file file_\w+ failed: the API answered 404.*call batch_status again/s);
    expect((await manifestOf('hostile')).batch.collected).toBe(false);

    output.bytes = Buffer.concat([Buffer.from('{"truncated": \n'), Buffer.from('{"custom_id":"someone-else-1","response":null}\n'), good]);
    harness.fake.batch.files.set(output.id, output);
    const result = await harness.server.call('batch_status', { out_dir: 'hostile' });
    const text = textOf(result);
    expect(text).toMatch(/3 done, 0 failed/);
    expect(text).toMatch(/Warning: Skipped a line of the batch's files: a line of the batch file is not JSON/);
    expect(text).toMatch(/unknown custom_id "someone-else-1"/);
  }, 60_000);

  it('each batch is a gallery resource, listed with its status, counts and cost after submit and after collect, and readable', async () => {
    const id = idOf(textOf(await submit('shelf/batch', jobs(3, 'fig'))));
    const uri = `imagegen://batch/${id}`;
    const listed = async () => {
      const all: Resource[] = [];
      let cursor: string | undefined;
      do {
        const page = await harness.server.client.listResources(cursor ? { cursor } : {});
        all.push(...page.resources);
        cursor = page.nextCursor;
      } while (cursor);
      return all.filter((r) => r.uri === uri);
    };
    const read = async () => JSON.parse(((await harness.server.client.readResource({ uri })).contents[0] as { text: string }).text) as Record<string, unknown>;

    // Submitted: listed from the manifest's head (no API call), though no image exists yet.
    const before = harness.fake.requests.length;
    const [submitted] = await listed();
    expect(harness.fake.requests.length).toBe(before);
    expect(submitted!.mimeType).toBe('application/json');
    expect(submitted!.description).toMatch(/validating when last checked, not collected yet\); 3 jobs: 0 done, 0 failed, 3 not collected; .*files in shelf\/batch\//);
    expect(await read()).toMatchObject({ batch_id: id, status: 'validating', collected: false, counts: { jobs: 3, done: 0, pending: 3 }, out_dir: 'shelf/batch', manifest: 'shelf/batch/manifest.json' });

    await harness.fake.batch.settle(id, 'expired', { outputs: 2 });
    await harness.server.call('batch_status', { out_dir: 'shelf/batch' });
    const manifest = await manifestOf('shelf/batch');
    const cost = manifest.jobs.reduce((sum, j) => sum + (j.cost_usd ?? 0), 0);
    expect(cost).toBeGreaterThan(0);
    const [collected] = await listed();
    expect(collected!.description).toMatch(/expired, collected\); 3 jobs: 2 done, 1 failed; cost \$[\d.]+ at batch prices/);
    const summary = await read();
    expect(summary).toMatchObject({ batch_id: id, status: 'expired', collected: true, counts: { jobs: 3, done: 2, failed: 1, pending: 0 }, out_dir: 'shelf/batch' });
    expect(summary.cost_usd).toBeCloseTo(cost, 6);
    expect(summary.next).toMatch(/resume: true/);

    await expect(harness.server.client.readResource({ uri: 'imagegen://batch/batch_nope' })).rejects.toThrow(/No batch batch_nope was submitted from this workspace/);
  }, 60_000);

  it('the batch listing survives a hostile workspace: index lines pointing out, a FIFO or a foreign file as manifest, a manifest with a huge header', async () => {
    const ws = harness.ws.dir;
    await mkdir(path.join(ws, 'tmp/imagegen'), { recursive: true });
    await mkdir(path.join(ws, 'fifo-batch'), { recursive: true });
    execFileSync('mkfifo', [path.join(ws, 'fifo-batch', 'manifest.json')]);
    await mkdir(path.join(ws, 'foreign-batch'), { recursive: true });
    await writeFile(path.join(ws, 'foreign-batch', 'manifest.json'), JSON.stringify({ tool: 'generate_batch', version: 1, engine: 'direct', out_dir: 'foreign-batch', batch: { id: 'batch_foreign' }, jobs: [] }, null, 2));
    await mkdir(path.join(ws, 'huge-batch'), { recursive: true });
    await writeFile(path.join(ws, 'huge-batch', 'manifest.json'), `{\n  "tool": "generate_batch",\n  "engine": "batch_api",\n  "out_dir": "${'x'.repeat(200_000)}",\n  "batch": { "id": "batch_huge" },\n  "jobs": []\n}\n`);
    const lines = ['../outside', '/etc', 'fifo-batch', 'foreign-batch', 'huge-batch'].map((dir, i) => JSON.stringify({ id: `batch_hostile${i}`, out_dir: dir }));
    await writeFile(path.join(ws, 'tmp/imagegen/batch-api-index.jsonl'), `not json\n${lines.join('\n')}\n`, { flag: 'a' });
    const resources: Resource[] = [];
    let cursor: string | undefined;
    do {
      const page = await harness.server.client.listResources(cursor ? { cursor } : {});
      resources.push(...page.resources);
      cursor = page.nextCursor;
    } while (cursor);
    expect(resources.some((r) => r.name === 'huge-batch/manifest.json')).toBe(true);
    expect(resources.filter((r) => r.uri.startsWith('imagegen://batch/batch_hostile') || /batch_(foreign|huge)/.test(r.uri))).toEqual([]);
    await expect(harness.server.client.readResource({ uri: 'imagegen://batch/batch_foreign' })).rejects.toThrow(/No batch batch_foreign was submitted/);
  }, 60_000);

  it('batch_status without a batch names what to give', async () => {
    const result = await harness.server.call('batch_status', {});
    expect(textOf(result)).toMatch(/^Refused: No batch named\. Give out_dir/);
    const notOurs = await harness.server.call('batch_status', { out_dir: 'nowhere' });
    expect(textOf(notOurs)).toMatch(/^Refused: .*manifest\.json.*engine "batch_api"/s);
  });
});
