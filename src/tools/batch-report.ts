/**
 * What generate_batch returns, sized for an agent whatever the job count: a text of at most
 * BATCH_TEXT_BUDGET bytes (counts, the first failures with their reasons, the files when there are
 * few, where everything else is listed), one contact sheet, and at most MAX_LINKS resource links
 * plus the manifest's. A dry run writes its whole plan (every job's exact request and files) to a
 * file under tmp/imagegen/ and links it, rather than sending it all.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CallToolResult, ResourceLink } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { batchFailed, jobName, summarise, type BatchSummary, type JobStatus, type UsageTotals } from '../core/batch.js';
import { formatUsd, roundUsd, type Estimate } from '../core/cost.js';
import { describePreview, previewBlock, type Preview } from '../io/preview.js';
import type { Workspace } from '../io/workspace.js';
import { clipText, imageFactsSchema, ResultBuilder, usageSchema, type ImageFactsOut } from '../results.js';
import { mimeTypeOf } from '../core/formats.js';
import { plannedFacts } from '../pipeline/plan.js';
import { fileLine } from '../pipeline/text.js';
import type { BatchJob } from './batch-jobs.js';

export const BATCH_TEXT_BUDGET = 4096;
/** Failures and files named one by one in the text, and files linked, before the rest is counted. */
export const MAX_LISTED = 20;
export const MAX_LINKS = 20;
const MAX_ERROR_BYTES = 240;
const PROMPT_CHARS = 200;

const STATUSES = ['done', 'failed', 'skipped', 'cancelled', 'planned'] as const;
type ResultStatus = (typeof STATUSES)[number];

const jobResultSchema = z.object({
  number: z.number().int(),
  line: z.number().int().optional(),
  label: z.string(),
  status: z.enum(STATUSES),
  model: z.string(),
  routing_note: z.string().optional(),
  prompt: z.string().describe(`First ${PROMPT_CHARS} characters`),
  images: z.array(imageFactsSchema),
  error: z.string().optional(),
  attempts: z.number().int(),
  usage: usageSchema.optional(),
});

export const batchResultSchema = z.object({
  dry_run: z.boolean(),
  out_dir: z.string(),
  manifest: z.string().optional(),
  plan: z.string().optional().describe('Dry runs: every job\'s exact request'),
  counts: z.object({
    jobs: z.number().int(),
    done: z.number().int(),
    failed: z.number().int(),
    skipped: z.number().int(),
    cancelled: z.number().int(),
  }),
  jobs: z.array(jobResultSchema),
  warnings: z.array(z.string()),
  usage: usageSchema.optional(),
  cost_usd: z.number().optional(),
  estimated_cost_usd: z.number().optional(),
});

type JobResult = z.infer<typeof jobResultSchema>;

/**
 * What the report reads of a job: a running batch's plan and outcome, or a job rebuilt from a
 * manifest (batch_status) alike. `ran.request` is the request as it ran (after any fallback of
 * the route), `ran.warnings` everything worth saying about the job.
 */
export interface ReportJob {
  plan: { number: number; line?: number | undefined; label: string };
  ran: { warnings: readonly string[]; request: { prompt: string; options: { model: string; outputFormat: string; routingNote?: string | undefined } } };
  status?: JobStatus | undefined;
  images: ImageFactsOut[];
  /** Absolute paths of every file of the job, for resource links. */
  links: string[];
  error?: string | undefined;
  attempts: number;
  usage?: Record<string, unknown> | undefined;
  costUsd?: number | undefined;
}

function jobResult(job: ReportJob, status: ResultStatus, images: ImageFactsOut[] = job.images): JobResult {
  const { plan } = job;
  // The request as it ran: after a fallback on the transparent route, the step that made the image.
  const ran = job.ran.request;
  const prompt = ran.prompt.replace(/\s+/g, ' ');
  const result: JobResult = {
    number: plan.number,
    label: plan.label,
    status,
    model: ran.options.model,
    prompt: prompt.length > PROMPT_CHARS ? `${prompt.slice(0, PROMPT_CHARS - 1)}…` : prompt,
    images,
    attempts: job.attempts,
  };
  if (plan.line !== undefined) result.line = plan.line;
  if (ran.options.routingNote) result.routing_note = ran.options.routingNote;
  if (job.error !== undefined) result.error = job.error;
  if (job.usage) result.usage = job.usage;
  return result;
}

/** Warnings shared by many jobs are said once, with the jobs they concern. */
export function collectWarnings(jobs: readonly Pick<ReportJob, 'plan' | 'ran'>[], extra: readonly string[]): string[] {
  const byText = new Map<string, number[]>();
  for (const job of jobs) {
    for (const w of job.ran.warnings) {
      const numbers = byText.get(w) ?? [];
      if (!numbers.includes(job.plan.number)) numbers.push(job.plan.number);
      byText.set(w, numbers);
    }
  }
  const all = [...byText].map(([text, numbers]) => {
    if (numbers.length === jobs.length && jobs.length > 1) return text;
    const shown = numbers.length > 10 ? `${numbers.slice(0, 10).join(', ')} and ${numbers.length - 10} more` : numbers.join(', ');
    return `${numbers.length === 1 ? 'job' : 'jobs'} ${shown}: ${text}`;
  });
  return [...all, ...extra];
}

/** "3 × gpt-image-2, 1 × gpt-image-2.5-flare" */
function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([value, n]) => `${n} × ${value}`).join(', ');
}

/** Lines added while the text stays within budget; the rest is said in `overflow`. */
function fitLines(fixed: readonly string[], optional: readonly string[], tail: readonly string[], overflow: (left: number) => string): string {
  const size = (lines: readonly string[]) => lines.reduce((s, l) => s + Buffer.byteLength(l) + 1, 0);
  const kept: string[] = [];
  const reserve = size(fixed) + size(tail) + 120;
  for (const [i, line] of optional.entries()) {
    if (reserve + size(kept) + Buffer.byteLength(line) + 1 > BATCH_TEXT_BUDGET) {
      kept.push(overflow(optional.length - i));
      break;
    }
    kept.push(line);
  }
  return clipText([...fixed, ...kept, ...tail].join('\n'), BATCH_TEXT_BUDGET);
}

function link(file: string, workspace: Workspace, mimeType: string): ResourceLink {
  return { type: 'resource_link', uri: pathToFileURL(file).href, name: workspace.relative(file), mimeType };
}

export interface BatchOutcome {
  jobs: readonly ReportJob[];
  manifestFile: string;
  usage: UsageTotals;
  warnings: string[];
  preview?: Preview | undefined;
}

/** The result of a batch that ran (some jobs may have failed or been cancelled). */
export function batchResult(outcome: BatchOutcome, workspace: Workspace): CallToolResult {
  const { jobs, manifestFile, usage, warnings, preview } = outcome;
  const counts = summarise(jobs.length, jobs.map((j) => j.status));
  const outDir = workspace.relative(path.dirname(manifestFile));
  const manifest = workspace.relative(manifestFile);
  const noImage = batchFailed(counts);
  const tallied = `${counts.done} done, ${counts.failed} failed, ${counts.skipped} skipped, ${counts.cancelled} cancelled`;
  const head = noImage
    ? `Failed: the batch made no image (${tallied}, of ${counts.jobs} jobs). Each job's error is in ${manifest}.`
    : `Batch of ${counts.jobs} job${counts.jobs === 1 ? '' : 's'}: ${tallied}. Files in ${outDir}/, every job in ${manifest}.`;

  const unfinished = jobs.filter((j) => j.status === 'failed' || j.status === 'cancelled');
  // A reason is said once; a job that failed the same way points to the first one.
  const firstWith = new Map<string, string>();
  const failures = unfinished.slice(0, MAX_LISTED).map((j) => {
    const reason = j.error ?? 'no reason recorded';
    const seen = firstWith.get(reason);
    if (!seen) firstWith.set(reason, jobName(j.plan));
    return `- ${jobName(j.plan)} ${j.status}: ${seen ? `the same as ${seen}` : clipText(reason, MAX_ERROR_BYTES)}`;
  });
  if (unfinished.length > MAX_LISTED) failures.push(`- … and ${unfinished.length - MAX_LISTED} more failed or cancelled jobs, each with its error in ${manifest}.`);

  const finished = jobs.filter((j) => j.status === 'done' || j.status === 'skipped');
  const images = finished.flatMap((j) => j.images.map((image) => ({ job: j, image })));
  const files =
    images.length <= MAX_LISTED
      ? images.map(({ job, image }) => `- ${jobName(job.plan)}${job.status === 'skipped' ? ' (already done)' : ''}: ${fileLine(image)}`)
      : [`${images.length} images saved in ${outDir}/ (named in ${manifest}).`];

  const tail: string[] = [];
  // Why a model other than the one asked made some images (the transparent route), each reason once.
  const notes = [...new Set(finished.map((j) => j.ran.request.options.routingNote).filter((n): n is string => n !== undefined))];
  for (const note of notes.slice(0, 3)) tail.push(`Model: ${clipText(note, 300)}`);
  const costs = jobs.map((j) => j.costUsd).filter((c): c is number => c !== undefined);
  const costUsd = costs.length > 0 ? roundUsd(costs.reduce((a, b) => a + b, 0)) : undefined;
  if (costUsd !== undefined) tail.push(`Cost: ${formatUsd(costUsd)} (from the API's usage${costs.length < counts.done ? `; ${counts.done - costs.length} job(s) had no price` : ''}).`);
  if (preview) tail.push(describePreview(preview).replace('numbered in the order listed above', 'each numbered with its job'));
  for (const w of warnings.slice(0, 5)) tail.push(`Warning: ${clipText(w, 300)}`);
  if (warnings.length > 5) tail.push(`Warning: ${warnings.length - 5} more warnings are in ${manifest}.`);
  if (unfinished.length > 0) tail.push('Next: repeat the same call with resume: true to run the failed and cancelled jobs again (finished jobs are skipped).');
  else if (preview) tail.push('Next: check the contact sheet; to change an image, call edit with its path.');

  const text = fitLines([head, ...(failures.length ? [`Not made (${unfinished.length}):`, ...failures] : [])], files, tail, (left) => `- … and ${left} more in ${manifest}.`);
  const out = new ResultBuilder().line(text);
  if (preview) out.block(previewBlock(preview));
  const linked = finished.flatMap((j) => j.links.map((file) => ({ file, format: j.images[0]?.format ?? j.ran.request.options.outputFormat })));
  for (const { file, format } of linked.slice(0, MAX_LINKS)) out.block(link(file, workspace, mimeTypeOf(format)));
  out.block(link(manifestFile, workspace, 'application/json'));

  const structured: z.infer<typeof batchResultSchema> = {
    dry_run: false,
    out_dir: outDir,
    manifest,
    counts,
    jobs: jobs.map((job) => jobResult(job, job.status ?? 'cancelled')),
    warnings,
  };
  if (Object.keys(usage).length > 0) structured.usage = usage as z.infer<typeof usageSchema>;
  if (costUsd !== undefined) structured.cost_usd = costUsd;
  const result = out.build(structured);
  if (noImage) result.isError = true;
  return result;
}

export interface DryRunPlan {
  jobs: readonly BatchJob[];
  outDir: string;
  concurrency: number;
  estimates: readonly Estimate[];
  /** The plan file under tmp/imagegen/ (absolute), already written; undefined when it could not be. */
  planFile?: string | undefined;
  planError?: string | undefined;
}

/** The dry run's text: the plan summarised; every exact request is in the plan file. */
export function batchDryRunResult(plan: DryRunPlan, workspace: Workspace): CallToolResult {
  const { jobs, estimates } = plan;
  const running = jobs.filter((j) => !j.skip);
  const skipped = jobs.length - running.length;
  const options = running.map((j) => j.call.request.options);
  const planned = running.flatMap((j) => plannedFacts(j.call, workspace));
  const lines = [
    `Dry run: nothing was sent or saved. ${running.length} of ${jobs.length} jobs would run (one POST /v1/images/generations each, ${plan.concurrency} at a time)${
      skipped ? `; ${skipped} already done would be skipped` : ''
    }, saving ${planned.length} image${planned.length === 1 ? '' : 's'} in ${plan.outDir}/ with its manifest.json.`,
  ];
  if (running.length > 0) {
    lines.push(`Models: ${tally(options.map((o) => o.model))}. Sizes: ${tally(options.map((o) => o.size))}. Quality: ${tally(options.map((o) => o.quality))}. Formats: ${tally(options.map((o) => o.outputFormat))}.`);
  }
  const unpriced = estimates.flatMap((e) => (e.usd === undefined ? [e.reason] : []));
  const estimated = unpriced.length === 0 ? roundUsd(estimates.reduce((sum, e) => sum + (e.usd ?? 0), 0)) : undefined;
  const tail = [
    estimated !== undefined
      ? `Estimated cost: ${formatUsd(estimated)} (published output-token counts × price).`
      : `No cost estimate: ${unpriced.length} of ${estimates.length} jobs have no published figure (${unpriced[0]}); the real cost comes from usage after the calls.`,
    plan.planFile
      ? `Full plan (every job's exact request and files): ${workspace.relative(plan.planFile)}`
      : `The full plan could not be written (${plan.planError ?? 'unknown error'}); run with fewer jobs to see each request.`,
  ];
  const views = jobs.map((job) => plannedView(job, workspace));
  const warnings = collectWarnings(views, []);
  for (const w of warnings.slice(0, 5)) tail.push(`Warning: ${clipText(w, 300)}`);
  tail.push('Next: call again without dry_run to run it.');
  const perJob = jobs.map((job) => {
    if (job.skip) return `- ${jobName(job.plan)}: already done, skipped`;
    const o = job.call.request.options;
    const names = plannedFacts(job.call, workspace).map((f) => path.basename(f.path)).join(', ');
    const prompt = clipText(job.plan.request.userPrompt.replace(/\s+/g, ' '), 80);
    return `- ${jobName(job.plan)}: ${o.model} ${o.size} ${o.quality}${o.n > 1 ? ` n=${o.n}` : ''} → ${names}; "${prompt}"`;
  });
  const text = fitLines(lines, perJob, tail, (left) => `- … and ${left} more jobs in the plan file.`);
  const out = new ResultBuilder().line(text);
  if (plan.planFile) out.block(link(plan.planFile, workspace, 'application/json'));
  const counts: BatchSummary = { jobs: jobs.length, done: 0, failed: 0, skipped, cancelled: 0 };
  const structured: z.infer<typeof batchResultSchema> = {
    dry_run: true,
    out_dir: plan.outDir,
    counts,
    jobs: views.map((view, i) => jobResult(view, jobs[i]!.skip ? 'skipped' : 'planned')),
    warnings,
  };
  if (plan.planFile) structured.plan = workspace.relative(plan.planFile);
  if (estimated !== undefined) structured.estimated_cost_usd = estimated;
  return out.build(structured);
}

/** A job as a dry run reports it: its plan, and the files it keeps or would write. */
function plannedView(job: BatchJob, workspace: Workspace): ReportJob {
  const images = [...job.kept.values(), ...(job.skip ? [] : plannedFacts(job.call, workspace))];
  return { plan: job.plan, ran: { request: job.call.request, warnings: job.call.warnings }, images, links: [], attempts: 0 };
}
