/**
 * One normaliser for every tool: raw arguments in, a fully resolved request out (defaults
 * applied, routing decided and explained) or every problem found, each with its fix.
 * The server refuses what it knows the API would refuse, before anything is spent. The options
 * of each step are checked by options.ts; a transparent request with no model is resolved on
 * every step of its route here.
 */
import { DEFAULT_MODEL, lookupModel, routeModels, type ApiShutdownDates, type Complexity, type InputFidelity, type Quality } from './models.js';
import { resolveOptions } from './options.js';
import type { OutputFormat } from './paths.js';
import type { Outcome, Problem } from './problems.js';
import { VECTOR_MOTION_MODELS, type SvgParameter } from './vector-motion.js';
import { MAX_PROMPT_CHARS, buildPrompt, givenFields, isUseCase, type AugmentationFields } from './prompt.js';
import {
  DEFAULT_TRANSPARENCY,
  routeNote,
  withKeyColorInstruction,
  type RouteSkip,
  type TransparencyStrategy,
} from './transparency.js';

export { DEFAULTS, currentRouteTarget } from './options.js';

export type Background = 'transparent' | 'opaque' | 'auto';
export type Moderation = 'auto' | 'low';
export type ToolKind = 'generate' | 'edit';

/**
 * Image options as tools and batch lines take them (snake_case, like the CLI's flags), after their
 * schemas checked them (tools/schema.ts `imageOptionValues`): enum values arrive as the enum, n and
 * output_compression as whole numbers in range, so the normaliser checks only what depends on
 * other values, the model or the registry.
 */
export interface RawImageOptions {
  model?: string | undefined;
  n?: number | undefined;
  size?: string | undefined;
  quality?: Quality | undefined;
  background?: Background | undefined;
  /** jpg is jpeg's other spelling. */
  output_format?: OutputFormat | 'jpg' | undefined;
  output_compression?: number | undefined;
  moderation?: Moderation | undefined;
  input_fidelity?: InputFidelity | undefined;
  transparency?: TransparencyStrategy | undefined;
  key_color?: string | undefined;
  complexity?: Complexity | undefined;
  /** svg output: the SVG author model and its reasoning effort (sent only when given). */
  svg_model?: string | undefined;
  svg_effort?: string | undefined;
  /** gif output. */
  frame_count?: number | undefined;
  frame_duration_ms?: number | undefined;
  /** edit: the mask argument (a gif takes none). */
  mask?: string | boolean | undefined;
}

export interface RawRequest extends RawImageOptions, AugmentationFields {
  prompt?: string | undefined;
  augment?: boolean | undefined;
}

export interface ResolvedOptions {
  model: string;
  n: number;
  size: string;
  quality: Quality;
  background?: Background;
  outputFormat: OutputFormat;
  outputCompression?: number;
  moderation?: Moderation;
  inputFidelity?: InputFidelity;
  complexity?: Complexity;
  /** One sentence saying why the model (or the way transparency is made) differs from what was asked, when it does. */
  routingNote?: string;
  /** Set when the output is to be transparent: how the alpha is made. */
  transparency?: TransparencyStrategy;
  /** chroma_key only: the flat colour asked of the model, turned into alpha after (`#rrggbb`). */
  keyColor?: string;
  /** svg only, when svg_model or svg_effort was given: the API's `svg` object. */
  svg?: SvgParameter;
  /** gif only: as sent. */
  frameCount?: number;
  frameDurationMs?: number;
}

export interface ResolvedRequest {
  options: ResolvedOptions;
  /** The prompt as the user wrote it. */
  userPrompt: string;
  /** The prompt sent to the API (augmented unless augmentation was off or had nothing to add). */
  prompt: string;
  /**
   * Routed transparent requests only: the next steps of the transparent route, in order (the next
   * targets, then chroma_key on the default model), for when a step answers 404 (model not found)
   * or 400 "transparent background is not supported". Their routing notes are written when they run.
   */
  fallbacks?: RouteFallback[];
  /** Routed transparent requests only: route targets passed over before this one (shut down). */
  skipped?: RouteSkip[];
}

export interface RouteFallback {
  request: ResolvedRequest;
  /** Warnings of this step that the first step did not have. */
  warnings: string[];
}

export interface ResolveContext {
  tool: ToolKind;
  now: Date;
  /** The server-wide default strategy (IMAGEGEN_TRANSPARENCY); `route` when unset. */
  transparency?: TransparencyStrategy | undefined;
  /** Shut-down dates read from the API (GET /v1/models/{id}); they win over the registry's. */
  shutdownDates?: ApiShutdownDates | undefined;
  /** IMAGEGEN_TRANSPARENT_MODELS: replaces the registry's dated transparent route. */
  transparentModels?: readonly string[] | undefined;
  /** Internal: this resolution is one step of the transparent route, its model chosen by the route. */
  routeStep?: boolean | undefined;
}

function resolvePrompt(raw: RawRequest, problems: Problem[], warnings: string[]): { userPrompt: string; prompt: string } {
  const userPrompt = raw.prompt ?? '';
  if (userPrompt.trim() === '') {
    problems.push({ field: 'prompt', message: 'prompt is empty: describe the image to make (or give prompt_file).' });
    return { userPrompt, prompt: userPrompt };
  }
  const fields = givenFields(raw);
  // Stays here: edit and generate_batch list use_case as text (its list of slugs is said once, in generate's schema).
  if (fields.use_case && !isUseCase(fields.use_case)) {
    problems.push({
      field: 'use_case',
      message: `use_case "${fields.use_case}" is not in the taxonomy. Use a slug such as photorealistic-natural, product-mockup, ui-mockup, logo-brand or precise-object-edit, or leave it unset.`,
    });
  }
  let prompt = userPrompt;
  if (raw.augment === false) {
    const ignored = Object.keys(fields);
    if (ignored.length > 0) warnings.push(`augment is false, so these fields were not used: ${ignored.join(', ')}.`);
  } else {
    prompt = buildPrompt(userPrompt, fields);
  }
  if (prompt.length > MAX_PROMPT_CHARS) {
    problems.push({
      field: 'prompt',
      message: `The prompt is ${prompt.length.toLocaleString('en-US')} characters (with its fields); the limit is ${MAX_PROMPT_CHARS.toLocaleString('en-US')}. Shorten it.`,
    });
  }
  return { userPrompt, prompt };
}

export function resolveRequest(raw: RawRequest, ctx: ResolveContext): Outcome<ResolvedRequest> {
  return routed(raw, ctx) ? resolveRoute(raw, ctx) : resolveOne(raw, ctx);
}

/** A transparent request with no model, made the `route` way. */
function routed(raw: RawRequest, ctx: ResolveContext): boolean {
  if (raw.model?.trim() || ctx.routeStep) return false;
  const explicit = raw.transparency;
  const wanted = raw.background === 'transparent' || (raw.background === undefined && explicit !== undefined);
  return wanted && (explicit ?? ctx.transparency ?? DEFAULT_TRANSPARENCY) === 'route';
}

/**
 * The transparent route: each target still running today (in the route's order), then chroma_key
 * on the default model. The first step decides what is refused; later steps that could not take
 * the request are left out of the chain.
 */
function resolveRoute(raw: RawRequest, ctx: ResolveContext): Outcome<ResolvedRequest> {
  const skipped: RouteSkip[] = [];
  const steps: Array<{ out: Outcome<ResolvedRequest>; chromaKey: boolean }> = [];
  const stepCtx: ResolveContext = { ...ctx, routeStep: true };
  const vectorMotion = raw.output_format === 'svg' || raw.output_format === 'gif';
  for (const id of routeModels(ctx.now, ctx.transparentModels)) {
    // svg and gif are made by gpt-image-2.6 only: route targets that do not make them are passed over.
    if (vectorMotion && !(VECTOR_MOTION_MODELS as readonly string[]).includes(id)) continue;
    const found = lookupModel(id, ctx.now, ctx.shutdownDates);
    if (found.kind === 'retired') skipped.push({ model: id, why: 'retired', shutDown: found.shutDown });
    if (found.kind === 'retired' || found.kind === 'invalid' || (found.kind === 'known' && found.info.transparency === 'none')) continue;
    steps.push({ out: resolveOne({ ...raw, model: id, background: 'transparent', transparency: 'native' }, stepCtx), chromaKey: false });
  }
  // The last resort draws on a key colour; input_fidelity is not sent to the default model, which always uses high fidelity.
  const { input_fidelity: fidelity, ...rest } = raw;
  const last = resolveOne({ ...rest, model: DEFAULT_MODEL, background: 'transparent', transparency: 'chroma_key' }, stepCtx);
  if (last.ok && fidelity !== undefined) last.warnings.push(`input_fidelity was not sent to ${DEFAULT_MODEL}, which always uses high input fidelity.`);
  steps.push({ out: last, chromaKey: true });

  const first = steps[0]!.out;
  if (!first.ok) return first;
  const label = (request: ResolvedRequest, chromaKey: boolean): ResolvedRequest => {
    // The route's native steps are reported as `route`: the model makes the alpha.
    if (!chromaKey) request.options.transparency = 'route';
    return request;
  };
  const primary = label(first.value, steps[0]!.chromaKey);
  primary.options.routingNote = routeNote(
    { model: primary.options.model, strategy: primary.options.transparency ?? 'route', keyColor: primary.options.keyColor },
    skipped,
  );
  if (skipped.length > 0) primary.skipped = skipped;
  const fallbacks: RouteFallback[] = [];
  for (const step of steps.slice(1)) {
    if (!step.out.ok) continue;
    const warnings = step.out.warnings.filter((w) => !first.warnings.includes(w));
    fallbacks.push({ request: label(step.out.value, step.chromaKey), warnings });
  }
  if (fallbacks.length > 0) primary.fallbacks = fallbacks;
  return { ok: true, value: primary, warnings: first.warnings };
}

function resolveOne(raw: RawRequest, ctx: ResolveContext): Outcome<ResolvedRequest> {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const prompt = resolvePrompt(raw, problems, warnings);
  const options = resolveOptions(raw, ctx, problems, warnings);
  if (!options || problems.length > 0) return { ok: false, problems };
  const value: ResolvedRequest = { options, ...prompt };
  if (options.keyColor) {
    value.prompt = withKeyColorInstruction(prompt.prompt, options.keyColor);
    if (value.prompt.length > MAX_PROMPT_CHARS) {
      const limit = MAX_PROMPT_CHARS.toLocaleString('en-US');
      const over = (value.prompt.length - MAX_PROMPT_CHARS).toLocaleString('en-US');
      return {
        ok: false,
        problems: [{ field: 'prompt', message: `With the key colour instruction that chroma_key adds, the prompt is ${over} characters over the limit of ${limit}. Shorten it.` }],
      };
    }
  }
  return { ok: true, value, warnings };
}

/** The request body fields the API receives for these options (never the prompt or images). */
export type ApiParameters = Record<string, string | number | SvgParameter>;

export function apiParameters(options: ResolvedOptions): ApiParameters {
  const params: ApiParameters = {
    model: options.model,
    n: options.n,
    size: options.size,
    quality: options.quality,
    output_format: options.outputFormat,
  };
  if (options.background !== undefined) params.background = options.background;
  if (options.outputCompression !== undefined) params.output_compression = options.outputCompression;
  if (options.moderation !== undefined) params.moderation = options.moderation;
  if (options.inputFidelity !== undefined) params.input_fidelity = options.inputFidelity;
  if (options.complexity !== undefined) params.complexity = options.complexity;
  if (options.svg !== undefined) params.svg = options.svg;
  if (options.frameCount !== undefined) params.frame_count = options.frameCount;
  if (options.frameDurationMs !== undefined) params.frame_duration_ms = options.frameDurationMs;
  return params;
}

