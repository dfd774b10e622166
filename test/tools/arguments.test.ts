/**
 * Arguments and batch jobs as the schemas check them, before the normaliser sees them: the
 * spellings taken as meant, and the refusals (naming the argument, the job and its line, and the
 * fix). The normaliser (core/request.ts) then applies only the rules across values.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { argumentIssues, argumentProblems, coerceArguments, jobIssues } from '../../src/tools/arguments.js';
import { checkBatchDefaults, generateBatchArguments, jobSchema, type GenerateBatchArguments } from '../../src/tools/batch-schema.js';
import { editArguments } from '../../src/tools/edit.js';
import { generateArguments } from '../../src/tools/generate.js';

/** What the server does with a call's arguments: coerce, then check. */
function check(schema: z.ZodObject, args: Record<string, unknown>): { data?: Record<string, unknown>; problems: string[] } {
  const raw = coerceArguments(schema, args);
  const parsed = schema.safeParse(raw);
  return parsed.success ? { data: parsed.data as Record<string, unknown>, problems: [] } : { problems: argumentProblems(parsed.error, raw) };
}

/** One JSONL line as readJobSources checks it. */
function checkLine(value: unknown, job = { number: 2, line: 5 }) {
  const raw = coerceArguments(jobSchema, value);
  const parsed = jobSchema.safeParse(raw);
  return parsed.success ? { data: parsed.data, problems: [] } : { problems: jobIssues(parsed.error, raw, job) };
}

/** The same value as the second inline job of a call. */
function checkInline(value: unknown) {
  const raw = coerceArguments(generateBatchArguments, { out_dir: 'b', jobs: ['a fox', value] });
  const parsed = generateBatchArguments.safeParse(raw);
  return parsed.success ? { data: parsed.data.jobs![1], problems: [] } : { problems: argumentIssues(parsed.error, raw) };
}

describe('enum values', () => {
  it('takes another case and stray spaces as meant (" PNG ", "JPG", "HIGH"), inline jobs and JSONL lines too', () => {
    expect(check(generateArguments, { prompt: 'x', output_format: ' PNG ', quality: 'HIGH', background: 'Opaque' }).data).toMatchObject({ output_format: 'png', quality: 'high', background: 'opaque' });
    expect(check(generateArguments, { prompt: 'x', output_format: 'JPG' }).data).toMatchObject({ output_format: 'jpg' });
    expect(check(editArguments, { prompt: 'x', images: ['a.png'], input_fidelity: 'LOW' }).data).toMatchObject({ input_fidelity: 'low' });
    expect(checkLine({ prompt: 'x', output_format: 'SVG', complexity: 'High' }).data).toEqual({ prompt: 'x', output_format: 'svg', complexity: 'high' });
    expect(checkInline({ prompt: 'x', transparency: 'Chroma_Key' }).data).toEqual({ prompt: 'x', transparency: 'chroma_key' });
  });

  it.each([
    ['output_format', 'tiff', 'png, jpeg, jpg, webp, svg, gif'],
    ['background', 'clear', 'transparent, opaque, auto'],
    ['quality', 'ultra', 'low, medium, high, xhigh, max, auto'],
    ['transparency', 'magic', 'route, chroma_key, native'],
    ['moderation', 'off', 'auto, low'],
    ['complexity', 'extreme', 'low, medium, high'],
  ])('refuses %s %j, naming the argument and what it takes', (key, value, allowed) => {
    expect(check(generateArguments, { prompt: 'x', [key]: value }).problems).toEqual([`${key} is "${value}"; use one of ${allowed}.`]);
  });

  it.each([0, 11, 1.5, -1])('refuses n %d, saying 1 to 10 and that distinct assets are separate jobs', (n) => {
    expect(check(generateArguments, { prompt: 'x', n }).problems).toEqual([
      `n must be a whole number from 1 to 10 (it is ${n}): n makes variants of one prompt; distinct assets are separate jobs in generate_batch.`,
    ]);
  });

  it.each([
    [-1, 'at least 0'],
    [101, 'at most 100'],
    [50.5, ''],
  ])('refuses output_compression %d, naming it and its range', (c, bound) => {
    const [problem] = check(generateArguments, { prompt: 'x', output_format: 'jpeg', output_compression: c }).problems;
    expect(problem).toMatch(bound ? `output_compression is ${c}; it must be ${bound}.` : /^output_compression must be a whole number, not 50\.5\.$/);
  });

  it("refuses edit's input_fidelity other than low or high", () => {
    expect(check(editArguments, { prompt: 'x', images: ['a.png'], input_fidelity: 'max' }).problems).toEqual(['input_fidelity is "max"; use one of low, high.']);
  });
});

describe('a batch job: one schema inline and as a JSONL line', () => {
  const cases: Array<[string, unknown, string[]]> = [
    ['not a prompt nor an object', 42, ['a job is a prompt (text) or an object with "prompt", not 42.']],
    ['a prompt that is no text', { prompt: 7 }, ['prompt must be text, not 7.']],
    ['no prompt', { size: '1024x1024' }, ['prompt is missing: each job needs the prompt of its image.']],
    ['n as words', { prompt: 'x', n: 'two' }, ['n must be a whole number from 1 to 10 (it is "two"): n makes variants of one prompt; distinct assets are separate jobs in generate_batch.']],
    ['n over 10', { prompt: 'x', n: 12 }, ['n must be a whole number from 1 to 10 (it is 12): n makes variants of one prompt; distinct assets are separate jobs in generate_batch.']],
    ['a size as a number', { prompt: 'x', size: 1024 }, ['size must be text, not 1024.']],
    ['an unknown quality', { prompt: 'x', quality: 'ultra' }, ['quality is "ultra"; use one of low, medium, high, xhigh, max, auto.']],
    ['fields that are no object', { prompt: 'x', fields: 'bold' }, ['fields must be an object of augmentation fields, e.g. {"style": "flat vector"}.']],
    [
      'keys that belong elsewhere',
      { prompt: 'x', sise: '1024x1024', resume: true, mask: 'm.png', prompt_file: 'p.txt' },
      [
        expect.stringMatching(/^"sise" is not a job key\. A job takes: prompt, out, model, n, size, .*, and fields \(an object of the augmentation fields\)\.$/),
        '"resume" is a batch-level argument: give it once in the generate_batch call, not per job.',
        '"mask" belongs to the edit tool; batch jobs generate new images.',
        'prompt_file is not read per job: put the prompt itself in the job.',
      ] as unknown as string[],
    ],
    ['an unknown field', { prompt: 'x', fields: { colour: 'red', style: 3 } }, ['fields.style must be text, not 3.', expect.stringMatching(/^fields\.colour is not an augmentation field\. Fields are: use_case, asset_type, scene/) as unknown as string]],
  ];

  it.each(cases)('refuses %s with the same sentences, naming the job (and the line, as text and as data)', (_, value, sentences) => {
    const inline = checkInline(value).problems;
    const line = checkLine(value).problems;
    expect(inline.map((p) => p.message.replace(/^job 2: /, ''))).toEqual(sentences);
    expect(line.map((p) => p.message.replace(/^job 2 \(line 5\): /, ''))).toEqual(sentences);
    expect(line.map((p) => p.message.replace(' (line 5)', ''))).toEqual(inline.map((p) => p.message));
    expect(inline.every((p) => p.job === 2 && p.line === undefined)).toBe(true);
    expect(line.every((p) => p.job === 2 && p.line === 5)).toBe(true);
  });

  it('refuses the keys of an object\'s machinery as unknown keys, and clips a long key', () => {
    const line = JSON.parse('{"__proto__": {"prompt": "smuggled"}, "constructor": 1, "toString": "x"}') as unknown;
    expect(checkLine(line).problems.map((p) => p.message)).toEqual([
      'job 2 (line 5): prompt is missing: each job needs the prompt of its image.',
      expect.stringMatching(/^job 2 \(line 5\): "__proto__" is not a job key\./),
      expect.stringMatching(/^job 2 \(line 5\): "constructor" is not a job key\./),
      expect.stringMatching(/^job 2 \(line 5\): "toString" is not a job key\./),
    ]);
    const args = JSON.parse('{"prompt": "x", "__proto__": {"n": 2}, "constructor": 1}') as Record<string, unknown>;
    expect(check(generateArguments, args).problems).toEqual([expect.stringMatching(/^"__proto__" is not an argument of generate\. .* "constructor" is not an argument of generate\./)]);
    const [long] = checkLine({ prompt: 'x', ['k'.repeat(10_000)]: 1 }).problems;
    expect(long!.message).toMatch(/^job 2 \(line 5\): "k{37}\.\.\." is not a job key\./);
    expect(long!.message.length).toBeLessThan(500);
  });

  it('takes numbers sent as text and null as not given, in fields too', () => {
    const value = { prompt: 'x', n: '2', output_compression: null, fields: { style: 'flat', negative: null } };
    expect(checkLine(value).data).toEqual({ prompt: 'x', n: 2, fields: { style: 'flat' } });
    expect(checkInline(value).data).toEqual({ prompt: 'x', n: 2, fields: { style: 'flat' } });
  });
});

describe('batch-level defaults', () => {
  const args = (extra: Record<string, unknown>) => ({ out_dir: 'b', jobs: ['a fox'], ...extra }) as GenerateBatchArguments;

  it('refuses a value the image options do not take, naming the argument and its values', () => {
    const checked = checkBatchDefaults(args({ quality: 'ultra', output_format: 'tiff' }));
    expect(checked.ok ? [] : checked.problems.map((p) => p.message)).toEqual([
      'quality is "ultra"; use one of low, medium, high, xhigh, max, auto.',
      'output_format is "tiff"; use one of png, jpeg, jpg, webp, svg, gif.',
    ]);
  });

  it('takes the values as a job does, and passes nothing else on', () => {
    const checked = checkBatchDefaults(args({ quality: 'HIGH', background: 'transparent', style: 'flat', augment: false, concurrency: 3 }));
    expect(checked.ok && checked.value).toEqual({ quality: 'high', background: 'transparent', style: 'flat', augment: false });
  });
});
