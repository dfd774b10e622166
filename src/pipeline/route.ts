/**
 * The transparent route around the spend and save steps: a routed request is tried on each step of
 * its route in turn when a model is missing or refuses transparency. Also the lifecycle lookup of
 * each model called. A single call and a batch job take the same route.
 */
import type { ApiFailure } from '../core/api-errors.js';
import { lookupModel, replacementOf, shutdownWarning } from '../core/models.js';
import type { ResolvedRequest } from '../core/request.js';
import { routeCapRefusal, routeFailurePrefix, routeNote, stepName, type RouteSkip, type RouteStepName } from '../core/transparency.js';
import type { ModelLifecycle } from '../io/lifecycle.js';
import { ImageApiError } from '../io/openai.js';
import type { LogLevel } from './context.js';
import type { ImagePlan } from './plan.js';

/** Why a step of the transparent route passes the request on, or undefined when it must not. */
export function passOn(failure: ApiFailure): RouteSkip['why'] | undefined {
  if (failure.kind !== 'http') return undefined;
  if (failure.status === 404 || failure.code === 'model_not_found') return 'not_found';
  // The model refused transparency itself (not jpeg output, which no model makes transparent).
  const text = failure.message ?? '';
  if (failure.status === 400 && /transparent background is not supported/i.test(text) && !/jpe?g/i.test(text)) return 'unsupported';
  return undefined;
}

/** A fallback step the server would not start (the spending cap): the call fails with this text. */
export class RouteRefusal extends Error {}

export interface RouteHooks {
  /** The spending guard for a fallback step: its refusal, or undefined to go ahead. */
  spendingRefusal(plan: ImagePlan): string | undefined;
  log(level: LogLevel, message: string): void;
  /** Model shut-down dates from the API: each model called is looked up on its first call. */
  lifecycle?: ModelLifecycle | undefined;
  now: Date;
}

export interface Routed<T> {
  /** The plan of the step that answered (after any fallback, its routing note says why). */
  plan: ImagePlan;
  outcome: T;
  /** What the route adds: a model's shut-down date read meanwhile. */
  warnings: string[];
}

const stepOf = (request: ResolvedRequest): RouteStepName => ({
  model: request.options.model,
  strategy: request.options.transparency ?? 'route',
  keyColor: request.options.keyColor,
});

/**
 * Runs a plan through its transparent route: the request as resolved, then, when a step answers
 * 404 (model not found) or 400 "transparent background is not supported", the next step once,
 * each with a routing note saying which model made the alpha and why. A step the spending cap
 * holds back, or a failure after a fallback, names every step. Plans that are not routed are
 * simply performed. Each model called is looked up for its shut-down date (not waited for), and a
 * date read in time adds its warning.
 */
export async function runThroughRoute<T>(plan: ImagePlan, perform: (plan: ImagePlan) => Promise<T>, hooks: RouteHooks): Promise<Routed<T>> {
  const fallbacks = plan.request.fallbacks ?? [];
  const skipped: RouteSkip[] = [...(plan.request.skipped ?? [])];
  let current = plan;
  for (let step = 0; ; step++) {
    const lookup = hooks.lifecycle?.observe(current.request.options.model);
    try {
      const outcome = await perform(current);
      const warnings = lookup ? await lifecycleWarnings(current, lookup, hooks) : [];
      return { plan: current, outcome, warnings };
    } catch (error) {
      if (!(error instanceof ImageApiError)) throw error;
      const next = fallbacks[step];
      const why = passOn(error.failure);
      if (!next || !why) {
        if (step === 0) throw error;
        throw new ImageApiError(routeFailurePrefix(stepOf(current.request), skipped) + error.message, error.failure, error.attempts);
      }
      skipped.push({ model: current.request.options.model, why } as RouteSkip);
      const request: ResolvedRequest = { ...next.request, options: { ...next.request.options, routingNote: routeNote(stepOf(next.request), skipped) } };
      const warnings = [...current.warnings, ...next.warnings.filter((w) => !current.warnings.includes(w))];
      const candidate: ImagePlan = { ...current, request, warnings };
      const refusal = hooks.spendingRefusal(candidate);
      if (refusal) throw new RouteRefusal(routeCapRefusal(stepOf(request), skipped, refusal));
      hooks.log('warning', `${current.request.options.model} answered ${error.failure.kind === 'http' ? error.failure.status : ''}; redoing the request with ${stepName(stepOf(request))}`);
      current = candidate;
    }
  }
}

/**
 * After a model's first call: its shut-down date, if the lookup has already answered (the image
 * is never held back for it). A date that has passed keeps the image already paid for, with a
 * warning; one within 30 days warns. Routed targets are the route's business, not the user's.
 */
async function lifecycleWarnings(plan: ImagePlan, lookup: Promise<void>, hooks: RouteHooks): Promise<string[]> {
  await Promise.race([lookup, new Promise((resolve) => setImmediate(resolve))]);
  const { model, routingNote } = plan.request.options;
  if (routingNote || !hooks.lifecycle?.known.has(model)) return [];
  const found = lookupModel(model, hooks.now, hooks.lifecycle.known);
  const info = found.kind === 'known' || found.kind === 'retired' ? found.info : undefined;
  let warning: string | undefined;
  if (found.kind === 'retired') {
    warning = `The API says ${model} was shut down on ${found.shutDown}: this image was made and kept, but later calls naming ${model} will be refused. Use ${replacementOf(model, info)} instead.`;
  } else if (found.kind === 'known' || found.kind === 'unknown') {
    warning = shutdownWarning(model, found.shutDown, info, hooks.now);
  }
  return warning && !plan.warnings.includes(warning) ? [warning] : [];
}
