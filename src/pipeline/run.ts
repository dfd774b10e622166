/**
 * The pipeline, one direction: plan → spend → save → report. `makeImages` is spend and save taken
 * through the transparent route, for a single call and a batch job alike; `runImage` is the whole
 * of a generate or edit call once its plan is made.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { lifecycleOf } from '../io/lifecycle.js';
import { ImageApiError, type SvgUsage, type Usage } from '../io/openai.js';
import { LocalWriteError } from '../io/receive.js';
import type { Workspace } from '../io/workspace.js';
import { failed, refused } from '../results.js';
import { nativeRefusalHint } from './alpha.js';
import { startHeartbeat, waitingFor, type RunContext } from './context.js';
import type { ImagePlan } from './plan.js';
import { dryRunResult, madeResult } from './report.js';
import { RouteRefusal, runThroughRoute } from './route.js';
import { saveReceived, type SavedImage } from './save.js';
import { guardRefusal, receive, spendingRefusal, type SpendOptions } from './spend.js';

/** What spend and save produced for a plan. */
export interface Made {
  /** The plan of the step that made the images (after a fallback of the route, not the one given). */
  plan: ImagePlan;
  images: SavedImage[];
  /** What an SVG's check or a GIF's frames say. */
  lines: string[];
  attempts: number;
  durationMs: number;
  usage?: Usage;
  svgUsage?: SvgUsage;
  /** Everything worth saying, in order: the plan's, the answer's, the save's, the route's. */
  warnings: string[];
}

export interface MakeOptions extends SpendOptions {
  /** How the log names the request (the endpoint, or a batch job). */
  name: string;
  /** The guard for a fallback step of the route. */
  spendingRefusal(plan: ImagePlan): string | undefined;
}

/** Spend and save, through the transparent route. Throws what the failing step threw (see spend and route). */
export async function makeImages(plan: ImagePlan, ctx: RunContext, workspace: Workspace, options: MakeOptions): Promise<Made> {
  const spendOptions: SpendOptions = {
    signal: options.signal,
    onRetry: ({ attempt, delayMs, reason }) => ctx.log('warning', `${options.name} attempt ${attempt} failed; retrying in ${delayMs} ms: ${reason}`),
    ...(options.onAnswered ? { onAnswered: options.onAnswered } : {}),
  };
  const routed = await runThroughRoute(
    plan,
    async (step) => {
      const received = await receive(step, ctx.api, workspace, spendOptions);
      return { received, saved: await saveReceived(step, received, workspace) };
    },
    { spendingRefusal: options.spendingRefusal, log: ctx.log, lifecycle: lifecycleOf(ctx.api), now: ctx.config.now() },
  );
  const { received, saved } = routed.outcome;
  const made: Made = {
    plan: routed.plan,
    images: saved.images,
    lines: saved.lines,
    attempts: received.attempts,
    durationMs: received.durationMs,
    warnings: [...routed.plan.warnings, ...received.warnings, ...saved.warnings, ...routed.warnings],
  };
  if (received.usage) made.usage = received.usage;
  if (received.svgUsage) made.svgUsage = received.svgUsage;
  return made;
}

/** A generate or edit call from its plan: a dry run's result, a refusal, a failure, or the saved images. */
export async function runImage(plan: ImagePlan, ctx: RunContext): Promise<CallToolResult> {
  const workspace = await ctx.workspace();
  if (plan.dryRun) return dryRunResult(plan, workspace, ctx);
  const refusal = guardRefusal(plan, ctx);
  if (refusal) return refused(refusal);
  const options = plan.request.options;
  const stopHeartbeat = startHeartbeat(ctx, waitingFor(options.model));
  let made: Made;
  try {
    made = await makeImages(plan, ctx, workspace, { signal: ctx.signal, name: plan.endpoint, spendingRefusal: (next) => spendingRefusal(next, ctx) });
  } catch (error) {
    if (error instanceof RouteRefusal) return refused(error.message);
    if (error instanceof ImageApiError) {
      ctx.log('error', `${plan.endpoint} ${options.model} failed after ${error.attempts} attempt(s): ${error.failure.kind} ${error.failure.status ?? ''}`);
      return failed(error.message + nativeRefusalHint(options, error.failure));
    }
    if (error instanceof LocalWriteError) return failed(`${error.message}. Check the disk and the output folder's permissions, then try again.`);
    throw error;
  } finally {
    stopHeartbeat();
  }
  return madeResult(made, ctx, workspace);
}
