/**
 * generate_batch with engine "batch_api": the jobs, planned and checked as for the direct engine,
 * become one requests JSONL (written streaming under tmp/imagegen/), uploaded through the Files
 * API and handed to OpenAI's Batch API for its 24 h window at half price. The call returns at
 * once; everything batch_status needs to collect is written to the batch's manifest.
 */
import { once } from 'node:events';
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  BATCH_API_CHECKED,
  COMPLETION_WINDOW,
  MAX_BATCH_API_FILE_BYTES,
  batchApiAccepts,
  batchApiModelProblem,
  batchPrice,
  customId,
  requestLine,
} from '../core/batch-api.js';
import { jobName, summarise } from '../core/batch.js';
import { formatUsd, projectSpend } from '../core/cost.js';
import { TMP_DIR } from '../core/paths.js';
import type { Problem } from '../core/problems.js';
import { apiParameters } from '../core/request.js';
import { BatchApiError, batchApi } from '../io/batch-api.js';
import { ManifestWriter } from '../io/manifest.js';
import type { Workspace } from '../io/workspace.js';
import { failed, refused, ResultBuilder } from '../results.js';
import type { ToolContext } from './context.js';
import type { BatchJob } from './batch-jobs.js';
import type { GenerateBatchArguments } from './batch-schema.js';
import { ENDPOINT_PATHS, dryRunPayload, estimatePlan } from '../pipeline/plan.js';

export const BATCH_INDEX_FILE = path.posix.join(TMP_DIR, 'batch-api-index.jsonl');

/** What the Batch API cannot do for a job, as problems naming the job and the fix; none = all fine. */
export function batchApiProblems(jobs: readonly BatchJob[], args: GenerateBatchArguments): Problem[] {
  const problems: Problem[] = [];
  for (const job of jobs) {
    if (job.skip) continue;
    const options = job.call.request.options;
    if (!batchApiAccepts(options.model)) problems.push({ field: 'model', message: `${jobName(job.plan)}: ${batchApiModelProblem(options.model)}` });
    if (options.keyColor) {
      problems.push({
        field: 'transparency',
        message: `${jobName(job.plan)}: transparency "chroma_key" keys images out as they arrive, which engine "batch_api" does not do. Use engine "direct", or transparency "native", or call remove_background on the collected files.`,
      });
    }
  }
  if (args.downscale_max_dim !== undefined) {
    problems.push({ field: 'downscale_max_dim', message: 'downscale_max_dim is not available with engine "batch_api". Leave it out (and downscale later), or use engine "direct".' });
  }
  return problems;
}

function slugOf(outDir: string): string {
  return outDir.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(-80) || 'batch';
}

/** Writes the requests JSONL line by line, waiting for the disk when it falls behind. Returns its size. */
async function writeRequests(file: string, runnable: readonly BatchJob[], workspace: Workspace): Promise<number> {
  const out = createWriteStream(file, { flags: 'wx' });
  let bytes = 0;
  try {
    for (const job of runnable) {
      const body = { ...apiParameters(job.call.request.options), prompt: job.call.request.prompt };
      const line = requestLine(job.plan.number, path.basename(workspace.relative(job.targets[0] ?? '')), body);
      bytes += Buffer.byteLength(line);
      if (!out.write(line)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  } catch (error) {
    out.destroy();
    throw error;
  }
  return bytes;
}

/** Submits the batch; returns at once with its id, the job count and the estimated cost at batch prices. */
export async function submitBatchApi(jobs: BatchJob[], manifestFile: string, args: GenerateBatchArguments, ctx: ToolContext, workspace: Workspace): Promise<CallToolResult> {
  const runnable = jobs.filter((j) => !j.skip);
  const outDir = workspace.relative(path.dirname(manifestFile));
  const earlier = args.force ? undefined : await uncollectedBatch(manifestFile);
  if (earlier) {
    return refused(
      `${workspace.relative(manifestFile)} belongs to batch ${earlier}, which has not been collected: submitting again would pay twice. Call batch_status with out_dir "${outDir}" to collect it (or cancel: true), then resume; force: true starts over regardless.`,
    );
  }
  const requestsTarget = await workspace.resolveOutput(path.join(TMP_DIR, `batch-requests-${slugOf(outDir)}.jsonl`), 'requests file');
  const temp = await workspace.tempFileFor(requestsTarget);
  let bytes: number;
  try {
    bytes = await writeRequests(temp, runnable, workspace);
  } catch (error) {
    await fs.rm(temp, { force: true });
    return failed(`The requests file could not be written (${error instanceof Error ? error.message : String(error)}); nothing was uploaded.`);
  }
  if (bytes > MAX_BATCH_API_FILE_BYTES) {
    await fs.rm(temp, { force: true });
    return failed(
      `The requests file would be ${Math.ceil(bytes / 1024 / 1024)} MB; the Batch API takes at most ${MAX_BATCH_API_FILE_BYTES / 1024 / 1024} MB. Split the jobs into smaller batches (each in its own out_dir); nothing was uploaded.`,
    );
  }
  const requestsFile = await workspace.placeFile(temp, requestsTarget, { force: true });

  const estimate = projectSpend(runnable.map((j) => ({ estimate: estimatePlan(j.call), images: j.call.request.options.n })));
  const allPriced = estimate.assumedImages === 0;
  const estimatedUsd = allPriced ? batchPrice(estimate.usd) : undefined;

  const remote = batchApi(ctx.api, ctx.config.api.apiKey);
  let inputFileId: string;
  let batch;
  try {
    inputFileId = await remote.upload(requestsFile.path);
    batch = await remote.create(inputFileId, { out_dir: outDir.slice(0, 500), jobs: String(runnable.length) });
  } catch (error) {
    if (error instanceof BatchApiError) return failed(`${error.message} No batch was created; call again to retry.`);
    throw error;
  }

  const submitted = new Date().toISOString();
  const header = {
    tool: 'generate_batch',
    version: 1,
    engine: 'batch_api',
    out_dir: outDir,
    started: submitted,
    updated: submitted,
    batch: {
      id: batch.id,
      status: batch.status,
      input_file_id: inputFileId,
      requests_file: workspace.relative(requestsFile.path),
      completion_window: COMPLETION_WINDOW,
      force: args.force ?? false,
      ...(estimatedUsd !== undefined ? { estimated_cost_usd: estimatedUsd } : {}),
      collected: false,
    },
    // Counts in the header, so the gallery lists the batch from the manifest's first lines.
    summary: summarise(jobs.length, jobs.map((j) => (j.skip ? 'skipped' : undefined))),
  };
  const manifest = new ManifestWriter(workspace, manifestFile, () => header, jobs.length);
  for (const [index, job] of jobs.entries()) {
    manifest.set(index, () => ({
      number: job.plan.number,
      ...(job.plan.line !== undefined ? { line: job.plan.line } : {}),
      label: job.plan.label,
      status: job.skip ? 'skipped' : 'pending',
      model: job.plan.request.options.model,
      ...(job.skip ? {} : { custom_id: customId(job.plan.number, path.basename(workspace.relative(job.targets[0] ?? ''))) }),
      request: { endpoint: ENDPOINT_PATHS.generations, payload: dryRunPayload(job.call) },
      files: job.skip ? [...job.kept.values()].map((f) => f.path) : job.call.targets.map((t) => workspace.relative(t)),
      attempts: 0,
      ...(job.call.warnings.length > 0 ? { warnings: job.call.warnings } : {}),
    }));
  }
  manifest.write();
  await manifest.flush();
  const warnings: string[] = [];
  if (manifest.error) warnings.push(`The manifest could not be written (${manifest.error.message}): batch_status needs it; keep the batch id ${batch.id}.`);
  await appendIndex(workspace, batch.id, outDir).catch(() => {});

  const count = runnable.length;
  const cost =
    estimatedUsd !== undefined
      ? `Estimated cost at batch prices (half the direct price): ${formatUsd(estimatedUsd)}.`
      : `Cost: billed at batch prices (half the direct price); no estimate, as ${estimate.basis.replace(/^.*assumed per image, as /, '')}.`;
  const text = [
    `Submitted batch ${batch.id} to OpenAI's Batch API: ${count} job${count === 1 ? '' : 's'}${jobs.length > count ? ` (${jobs.length - count} already done, skipped)` : ''}, status ${batch.status}. It finishes within ${COMPLETION_WINDOW} (usually much sooner).`,
    cost,
    `Requests: ${workspace.relative(requestsFile.path)} (${Math.ceil(bytes / 1024)} KB). Everything needed to collect is in ${workspace.relative(manifestFile)}.`,
    ...warnings.map((w) => `Warning: ${w}`),
    `Next: call batch_status with out_dir "${outDir}" to see progress and, once it has finished, save the images (cancel: true cancels it).`,
  ].join('\n');
  const out = new ResultBuilder().line(text);
  out.block({ type: 'resource_link', uri: pathToFileURL(manifestFile).href, name: workspace.relative(manifestFile), mimeType: 'application/json' });
  return out.build({
    dry_run: false,
    out_dir: outDir,
    manifest: workspace.relative(manifestFile),
    counts: { jobs: jobs.length, done: 0, failed: 0, skipped: jobs.length - count, cancelled: 0 },
    jobs: [],
    warnings,
    ...(estimatedUsd !== undefined ? { estimated_cost_usd: estimatedUsd } : {}),
    batch: { id: batch.id, status: batch.status, checked: BATCH_API_CHECKED },
  });
}

/** The id of the Batch API batch an existing manifest names and has not collected, if any. */
async function uncollectedBatch(manifestFile: string): Promise<string | undefined> {
  try {
    const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as { engine?: unknown; batch?: { id?: unknown; collected?: unknown } };
    if (manifest.engine === 'batch_api' && typeof manifest.batch?.id === 'string' && manifest.batch.collected !== true) return manifest.batch.id;
  } catch {
    // no manifest, or not one of ours
  }
  return undefined;
}

/** batch id → out_dir, so batch_status can be given the id alone. */
async function appendIndex(workspace: Workspace, id: string, outDir: string): Promise<void> {
  const file = await workspace.resolveOutput(BATCH_INDEX_FILE, 'index');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.appendFile(file, `${JSON.stringify({ id, out_dir: outDir })}\n`);
}

/** Every batch submitted from this workspace, per the index (a later line for the same id wins). */
export async function submittedBatches(workspace: Workspace): Promise<Map<string, string>> {
  const file = await workspace.resolveOutput(BATCH_INDEX_FILE, 'index');
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const batches = new Map<string, string>();
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { id?: unknown; out_dir?: unknown };
      if (typeof entry.id === 'string' && typeof entry.out_dir === 'string') batches.set(entry.id, entry.out_dir);
    } catch {
      // a torn line: skip it
    }
  }
  return batches;
}

/** The out_dir a batch id was submitted from, per the index; undefined when unknown. */
export async function outDirOfBatch(workspace: Workspace, id: string): Promise<string | undefined> {
  return (await submittedBatches(workspace)).get(id);
}
