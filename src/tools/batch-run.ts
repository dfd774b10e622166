/**
 * A planned batch run: a bounded pool of image runs (each job through the transparent route as a
 * single call would go), the manifest rewritten as jobs finish, progress and heartbeats, a client's
 * cancel or fail_fast, then one contact sheet and the compact result.
 */
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { redact } from '../core/api-errors.js';
import { BatchProgress, addUsage, inFlightMessage, jobName, summarise, type UsageTotals } from '../core/batch.js';
import { DEFAULT_DOWNSCALE_SUFFIX, downscaledPath } from '../core/paths.js';
import { downscale } from '../io/images.js';
import { ManifestWriter } from '../io/manifest.js';
import { costFromUsage } from '../core/cost.js';
import { thumbnailsAhead } from '../core/contact-sheet.js';
import { parseSize } from '../core/sizes.js';
import { previewFiles, ThumbnailPrefetch, type Preview } from '../io/preview.js';
import { lifecycleOf } from '../io/lifecycle.js';
import { ImageApiError } from '../io/openai.js';
import type { Workspace } from '../io/workspace.js';
import { batchResult, collectWarnings } from './batch-report.js';
import type { ToolContext } from './context.js';
import { dryRunPayload, ENDPOINT_PATHS, performImageRun, recordHistory } from './image-run.js';
import { runThroughRoute } from './transparency.js';
import { DEFAULT_CONCURRENCY, type GenerateBatchArguments } from './batch-schema.js';
import type { BatchJob } from './batch-jobs.js';

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

export async function runBatch(jobs: BatchJob[], manifestFile: string, args: GenerateBatchArguments, ctx: ToolContext, workspace: Workspace): Promise<CallToolResult> {
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

