/**
 * The `batch_status` tool: a Batch API batch's status and counts; once it has finished (completed,
 * or expired or cancelled with part of its output), its output file streamed line by line, each
 * image checked and saved at its planned path (atomic, never over a file), per-job errors read
 * from the error file, and the manifest and history brought up to date. Everything it needs is in
 * the batch's manifest, so it works after a restart; collecting twice writes nothing twice, and a
 * collection cut off half-way resumes where the files stop.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { batchPrice, isCollectable, isFinal, parseResultLine } from '../core/batch-api.js';
import { MANIFEST_NAME, addUsage, summarise, type JobStatus, type UsageTotals } from '../core/batch.js';
import { costFromUsage, roundUsd } from '../core/cost.js';
import { BatchApiError, batchApi, type BatchInfo } from '../io/batch-api.js';
import { appendHistory, type HistoryEntry } from '../io/history.js';
import { inspectImage } from '../io/images.js';
import { ManifestWriter, splitEntries } from '../io/manifest.js';
import { previewFiles } from '../io/preview.js';
import { WorkspaceError, type Workspace } from '../io/workspace.js';
import { failed, refused, ResultBuilder, type ImageFactsOut } from '../results.js';
import { strictArguments } from './arguments.js';
import { outDirOfBatch } from './batch-api-submit.js';
import { batchResult, batchResultSchema, type ReportJob } from './batch-report.js';
import { defineTool, type ToolContext } from './context.js';

export const batchStatusArguments = strictArguments('batch_status', {
  out_dir: z.string().optional().describe('The batch\'s out_dir (or give batch_id)'),
  batch_id: z.string().optional(),
  cancel: z.boolean().optional(),
});

/** A job as the manifest keeps it. */
interface ManifestJob {
  number: number;
  line?: number;
  label: string;
  status: string;
  model: string;
  custom_id?: string;
  request?: { payload?: Record<string, unknown> };
  files: string[];
  attempts: number;
  usage?: Record<string, unknown>;
  cost_usd?: number;
  error?: string;
  warnings?: string[];
}

interface BatchManifest {
  engine?: string;
  out_dir: string;
  batch: { id: string; status: string; force?: boolean; collected?: boolean; [key: string]: unknown };
  jobs: ManifestJob[];
  [key: string]: unknown;
}

type Found = { ok: true; file: string; manifest: BatchManifest; text?: string } | { ok: false; result: CallToolResult };

async function findManifest(args: z.infer<typeof batchStatusArguments>, workspace: Workspace): Promise<Found> {
  let outDir = args.out_dir;
  if (outDir === undefined && args.batch_id !== undefined) outDir = await outDirOfBatch(workspace, args.batch_id);
  if (outDir === undefined) {
    const why = args.batch_id ? `No batch ${args.batch_id} was submitted from this workspace.` : 'No batch named.';
    return { ok: false, result: refused(`${why} Give out_dir, the folder generate_batch (engine "batch_api") wrote its manifest.json to.`) };
  }
  let file: string;
  let manifest: BatchManifest;
  let text: string;
  try {
    file = await workspace.resolveInput(path.join(outDir, MANIFEST_NAME), 'out_dir');
    text = await fs.readFile(file, 'utf8');
    manifest = JSON.parse(text) as BatchManifest;
  } catch (error) {
    const why = error instanceof WorkspaceError ? error.message : `${path.join(outDir, MANIFEST_NAME)} could not be read (${error instanceof Error ? error.message : String(error)})`;
    return { ok: false, result: refused(`${why}. Give the out_dir of a batch submitted with engine "batch_api".`) };
  }
  if (manifest.engine !== 'batch_api' || typeof manifest.batch?.id !== 'string' || !Array.isArray(manifest.jobs)) {
    return { ok: false, result: refused(`${workspace.relative(file)} is not the manifest of a Batch API batch; batches run with engine "direct" finish within their call (resume them with generate_batch resume: true).`) };
  }
  if (args.batch_id !== undefined && args.batch_id !== manifest.batch.id) {
    return { ok: false, result: refused(`${workspace.relative(file)} belongs to batch ${manifest.batch.id}, not ${args.batch_id}. Give only one of out_dir and batch_id, or the matching pair.`) };
  }
  return { ok: true, file, manifest, text };
}

function countsLine(info: BatchInfo): string {
  const c = info.request_counts;
  return c ? `${c.completed} of ${c.total} requests done, ${c.failed} failed` : 'no counts yet';
}

/** The facts of a file already at its target, or undefined when there is none. Throws when it is not an image. */
async function existingImage(target: string, workspace: Workspace): Promise<ImageFactsOut | undefined> {
  const stat = await fs.lstat(target).catch(() => undefined);
  if (!stat) return undefined;
  const facts = stat.isFile() ? await inspectImage(target).catch(() => undefined) : undefined;
  if (!facts) throw new Error(`${workspace.relative(target)} exists and is not an image; remove it and call batch_status again.`);
  return { path: workspace.relative(target), width: facts.width, height: facts.height, format: facts.format, bytes: stat.size };
}

/**
 * The buffer a collection decodes its images into, one after the other (lines are handled one at
 * a time): thousands of results leave no trail of image-sized buffers for the collector.
 */
class DecodeBuffer {
  private buffer = Buffer.alloc(0);
  decode(b64: string): Buffer {
    const most = Math.ceil((b64.length * 3) / 4);
    if (this.buffer.length < most) this.buffer = Buffer.allocUnsafe(Math.max(most, this.buffer.length * 2));
    return this.buffer.subarray(0, this.buffer.write(b64, 'base64'));
  }
}

/** One image of an output line, checked from its header in a temp file, then linked into place. */
async function saveImage(b64: string, target: string, force: boolean, workspace: Workspace, decoder: DecodeBuffer): Promise<{ facts: ImageFactsOut; written: boolean }> {
  if (!force) {
    const there = await existingImage(target, workspace);
    if (there) return { facts: there, written: false }; // an earlier, interrupted collection saved it
  }
  const bytes = decoder.decode(b64);
  const temp = await workspace.tempFileFor(target);
  try {
    // Checked from the bytes in hand, before they reach the disk.
    const facts = await inspectImage(bytes).catch(() => {
      throw new Error('the batch returned data that is not an image; nothing was saved for it');
    });
    await fs.writeFile(temp, bytes, { flag: 'wx' });
    const made = { path: workspace.relative(target), width: facts.width, height: facts.height, format: facts.format, bytes: bytes.length };
    if (force) {
      await workspace.placeFile(temp, target, { force });
      return { facts: made, written: true };
    }
    // A hard link never replaces a file: when another collection got there first, its file stands
    // (no versioned duplicate, as placeFile would make).
    try {
      await fs.link(temp, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const there = await existingImage(target, workspace);
      if (there) return { facts: there, written: false };
      throw error;
    }
    return { facts: made, written: true };
  } finally {
    await fs.rm(temp, { force: true });
  }
}

async function collect(found: { file: string; manifest: BatchManifest; text?: string }, info: BatchInfo, ctx: ToolContext, workspace: Workspace): Promise<CallToolResult> {
  const { manifest, file } = found;
  const { jobs, ...head } = manifest;
  const byNumber = new Map(jobs.map((job, index) => [job.number, index]));
  const writer = new ManifestWriter(workspace, file, () => ({ ...head, updated: new Date().toISOString(), summary: summarise(jobs.length, jobs.map(statusOf)) }), jobs.length);
  // Every job's entry as the file holds it: none is serialised again until it changes.
  const seeded = found.text === undefined ? undefined : splitEntries(found.text, jobs.map((j) => j.number));
  delete found.text;
  if (seeded) writer.seed(seeded);
  else jobs.forEach((job, index) => writer.set(index, () => ({ ...job })));
  const force = manifest.batch.force === true;
  const remote = batchApi(ctx.api, ctx.config.api.apiKey);
  const made = new Map<number, ImageFactsOut[]>();
  const warnings: string[] = [];
  let usage: UsageTotals = {};
  let lines = 0;
  let lastWrite = Date.now();
  const decoder = new DecodeBuffer();
  const total = info.request_counts?.total || jobs.length;
  const history: HistoryEntry[] = [];

  const onLine = async (raw: Uint8Array) => {
    lines++;
    const line = parseResultLine(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
    if (line.kind === 'unreadable') {
      if (warnings.length < 20) warnings.push(`Skipped a line of the batch's files: ${line.message}.`);
      return;
    }
    const index = byNumber.get(line.job);
    const job = index === undefined ? undefined : jobs[index];
    if (!job || job.status === 'done' || job.status === 'skipped') return;
    if (line.kind === 'error') {
      job.status = 'failed';
      job.error = line.message;
    } else {
      const saved: ImageFactsOut[] = [];
      try {
        for (const [i, b64] of line.images.entries()) {
          const target = job.files[i];
          if (target === undefined) break;
          const out = await saveImage(b64, await workspace.resolveOutput(target, 'out'), force, workspace, decoder);
          saved.push(out.facts);
        }
        job.status = 'done';
        job.attempts = 1;
        delete job.error;
        if (line.usage) job.usage = line.usage;
        usage = addUsage(usage, line.usage);
        const cost = costFromUsage(job.model, line.usage);
        if (cost.usd !== undefined) job.cost_usd = batchPrice(cost.usd);
        job.files = saved.map((f) => f.path);
        made.set(job.number, saved);
        const prompt = String(job.request?.payload?.prompt ?? '');
        for (const facts of saved) {
          history.push({
            time: new Date().toISOString(),
            tool: 'generate_batch',
            path: facts.path,
            model: job.model,
            prompt,
            params: { ...(job.request?.payload ?? {}), prompt: undefined },
            ...(facts.width ? { width: facts.width, height: facts.height } : {}),
            format: facts.format,
            ...(facts.bytes ? { bytes: facts.bytes } : {}),
            ...(line.usage ? { call_usage: line.usage } : {}),
            ...(job.cost_usd !== undefined ? { cost_usd: roundUsd(job.cost_usd / saved.length) } : {}),
            job: job.number,
            batch: manifest.out_dir,
          });
        }
      } catch (error) {
        job.status = 'failed';
        job.error = error instanceof Error ? error.message : String(error);
      }
    }
    writer.set(index!, () => ({ ...job }));
    // A cut-off collection resumes from the files on disk, so the manifest need not follow every
    // line: it is brought up to date every few seconds (each rewrite is the whole manifest), and
    // at the end.
    if (Date.now() - lastWrite >= MANIFEST_EVERY_MS) {
      lastWrite = Date.now();
      writer.write();
    }
    if (history.length >= 200) await appendHistory(workspace, history.splice(0)).catch(() => {});
    ctx.progress?.(lines, total, `${lines} of ${total} results read`).catch(() => {});
  };

  try {
    if (info.output_file_id) await remote.readLines(info.output_file_id, onLine, ctx.signal);
    if (info.error_file_id) await remote.readLines(info.error_file_id, onLine, ctx.signal);
  } catch (error) {
    // What was saved stays saved and recorded: the next call picks up from there.
    writer.write();
    await writer.flush();
    await appendHistory(workspace, history).catch(() => {});
    return failed(`${error instanceof Error ? error.message : String(error)} The images saved so far are kept; call batch_status again to finish collecting.`);
  }
  await appendHistory(workspace, history).catch((error: unknown) => warnings.push(`The history lines could not be written: ${error instanceof Error ? error.message : String(error)}`));
  const why: Record<string, string> = {
    expired: 'the batch expired (24 h window) before this job ran',
    cancelled: 'the batch was cancelled before this job ran',
    completed: 'the batch returned no result for this job',
  };
  // Only the jobs that change now are serialised again; the rest are in the writer already.
  jobs.forEach((job, index) => {
    if (job.status !== 'pending') return;
    job.status = 'failed';
    job.error = why[info.status] ?? `the batch ended ${info.status} without this job`;
    writer.set(index, () => ({ ...job }));
  });
  // The batch's whole cost (earlier partial collections included), for the gallery's listing.
  const costUsd = roundUsd(jobs.reduce((sum, job) => sum + (job.cost_usd ?? 0), 0));
  Object.assign(manifest.batch, { status: info.status, output_file_id: info.output_file_id ?? null, error_file_id: info.error_file_id ?? null, collected: true, collected_at: new Date().toISOString(), cost_usd: costUsd });
  head.batch = manifest.batch;
  writer.write();
  await writer.flush();
  if (writer.error) warnings.push(`The manifest could not be written (${writer.error.message}); the images are saved all the same.`);

  const view = jobs.map((job) => asReportJob(job, made.get(job.number), workspace));
  const shown = view.filter((j) => made.has(j.plan.number)).flatMap((j) => j.images.map((i) => ({ file: path.resolve(workspace.root, i.path), label: String(j.plan.number) })));
  const preview =
    shown.length > 0
      ? await previewFiles(shown.map((s) => s.file), undefined, shown.map((s) => s.label)).catch((error: unknown) => {
          warnings.push(`No preview could be made (the saved files are fine): ${error instanceof Error ? error.message : String(error)}`);
          return undefined;
        })
      : undefined;
  const result = batchResult({ jobs: view, manifestFile: file, usage, warnings, preview }, workspace);
  const first = result.content[0];
  if (first?.type === 'text') first.text = `Batch ${manifest.batch.id} ${info.status}; collected at batch prices.\n${first.text}`;
  return result;
}

function statusOf(job: ManifestJob): JobStatus | undefined {
  return job.status === 'pending' ? undefined : (job.status as JobStatus);
}

/** A manifest job in the shape the batch report reads. */
function asReportJob(job: ManifestJob, made: ImageFactsOut[] | undefined, workspace: Workspace): ReportJob {
  const payload = job.request?.payload ?? {};
  const images = made ?? (job.status === 'done' || job.status === 'skipped' ? job.files.map((f) => ({ path: f, format: String(payload.output_format ?? 'png') })) : []);
  // The request as the manifest recorded it; the report reads it both as planned and as run.
  const request = { prompt: String(payload.prompt ?? ''), options: { model: job.model, outputFormat: String(payload.output_format ?? 'png') } };
  return {
    plan: { number: job.number, line: job.line, label: job.label },
    ran: { warnings: job.warnings ?? [], request },
    status: statusOf(job) ?? 'failed',
    images,
    links: made ? made.map((f) => path.resolve(workspace.root, f.path)) : [],
    attempts: job.attempts,
    ...(job.error !== undefined ? { error: job.error } : {}),
    ...(job.usage ? { usage: job.usage } : {}),
    ...(job.cost_usd !== undefined ? { costUsd: job.cost_usd } : {}),
  };
}

const MANIFEST_EVERY_MS = 5000;

/** Manifests being collected in this process: one collection of a batch at a time. */
const collecting = new Set<string>();

export const batchStatusTool = defineTool({
  name: 'batch_status',
  title: 'Batch API status and collection',
  description:
    'Status of a generate_batch run with engine "batch_api"; once finished, saves its images to out_dir (safe to call again). cancel: true cancels it.',
  inputSchema: batchStatusArguments,
  // Collections carry the batch result (see generate_batch); the schema names only what every answer may hold.
  outputSchema: z.looseObject({ out_dir: z.string().optional(), counts: batchResultSchema.shape.counts.optional(), warnings: z.array(z.string()).optional() }),
  annotations: { title: 'Batch API status and collection', readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  writesFiles: true,
  async handle(args, ctx) {
    const workspace = await ctx.workspace();
    const found = await findManifest(args, workspace);
    if (!found.ok) return found.result;
    const { manifest } = found;
    const id = manifest.batch.id;
    const counts = summarise(manifest.jobs.length, manifest.jobs.map(statusOf));
    if (manifest.batch.collected && !args.cancel) {
      return new ResultBuilder()
        .line(`Batch ${id} was collected already (${manifest.batch.status}): ${counts.done} done, ${counts.failed} failed, ${counts.skipped} skipped, of ${counts.jobs} jobs; nothing was written. Files in ${manifest.out_dir}/, every job in ${workspace.relative(found.file)}.${counts.failed > 0 ? ' Next: generate_batch with the same jobs, engine "batch_api" and resume: true runs the failed ones again.' : ''}`)
        .build({ out_dir: manifest.out_dir, counts, warnings: [] });
    }
    if (!ctx.config.api.apiKey) return refused('OPENAI_API_KEY is not set, so the batch cannot be read. Add it to the env of this server in your MCP client config.');
    const remote = batchApi(ctx.api, ctx.config.api.apiKey);
    let info: BatchInfo;
    try {
      info = args.cancel ? await remote.cancel(id) : await remote.retrieve(id);
    } catch (error) {
      if (error instanceof BatchApiError) return failed(`${error.message} Call batch_status again later.`);
      throw error;
    }
    if (args.cancel) {
      return new ResultBuilder()
        .line(`Asked to cancel batch ${id}: status ${info.status} (${countsLine(info)}). Requests already done are billed; call batch_status again once it is cancelled to save the images it made.`)
        .build({ out_dir: manifest.out_dir, warnings: [] });
    }
    if (isCollectable(info.status)) {
      if (collecting.has(found.file)) return refused(`batch ${id} is being collected by another call right now; call batch_status again when it has finished.`);
      collecting.add(found.file);
      try {
        return await collect(found, info, ctx, workspace);
      } finally {
        collecting.delete(found.file);
      }
    }
    if (isFinal(info.status)) {
      const errors = (info.errors?.data ?? []).slice(0, 5).map((e) => `- ${e.line ? `line ${e.line}: ` : ''}${e.message ?? e.code ?? 'no message'}`);
      return failed(
        [`Batch ${id} ${info.status}: no image was made and nothing is billed.`, ...errors, 'Next: fix what is named above and submit again (generate_batch with engine "batch_api" and force: true).'].join('\n'),
      );
    }
    const expires = info.expires_at ? ` It expires at ${new Date(info.expires_at * 1000).toISOString()}.` : '';
    return new ResultBuilder()
      .line(`Batch ${id} is ${info.status}: ${countsLine(info)}. Nothing was saved yet.${expires} Next: call batch_status again later (a few minutes for small batches, up to 24 h).`)
      .build({ out_dir: manifest.out_dir, warnings: [] });
  },
});
