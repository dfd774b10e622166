/**
 * The `generate_batch` tool: many distinct images in one call. Every job is checked and its files
 * planned before anything is sent; then a bounded pool runs them with the server's retry policy,
 * each image saved as its job finishes, a manifest rewritten as jobs finish, and progress sent.
 * `resume` finishes an interrupted batch without redoing finished jobs.
 */
import { setMaxListeners } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { redact } from '../core/api-errors.js';
import {
  BatchProgress,
  JOB_FIELD_KEYS,
  JOB_OPTION_KEYS,
  MANIFEST_NAME,
  addUsage,
  batchFailed,
  inFlightMessage,
  inlineJobs,
  jobName,
  parseJobLines,
  planBatch,
  summarise,
  type BatchDefaults,
  type BatchSummary,
  type JobSource,
  type JobStatus,
  type PlannedJob,
  type UsageTotals,
} from '../core/batch.js';
import { DEFAULT_DOWNSCALE_SUFFIX, downscaledPath } from '../core/paths.js';
import type { Problem } from '../core/problems.js';
import { downscale, inspectImage } from '../io/images.js';
import { ManifestWriter } from '../io/manifest.js';
import { checkSpendingCap, costFromUsage, formatUsd, projectSpend, roundUsd, spendingCap } from '../core/cost.js';
import { thumbnailsAhead } from '../core/contact-sheet.js';
import type { ResolvedRequest } from '../core/request.js';
import { parseSize } from '../core/sizes.js';
import { describePreview, previewBlock, previewFiles, ThumbnailPrefetch } from '../io/preview.js';
import { lifecycleOf } from '../io/lifecycle.js';
import { ImageApiError } from '../io/openai.js';
import { WorkspaceError, type Workspace } from '../io/workspace.js';
import { errorResult, formatBytes, imageFactsSchema, imageResultShape, problemsResult, ResultBuilder, usageSchema, type ImageFactsOut } from '../results.js';
import { defineTool, type ToolContext } from './context.js';
import { dryRunPayload, ENDPOINT_PATHS, estimateRun, MIME_TYPES, performImageRun, plannedFacts, recordHistory, type ImageRun } from './image-run.js';
import { augmentationShape, controlShape, imageOptionsShape, outputShape } from './schema.js';
import { strictArguments } from './strict.js';
import { runThroughRoute } from './transparency.js';

export const DEFAULT_CONCURRENCY = 5;
export const MAX_CONCURRENCY = 25;
const MAX_INPUT_BYTES = 20 * 1024 * 1024;

/**
 * A job's values as JSON allows them; the core checks each key and type and names the job. Spelt
 * so the JSON Schema has one `type` per anyOf branch (zod writes a bare primitive union as a type
 * array, which single-type schema dialects reject).
 */
const primitives = () => [z.string().describe('text'), z.number(), z.boolean(), z.null()] as const;
const jobValue = z.union([...primitives(), z.record(z.string(), z.union(primitives()))]);
const jobSchema = z.union([z.string(), z.record(z.string(), jobValue)]);

export const generateBatchArguments = strictArguments(
  'generate_batch',
  {
    jobs: z
      .array(jobSchema)
      .optional()
      .describe(
        'The jobs, one distinct image request each: a prompt string, or an object with "prompt" and optional "out" (a file name inside out_dir), model, n, size, quality, background, output_format, output_compression, moderation and prompt fields (flat, or under "fields"). At most 500. Give this or input.',
      ),
    input: z
      .string()
      .optional()
      .describe('A JSONL file inside the workspace, one job per line (an object as in jobs, or a prompt); blank and # lines are skipped. Give this or jobs.'),
    out_dir: z.string().describe('Folder for every image of the batch and its manifest.json, relative to the workspace root. Required.'),
    concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional().describe('Requests in flight at once, 1-25 (default 5).'),
    fail_fast: z.boolean().optional().describe('Stop at the first failed job: abort the requests in flight and start no new job (default: the other jobs go on).'),
    resume: z
      .boolean()
      .optional()
      .describe('Finish an earlier batch in out_dir: jobs whose files exist and decode are skipped, the rest run (failed and cancelled ones included).'),
    ...imageOptionsShape,
    force: outputShape.force.describe('Replace existing files. Without it (and without resume) a batch whose files already exist is refused.'),
    downscale_max_dim: outputShape.downscale_max_dim,
    downscale_suffix: outputShape.downscale_suffix,
    ...controlShape,
    ...augmentationShape,
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

const STATUSES = ['done', 'failed', 'skipped', 'cancelled', 'planned'] as const;
type ResultStatus = (typeof STATUSES)[number];

const jobResultSchema = z.object({
  number: z.number().int().describe('1-based position in the batch'),
  line: z.number().int().optional().describe('Line in the input file'),
  label: z.string().describe("The job's out, or the start of its prompt"),
  status: z.enum(STATUSES).describe('planned: dry runs only; skipped: already done (resume)'),
  model: z.string(),
  routing_note: z.string().optional(),
  prompt: z.string().describe('The final prompt sent (or that would be sent)'),
  images: z.array(imageFactsSchema),
  error: z.string().optional(),
  attempts: z.number().int(),
  usage: usageSchema.optional(),
  request: imageResultShape.request,
});

export const batchResultSchema = z.object({
  dry_run: z.boolean(),
  out_dir: z.string(),
  manifest: z.string().optional().describe('The manifest (not written by dry runs)'),
  summary: z.object({
    jobs: z.number().int(),
    done: z.number().int(),
    failed: z.number().int(),
    skipped: z.number().int(),
    cancelled: z.number().int(),
  }),
  jobs: z.array(jobResultSchema),
  warnings: z.array(z.string()),
  usage: usageSchema.optional(),
  cost_usd: z.number().optional().describe("The finished jobs' cost, from the API's usage"),
  estimated_cost_usd: z.number().optional().describe('Dry runs: the whole batch, where every job has a published figure'),
});

interface JobResult {
  number: number;
  line?: number;
  label: string;
  status: ResultStatus;
  model: string;
  routing_note?: string;
  prompt: string;
  images: ImageFactsOut[];
  error?: string;
  attempts: number;
  usage?: Record<string, unknown>;
  request?: { endpoint: string; payload: ReturnType<typeof dryRunPayload> };
}

/** A planned job with its confined paths and what this call does with it. */
interface BatchJob {
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
    if (stat.size > MAX_INPUT_BYTES) {
      return { ok: false, problems: [{ field: 'input', message: `input "${args.input}" is over 20 MB; a batch holds at most 500 jobs. Split the file.` }] };
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

type FileState = 'missing' | 'image' | 'other';
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

async function fileState(target: string, workspace: Workspace, exists: Exists, decode: boolean): Promise<{ state: FileState; facts?: ImageFactsOut }> {
  if (!(await exists(target))) return { state: 'missing' };
  if (!decode) return { state: 'other' };
  try {
    const [facts, stat] = await Promise.all([inspectImage(target), fs.stat(target)]);
    if (!stat.isFile()) return { state: 'other' };
    return { state: 'image', facts: { path: workspace.relative(target), width: facts.width, height: facts.height, format: facts.format, bytes: stat.size } };
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
    manifest = await workspace.resolveOutput(path.join(args.out_dir, MANIFEST_NAME), 'out_dir');
  } catch (error) {
    if (error instanceof WorkspaceError) return { ok: false, problems: [{ field: 'out_dir', message: error.message }] };
    throw error;
  }
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
    if (!force || resume) {
      const states = await Promise.all(targets.map((t) => fileState(t, workspace, exists, resume)));
      if (!resume) {
        const webStates = await Promise.all(webTargets.map((t) => fileState(t, workspace, exists, false)));
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
    `Nothing was sent: the batch has ${count} problem${count === 1 ? '' : 's'}. Fix ${count === 1 ? 'it' : 'them all'} and call again (no job runs until every job is valid):`,
  );
}

/** Warnings shared by many jobs are said once, with the jobs they concern. */
function collectWarnings(jobs: BatchJob[], extra: string[]): string[] {
  const byText = new Map<string, number[]>();
  for (const job of jobs) {
    for (const w of job.run.warnings) {
      const numbers = byText.get(w) ?? [];
      if (!numbers.includes(job.plan.number)) numbers.push(job.plan.number);
      byText.set(w, numbers);
    }
  }
  const all = [...byText].map(([text, numbers]) =>
    numbers.length === jobs.length && jobs.length > 1 ? text : `${numbers.length === 1 ? 'job' : 'jobs'} ${numbers.join(', ')}: ${text}`,
  );
  return [...all, ...extra];
}

function jobResult(job: BatchJob, status: ResultStatus): JobResult {
  const { plan } = job;
  // The request as it ran: after a fallback on the transparent route, the step that made the image.
  const options = job.run.request.options;
  const result: JobResult = {
    number: plan.number,
    label: plan.label,
    status,
    model: options.model,
    prompt: job.run.request.prompt,
    images: job.images,
    attempts: job.attempts,
  };
  if (plan.line !== undefined) result.line = plan.line;
  if (options.routingNote) result.routing_note = options.routingNote;
  if (job.error !== undefined) result.error = job.error;
  if (job.usage) result.usage = job.usage;
  return result;
}

function describeImages(images: ImageFactsOut[]): string {
  return images
    .map((i) => `${i.path}${i.width ? ` (${i.width}x${i.height} ${i.format}${i.bytes ? `, ${formatBytes(i.bytes)}` : ''})` : ''}`)
    .join(', ');
}

function dryRunResult(jobs: BatchJob[], args: GenerateBatchArguments, workspace: Workspace): CallToolResult {
  const results: JobResult[] = jobs.map((job) => {
    const result = jobResult(job, job.skip ? 'skipped' : 'planned');
    result.images = job.skip ? [...job.kept.values()] : [...job.kept.values(), ...plannedFacts(job.run, workspace)];
    if (!job.skip) result.request = { endpoint: ENDPOINT_PATHS.generations, payload: dryRunPayload(job.run) };
    return result;
  });
  const skipped = results.filter((r) => r.status === 'skipped').length;
  const summary: BatchSummary = { jobs: jobs.length, done: 0, failed: 0, skipped, cancelled: 0 };
  const warnings = collectWarnings(jobs, []);
  const out = new ResultBuilder();
  out.line(
    `Dry run: nothing was sent. ${jobs.length - skipped} of ${jobs.length} jobs would run (one POST ${ENDPOINT_PATHS.generations} each)${
      skipped ? `; ${skipped} already done would be skipped` : ''
    }. Up to ${args.concurrency ?? DEFAULT_CONCURRENCY} at a time; manifest ${path.join(args.out_dir, MANIFEST_NAME)}.`,
  );
  for (const r of results) {
    const job = jobs[r.number - 1]!;
    const o = job.run.request.options;
    if (r.status === 'skipped') {
      out.line(`- ${jobName(r)} skipped (already done): ${describeImages(r.images)}`);
    } else {
      const prompt = r.prompt.replace(/\s+/g, ' ');
      out.line(
        `- ${jobName(r)}: ${o.model} ${o.size} ${o.quality} ${o.outputFormat}${o.n > 1 ? ` n=${o.n}` : ''} → ${plannedFacts(job.run, workspace)
          .map((f) => f.path)
          .join(', ')}; prompt: "${prompt.length > 120 ? `${prompt.slice(0, 119)}…` : prompt}"`,
      );
    }
  }
  out.line('Every payload is in structuredContent (jobs[].request).');
  const estimates = jobs.filter((j) => !j.skip).map((j) => estimateRun(j.run));
  const unpriced = estimates.filter((e) => e.usd === undefined).length;
  const estimated = unpriced === 0 ? roundUsd(estimates.reduce((sum, e) => sum + (e.usd ?? 0), 0)) : undefined;
  out.line(
    estimated !== undefined
      ? `Estimated cost: ${formatUsd(estimated)} (published output-token counts × price).`
      : `No cost estimate: ${unpriced} of ${estimates.length} jobs have no published figure (e.g. gpt-image-2's flexible sizes); the real cost comes from usage after the calls.`,
  );
  for (const w of warnings) out.line(`Warning: ${w}`);
  const structured: Record<string, unknown> = { dry_run: true, out_dir: args.out_dir, summary, jobs: results, warnings };
  if (estimated !== undefined) structured.estimated_cost_usd = estimated;
  return out.build(structured);
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
  return await batchResult(jobs, args, workspace, manifestFile, usage, extraWarnings, sheet?.prefetch);
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

async function batchResult(
  jobs: BatchJob[],
  args: GenerateBatchArguments,
  workspace: Workspace,
  manifestFile: string,
  usage: UsageTotals,
  extraWarnings: string[],
  prefetch?: ThumbnailPrefetch,
): Promise<CallToolResult> {
  const summary = summarise(jobs.length, jobs.map((j) => j.status));
  const results = jobs.map((job) => jobResult(job, job.status ?? 'cancelled'));
  const warnings = collectWarnings(jobs, extraWarnings);
  const failed = batchFailed(summary);
  const out = new ResultBuilder();
  const counts = `${summary.done} done, ${summary.failed} failed, ${summary.skipped} skipped, ${summary.cancelled} cancelled`;
  out.line(
    failed
      ? `The batch made no image: ${counts} (of ${summary.jobs} jobs).`
      : `Batch of ${summary.jobs} job${summary.jobs === 1 ? '' : 's'}: ${counts}. Images in ${workspace.relative(path.dirname(manifestFile))}/.`,
  );
  for (const r of results) {
    if (r.status === 'done') out.line(`- ${jobName(r)} done: ${describeImages(r.images)}`);
    else if (r.status === 'skipped') out.line(`- ${jobName(r)} skipped (already done): ${describeImages(r.images)}`);
    else out.line(`- ${jobName(r)} ${r.status}: ${r.error ?? ''}`);
  }
  out.line(`Manifest: ${workspace.relative(manifestFile)}`);
  if (summary.failed + summary.cancelled > 0) {
    out.line('To run the failed and cancelled jobs again, repeat the call with resume: true (finished jobs are skipped).');
  }
  const hasUsage = Object.keys(usage).length > 0;
  if (typeof usage.total_tokens === 'number') {
    out.line(`Usage: ${usage.total_tokens.toLocaleString('en-US')} tokens (input ${Number(usage.input_tokens ?? 0).toLocaleString('en-US')}, output ${Number(usage.output_tokens ?? 0).toLocaleString('en-US')}).`);
  }
  const costs = jobs.map((j) => j.costUsd).filter((c): c is number => c !== undefined);
  const costUsd = costs.length > 0 ? roundUsd(costs.reduce((a, b) => a + b, 0)) : undefined;
  if (costUsd !== undefined) out.line(`Cost: ${formatUsd(costUsd)} (from the API's usage${costs.length < summary.done ? `; ${summary.done - costs.length} job(s) had no price` : ''}).`);
  // One numbered contact sheet of the images made by this call, never a full-size image.
  const made = jobs.filter((j) => j.status === 'done').flatMap((j) => j.images.map((i) => path.resolve(workspace.root, i.path)));
  await prefetch?.settled();
  const preview =
    args.preview === false || made.length === 0
      ? undefined
      : await previewFiles(made, prefetch?.cache).catch((error: unknown) => {
          warnings.push(`No preview could be made (the saved files are fine): ${error instanceof Error ? error.message : String(error)}`);
          return undefined;
        });
  if (preview) out.line(describePreview(preview));
  for (const w of warnings) out.line(`Warning: ${w}`);
  if (preview) out.block(previewBlock(preview));
  for (const job of jobs) {
    for (const file of job.links) {
      const format = job.images[0]?.format ?? job.plan.request.options.outputFormat;
      out.block({ type: 'resource_link', uri: pathToFileURL(file).href, name: workspace.relative(file), mimeType: MIME_TYPES[format] ?? 'application/octet-stream' });
    }
  }
  const structured: Record<string, unknown> = {
    dry_run: false,
    out_dir: workspace.relative(path.dirname(manifestFile)),
    manifest: workspace.relative(manifestFile),
    summary,
    jobs: results,
    warnings,
  };
  if (hasUsage) structured.usage = usage;
  if (costUsd !== undefined) structured.cost_usd = costUsd;
  const result = out.build(structured);
  if (failed) result.isError = true;
  return result;
}

export const generateBatchTool = defineTool({
  name: 'generate_batch',
  title: 'Generate a batch of images',
  description:
    "Make many distinct images in one call (a game's sprites, a site's illustrations): up to 500 jobs, each a prompt with optional overrides, run concurrently with retries. " +
    'Every job is checked before anything is sent; each image is saved in out_dir as its job finishes, with a manifest.json; resume: true finishes an interrupted batch without redoing finished jobs. ' +
    'Batch-level options are defaults for every job. Use dry_run to see every request and path without spending.',
  inputSchema: generateBatchArguments,
  outputSchema: batchResultSchema,
  annotations: {
    title: 'Generate a batch of images',
    readOnlyHint: false,
    destructiveHint: false, // never replaces a file without force
    idempotentHint: false,
    openWorldHint: true,
  },
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
      caseInsensitive: CASE_INSENSITIVE,
    });
    const lineProblems = sources.value.problems;
    if (!plan.ok || lineProblems.length > 0) return refusal([...lineProblems, ...(plan.ok ? [] : plan.problems)]);
    const prepared = await prepareJobs(plan.jobs, args, workspace);
    if (!prepared.ok) return refusal(prepared.problems);
    const { jobs, manifest } = prepared.value;
    if (args.dry_run) return dryRunResult(jobs, args, workspace);
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
    if (overCap) return errorResult(overCap);
    return runBatch(jobs, manifest, args, ctx, workspace);
  },
});

/** The spending guard over every job that would run, before any is sent. */
function batchSpendingRefusal(jobs: BatchJob[], args: GenerateBatchArguments, ctx: ToolContext): string | undefined {
  const planned = jobs.filter((j) => !j.skip).map((j) => dearestStep(j.run));
  return checkSpendingCap(projectSpend(planned), spendingCap(ctx.config.costCap ?? {}, args.max_cost_usd), 'This batch');
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
