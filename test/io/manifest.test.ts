/**
 * The manifest writer: the file it writes piece by piece reads back as the header and every job
 * (entries larger than a piece included), and a collection can start from the entries as the file
 * holds them (splitEntries), changing only the jobs it touches; a large change is serialised a
 * slice at a time, so other work (a batch's answers) runs between slices.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENTRIES_PER_TURN, ManifestWriter, splitEntries } from '../../src/io/manifest.js';
import { Workspace } from '../../src/io/workspace.js';

let dir: string;
let workspace: Workspace;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'imagegen-manifest-'));
  workspace = await Workspace.create([dir], 'flag');
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const job = (number: number, extra: Record<string, unknown> = {}) => ({
  number,
  label: `job ${number}`,
  status: 'pending',
  request: { endpoint: '/v1/images/generations', payload: { model: 'gpt-image-2', prompt: `a "quoted" prompt\nwith a newline, number ${number}` } },
  files: [`shots/${String(number).padStart(3, '0')}.png`],
  ...extra,
});

async function writeAll(file: string, jobs: ReturnType<typeof job>[], seed?: Buffer[]): Promise<ManifestWriter> {
  const writer = new ManifestWriter(workspace, file, () => ({ tool: 'generate_batch', version: 1, out_dir: 'shots' }), jobs.length);
  if (seed) writer.seed(seed);
  else jobs.forEach((j, i) => writer.set(i, () => j));
  writer.write();
  await writer.flush();
  return writer;
}

describe('ManifestWriter', () => {
  it('writes a manifest larger than its pieces that reads back whole, an entry larger than a piece included', async () => {
    const file = path.join(dir, 'manifest.json');
    const jobs = Array.from({ length: 400 }, (_, i) => job(i + 1));
    jobs[200] = job(201, { note: 'x'.repeat(100_000) });
    const writer = await writeAll(file, jobs);
    expect(writer.error).toBeUndefined();
    const text = await readFile(file, 'utf8');
    expect(text.length).toBeGreaterThan(3 * 64 * 1024);
    expect(JSON.parse(text)).toEqual({ tool: 'generate_batch', version: 1, out_dir: 'shots', jobs });
  });

  it('a writer seeded with the entries as the file holds them rewrites only the jobs that change', async () => {
    const file = path.join(dir, 'manifest.json');
    const jobs = Array.from({ length: 50 }, (_, i) => job(i + 1));
    await writeAll(file, jobs);
    const text = await readFile(file, 'utf8');
    const entries = splitEntries(text, jobs.map((j) => j.number));
    expect(entries).toHaveLength(50);
    expect(entries!.map((e) => JSON.parse(e.toString('utf8')) as unknown)).toEqual(jobs);

    const writer = await writeAll(file, jobs, entries);
    expect(await readFile(file, 'utf8')).toBe(text);
    const done = { ...jobs[6]!, status: 'done', cost_usd: 0.01 };
    writer.set(6, () => done);
    writer.write();
    await writer.flush();
    const after = JSON.parse(await readFile(file, 'utf8')) as { jobs: unknown[] };
    expect(after.jobs).toEqual(jobs.map((j, i) => (i === 6 ? done : j)));
  });

  it('serialises a large change a slice per turn of the event loop, and the file still holds every job as it was last set', async () => {
    const file = path.join(dir, 'manifest.json');
    const jobs = Array.from({ length: 500 }, (_, i) => job(i + 1));
    const writer = new ManifestWriter(workspace, file, () => ({ tool: 'generate_batch', version: 1, out_dir: 'shots' }), jobs.length);
    let built = 0;
    jobs.forEach((j, i) => writer.set(i, () => (built++, j)));
    writer.write();
    // What other work sees of the serialising: how many entries were built each time it got a turn.
    const seen: number[] = [];
    await new Promise<void>((resolve) => {
      const turn = () => {
        seen.push(built);
        if (built < jobs.length) setImmediate(turn);
        else resolve();
      };
      setImmediate(turn);
    });
    // A job that changes while the write is under way is in the file once the writer flushes.
    const done = { ...jobs[499]!, status: 'done' };
    writer.set(499, () => done);
    writer.write();
    await writer.flush();
    const between = seen.filter((n) => n > 0 && n < jobs.length);
    expect(between.length).toBeGreaterThanOrEqual(jobs.length / ENTRIES_PER_TURN - 2);
    expect(Math.max(...between.map((n, i) => n - (between[i - 1] ?? 0)))).toBeLessThanOrEqual(ENTRIES_PER_TURN);
    expect((JSON.parse(await readFile(file, 'utf8')) as { jobs: unknown[] }).jobs).toEqual(jobs.map((j, i) => (i === 499 ? done : j)));
  });

  it('keeps an entry that failed to serialise for the next write, and says the write failed', async () => {
    const file = path.join(dir, 'manifest.json');
    const jobs = [job(1), job(2)];
    const writer = new ManifestWriter(workspace, file, () => ({ tool: 'generate_batch', version: 1, out_dir: 'shots' }), jobs.length);
    let calls = 0;
    writer.set(0, () => jobs[0]!);
    writer.set(1, () => {
      if (calls++ === 0) throw new Error('not yet');
      return jobs[1]!;
    });
    writer.write();
    await writer.flush();
    expect(writer.error?.message).toBe('not yet');
    writer.write();
    await writer.flush();
    expect(writer.error).toBeUndefined();
    expect((JSON.parse(await readFile(file, 'utf8')) as { jobs: unknown[] }).jobs).toEqual(jobs);
  });

  it('splitEntries declines a manifest laid out otherwise, or whose entries are not the expected jobs', async () => {
    const jobs = [job(1), job(2), job(3)];
    const file = path.join(dir, 'manifest.json');
    await writeAll(file, jobs);
    const text = await readFile(file, 'utf8');
    expect(splitEntries(text, [1, 2, 3])).toHaveLength(3);
    expect(splitEntries(text, [1, 2])).toBeUndefined();
    expect(splitEntries(text, [1, 3, 2])).toBeUndefined();
    expect(splitEntries(JSON.stringify(JSON.parse(text)), [1, 2, 3])).toBeUndefined();
    expect(splitEntries(JSON.stringify(JSON.parse(text), null, 4), [1, 2, 3])).toBeUndefined();
  });
});
