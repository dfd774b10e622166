/**
 * A planned batch run: a bounded pool around the pipeline's spend and save (each job through the
 * transparent route as a single call would go), each job's outcome a value of its own, the
 * manifest rewritten from plans and outcomes as jobs finish, progress and heartbeats, a client's
 * cancel or fail_fast, then one contact sheet and the compact result.
 */
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { redact } from '../core/api-errors.js';
import { BatchProgress, addUsage, inFlightMessage, jobName, summarise, type UsageTotals } from '../core/batch.js';
import { costFromUsage } from '../core/cost.js';
import { thumbnailsAhead } from '../core/contact-sheet.js';
import { DEFAULT_DOWNSCALE_SUFFIX, downscaledPath } from '../core/paths.js';
import type { ResolvedRequest } from '../core/request.js';
import { parseSize } from '../core/sizes.js';
import { downscale } from '../io/images.js';
import { ManifestWriter } from '../io/manifest.js';
import { ImageApiError } from '../io/openai.js';
import { previewFiles, ThumbnailPrefetch, type Preview } from '../io/preview.js';
import type { Workspace } from '../io/workspace.js';
import { messageOf, startHeartbeat } from '../pipeline/context.js';
import { dryRunPayload, ENDPOINT_PATHS } from '../pipeline/plan.js';
import { recordHistory } from '../pipeline/report.js';
import { makeImages } from '../pipeline/run.js';
import type { ImageFactsOut } from '../results.js';
import { batchResult, collectWarnings, type ReportJob } from './batch-report.js';
import type { BatchJob } from './batch-jobs.js';
import { DEFAULT_CONCURRENCY, type GenerateBatchArguments } from './batch-schema.js';
import type { ToolContext } from './context.js';

/** What became of a job in this call (the request as it ran, after any fallback); the report reads it with the job's plan. */
type JobOutcome = Omit<ReportJob, 'plan' | 'ran'> & { ran: { request: ResolvedRequest; warnings: readonly string[] } };

/** A resumed job's images already there: their facts and files, with downscaled copies made when missing. */
interface Kept {
  images: ImageFactsOut[];
  links: string[];
  warnings: string[];
}

async function keepImages(job: BatchJob, args: GenerateBatchArguments, workspace: Workspace): Promise<Kept> {
  const kept: Kept = { images: [], links: [], warnings: [] };
  for (const [i, facts] of [...job.kept.entries()].sort((a, b) => a[0] - b[0])) {
    const target = job.targets[i]!;
    const entry = { ...facts };
    kept.links.push(target);
    if (args.downscale_max_dim) {
      const webTarget = downscaledPath(target, args.downscale_suffix ?? DEFAULT_DOWNSCALE_SUFFIX);
      try {
        if (!(await workspace.exists(webTarget))) {
          const small = await downscale(target, args.downscale_max_dim, job.call.request.options.outputFormat);
          await workspace.saveFile(webTarget, small);
        }
        entry.web_path = workspace.relative(webTarget);
        kept.links.push(webTarget);
      } catch (error) {
        kept.warnings.push(`${jobName(job.plan)}: the downscaled copy could not be made: ${messageOf(error)}`);
      }
    }
    kept.images.push(entry);
  }
  return kept;
}

/** A job's outcome before it runs (or when it never does). */
function outcomeOf(job: BatchJob, kept: Kept, status: JobOutcome['status']): JobOutcome {
  return { status, ran: { request: job.call.request, warnings: job.call.warnings }, images: kept.images, links: kept.links, attempts: 0 };
}

/**
 * Runs `work` over 0..count-1 with at most `concurrency` requests in flight; starts nothing once
 * `signal` fires. A job frees its slot as soon as its answer is in (`release`), so checking and
 * placing its files overlaps the next request instead of delaying it. Resolves when all are done.
 */
async function runPool(count: number, concurrency: number, signal: AbortSignal, work: (index: number, release: () => void) => Promise<void>): Promise<void> {
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

/** One job through spend and save, its history lines written: its outcome. Throws what makeImages throws. */
async function runJob(job: BatchJob, kept: Kept, ctx: ToolContext, workspace: Workspace, signal: AbortSignal, release: () => void): Promise<JobOutcome> {
  const name = jobName(job.plan);
  const made = await makeImages(job.call, ctx, workspace, { signal, onAnswered: release, name, spendingRefusal: () => undefined });
  const options = made.plan.request.options;
  const cost = costFromUsage(options.model, made.usage);
  const warnings = [...made.warnings];
  await recordHistory(made, cost.usd, workspace).catch((error: unknown) => {
    warnings.push(`The images were saved, but their history lines could not be written: ${messageOf(error)}`);
  });
  ctx.log('info', `${name} generations model=${options.model} size=${options.size} quality=${options.quality} n=${options.n} duration_ms=${made.durationMs} attempts=${made.attempts}`);
  const outcome: JobOutcome = {
    status: 'done',
    ran: { request: made.plan.request, warnings },
    images: [...kept.images, ...made.images.map((saved) => saved.facts)],
    links: [...kept.links, ...made.images.flatMap((saved) => saved.files)],
    attempts: made.attempts,
  };
  if (made.usage) outcome.usage = made.usage as Record<string, unknown>;
  if (cost.usd !== undefined) outcome.costUsd = cost.usd;
  return outcome;
}

export async function runBatch(jobs: BatchJob[], manifestFile: string, args: GenerateBatchArguments, ctx: ToolContext, workspace: Workspace): Promise<CallToolResult> {
  const total = jobs.length;
  const started = new Date().toISOString();
  const outDir = workspace.relative(path.dirname(manifestFile));
  // Jobs already done (resume): their downscaled copies if missing, one at a time (each decodes an
  // image). Each job's outcome starts here.
  const kept: Kept[] = [];
  for (const job of jobs) kept.push(await keepImages(job, args, workspace));
  const outcomes: JobOutcome[] = jobs.map((job, i) => outcomeOf(job, kept[i]!, job.skip ? 'skipped' : undefined));
  const manifest = new ManifestWriter(
    workspace,
    manifestFile,
    () => ({ tool: 'generate_batch', version: 1, out_dir: outDir, started, updated: new Date().toISOString(), summary: summarise(total, outcomes.map((o) => o.status)) }),
    total,
  );
  const record = (index: number) => manifest.set(index, () => manifestEntry(jobs[index]!, outcomes[index]!, workspace));

  const progress = new BatchProgress(total);
  const notify = (value: number | undefined, message: string) => {
    if (value !== undefined) ctx.progress?.(value, total, message).catch(() => {});
  };
  const skipped = jobs.filter((j) => j.skip).length;
  if (skipped > 0) notify(progress.jobsFinished(skipped), `${skipped} job${skipped === 1 ? '' : 's'} already done, skipped`);

  const runnable = jobs.flatMap((job, index) => (job.skip ? [] : [index]));
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
  // Between finished jobs, what is still awaited (its values stay below the next job's, see BatchProgress).
  const stopHeartbeat = startHeartbeat(ctx, () => {
    const value = progress.heartbeat();
    if (value === undefined) return undefined;
    const names = [...inFlight].map((j) => `${jobName({ number: j.plan.number })} (${j.plan.label})`);
    return { progress: value, total, message: inFlightMessage(progress.done, total, names) };
  });

  const sheet = args.preview === false ? undefined : planSheetPrefetch(runnable.map((i) => jobs[i]!), workspace);
  const apiKey = ctx.config.api.apiKey;
  const failFast = args.fail_fast ?? false;
  try {
    const pool = runPool(runnable.length, args.concurrency ?? DEFAULT_CONCURRENCY, batch.signal, async (i, release) => {
      const index = runnable[i]!;
      const job = jobs[index]!;
      const name = jobName(job.plan);
      inFlight.add(job);
      // Each job gets its own signal, unlinked when it ends: whatever the SDK hangs on a request's
      // signal then goes with the job instead of piling up on the batch's for 500 requests.
      const own = new AbortController();
      const forward = () => own.abort();
      batch.signal.addEventListener('abort', forward, { once: true });
      try {
        outcomes[index] = await runJob(job, kept[index]!, ctx, workspace, own.signal, release);
        sheet?.add(job, outcomes[index].images);
      } catch (error) {
        const cancelled = batch.signal.aborted && (!(error instanceof ImageApiError) || error.failure.kind === 'cancelled');
        const attempts = error instanceof ImageApiError ? error.attempts : 1;
        const reason = cancelled ? stopReason : redact(messageOf(error), apiKey);
        outcomes[index] = { ...outcomeOf(job, kept[index]!, cancelled ? 'cancelled' : 'failed'), attempts, error: reason };
        if (!cancelled) {
          ctx.log('error', `${name} failed after ${attempts} attempt(s): ${reason}`);
          if (failFast) stop(`Not finished: ${name} failed and fail_fast is set.`);
        }
      } finally {
        batch.signal.removeEventListener('abort', forward);
        inFlight.delete(job);
        record(index);
        manifest.write();
        notify(progress.jobsFinished(), `${name} ${outcomes[index]!.status}`);
      }
    });
    // The first requests are on their way; now the manifest's first version (every job, pending or skipped).
    for (const index of jobs.keys()) record(index);
    manifest.write();
    await pool;
  } finally {
    stopHeartbeat();
    ctx.signal.removeEventListener('abort', onClientCancel);
  }
  for (const [index, outcome] of outcomes.entries()) {
    if (outcome.status) continue;
    outcomes[index] = { ...outcome, status: 'cancelled', error: `Not started: ${stopReason.replace(/^Not finished: /, '')}` };
    record(index);
  }
  manifest.write();
  await manifest.flush();
  const view: ReportJob[] = jobs.map((job, i) => ({ plan: job.plan, ...outcomes[i]! }));
  const extra = kept.flatMap((k) => k.warnings);
  if (manifest.error) extra.push(`The manifest could not be written (${manifest.error.message}); the images are saved all the same.`);
  const warnings = collectWarnings(view, extra);
  const preview = await batchPreview(view, args, workspace, sheet?.prefetch).catch((error: unknown) => {
    warnings.push(`No preview could be made (the saved files are fine): ${messageOf(error)}`);
    return undefined;
  });
  const usage = outcomes.reduce<UsageTotals>((total, o) => addUsage(total, o.usage), {});
  return batchResult({ jobs: view, manifestFile, usage, warnings, preview }, workspace);
}

/** A job's entry in the manifest: its plan and what became of it so far. */
function manifestEntry(job: BatchJob, outcome: JobOutcome, workspace: Workspace): Record<string, unknown> {
  const finished = outcome.status === 'done' || outcome.status === 'skipped';
  const entry: Record<string, unknown> = {
    number: job.plan.number,
    ...(job.plan.line !== undefined ? { line: job.plan.line } : {}),
    label: job.plan.label,
    status: outcome.status ?? 'pending',
    model: outcome.ran.request.options.model,
    request: { endpoint: ENDPOINT_PATHS.generations, payload: dryRunPayload({ ...job.call, request: outcome.ran.request }) },
    files: finished ? outcome.images.map((i) => i.path) : job.targets.map((t) => workspace.relative(t)),
    attempts: outcome.attempts,
  };
  if (outcome.usage) entry.usage = outcome.usage;
  if (outcome.error !== undefined) entry.error = outcome.error;
  if (outcome.ran.warnings.length > 0) entry.warnings = outcome.ran.warnings;
  return entry;
}

/** One contact sheet of the images this call made, each tile numbered with its job; never a full-size image. */
async function batchPreview(jobs: readonly ReportJob[], args: GenerateBatchArguments, workspace: Workspace, prefetch?: ThumbnailPrefetch): Promise<Preview | undefined> {
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

/**
 * When the batch will end with a contact sheet of small enough images, the thumbnails of its
 * first images are made as their jobs finish, while others still wait on the API, so the sheet at
 * the end only composes them (see core thumbnailsAhead).
 */
function planSheetPrefetch(runnable: BatchJob[], workspace: Workspace): { prefetch: ThumbnailPrefetch; add(job: BatchJob, images: readonly ImageFactsOut[]): void } | undefined {
  const size = runnable[0] ? parseSize(runnable[0].call.request.options.size) : undefined;
  const plan = thumbnailsAhead(
    runnable.map((job) => job.call.targets.length),
    size?.kind === 'dimensions' ? size : undefined,
  );
  if (!plan) return undefined;
  const prefetch = new ThumbnailPrefetch(plan.tileWidth, plan.tileHeight);
  const shown = new Map(runnable.map((job, i) => [job, plan.shownPerJob[i]!]));
  return {
    prefetch,
    add(job, images) {
      for (const facts of images.slice(0, shown.get(job) ?? 0)) prefetch.add(path.resolve(workspace.root, facts.path));
    },
  };
}
