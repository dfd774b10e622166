/**
 * Batch rules: jobs from JSONL lines or inline values (their keys and types already checked by the
 * job schema, tools/batch-schema.ts), each merged with the batch-level defaults, resolved by the
 * same normaliser as `generate`, and given its files inside out_dir; every problem of every job is
 * collected (by job number and line) before anything is spent. Also the summary, the usage total
 * and the progress values of a running batch. Pure: no file system here.
 */
import path from 'node:path';
import { batchJobFiles, controlCharacterProblem, downscaledPath, nameLengthProblem, planOutputPaths, suffixProblem } from './paths.js';
import type { Problem } from './problems.js';
import { AUGMENTATION_FIELDS, type AugmentationField } from './prompt.js';
import { resolveRequest, type RawRequest, type ResolveContext, type ResolvedRequest } from './request.js';

export const MAX_BATCH_JOBS = 500;
export const MANIFEST_NAME = 'manifest.json';

/** Augmentation fields a generation job may carry, flat or under `fields`. */
export const JOB_FIELD_KEYS = AUGMENTATION_FIELDS.filter((f): f is Exclude<AugmentationField, 'input_images'> => f !== 'input_images');
type JobField = (typeof JOB_FIELD_KEYS)[number];

/** One line of a JSONL file, not yet checked. */
export interface JobLine {
  /** 1-based position in the batch. */
  number: number;
  /** 1-based line in the JSONL file. */
  line: number;
  value: unknown;
}

/** A job's values, as the job schema lets them through: a prompt with its own options. */
export type JobValues = Omit<RawRequest, 'prompt' | 'augment' | 'input_images'> & {
  prompt: string;
  /** File name inside out_dir. */
  out?: string | undefined;
  fields?: Partial<Record<JobField, string>> | undefined;
};

/** One checked job: a line of the JSONL file or an element of `jobs`. */
export interface JobSource {
  /** 1-based position in the batch. */
  number: number;
  /** 1-based line in the JSONL file. */
  line?: number;
  value: string | JobValues;
}

/** Batch-level values: the defaults of every job. */
export type BatchDefaults = Omit<RawRequest, 'prompt'>;

export interface PlannedJob {
  number: number;
  line?: number;
  /** A short name for people: the job's out, or the start of its prompt. */
  label: string;
  request: ResolvedRequest;
  warnings: string[];
  /** The job's image files, relative to the workspace (out_dir joined), in image order. */
  files: string[];
  /** The downscaled copies, in the same order, when the batch asks for them. */
  webFiles: string[];
}

export interface PlanInput {
  jobs: readonly JobSource[];
  defaults: BatchDefaults;
  /** out_dir as given (relative to the workspace, or absolute inside it). */
  outDir: string;
  now: Date;
  /** What a single call resolves with too (IMAGEGEN_TRANSPARENCY, the transparent route, the API's shut-down dates). */
  resolve?: Pick<ResolveContext, 'transparency' | 'transparentModels' | 'shutdownDates'>;
  /** Suffix of downscaled copies, when the batch makes them. */
  downscaleSuffix?: string | undefined;
  /** Suffix of the API's original kept beside a keyed (transparent) image, whose name must fit too. */
  keyedSourceSuffix?: string | undefined;
  /** Compare file names case-insensitively (macOS, Windows). */
  caseInsensitive: boolean;
  /** Most jobs in one call (default MAX_BATCH_JOBS; the Batch API engine takes more). */
  maxJobs?: number | undefined;
  /** Jobs given, counting those the job schema refused (default: the jobs here). */
  given?: number | undefined;
}

export type BatchPlan = { ok: true; jobs: PlannedJob[] } | { ok: false; problems: Problem[] };

/** A problem of one job: named in its text for people, and by number and line as data. */
export function jobProblem(job: { number: number; line?: number | undefined }, field: string, message: string): Problem {
  const problem: Problem = { field, message: `${jobName(job)}${message.startsWith(' ') ? '' : ': '}${message}`, job: job.number };
  if (job.line !== undefined) problem.line = job.line;
  return problem;
}

/** How a job is named in messages: `job 3 (line 5)` for a file, `job 3` inline. */
export function jobName(job: { number: number; line?: number | undefined }): string {
  return job.line === undefined ? `job ${job.number}` : `job ${job.number} (line ${job.line})`;
}

const JOB_FORMAT = 'Each line is one job: a JSON object with "prompt" (and optional overrides), or a prompt as plain text.';

/**
 * The jobs of a JSONL file: one per line, a JSON object or a prompt (plain, or a JSON string);
 * blank lines and lines starting with # are skipped. Every bad line is reported with its number.
 */
export function parseJobLines(text: string): { jobs: JobLine[]; problems: Problem[] } {
  const jobs: JobLine[] = [];
  const problems: Problem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const first = trimmed[0];
    if (first === '{' || first === '"' || first === '[') {
      let value: unknown;
      try {
        value = JSON.parse(trimmed);
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        problems.push({ field: 'input', message: `line ${line}: not valid JSON (${why}). ${JOB_FORMAT}`, line });
        continue;
      }
      if (Array.isArray(value)) {
        problems.push({ field: 'input', message: `line ${line}: a JSON array is not a job. ${JOB_FORMAT}`, line });
        continue;
      }
      jobs.push({ number: jobs.length + 1, line, value });
    } else {
      jobs.push({ number: jobs.length + 1, line, value: trimmed });
    }
  }
  return { jobs, problems };
}

export function inlineJobs(values: ReadonlyArray<string | JobValues>): JobSource[] {
  return values.map((value, i) => ({ number: i + 1, value }));
}

/** A checked job as a request: fields under `fields` over the flat ones (a different value for both is refused), and its out. */
function readJob(value: string | JobValues, problems: string[]): { raw: RawRequest; out?: string } {
  if (typeof value === 'string') return { raw: { prompt: value } };
  const { out, fields, ...raw } = value;
  const request: RawRequest = { ...raw };
  for (const [key, v] of Object.entries(fields ?? {}) as Array<[JobField, string | undefined]>) {
    const flat = raw[key];
    if (flat !== undefined && v !== undefined && flat !== v) {
      problems.push(`${key} is given both flat and under fields, with different values: keep one.`);
    } else if (v !== undefined) {
      request[key] = v;
    }
  }
  return out === undefined ? { raw: request } : { raw: request, out };
}

/** Job values over batch defaults: a job's value wins where it gives one. */
function merge(defaults: BatchDefaults, job: RawRequest): RawRequest {
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(defaults)) if (value !== undefined) merged[key] = value;
  for (const [key, value] of Object.entries(job)) if (value !== undefined) merged[key] = value;
  return merged as RawRequest;
}

function shortLabel(out: string | undefined, prompt: string): string {
  if (out !== undefined) return out;
  const flat = prompt.replace(/\s+/g, ' ').trim();
  return flat.length <= 50 ? flat : `${flat.slice(0, 49)}…`;
}

/** A job's out must stay inside out_dir: a file name, subfolders allowed. */
function outInsideDir(out: string): boolean {
  if (path.isAbsolute(out) || path.win32.isAbsolute(out) || out.includes('\0')) return false;
  const normal = path.normalize(out);
  return normal !== '..' && !normal.startsWith(`..${path.sep}`) && !normal.startsWith('../');
}

/**
 * Every job merged, resolved and given its files, or every problem of every job (a bad job, a
 * file two jobs would write, too many jobs), each named by job number and line.
 */
export function planBatch(input: PlanInput): BatchPlan {
  const problems: Problem[] = [];
  const given = input.given ?? input.jobs.length;
  if (given === 0) {
    return { ok: false, problems: [{ field: 'jobs', message: 'The batch has no jobs: give jobs (a list of prompts or job objects) or input (a JSONL file).' }] };
  }
  const maxJobs = input.maxJobs ?? MAX_BATCH_JOBS;
  if (given > maxJobs) {
    const more = maxJobs === MAX_BATCH_JOBS ? ', or use engine "batch_api" (up to 50,000 jobs, half price, within 24 h)' : '';
    problems.push({
      field: 'jobs',
      message: `The batch has ${given} jobs; at most ${maxJobs} run in one call. Split it into several batches (they can share out_dir)${more}.`,
    });
  }
  const planned: PlannedJob[] = [];
  const owners = new Map<string, string>();
  const key = (file: string) => {
    const normal = path.normalize(file);
    return input.caseInsensitive ? normal.toLowerCase() : normal;
  };
  const manifest = path.join(input.outDir, MANIFEST_NAME);
  owners.set(key(manifest), 'the batch manifest');
  const outDirText = controlCharacterProblem('out_dir', input.outDir) ?? nameLengthProblem('out_dir', manifest);
  if (outDirText) return { ok: false, problems: [{ field: 'out_dir', message: outDirText }] };
  if (input.downscaleSuffix !== undefined) {
    const bad = suffixProblem('downscale_suffix', input.downscaleSuffix);
    if (bad) return { ok: false, problems: [{ field: 'downscale_suffix', message: bad }] };
  }

  for (const source of input.jobs) {
    const name = jobName(source);
    const jobProblems: string[] = [];
    const read = readJob(source.value, jobProblems);
    if (jobProblems.length > 0) {
      for (const message of jobProblems) problems.push(jobProblem(source, 'jobs', message));
      continue;
    }
    const resolved = resolveRequest(merge(input.defaults, read.raw), { ...input.resolve, tool: 'generate', now: input.now });
    if (!resolved.ok) {
      for (const p of resolved.problems) problems.push(jobProblem(source, p.field, p.message));
      continue;
    }
    const { options } = resolved.value;
    let names: string[];
    const warnings = [...resolved.warnings];
    if (read.out === undefined) {
      names = batchJobFiles(source.number, resolved.value.userPrompt, options.outputFormat, options.n);
    } else {
      const control = controlCharacterProblem('out', read.out);
      if (control) {
        problems.push(jobProblem(source, 'out', control));
        continue;
      }
      if (!outInsideDir(read.out)) {
        problems.push(jobProblem(source, 'out', `out "${read.out}" must be a file name inside out_dir (subfolders allowed), e.g. "hero.png" or "icons/hero.png".`));
        continue;
      }
      const plan = planOutputPaths({ out: read.out, n: options.n, format: options.outputFormat, defaultStem: 'image' });
      if (!plan.ok) {
        for (const p of plan.problems) problems.push(jobProblem(source, 'out', p.message));
        continue;
      }
      names = plan.plan.files;
      warnings.push(...plan.plan.warnings);
    }
    const files = names.map((n) => path.join(input.outDir, n));
    const derived = [
      ...(input.downscaleSuffix !== undefined ? [input.downscaleSuffix] : []),
      ...(options.transparency && input.keyedSourceSuffix !== undefined ? [input.keyedSourceSuffix] : []),
    ];
    const tooLong = files.map((f) => nameLengthProblem('out', f, derived)).find((p) => p !== undefined);
    if (tooLong) {
      problems.push(jobProblem(source, 'out', tooLong));
      continue;
    }
    const webFiles = input.downscaleSuffix === undefined ? [] : files.map((f) => downscaledPath(f, input.downscaleSuffix));
    for (const file of [...files, ...webFiles]) {
      const k = key(file);
      const owner = owners.get(k);
      if (owner !== undefined) {
        problems.push(jobProblem(source, 'out', ` would write ${file}, which ${owner} writes too: give one of them another out.`));
      } else {
        owners.set(k, name);
      }
    }
    const job: PlannedJob = {
      number: source.number,
      label: shortLabel(read.out, resolved.value.userPrompt),
      request: resolved.value,
      warnings,
      files,
      webFiles,
    };
    if (source.line !== undefined) job.line = source.line;
    planned.push(job);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, jobs: planned };
}

export type JobStatus = 'done' | 'failed' | 'skipped' | 'cancelled';

export interface BatchSummary {
  jobs: number;
  done: number;
  failed: number;
  skipped: number;
  cancelled: number;
}

export function summarise(total: number, statuses: Iterable<JobStatus | undefined>): BatchSummary {
  const summary: BatchSummary = { jobs: total, done: 0, failed: 0, skipped: 0, cancelled: 0 };
  for (const status of statuses) if (status) summary[status]++;
  return summary;
}

/** A batch that produced nothing (every job failed or was cancelled) is an error; some failures are not. */
export function batchFailed(summary: BatchSummary): boolean {
  return summary.jobs > 0 && summary.done + summary.skipped === 0;
}

export type UsageTotals = Record<string, number | Record<string, number>>;

/** Adds an answer's token counts (numbers, one level of details) to a running total. */
export function addUsage(total: UsageTotals, usage: Record<string, unknown> | undefined): UsageTotals {
  if (!usage) return total;
  for (const [key, value] of Object.entries(usage)) {
    if (typeof value === 'number' && Number.isFinite(value)) {
      const before = total[key];
      total[key] = (typeof before === 'number' ? before : 0) + value;
    } else if (value && typeof value === 'object' && !Array.isArray(value)) {
      const before = total[key];
      const sub: Record<string, number> = before && typeof before === 'object' ? before : {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v === 'number' && Number.isFinite(v)) sub[k] = (sub[k] ?? 0) + v;
      }
      total[key] = sub;
    }
  }
  return total;
}

/** Heartbeats between two finished jobs add k/1000; past this they would reach the next job's value. */
export const MAX_HEARTBEATS_PER_JOB = 999;

/**
 * Progress values of a running batch, strictly increasing: the number of finished jobs after
 * each job, and `finished + k/1000` for the k-th heartbeat since the last one finished.
 */
export class BatchProgress {
  private finished = 0;
  private beats = 0;

  constructor(readonly total: number) {}

  get done(): number {
    return this.finished;
  }

  /** After `count` more jobs finished (skipped ones included). */
  jobsFinished(count = 1): number {
    this.finished += count;
    this.beats = 0;
    return this.finished;
  }

  /** The next heartbeat value, or undefined when this gap has used all of its values. */
  heartbeat(): number | undefined {
    if (this.beats >= MAX_HEARTBEATS_PER_JOB) return undefined;
    this.beats++;
    return this.finished + this.beats / 1000;
  }
}

/** The heartbeat's message: what is done and what is being waited for. */
export function inFlightMessage(done: number, total: number, inFlight: readonly string[], shown = 3): string {
  if (inFlight.length === 0) return `${done} of ${total} jobs finished`;
  const names = inFlight.slice(0, shown).join(', ');
  const more = inFlight.length > shown ? ` and ${inFlight.length - shown} more` : '';
  return `${done} of ${total} jobs finished; waiting for ${names}${more}`;
}

