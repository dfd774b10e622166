import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BatchProgress,
  MAX_BATCH_JOBS,
  MAX_HEARTBEATS_PER_JOB,
  addUsage,
  batchFailed,
  inFlightMessage,
  inlineJobs,
  parseJobLines,
  planBatch,
  summarise,
  type BatchDefaults,
  type JobSource,
  type JobValues,
  type PlanInput,
} from '../../src/core/batch.js';

const now = new Date('2026-11-24T12:00:00Z');
const plan = (jobs: JobSource[], extra: Partial<PlanInput> = {}) =>
  planBatch({ jobs, defaults: {}, outDir: 'assets', now, caseInsensitive: false, ...extra });
// Jobs as the job schema lets them through (its refusals are tested in test/tools/arguments.test.ts and test/e2e/batch.test.ts).
const inline = (...values: Array<string | JobValues>) => inlineJobs(values);

function planned(jobs: JobSource[], extra: Partial<PlanInput> = {}) {
  const result = plan(jobs, extra);
  if (!result.ok) throw new Error(result.problems.map((p) => p.message).join('\n'));
  return result.jobs;
}

function problems(jobs: JobSource[], extra: Partial<PlanInput> = {}): string[] {
  const result = plan(jobs, extra);
  if (result.ok) throw new Error('expected the batch to be refused');
  return result.problems.map((p) => p.message);
}

describe('parseJobLines', () => {
  it('reads objects, JSON strings and plain prompts, skipping blank and # lines, keeping line numbers', () => {
    const text = ['# sprites for level 1', '', '{"prompt": "a knight", "size": "1024x1024"}', '   ', '"a wizard"', 'a dragon, breathing fire', '# done'].join('\n');
    const { jobs, problems } = parseJobLines(text);
    expect(problems).toEqual([]);
    expect(jobs).toEqual([
      { number: 1, line: 3, value: { prompt: 'a knight', size: '1024x1024' } },
      { number: 2, line: 5, value: 'a wizard' },
      { number: 3, line: 6, value: 'a dragon, breathing fire' },
    ]);
  });

  it('handles CRLF line ends and a byte-order mark', () => {
    const { jobs } = parseJobLines('\uFEFF{"prompt":"a"}\r\nb\r\n');
    expect(jobs.map((j) => j.value)).toEqual([{ prompt: 'a' }, 'b']);
  });

  it('refuses every bad line with its number and the expected format', () => {
    const { problems } = parseJobLines(['{"prompt": "ok"}', '{"prompt": "broken",}', '[1, 2]', '"unterminated'].join('\n'));
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^line 2: not valid JSON .*Each line is one job/),
      expect.stringMatching(/^line 3: a JSON array is not a job/),
      expect.stringMatching(/^line 4: not valid JSON/),
    ]);
  });
});

describe('planBatch: merging defaults and job overrides', () => {
  const defaults: BatchDefaults = { size: '1536x1024', quality: 'low', style: 'flat vector', output_format: 'webp' };

  it('applies batch defaults to every job, and a job value wins where it gives one', () => {
    const [a, b] = planned(inline('a red fox', { prompt: 'a blue bird', size: '1024x1024', quality: undefined }), { defaults });
    expect(a!.request.options).toMatchObject({ size: '1536x1024', quality: 'low', outputFormat: 'webp' });
    expect(b!.request.options).toMatchObject({ size: '1024x1024', quality: 'low' }); // a JSONL null arrives as undefined
    expect(a!.request.prompt).toBe('Primary request: a red fox\nStyle/medium: flat vector');
  });

  it('takes augmentation fields flat or under fields (the CLI formats), over the batch fields', () => {
    const [flat, nested] = planned(
      inline({ prompt: 'a mug', subject: 'ceramic mug', style: 'photo' }, { prompt: 'a cup', fields: { subject: 'tea cup', negative: 'logos' } }),
      { defaults },
    );
    expect(flat!.request.prompt).toBe('Primary request: a mug\nSubject: ceramic mug\nStyle/medium: photo');
    expect(nested!.request.prompt).toBe('Primary request: a cup\nSubject: tea cup\nStyle/medium: flat vector\nAvoid: logos');
  });

  it('refuses a field given flat and under fields with different values', () => {
    expect(problems(inline({ prompt: 'x', style: 'a', fields: { style: 'b' } }))).toEqual([expect.stringMatching(/^job 1: style is given both flat and under fields/)]);
  });

  it('resolves each job like generate: routing, warnings and refusals with their fixes', () => {
    const [sprite] = planned(inline({ prompt: 'a sprite', background: 'transparent', size: '1024x1024' }));
    expect(sprite!.request.options.model).toBe('gpt-image-1.5');
    expect(sprite!.request.options.routingNote).toMatch(/gpt-image-1\.5 was used/);
    expect(problems(inline({ prompt: 'wide', size: '3840x2160' }))).toEqual([expect.stringMatching(/^job 1: size 3840x2160 .*Try 3824x2160/)]);
  });

  it('resolves a job with what a single call resolves with: the server default strategy, the route and its chain, complexity', () => {
    const after = new Date('2026-12-02T12:00:00Z');
    const [keyed] = planned(inline({ prompt: 'a gem', background: 'transparent' }), { now: after, resolve: { transparency: 'chroma_key' } });
    expect(keyed!.request.options).toMatchObject({ model: 'gpt-image-2', transparency: 'chroma_key', background: 'opaque' });
    const [routed] = planned(inline({ prompt: 'a gem', background: 'transparent', size: '2048x2048' }), { now: after });
    expect(routed!.request.options).toMatchObject({ model: 'gpt-image-2.5-sunburst', transparency: 'route', size: '2048x2048' });
    expect(routed!.request.fallbacks!.map((f) => f.request.options.model)).toEqual(['gpt-image-2.6-sunburst', 'gpt-image-2']);
    const [overridden] = planned(inline({ prompt: 'a gem', background: 'transparent' }), { now: after, resolve: { transparentModels: ['gpt-image-2.6-flare'] } });
    expect(overridden!.request.options.model).toBe('gpt-image-2.6-flare');
    const [complex] = planned(inline({ prompt: 'a map', model: 'gpt-image-2.6-flare', complexity: 'low' }), { now: after });
    expect(complex!.request.options.complexity).toBe('low');
    expect(problems(inline({ prompt: 'a map', complexity: 'low' }), { now: after })).toEqual([expect.stringMatching(/^job 1: gpt-image-2 does not accept complexity/)]);
  });
});

describe('planBatch: every problem of every job, by number and line', () => {
  it('lists all problems at once, naming the job and its line', () => {
    const lines = ['{"prompt": "ok"}', '{"prompt": "bad size", "size": "12x12"}', '', '{"prompt": "wide", "size": "3840x2160"}', '{"prompt": "x", "style": "a", "fields": {"style": "b"}}'];
    // Every line passes the job schema: what is left is the rules across values.
    const jobs = parseJobLines(lines.join('\n')).jobs as JobSource[];
    const messages = problems(jobs);
    expect(messages).toEqual([
      expect.stringMatching(/^job 2 \(line 2\): size 12x12/),
      expect.stringMatching(/^job 3 \(line 4\): size 3840x2160/),
      expect.stringMatching(/^job 4 \(line 5\): style is given both flat and under fields/),
    ]);
    // The job and its line are data too, so problems found out of order can be put back in order.
    const result = plan(jobs);
    expect(result.ok ? [] : result.problems.map((p) => [p.job, p.line])).toEqual([
      [2, 2],
      [3, 4],
      [4, 5],
    ]);
  });

  it('refuses an empty batch and one over the limit', () => {
    expect(problems([])).toEqual([expect.stringMatching(/no jobs/)]);
    const many = inlineJobs(Array.from({ length: MAX_BATCH_JOBS + 1 }, (_, i) => `prompt ${i}`));
    expect(problems(many)).toEqual([expect.stringMatching(/501 jobs; at most 500 .*Split it/)]);
    expect(planned(many.slice(0, MAX_BATCH_JOBS))).toHaveLength(MAX_BATCH_JOBS);
  });

  it('counts the jobs given, those the job schema refused too: never "no jobs" for a file of bad lines', () => {
    expect(plan([], { given: 3 })).toEqual({ ok: true, jobs: [] });
    expect(problems(inline('a fox'), { given: MAX_BATCH_JOBS + 1 })).toEqual([expect.stringMatching(/501 jobs; at most 500/)]);
  });
});

describe('planBatch: files', () => {
  it('names a job without out NNN-<slug>.<ext> in out_dir, numbering n variants', () => {
    const jobs = planned(inline('A Red Fox!', { prompt: 'two cats', n: 2, output_format: 'jpeg' }));
    expect(jobs.map((j) => j.files)).toEqual([
      [path.join('assets', '001-a-red-fox.png')],
      [path.join('assets', '002-two-cats-1.jpg'), path.join('assets', '002-two-cats-2.jpg')],
    ]);
    expect(jobs.map((j) => j.label)).toEqual(['A Red Fox!', 'two cats']);
  });

  it('puts a job out inside out_dir (subfolders allowed), adding the extension when missing', () => {
    const [a, b] = planned(inline({ prompt: 'x', out: 'icons/home' }, { prompt: 'y', out: 'hero.png', n: 2 }), { downscaleSuffix: '-web' });
    expect(a!.files).toEqual([path.join('assets', 'icons', 'home.png')]);
    expect(a!.webFiles).toEqual([path.join('assets', 'icons', 'home-web.png')]);
    expect(b!.files).toEqual([path.join('assets', 'hero-1.png'), path.join('assets', 'hero-2.png')]);
    expect(a!.label).toBe('icons/home');
  });

  it('refuses a job out that leaves out_dir', () => {
    for (const out of ['../x.png', 'a/../../x.png', '/etc/x.png']) {
      expect(problems(inline({ prompt: 'x', out }))).toEqual([expect.stringMatching(/must be a file name inside out_dir/)]);
    }
  });

  it('refuses two jobs writing the same file, naming both', () => {
    expect(problems(inline({ prompt: 'a', out: 'hero.png' }, { prompt: 'b', out: 'hero' }))).toEqual([
      `job 2 would write ${path.join('assets', 'hero.png')}, which job 1 writes too: give one of them another out.`,
    ]);
    // a job's out against another's default name, and an n variant against an out
    expect(problems(inline({ prompt: 'x', out: '002-fox.png' }, 'fox'))).toHaveLength(1);
    expect(problems(inline({ prompt: 'a', out: 'cat.png', n: 2 }, { prompt: 'b', out: 'cat-2.png' }))).toHaveLength(1);
  });

  it('counts downscaled copies and the manifest as files too', () => {
    expect(problems(inline({ prompt: 'a', out: 'hero.png' }, { prompt: 'b', out: 'hero-web.png' }), { downscaleSuffix: '-web' })).toHaveLength(1);
    expect(problems(inline({ prompt: 'a', out: 'manifest.json' }))).toEqual([expect.stringMatching(/which the batch manifest writes too/)]);
  });

  it('compares names case-insensitively where the file system does', () => {
    const jobs = inline({ prompt: 'a', out: 'Hero.png' }, { prompt: 'b', out: 'hero.png' });
    expect(planned(jobs)).toHaveLength(2);
    expect(problems(jobs, { caseInsensitive: true })).toHaveLength(1);
  });
});

describe('summary, usage and progress', () => {
  it('counts statuses, and calls a batch failed only when it produced nothing', () => {
    const summary = summarise(4, ['done', 'failed', 'skipped', undefined]);
    expect(summary).toEqual({ jobs: 4, done: 1, failed: 1, skipped: 1, cancelled: 0 });
    expect(batchFailed(summary)).toBe(false);
    expect(batchFailed(summarise(3, ['failed', 'cancelled', 'cancelled']))).toBe(true);
    expect(batchFailed(summarise(2, ['skipped', 'skipped']))).toBe(false);
  });

  it('adds token counts, details included', () => {
    const total = {};
    addUsage(total, { input_tokens: 10, output_tokens: 100, total_tokens: 110, input_tokens_details: { text_tokens: 10, image_tokens: 0 } });
    addUsage(total, { input_tokens: 5, output_tokens: 50, total_tokens: 55, input_tokens_details: { text_tokens: 5 }, note: 'x' });
    addUsage(total, undefined);
    expect(total).toEqual({ input_tokens: 15, output_tokens: 150, total_tokens: 165, input_tokens_details: { text_tokens: 15, image_tokens: 0 } });
  });

  it('gives strictly increasing progress: finished jobs, and heartbeats in between that never reach the next', () => {
    const progress = new BatchProgress(3);
    const values: number[] = [];
    values.push(progress.heartbeat()!, progress.heartbeat()!);
    values.push(progress.jobsFinished());
    for (let i = 0; i < MAX_HEARTBEATS_PER_JOB; i++) values.push(progress.heartbeat()!);
    expect(progress.heartbeat()).toBeUndefined();
    values.push(progress.jobsFinished(2));
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThan(values[i - 1]!);
    expect(values[2]).toBe(1);
    expect(values.at(-2)!).toBeLessThan(2);
    expect(values.at(-1)).toBe(3);
  });

  it('names what is in flight', () => {
    expect(inFlightMessage(2, 10, ['job 3 (hero.png)', 'job 4 (a fox)'])).toBe('2 of 10 jobs finished; waiting for job 3 (hero.png), job 4 (a fox)');
    expect(inFlightMessage(0, 10, ['job 1', 'job 2', 'job 3', 'job 4', 'job 5'])).toBe('0 of 10 jobs finished; waiting for job 1, job 2, job 3 and 2 more');
  });
});
