/**
 * The `generate_batch` tool: many distinct images in one call. Every job is checked and its files
 * planned before anything is sent; then a bounded pool runs them with the server's retry policy,
 * each image saved as its job finishes, a manifest rewritten as jobs finish, and progress sent.
 * `resume` finishes an interrupted batch without redoing finished jobs.
 */

import path from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MANIFEST_NAME, planBatch } from '../core/batch.js';
import { DEFAULT_DOWNSCALE_SUFFIX, TMP_DIR } from '../core/paths.js';
import { checkSpendingCap, projectSpend, spendingCap } from '../core/cost.js';
import { lifecycleOf } from '../io/lifecycle.js';
import type { Workspace } from '../io/workspace.js';
import { problemsResult, refused } from '../results.js';
import { batchDryRunResult, batchResultSchema } from './batch-report.js';
import { defineTool, type ToolContext } from './context.js';
import { dryRunPayload, ENDPOINT_PATHS, estimatePlan, KEYED_SOURCE_SUFFIX, plannedFacts, type ImagePlan } from '../pipeline/plan.js';
import { NO_API_KEY } from '../pipeline/spend.js';
import { SAME_RULES } from './schema.js';
import { batchPrice, MAX_BATCH_API_JOBS } from '../core/batch-api.js';
import { batchApiProblems, submitBatchApi } from './batch-api-submit.js';
import { checkBatchDefaults, DEFAULT_CONCURRENCY, generateBatchArguments, type GenerateBatchArguments } from './batch-schema.js';
import { argumentRefusal } from './arguments.js';
import { CASE_INSENSITIVE, checkOutDir, outDirPath, prepareJobs, readJobSources, refusal, type BatchJob } from './batch-jobs.js';
import { runBatch } from './batch-run.js';

/** Where a dry run's whole plan goes: one file per out_dir, replaced by the next dry run of it. */
function planFileFor(outDir: string): string {
  const slug = outDir.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(-80) || 'batch';
  return path.join(TMP_DIR, `batch-plan-${slug}.json`);
}

/** The dry run: every job's exact request and files written to the plan file, a summary returned. */
async function dryRunBatch(jobs: BatchJob[], args: GenerateBatchArguments, workspace: Workspace): Promise<CallToolResult> {
  const estimates = jobs.filter((j) => !j.skip).map((j) => estimatePlan(j.call));
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
      model: job.call.request.options.model,
      ...(job.call.request.options.routingNote ? { routing_note: job.call.request.options.routingNote } : {}),
      files: job.skip ? [...job.kept.values()].map((f) => f.path) : [...job.kept.values(), ...plannedFacts(job.call, workspace)].map((f) => f.path),
      ...(job.skip ? {} : { request: { endpoint: ENDPOINT_PATHS.generations, payload: dryRunPayload(job.call) } }),
      ...(job.call.warnings.length ? { warnings: job.call.warnings } : {}),
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
    // Listed as text (tools/list has no bytes to spare), checked here as the image options' values.
    const defaults = checkBatchDefaults(args);
    if (!defaults.ok) return argumentRefusal(defaults.problems.map((p) => p.message));
    const workspace = await ctx.workspace();
    const outDir = outDirPath(args.out_dir);
    if (!outDir.ok) return refusal(outDir.problems);
    args = { ...args, out_dir: outDir.value };
    const sources = await readJobSources(args, workspace);
    if (!sources.ok) return refusal(sources.problems);
    const downscaleSuffix = args.downscale_max_dim ? (args.downscale_suffix ?? DEFAULT_DOWNSCALE_SUFFIX) : undefined;
    // Read-only checks of out_dir, started before the jobs are planned so their first look-ups run
    // meanwhile, and read once planning passes (the empty catch: a failure before then is not unhandled).
    const outDirChecked = checkOutDir(args, workspace);
    outDirChecked.catch(() => {});
    const plan = planBatch({
      jobs: sources.value.jobs,
      given: sources.value.given,
      defaults: defaults.value,
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
    const folder = await outDirChecked;
    if (!folder.ok) return refusal(folder.problems);
    const prepared = await prepareJobs(plan.jobs, args, workspace, folder.value);
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
          message: NO_API_KEY.replace('check the request', 'check the batch'),
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
  const planned = jobs.filter((j) => !j.skip).map((j) => dearestStep(j.call));
  const projection = projectSpend(planned);
  // The Batch API bills half; the guard weighs what will be billed.
  if (args.engine === 'batch_api') projection.usd = batchPrice(projection.usd);
  return checkSpendingCap(projection, spendingCap(ctx.config.costCap ?? {}, args.max_cost_usd), 'This batch');
}

/**
 * A routed job may end on any step of its transparent route, and nothing holds a batch's
 * fallbacks back once it runs: the guard weighs each job at its dearest step.
 */
function dearestStep(call: ImagePlan): { estimate: ReturnType<typeof estimatePlan>; images: number } {
  const steps = [call, ...(call.request.fallbacks ?? []).map((f) => ({ ...call, request: f.request }))];
  const weighed = steps.map((step) => ({ estimate: estimatePlan(step), images: step.request.options.n }));
  return weighed.reduce((dear, step) => (projectSpend([step]).usd > projectSpend([dear]).usd ? step : dear));
}
