/**
 * The `generate_batch` tool: many distinct images in one call. Every job is checked and its files
 * planned before anything is sent; then a bounded pool runs them with the server's retry policy,
 * each image saved as its job finishes, a manifest rewritten as jobs finish, and progress sent.
 * `resume` finishes an interrupted batch without redoing finished jobs.
 */
import { setMaxListeners } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { redact } from '../core/api-errors.js';
import {
  BatchProgress,
  JOB_FIELD_KEYS,
  JOB_OPTION_KEYS,
  MANIFEST_NAME,
  addUsage,
  inFlightMessage,
  inlineJobs,
  jobName,
  parseJobLines,
  planBatch,
  summarise,
  type BatchDefaults,
  type JobSource,
  type JobStatus,
  type PlannedJob,
  type UsageTotals,
} from '../core/batch.js';
import { DEFAULT_DOWNSCALE_SUFFIX, TMP_DIR, downscaledPath } from '../core/paths.js';
import type { Problem } from '../core/problems.js';
import { downscale, inspectImage } from '../io/images.js';
import { ManifestWriter } from '../io/manifest.js';
import { checkSpendingCap, costFromUsage, projectSpend, spendingCap } from '../core/cost.js';
import { thumbnailsAhead } from '../core/contact-sheet.js';
import type { ResolvedRequest } from '../core/request.js';
import { parseSize } from '../core/sizes.js';
import { previewFiles, ThumbnailPrefetch, type Preview } from '../io/preview.js';
import { lifecycleOf } from '../io/lifecycle.js';
import { ImageApiError } from '../io/openai.js';
import { fileKind, WorkspaceError, type Workspace } from '../io/workspace.js';
import { historyProblem } from '../io/history.js';
import { keyedSourcePath, TRANSPARENCY_STRATEGIES } from '../core/transparency.js';
import { problemsResult, refused, type ImageFactsOut } from '../results.js';
import { batchDryRunResult, batchResult, batchResultSchema, collectWarnings } from './batch-report.js';
import { defineTool, type ToolContext } from './context.js';
import { dryRunPayload, ENDPOINT_PATHS, estimateRun, performImageRun, plannedFacts, recordHistory, type ImageRun } from './image-run.js';
import { augmentationShapeBrief, controlShape, outputShape, promptFieldsShape, SAME_RULES } from './schema.js';
import { KEYED_SOURCE_SUFFIX } from './prepare.js';
import { ALL_QUALITIES, COMPLEXITIES } from '../core/models.js';
import { strictArguments } from './arguments.js';
import { runThroughRoute } from './transparency.js';
import { batchPrice, MAX_BATCH_API_JOBS } from '../core/batch-api.js';
import { batchApiProblems, submitBatchApi } from './batch-api-submit.js';

export const DEFAULT_CONCURRENCY = 5;
export const MAX_CONCURRENCY = 25;
const MAX_INPUT_BYTES = 20 * 1024 * 1024;
/** 50,000 jobs with long prompts and options. */
const MAX_BATCH_API_INPUT_BYTES = 100 * 1024 * 1024;

/** A job's own values, declared so a model sees them (no descriptions: RULES and the tool say it once). */
const jobOptionsShape = {
  model: z.string().optional(),
  n: z.number().int().min(1).max(10).optional(),
  size: z.string().optional(),
  quality: z.enum(ALL_QUALITIES).optional(),
  background: z.enum(['transparent', 'opaque', 'auto']).optional(),
  transparency: z.enum(TRANSPARENCY_STRATEGIES).optional(),
  key_color: z.string().optional(),
  output_format: z.enum(['png', 'jpeg', 'jpg', 'webp', 'svg', 'gif']).optional(),
  output_compression: z.number().int().min(0).max(100).optional(),
  moderation: z.enum(['auto', 'low']).optional(),
  complexity: z.enum(COMPLEXITIES).optional(),
  use_case: z.string().optional(),
  ...promptFieldsShape,
};

/**
 * Batch-level defaults: the job options again, as plain text where a job declares an enum (the
 * values are listed once, in the job object; the normaliser checks them with the same messages).
 */
const batchDefaultsShape = {
  ...jobOptionsShape,
  quality: z.string().optional(),
  background: z.string().optional(),
  transparency: z.string().optional(),
  output_format: z.string().optional(),
  moderation: z.string().optional(),
};

/** Unknown keys pass here and are refused by the job reader, with a hint for each (core/batch.ts). */
const jobObject = z.looseObject({
  prompt: z.string(),
  out: z.string().optional().describe('File name inside out_dir'),
  ...jobOptionsShape,
  fields: z.record(z.string(), z.string()).optional(),
});

export const generateBatchArguments = strictArguments(
  'generate_batch',
  {
    jobs: z.array(z.union([z.string(), jobObject])).optional().describe('Prompts, or job objects; give this or input'),
    input: z.string().optional().describe('JSONL file, one job per line'),
    out_dir: z.string().describe('Folder for the images and manifest.json'),
    concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional(),
    fail_fast: z.boolean().optional(),
    resume: z.boolean().optional().describe('Skip finished jobs of a batch in out_dir'),
    engine: z.enum(['direct', 'batch_api']).optional().describe('batch_api: half price, within 24 h, up to 50,000 jobs; collect with batch_status'),
    ...batchDefaultsShape,
    force: z.boolean().optional(),
    downscale_max_dim: outputShape.downscale_max_dim,
    downscale_suffix: outputShape.downscale_suffix,
    ...controlShape,
    augment: augmentationShapeBrief.augment,
  },
  {
    prompt: 'generate_batch takes its prompts per job: jobs: ["a red fox", {"prompt": "a blue bird", "out": "bird.png"}], or input (a JSONL file).',
    prompt_file: 'generate_batch reads its prompts from jobs, or from input (a JSONL file with one job per line).',
    out: 'out is per job in a batch: set out_dir for the batch, and "out" (a file name inside out_dir) inside a job.',
    images: 'images belongs to the edit tool; batch jobs generate new images.',
    mask: 'mask belongs to the edit tool; batch jobs generate new images.',
    input_fidelity: 'input_fidelity belongs to the edit tool; batch jobs generate new images.',
    input_images: 'input_images belongs to the edit tool; batch jobs generate new images.',
  },
);

export type GenerateBatchArguments = z.infer<typeof generateBatchArguments>;

/** A planned job with its confined paths and what this call does with it. */
export interface BatchJob {
  plan: PlannedJob;
  /** Absolute, confined targets, one per planned file. */
  targets: string[];
  /** Targets already holding a decodable image (resume): kept, not made again. */
  kept: Map<number, ImageFactsOut>;
  /** Everything is there already (resume). */
  skip: boolean;
  run: ImageRun;
  // Filled in as the job runs:
  status?: JobStatus;
  images: ImageFactsOut[];
  /** Absolute paths of every file of the job, for resource links. */
  links: string[];
  error?: string;
  attempts: number;
  usage?: Record<string, unknown>;
  costUsd?: number;
}

type Checked<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

async function readJobSources(args: GenerateBatchArguments, workspace: Workspace): Promise<Checked<{ jobs: JobSource[]; problems: Problem[] }>> {
  if (args.jobs !== undefined && args.input !== undefined) {
    return { ok: false, problems: [{ field: 'jobs', message: 'Give either jobs (inline) or input (a JSONL file), not both.' }] };
  }
  if (args.jobs !== undefined) return { ok: true, value: { jobs: inlineJobs(args.jobs), problems: [] } };
  if (args.input === undefined) {
    return {
      ok: false,
      problems: [{ field: 'jobs', message: 'The batch has no jobs: give jobs (e.g. ["a red fox", {"prompt": "a blue bird", "out": "bird.png"}]) or input (a JSONL file inside the workspace).' }],
    };
  }
  try {
    const file = await workspace.resolveInput(args.input, 'input');
    const stat = await fs.stat(file);
    if (!stat.isFile()) return { ok: false, problems: [{ field: 'input', message: `input "${args.input}" is not a file.` }] };
    const limit = args.engine === 'batch_api' ? MAX_BATCH_API_INPUT_BYTES : MAX_INPUT_BYTES;
    if (stat.size > limit) {
      const what = args.engine === 'batch_api' ? '100 MB; a Batch API batch holds at most 50,000 jobs' : '20 MB; a batch holds at most 500 jobs';
      return { ok: false, problems: [{ field: 'input', message: `input "${args.input}" is over ${what}. Split the file.` }] };
    }
    const parsed = parseJobLines(await fs.readFile(file, 'utf8'));
    const problems = parsed.problems.map((p) => ({ ...p, message: `${args.input}, ${p.message}` }));
    return { ok: true, value: { jobs: parsed.jobs, problems } };
  } catch (error) {
    if (error instanceof WorkspaceError) return { ok: false, problems: [{ field: 'input', message: error.message }] };
    throw error;
  }
}

/** out_dir as a path (a file:// URI is accepted, as for out). */
function outDirPath(outDir: string): Checked<string> {
  const trimmed = outDir.trim();
  if (trimmed === '') return { ok: false, problems: [{ field: 'out_dir', message: 'out_dir is empty: name the folder for the batch, e.g. "assets/sprites".' }] };
  if (!trimmed.startsWith('file://')) return { ok: true, value: trimmed };
  try {
    return { ok: true, value: fileURLToPath(trimmed) };
  } catch {
    return { ok: false, problems: [{ field: 'out_dir', message: `out_dir "${outDir}" is not a valid file:// URI.` }] };
  }
}

function batchDefaults(args: GenerateBatchArguments): BatchDefaults {
  const defaults: Record<string, unknown> = {};
  for (const key of [...JOB_OPTION_KEYS, ...JOB_FIELD_KEYS, 'augment'] as const) {
    const value = (args as Record<string, unknown>)[key];
    if (value !== undefined) defaults[key] = value;
  }
  return defaults as BatchDefaults;
}

type FileState = 'missing' | 'image' | 'other' | 'special';
type Exists = (file: string) => Promise<boolean>;

const CASE_INSENSITIVE = process.platform === 'win32' || process.platform === 'darwin';

/** Whether files exist, from one listing per folder rather than one lookup per file. */
function folderListings(workspace: Workspace): Exists {
  const listings = new Map<string, Promise<Set<string> | undefined>>();
  const key = (name: string) => (CASE_INSENSITIVE ? name.toLowerCase() : name);
  return async (file) => {
    const dir = path.dirname(file);
    let listing = listings.get(dir);
    if (!listing) {
      listing = fs.readdir(dir).then(
        (names) => new Set(names.map(key)),
        (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? new Set<string>() : undefined),
      );
      listings.set(dir, listing);
    }
    const names = await listing;
    return names ? names.has(key(path.basename(file))) : workspace.exists(file);
  };
}

async function fileState(target: string, workspace: Workspace, exists: Exists, decode: boolean): Promise<{ state: FileState; facts?: ImageFactsOut; kind?: string }> {
  if (!(await exists(target))) return { state: 'missing' };
  // Only a regular file is trusted: a link (to an image outside the workspace, or inside) or a
  // FIFO is never taken as a finished job, nor read, nor made into a -web copy.
  const stat = await fs.lstat(target).catch(() => undefined);
  if (!stat) return { state: 'missing' };
  if (!stat.isFile()) return { state: 'special', kind: fileKind(stat) };
  if (!decode) return { state: 'other' };
  try {
    const facts = await inspectImage(target);
    const after = await fs.lstat(target);
    // The file read must be the file checked: one swapped for a link meanwhile is not trusted.
    if (!after.isFile() || after.ino !== stat.ino || after.dev !== stat.dev) return { state: 'special', kind: fileKind(after) };
    return { state: 'image', facts: { path: workspace.relative(target), width: facts.width, height: facts.height, format: facts.format, bytes: after.size } };
  } catch {
    return { state: 'other' };
  }
}

/**
 * Confines every planned file, then decides per job, before anything is sent: run it, skip it
 * (resume, its files are there and decode), or refuse the batch (files in the way).
 */
async function prepareJobs(
  planned: PlannedJob[],
  args: GenerateBatchArguments,
  workspace: Workspace,
): Promise<Checked<{ jobs: BatchJob[]; manifest: string }>> {
  const problems: Problem[] = [];
  const resume = args.resume ?? false;
  const force = args.force ?? false;
  let manifest: string;
  try {
    manifest = await workspace.resolveOutput(path.join(args.out_dir, MANIFEST_NAME), 'out_dir', {
      replace: true,
      fix: 'Remove it, or choose another out_dir, and call again.',
    });
  } catch (error) {
    if (error instanceof WorkspaceError) return { ok: false, problems: [{ field: 'out_dir', message: error.message }] };
    throw error;
  }
  const history = await historyProblem(workspace);
  if (history) return { ok: false, problems: [{ field: 'history', message: history }] };
  if (!resume && !force && (await workspace.exists(manifest))) {
    problems.push({
      field: 'out_dir',
      message: `${workspace.relative(manifest)} exists: an earlier batch wrote to this folder. Set resume: true to finish it (finished jobs are skipped), force: true to start over, or choose another out_dir.`,
    });
  }
  // Files share a few folders: each folder is confined once (on its real path), not each file.
  const folders = new Map<string, Promise<string>>();
  const confine = (file: string): Promise<string> => {
    const dir = path.dirname(file);
    let real = folders.get(dir);
    if (!real) {
      real = workspace.resolveOutput(file, 'out').then((resolved) => path.dirname(resolved));
      folders.set(dir, real);
    }
    return real.then((d) => path.join(d, path.basename(file)));
  };
  const exists = folderListings(workspace);
  const jobs: BatchJob[] = [];
  // A few jobs at a time, not all 500 at once: bounded file checks (header reads on resume) and
  // little state alive at any moment.
  await inSlices(planned, PREPARE_AT_ONCE, async (plan, index) => {
    const name = jobName(plan);
    let targets: string[];
    let webTargets: string[];
    try {
      targets = await Promise.all(plan.files.map(confine));
      webTargets = await Promise.all(plan.webFiles.map(confine));
    } catch (error) {
      if (error instanceof WorkspaceError) {
        problems.push({ field: 'out', message: `${name}: ${error.message}` });
        return;
      }
      throw error;
    }
    const kept = new Map<number, ImageFactsOut>();
    let toMake = targets.map((_, i) => i);
    const keyedSources = plan.request.options.transparency ? targets.map((t) => keyedSourcePath(t)) : [];
    const states = await Promise.all(targets.map((t) => fileState(t, workspace, exists, resume)));
    const webStates = await Promise.all(webTargets.map((t) => fileState(t, workspace, exists, false)));
    const sourceStates = await Promise.all(keyedSources.map((t) => fileState(t, workspace, exists, false)));
    const special = [
      ...targets.map((file, i) => ({ file, ...states[i]! })),
      ...webTargets.map((file, i) => ({ file, ...webStates[i]! })),
      ...keyedSources.map((file, i) => ({ file, ...sourceStates[i]! })),
    ].filter((s) => s.state === 'special');
    for (const { file, kind } of special) {
      problems.push({
        field: 'out',
        message: `${name}: ${workspace.relative(file)} is ${kind}, not a regular file. A batch writes only regular files and resumes only from them (a link could lead outside the workspace). Remove it, and call again.`,
      });
    }
    if (special.length > 0) return;
    if (!force || resume) {
      if (!resume) {
        const taken = [...targets.filter((_, i) => states[i]!.state !== 'missing'), ...webTargets.filter((_, i) => webStates[i]!.state !== 'missing')];
        for (const file of taken) {
          problems.push({
            field: 'out',
            message: `${name}: ${workspace.relative(file)} already exists. Set resume: true to skip finished jobs, force: true to replace the files, or choose another out_dir.`,
          });
        }
      } else {
        const unreadable = targets.filter((_, i) => states[i]!.state === 'other');
        if (unreadable.length > 0 && !force) {
          for (const file of unreadable) {
            problems.push({
              field: 'out',
              message: `${name}: ${workspace.relative(file)} exists but is not an image this server can read, so the job cannot be resumed. Remove it, or set force: true to replace it.`,
            });
          }
        } else if (unreadable.length === 0) {
          states.forEach((s, i) => s.facts && kept.set(i, s.facts));
          toMake = toMake.filter((i) => !kept.has(i));
        }
      }
    }
    const withN = (r: ResolvedRequest): ResolvedRequest => ({ ...r, options: { ...r.options, n: toMake.length } });
    const request: ResolvedRequest =
      toMake.length === targets.length || toMake.length === 0
        ? plan.request
        : { ...withN(plan.request), ...(plan.request.fallbacks ? { fallbacks: plan.request.fallbacks.map((f) => ({ ...f, request: withN(f.request) })) } : {}) };
    const run: ImageRun = {
      endpoint: 'generations',
      request,
      warnings: [...plan.warnings],
      targets: toMake.map((i) => targets[i]!),
      force,
      downscaleMaxDim: args.downscale_max_dim,
      downscaleSuffix: args.downscale_suffix,
      maxAttempts: args.max_attempts,
      dryRun: args.dry_run ?? false,
    };
    jobs[index] = { plan, targets, kept, skip: toMake.length === 0, run, images: [], links: [], attempts: 0 };
  });
  if (problems.length > 0) return { ok: false, problems: sortProblems(problems) };
  return { ok: true, value: { jobs, manifest } };
}

const PREPARE_AT_ONCE = 16;

/** Runs `work` over `items`, `size` at a time. */
async function inSlices<T>(items: readonly T[], size: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    await Promise.all(items.slice(start, start + size).map((item, i) => work(item, start + i)));
  }
}

/** Problems found concurrently, back in job order. */
function sortProblems(problems: Problem[]): Problem[] {
  const number = (p: Problem) => Number(/^job (\d+)/.exec(p.message)?.[1] ?? 0);
  return problems.map((p, i) => ({ p, i })).sort((a, b) => number(a.p) - number(b.p) || a.i - b.i).map(({ p }) => p);
}

function refusal(problems: Problem[]): CallToolResult {
  const count = problems.length;
  return problemsResult(
    problems,
    `the batch has ${count} problem${count === 1 ? '' : 's'}, so nothing was sent. Fix ${count === 1 ? 'it' : 'them all'} and call again (no job runs until every job is valid):`,
  );
}

/** For resumed images: their downscaled copies, made locally when missing. */
async function keepImages(job: BatchJob, args: GenerateBatchArguments, workspace: Workspace): Promise<void> {
  for (const [i, facts] of [...job.kept.entries()].sort((a, b) => a[0] - b[0])) {
    const target = job.targets[i]!;
    const entry = { ...facts };
    job.links.push(target);
    if (args.downscale_max_dim) {
      const webTarget = downscaledPath(target, args.downscale_suffix ?? DEFAULT_DOWNSCALE_SUFFIX);
      if (!(await workspace.exists(webTarget))) {
        const small = await downscale(target, args.downscale_max_dim, job.plan.request.options.outputFormat);
        await workspace.saveFile(webTarget, small);
      }
      entry.web_path = workspace.relative(webTarget);
      job.links.push(webTarget);
    }
    job.images.push(entry);
  }
}

/**
 * Runs `work` over 0..count-1 with at most `concurrency` requests in flight; starts nothing once
 * `signal` fires. A job frees its slot as soon as its answer is in (`release`), so checking and
 * placing its files overlaps the next request instead of delaying it. Resolves when all are done.
 */
async function runPool(
  count: number,
  concurrency: number,
  signal: AbortSignal,
  work: (index: number, release: () => void) => Promise<void>,
): Promise<void> {
  let next = 0;
  const jobs: Promise<void>[] = [];
  const worker = async () => {
    while (next < count && !signal.aborted) {
      const index = next++;
      let release!: () => void;
      const freed = new Promise<void>((resolve) => (release = resolve));
      const job = work(index, release).finally(release);
      jobs.push(job);
      await freed;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  await Promise.all(jobs);
}

async function runBatch(jobs: BatchJob[], manifestFile: string, args: GenerateBatchArguments, ctx: ToolContext, workspace: Workspace): Promise<CallToolResult> {
  const total = jobs.length;
  const started = new Date().toISOString();
  const outDir = workspace.relative(path.dirname(manifestFile));
  const statusOf = () => summarise(total, jobs.map((j) => j.status));
  const manifest = new ManifestWriter(
    workspace,
    manifestFile,
    () => ({ tool: 'generate_batch', version: 1, out_dir: outDir, started, updated: new Date().toISOString(), summary: statusOf() }),
    total,
  );
  const entry = (job: BatchJob): Record<string, unknown> => {
    const entry: Record<string, unknown> = {
      number: job.plan.number,
      ...(job.plan.line !== undefined ? { line: job.plan.line } : {}),
      label: job.plan.label,
      status: job.status ?? 'pending',
      model: job.run.request.options.model,
      request: { endpoint: ENDPOINT_PATHS.generations, payload: dryRunPayload(job.run) },
      files: job.status === 'done' || job.status === 'skipped' ? job.images.map((i) => i.path) : job.targets.map((t) => workspace.relative(t)),
      attempts: job.attempts,
    };
    if (job.usage) entry.usage = job.usage;
    if (job.error !== undefined) entry.error = job.error;
    if (job.run.warnings.length > 0) entry.warnings = job.run.warnings;
    return entry;
  };
  const record = (job: BatchJob, index: number) => manifest.set(index, () => entry(job));

  const progress = new BatchProgress(total);
  const notify = (value: number | undefined, message: string) => {
    if (value !== undefined) ctx.progress?.(value, total, message).catch(() => {});
  };

  // Jobs already done (resume): their downscaled copies if missing, then one progress step.
  const extraWarnings: string[] = [];
  let skipped = 0;
  for (const job of jobs) {
    if (job.kept.size > 0) {
      try {
        await keepImages(job, args, workspace);
      } catch (error) {
        extraWarnings.push(`${jobName(job.plan)}: the downscaled copy could not be made: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (job.skip) {
      job.status = 'skipped';
      skipped++;
    }
  }
  if (skipped > 0) notify(progress.jobsFinished(skipped), `${skipped} job${skipped === 1 ? '' : 's'} already done, skipped`);

  const runnable = jobs.filter((j) => !j.skip);
  const batch = new AbortController();
  setMaxListeners(0, batch.signal); // one listener per job in flight, up to 25
  let stopReason = '';
  const stop = (reason: string) => {
    if (batch.signal.aborted) return;
    stopReason = reason;
    batch.abort();
  };
  const onClientCancel = () => stop('Cancelled by the client before it finished.');
  if (ctx.signal.aborted) onClientCancel();
  ctx.signal.addEventListener('abort', onClientCancel, { once: true });

  const inFlight = new Set<BatchJob>();
  const heartbeat = ctx.progress
    ? setInterval(() => {
        const names = [...inFlight].map((j) => `${jobName({ number: j.plan.number })} (${j.plan.label})`);
        notify(progress.heartbeat(), inFlightMessage(progress.done, total, names));
      }, ctx.config.heartbeatMs)
    : undefined;
  heartbeat?.unref();

  let usage: UsageTotals = {};
  const sheet = args.preview === false ? undefined : planSheetPrefetch(runnable, workspace);
  const apiKey = ctx.config.api.apiKey;
  const failFast = args.fail_fast ?? false;
  try {
    const pool = runPool(runnable.length, args.concurrency ?? DEFAULT_CONCURRENCY, batch.signal, async (i, release) => {
      const job = runnable[i]!;
      const name = jobName(job.plan);
      inFlight.add(job);
      // Each job gets its own signal, unlinked when it ends: whatever the SDK hangs on a request's
      // signal then goes with the job instead of piling up on the batch's for 500 requests.
      const own = new AbortController();
      const forward = () => own.abort();
      batch.signal.addEventListener('abort', forward, { once: true });
      try {
        // The same route a single call takes: fallbacks on the transparent route, the lifecycle lookup.
        const routed = await runThroughRoute(
          job.run,
          (run) =>
            performImageRun(run, ctx.api, workspace, {
              signal: own.signal,
              onAnswered: release,
              onRetry: ({ attempt, delayMs, reason }) => ctx.log('warning', `${name} attempt ${attempt} failed; retrying in ${delayMs} ms: ${reason}`),
            }),
          { spendingRefusal: () => undefined, log: ctx.log, lifecycle: lifecycleOf(ctx.api), now: ctx.config.now() },
        );
        job.run = routed.run;
        const outcome = routed.outcome;
        job.status = 'done';
        job.attempts = outcome.attempts;
        const cost = costFromUsage(job.run.request.options.model, outcome.usage);
        if (cost.usd !== undefined) job.costUsd = cost.usd;
        await recordHistory(job.run, outcome, outcome.saved, cost.usd, workspace).catch((error: unknown) => {
          job.run.warnings.push(`The images were saved, but their history lines could not be written: ${error instanceof Error ? error.message : String(error)}`);
        });
        if (outcome.usage) job.usage = outcome.usage as Record<string, unknown>;
        usage = addUsage(usage, job.usage);
        for (const saved of outcome.saved) {
          job.images.push(saved.facts);
          job.links.push(...saved.files);
        }
        sheet?.add(job);
        const o = job.run.request.options;
        ctx.log('info', `${name} generations model=${o.model} size=${o.size} quality=${o.quality} n=${o.n} duration_ms=${outcome.durationMs} attempts=${outcome.attempts}`);
      } catch (error) {
        const cancelled = batch.signal.aborted && (!(error instanceof ImageApiError) || error.failure.kind === 'cancelled');
        job.attempts = error instanceof ImageApiError ? error.attempts : Math.max(1, job.attempts);
        if (cancelled) {
          job.status = 'cancelled';
          job.error = stopReason;
        } else {
          job.status = 'failed';
          job.error = redact(error instanceof Error ? error.message : String(error), apiKey);
          ctx.log('error', `${name} failed after ${job.attempts} attempt(s): ${job.error}`);
          if (failFast) stop(`Not finished: ${name} failed and fail_fast is set.`);
        }
      } finally {
        batch.signal.removeEventListener('abort', forward);
        inFlight.delete(job);
        record(job, jobs.indexOf(job));
        manifest.write();
        notify(progress.jobsFinished(), `${name} ${job.status}`);
      }
    });
    // The first requests are on their way; now the manifest's first version (every job, pending or skipped).
    for (const [index, job] of jobs.entries()) record(job, index);
    manifest.write();
    await pool;
  } finally {
    if (heartbeat) clearInterval(heartbeat);
    ctx.signal.removeEventListener('abort', onClientCancel);
  }
  for (const [index, job] of jobs.entries()) {
    if (job.status) continue;
    job.status = 'cancelled';
    job.error = `Not started: ${stopReason.replace(/^Not finished: /, '')}`;
    record(job, index);
  }
  manifest.write();
  await manifest.flush();
  if (manifest.error) extraWarnings.push(`The manifest could not be written (${manifest.error.message}); the images are saved all the same.`);
  const warnings = collectWarnings(jobs, extraWarnings);
  const preview = await batchPreview(jobs, args, workspace, sheet?.prefetch).catch((error: unknown) => {
    warnings.push(`No preview could be made (the saved files are fine): ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  });
  return batchResult({ jobs, manifestFile, usage, warnings, preview }, workspace);
}

/** One contact sheet of the images this call made, each tile numbered with its job; never a full-size image. */
async function batchPreview(jobs: BatchJob[], args: GenerateBatchArguments, workspace: Workspace, prefetch?: ThumbnailPrefetch): Promise<Preview | undefined> {
  if (args.preview === false) return undefined;
  const made = jobs.filter((j) => j.status === 'done').flatMap((j) => j.images.map((i) => ({ file: path.resolve(workspace.root, i.path), label: String(j.plan.number) })));
  if (made.length === 0) return undefined;
  await prefetch?.settled();
  return previewFiles(
    made.map((m) => m.file),
    prefetch?.cache,
    made.map((m) => m.label),
  );
}

/** Where a dry run's whole plan goes: one file per out_dir, replaced by the next dry run of it. */
function planFileFor(outDir: string): string {
  const slug = outDir.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(-80) || 'batch';
  return path.join(TMP_DIR, `batch-plan-${slug}.json`);
}

/** The dry run: every job's exact request and files written to the plan file, a summary returned. */
async function dryRunBatch(jobs: BatchJob[], args: GenerateBatchArguments, workspace: Workspace): Promise<CallToolResult> {
  const estimates = jobs.filter((j) => !j.skip).map((j) => estimateRun(j.run));
  const plan = {
    dry_run: true,
    out_dir: args.out_dir,
    manifest: path.join(args.out_dir, MANIFEST_NAME),
    concurrency: args.concurrency ?? DEFAULT_CONCURRENCY,
    jobs: jobs.map((job) => ({
      number: job.plan.number,
      ...(job.plan.line !== undefined ? { line: job.plan.line } : {}),
      label: job.plan.label,
      status: job.skip ? 'skipped' : 'planned',
      model: job.run.request.options.model,
      ...(job.run.request.options.routingNote ? { routing_note: job.run.request.options.routingNote } : {}),
      files: job.skip ? [...job.kept.values()].map((f) => f.path) : [...job.kept.values(), ...plannedFacts(job.run, workspace)].map((f) => f.path),
      ...(job.skip ? {} : { request: { endpoint: ENDPOINT_PATHS.generations, payload: dryRunPayload(job.run) } }),
      ...(job.run.warnings.length ? { warnings: job.run.warnings } : {}),
    })),
  };
  let planFile: string | undefined;
  let planError: string | undefined;
  try {
    const target = await workspace.resolveOutput(planFileFor(args.out_dir), 'plan');
    planFile = (await workspace.saveFile(target, Buffer.from(`${JSON.stringify(plan, null, 2)}\n`), { force: true })).path;
  } catch (error) {
    planError = error instanceof Error ? error.message : String(error);
  }
  return batchDryRunResult({ jobs, outDir: args.out_dir, concurrency: plan.concurrency, estimates, planFile, planError }, workspace);
}

/**
 * When the batch will end with a contact sheet of small enough images, the thumbnails of its
 * first images are made as their jobs finish, while others still wait on the API, so the sheet at
 * the end only composes them (see core thumbnailsAhead).
 */
function planSheetPrefetch(runnable: BatchJob[], workspace: Workspace): { prefetch: ThumbnailPrefetch; add(job: BatchJob): void } | undefined {
  const size = runnable[0] ? parseSize(runnable[0].run.request.options.size) : undefined;
  const plan = thumbnailsAhead(
    runnable.map((job) => job.run.targets.length),
    size?.kind === 'dimensions' ? size : undefined,
  );
  if (!plan) return undefined;
  const prefetch = new ThumbnailPrefetch(plan.tileWidth, plan.tileHeight);
  const shown = new Map(runnable.map((job, i) => [job, plan.shownPerJob[i]!]));
  return {
    prefetch,
    add(job) {
      for (const facts of job.images.slice(0, shown.get(job) ?? 0)) prefetch.add(path.resolve(workspace.root, facts.path));
    },
  };
}

export const generateBatchTool = defineTool({
  name: 'generate_batch',
  title: 'Generate a batch of images',
  description:
    "Make many distinct images in one call (a game's sprites, a site's illustrations): up to 500 jobs, each a prompt or an object with its own options; " +
    'batch options are defaults. All jobs are checked before anything is sent; images go to out_dir (NNN-<slug>.png) as jobs finish, with manifest.json; ' +
    'resume finishes an interrupted batch. Returns counts, failures, files and a contact sheet. ' +
    SAME_RULES,
  inputSchema: generateBatchArguments,
  outputSchema: batchResultSchema,
  annotations: {
    title: 'Generate a batch of images',
    readOnlyHint: false,
    destructiveHint: false, // never replaces a file without force
    idempotentHint: false,
    openWorldHint: true,
  },
  writesFiles: true,
  async handle(args, ctx) {
    const workspace = await ctx.workspace();
    const outDir = outDirPath(args.out_dir);
    if (!outDir.ok) return refusal(outDir.problems);
    args = { ...args, out_dir: outDir.value };
    const sources = await readJobSources(args, workspace);
    if (!sources.ok) return refusal(sources.problems);
    const downscaleSuffix = args.downscale_max_dim ? (args.downscale_suffix ?? DEFAULT_DOWNSCALE_SUFFIX) : undefined;
    const plan = planBatch({
      jobs: sources.value.jobs,
      defaults: batchDefaults(args),
      outDir: args.out_dir,
      now: ctx.config.now(),
      // The same defaults a single call resolves with: IMAGEGEN_TRANSPARENCY, the route, the API's shut-down dates.
      resolve: { transparency: ctx.config.transparency, transparentModels: ctx.config.transparentModels, shutdownDates: lifecycleOf(ctx.api).known },
      downscaleSuffix,
      keyedSourceSuffix: KEYED_SOURCE_SUFFIX,
      caseInsensitive: CASE_INSENSITIVE,
      ...(args.engine === 'batch_api' ? { maxJobs: MAX_BATCH_API_JOBS } : {}),
    });
    const lineProblems = sources.value.problems;
    if (!plan.ok || lineProblems.length > 0) return refusal([...lineProblems, ...(plan.ok ? [] : plan.problems)]);
    const prepared = await prepareJobs(plan.jobs, args, workspace);
    if (!prepared.ok) return refusal(prepared.problems);
    const { jobs, manifest } = prepared.value;
    const batchApi = args.engine === 'batch_api' && jobs.some((j) => !j.skip);
    if (batchApi) {
      const problems = batchApiProblems(jobs, args);
      if (problems.length > 0) return refusal(problems);
    }
    if (args.dry_run) return dryRunBatch(jobs, args, workspace);
    if (jobs.some((j) => !j.skip) && !ctx.config.api.apiKey) {
      return problemsResult([
        {
          field: 'OPENAI_API_KEY',
          message:
            'OPENAI_API_KEY is not set, so no image can be made. Add it to the env of this server in your MCP client config (Codex also needs env_vars = ["OPENAI_API_KEY"]), or use dry_run to check the batch without a key.',
        },
      ]);
    }
    const overCap = batchSpendingRefusal(jobs, args, ctx);
    if (overCap) return refused(overCap);
    if (batchApi) return submitBatchApi(jobs, manifest, args, ctx, workspace);
    return runBatch(jobs, manifest, args, ctx, workspace);
  },
});

/** The spending guard over every job that would run, before any is sent. */
function batchSpendingRefusal(jobs: BatchJob[], args: GenerateBatchArguments, ctx: ToolContext): string | undefined {
  const planned = jobs.filter((j) => !j.skip).map((j) => dearestStep(j.run));
  const projection = projectSpend(planned);
  // The Batch API bills half; the guard weighs what will be billed.
  if (args.engine === 'batch_api') projection.usd = batchPrice(projection.usd);
  return checkSpendingCap(projection, spendingCap(ctx.config.costCap ?? {}, args.max_cost_usd), 'This batch');
}

/**
 * A routed job may end on any step of its transparent route, and nothing holds a batch's
 * fallbacks back once it runs: the guard weighs each job at its dearest step.
 */
function dearestStep(run: ImageRun): { estimate: ReturnType<typeof estimateRun>; images: number } {
  const steps = [run, ...(run.request.fallbacks ?? []).map((f) => ({ ...run, request: f.request }))];
  const weighed = steps.map((step) => ({ estimate: estimateRun(step), images: step.request.options.n }));
  return weighed.reduce((dear, step) => (projectSpend([step]).usd > projectSpend([dear]).usd ? step : dear));
}
