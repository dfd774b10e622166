/**
 * The transparency step of an image run, between the API's answer and the result: a chroma_key
 * image is keyed out before it is saved (the API's original kept beside it), and every transparent
 * result is read back from its saved file to show it has an alpha channel and transparent pixels.
 * Nothing silently ends up opaque: when it does, the result says so.
 */
import type { ApiFailure } from '../core/api-errors.js';
import { parseHexColor } from '../core/chroma-key.js';
import { lookupModel, replacementOf, shutdownWarning } from '../core/models.js';
import type { ResolvedOptions, ResolvedRequest } from '../core/request.js';
import {
  chromaKeyNote,
  keyedSourcePath,
  percent,
  routeCapRefusal,
  routeFailurePrefix,
  routeNote,
  stepName,
  type RouteSkip,
  type RouteStepName,
} from '../core/transparency.js';
import { alphaFacts, cutOut, type Cutout } from '../io/cutout.js';
import type { ModelLifecycle } from '../io/lifecycle.js';
import { ImageApiError } from '../io/openai.js';
import type { Workspace } from '../io/workspace.js';
import type { ImageFactsOut } from '../results.js';
import type { LogLevel } from './context.js';
import type { ImageRun, ImageRunOutcome } from './image-run.js';

type AlphaOut = NonNullable<ImageFactsOut['alpha']>;

/** chroma_key only: the API's image with its key colour turned into alpha (encoded only when keyed). */
export async function keyOutApiImage(bytes: Buffer, options: ResolvedOptions): Promise<Cutout | undefined> {
  const format = options.outputFormat;
  // chroma_key is refused for svg and gif by the normaliser; jpeg has no alpha.
  if (!options.keyColor || (format !== 'png' && format !== 'webp')) return undefined;
  return cutOut(bytes, {
    key: parseHexColor(options.keyColor),
    format,
    quality: options.outputCompression,
  });
}

export interface FinishedAlpha {
  alpha: AlphaOut;
  /** Extra files written (the keyed image's opaque source). */
  files: string[];
  /** Said in the result when the saved file is not transparent after all. */
  problem?: string;
}

/** After saving: keeps the API's original beside a keyed image, then checks the saved file's alpha. */
export async function finishTransparentImage(
  saved: { path: string; apiBytes?: Buffer | undefined; cutout?: Cutout | undefined },
  options: ResolvedOptions,
  workspace: Workspace,
  force: boolean,
): Promise<FinishedAlpha> {
  const strategy = options.transparency ?? 'route';
  const files: string[] = [];
  const alpha: Partial<AlphaOut> = {};
  const { cutout } = saved;
  if (cutout) {
    Object.assign(alpha, { key_color: cutout.keyColor, keyed: cutout.keyed, partial_share: cutout.partialShare });
    if (cutout.keyed && saved.apiBytes) {
      // The cutout is re-encoded; the API's bytes (and their provenance metadata) stay beside it.
      const source = await workspace.saveFile(keyedSourcePath(saved.path), saved.apiBytes, { force });
      alpha.source_path = workspace.relative(source.path);
      files.push(source.path);
    }
  }
  const facts = await alphaFacts(saved.path);
  const out: AlphaOut = { has_alpha: facts.hasAlpha, transparent_share: facts.transparentShare, ...alpha };
  const name = workspace.relative(saved.path);
  let problem: string | undefined;
  if (cutout && !cutout.keyed) {
    problem =
      `${name} is NOT transparent: almost nothing in it matched the key colour ${cutout.keyColor} (${percent(cutout.transparentShare)} of the pixels), ` +
      `so the model did not draw on a flat ${cutout.keyColor} background and the opaque original was saved as it came. ` +
      `Try again (say "flat ${cutout.keyColor} background" in the prompt), pick another key_color, or run remove_background on it with its actual background colour.`;
  } else if (!facts.hasAlpha || facts.transparentShare === 0) {
    problem =
      `${name} is NOT transparent: it has ${facts.hasAlpha ? 'an alpha channel but no transparent pixel' : 'no alpha channel'} although a transparent background was asked (transparency "${strategy}"). ` +
      `Check it before use; transparency "chroma_key" makes the alpha locally.`;
  }
  return problem ? { alpha: out, files, problem } : { alpha: out, files };
}

/** The alpha facts of a saved image, for the result's file line. */
export function describeAlpha(alpha: AlphaOut): string {
  if (!alpha.has_alpha || alpha.transparent_share === 0) return 'NOT transparent';
  const parts = [`${percent(alpha.transparent_share)} transparent`];
  if (alpha.partial_share !== undefined) parts.push(`${percent(alpha.partial_share)} soft edge`);
  if (alpha.key_color) parts.push(`key ${alpha.key_color}`);
  if (alpha.source_path) parts.push(`original ${alpha.source_path}`);
  return parts.join(', ');
}

/** A line saying how the alpha is made, for the result's text (none when the routing note says it). */
export function strategyLine(options: ResolvedOptions): string | undefined {
  if (options.routingNote) return undefined;
  if (options.transparency === 'chroma_key') return chromaKeyNote(options.model, options.keyColor ?? '');
  if (options.transparency === 'native') return `Transparency native: background "transparent" was sent to ${options.model} as it is.`;
  return undefined;
}

/** The result's `transparency` field. */
export function transparencyFacts(options: ResolvedOptions): { strategy: NonNullable<ResolvedOptions['transparency']>; key_color?: string } | undefined {
  if (!options.transparency) return undefined;
  return options.keyColor ? { strategy: options.transparency, key_color: options.keyColor } : { strategy: options.transparency };
}

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
  spendingRefusal(run: ImageRun): string | undefined;
  log(level: LogLevel, message: string): void;
  /** Model shut-down dates from the API: each model called is looked up on its first call. */
  lifecycle?: ModelLifecycle | undefined;
  now: Date;
}

const stepOf = (request: ResolvedRequest): RouteStepName => ({
  model: request.options.model,
  strategy: request.options.transparency ?? 'route',
  keyColor: request.options.keyColor,
});

/**
 * Runs a request through its transparent route, for a single call and a batch job alike: the
 * request as resolved, then, when a step answers 404 (model not found) or 400 "transparent
 * background is not supported", the next step once, each saying in its routing note which model
 * made the alpha and why. A step the spending cap holds back, or a failure after a fallback,
 * names every step. Requests that are not routed are simply performed. Each model called is
 * looked up for its shut-down date (not waited for), and a date read in time adds its warning.
 */
export async function runThroughRoute(
  run: ImageRun,
  perform: (run: ImageRun) => Promise<ImageRunOutcome>,
  hooks: RouteHooks,
): Promise<{ run: ImageRun; outcome: ImageRunOutcome }> {
  const fallbacks = run.request.fallbacks ?? [];
  const skipped: RouteSkip[] = [...(run.request.skipped ?? [])];
  let current = run;
  for (let step = 0; ; step++) {
    const lookup = hooks.lifecycle?.observe(current.request.options.model);
    try {
      const outcome = await perform(current);
      if (lookup) await lifecycleWarnings(current, lookup, hooks);
      return { run: current, outcome };
    } catch (error) {
      if (!(error instanceof ImageApiError)) throw error;
      const next = fallbacks[step];
      const why = passOn(error.failure);
      if (!next || !why) {
        if (step === 0) throw error;
        throw new ImageApiError(routeFailurePrefix(stepOf(current.request), skipped) + error.message, error.failure, error.attempts);
      }
      skipped.push({ model: current.request.options.model, why } as RouteSkip);
      const request = next.request;
      request.options.routingNote = routeNote(stepOf(request), skipped);
      const warnings = [...current.warnings, ...next.warnings.filter((w) => !current.warnings.includes(w))];
      const candidate: ImageRun = { ...current, request, warnings };
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
async function lifecycleWarnings(run: ImageRun, lookup: Promise<void>, hooks: RouteHooks): Promise<void> {
  await Promise.race([lookup, new Promise((resolve) => setImmediate(resolve))]);
  const { model, routingNote } = run.request.options;
  if (routingNote || !hooks.lifecycle?.known.has(model)) return;
  const found = lookupModel(model, hooks.now, hooks.lifecycle.known);
  const info = found.kind === 'known' || found.kind === 'retired' ? found.info : undefined;
  let warning: string | undefined;
  if (found.kind === 'retired') {
    warning = `The API says ${model} was shut down on ${found.shutDown}: this image was made and kept, but later calls naming ${model} will be refused. Use ${replacementOf(model, info)} instead.`;
  } else if (found.kind === 'known' || found.kind === 'unknown') {
    warning = shutdownWarning(model, found.shutDown, info, hooks.now);
  }
  if (warning && !run.warnings.includes(warning)) run.warnings.push(warning);
}

/** What to do when the model refused native transparency (a 400 about the background). */
export function nativeRefusalHint(options: ResolvedOptions, failure: ApiFailure): string {
  if (options.transparency !== 'native' || failure.kind !== 'http' || failure.status !== 400) return '';
  const aboutBackground = failure.param === 'background' || /transparen/i.test(failure.message ?? '');
  if (!aboutBackground) return '';
  return ` ${options.model} refused a native transparent background. Use transparency "chroma_key" to keep ${options.model} (it draws on a flat key colour that the server turns into alpha), or leave model unset with transparency "route".`;
}
