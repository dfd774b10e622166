/**
 * One normaliser for every tool: raw arguments in, a fully resolved request out (defaults
 * applied, routing decided and explained) or every problem found, each with its fix.
 * The server refuses what it knows the API would refuse, before anything is spent.
 */
import {
  ALL_QUALITIES,
  DEFAULT_MODEL,
  REGISTRY_CHECKED,
  TRANSPARENT_TARGET,
  knownModelIds,
  lookupModel,
  type InputFidelity,
  type ModelInfo,
  type Quality,
} from './models.js';
import type { OutputFormat } from './paths.js';
import type { Outcome, Problem } from './problems.js';
import { MAX_PROMPT_CHARS, buildPrompt, givenFields, isUseCase, type AugmentationFields } from './prompt.js';
import { flexibleSizeViolations, formatSize, parseSize, suggestFlexibleSize } from './sizes.js';
import {
  DEFAULT_KEY_COLOR,
  DEFAULT_TRANSPARENCY,
  TRANSPARENCY_STRATEGIES,
  isWeakKeyColor,
  normaliseKeyColor,
  notFoundNote,
  parseTransparency,
  retiredTargetNote,
  routedNote,
  withKeyColorInstruction,
  type TransparencyStrategy,
} from './transparency.js';

export const DEFAULTS = {
  model: DEFAULT_MODEL,
  size: 'auto',
  quality: 'medium' as Quality,
  outputFormat: 'png' as OutputFormat,
  n: 1,
} as const;

export type Background = 'transparent' | 'opaque' | 'auto';
export type Moderation = 'auto' | 'low';
export type ToolKind = 'generate' | 'edit';

/** Image options as tools and batch lines take them (snake_case, like the CLI's flags). */
export interface RawImageOptions {
  model?: string | undefined;
  n?: number | undefined;
  size?: string | undefined;
  quality?: string | undefined;
  background?: string | undefined;
  output_format?: string | undefined;
  output_compression?: number | undefined;
  moderation?: string | undefined;
  input_fidelity?: string | undefined;
  transparency?: string | undefined;
  key_color?: string | undefined;
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
  /** One sentence saying why the model (or the way transparency is made) differs from what was asked, when it does. */
  routingNote?: string;
  /** Set when the output is to be transparent: how the alpha is made. */
  transparency?: TransparencyStrategy;
  /** chroma_key only: the flat colour asked of the model, turned into alpha after (`#rrggbb`). */
  keyColor?: string;
}

export interface ResolvedRequest {
  options: ResolvedOptions;
  /** The prompt as the user wrote it. */
  userPrompt: string;
  /** The prompt sent to the API (augmented unless augmentation was off or had nothing to add). */
  prompt: string;
  /**
   * Routed transparent requests only: the same request done with chroma_key on the default model,
   * for when the route target answers 404 (model not found).
   */
  fallback?: { request: ResolvedRequest; warnings: string[] };
}

export interface ResolveContext {
  tool: ToolKind;
  now: Date;
  /** The server-wide default strategy (IMAGEGEN_TRANSPARENCY); `route` when unset. */
  transparency?: TransparencyStrategy | undefined;
}

/** What the transparency arguments ask for, before a model is chosen. */
interface AlphaPlan {
  /** The output is to be transparent (background "transparent", or a transparency given with no background). */
  wanted: boolean;
  strategy: TransparencyStrategy;
  keyColor: string;
  keyColorGiven: boolean;
}

const FORMATS: Record<string, OutputFormat> = { png: 'png', jpeg: 'jpeg', jpg: 'jpeg', webp: 'webp' };
const BACKGROUNDS: readonly Background[] = ['transparent', 'opaque', 'auto'];
const MODERATIONS: readonly Moderation[] = ['auto', 'low'];

const list = (values: readonly string[]) => values.join(', ');

function resolveModel(
  raw: RawImageOptions,
  alpha: AlphaPlan,
  ctx: ResolveContext,
  problems: Problem[],
  warnings: string[],
): { id: string; info?: ModelInfo; routingNote?: string; strategy?: TransparencyStrategy } | undefined {
  const asked = raw.model?.trim();
  if (!asked && alpha.wanted && alpha.strategy === 'route') {
    const target = lookupModel(TRANSPARENT_TARGET, ctx.now);
    if (target.kind === 'known') return { id: TRANSPARENT_TARGET, info: target.info, routingNote: routedNote(), strategy: 'route' };
    // The target is gone: the default model draws on a key colour instead, and the result says why.
    const fallback = lookupModel(DEFAULT_MODEL, ctx.now);
    const shutDown = target.kind === 'retired' ? (target.info.shutDown ?? 'an earlier date') : 'an earlier date';
    return {
      id: DEFAULT_MODEL,
      ...(fallback.kind === 'known' ? { info: fallback.info } : {}),
      routingNote: retiredTargetNote(shutDown, DEFAULT_MODEL, alpha.keyColor),
      strategy: 'chroma_key',
    };
  }
  const id = asked || DEFAULT_MODEL;
  const found = lookupModel(id, ctx.now);
  const strategy = alpha.wanted ? alpha.strategy : undefined;
  switch (found.kind) {
    case 'known': {
      if (found.info.shutDown && asked) {
        warnings.push(
          `${id} is announced to shut down on ${found.info.shutDown}; move to ${found.info.replacement ?? DEFAULT_MODEL} before then.`,
        );
      }
      return { id, info: found.info, ...(strategy ? { strategy } : {}) };
    }
    case 'retired': {
      const chromaKey = alpha.wanted && found.info.transparent ? `, or keep transparency with transparency "chroma_key" on ${found.info.replacement ?? DEFAULT_MODEL}` : '';
      problems.push({
        field: 'model',
        message: `${id} was shut down on ${found.info.shutDown}. Use ${found.info.replacement ?? DEFAULT_MODEL} instead (or leave model unset for the default)${chromaKey}.`,
      });
      return undefined;
    }
    case 'unknown':
      warnings.push(
        `This server does not know the rules of ${id}: only generic checks were applied, and the API judges the rest.`,
      );
      return { id, ...(strategy ? { strategy } : {}) };
    case 'invalid':
      problems.push({
        field: 'model',
        message: `"${id}" is not a GPT Image model. Use one of ${list(knownModelIds())}, or leave model unset for ${DEFAULT_MODEL}.`,
      });
      return undefined;
  }
}

/** Reads background, transparency and key_color: whether the output is to be transparent, and how. */
function resolveAlphaPlan(raw: RawImageOptions, ctx: ResolveContext, problems: Problem[]): AlphaPlan {
  let explicit: TransparencyStrategy | undefined;
  if (raw.transparency !== undefined) {
    explicit = parseTransparency(raw.transparency);
    if (!explicit) {
      problems.push({
        field: 'transparency',
        message: `transparency "${raw.transparency}" is not one of ${list(TRANSPARENCY_STRATEGIES)}.`,
      });
    }
  }
  const background = raw.background;
  if (explicit && background !== undefined && background !== 'transparent') {
    problems.push({
      field: 'transparency',
      message: `transparency "${explicit}" says how to make a transparent background, but background is "${background}". Set background to "transparent" (or leave it unset), or drop transparency.`,
    });
  }
  let keyColor = DEFAULT_KEY_COLOR;
  if (raw.key_color !== undefined) {
    const parsed = normaliseKeyColor(raw.key_color);
    if (parsed) keyColor = parsed;
    else {
      problems.push({
        field: 'key_color',
        message: `key_color "${raw.key_color}" is not a colour: give a hex colour such as #00ff00 (green, the default) or #ff00ff (magenta, for green subjects).`,
      });
    }
  }
  return {
    wanted: background === 'transparent' || (background === undefined && explicit !== undefined),
    strategy: explicit ?? ctx.transparency ?? DEFAULT_TRANSPARENCY,
    keyColor,
    keyColorGiven: raw.key_color !== undefined,
  };
}

/** Refusals and warnings that depend on the strategy and the model it ended on. */
function checkTransparency(
  alpha: AlphaPlan,
  model: { id: string; info?: ModelInfo; routingNote?: string; strategy?: TransparencyStrategy },
  outputFormat: OutputFormat | undefined,
  ctx: ResolveContext,
  problems: Problem[],
  warnings: string[],
): void {
  const strategy = model.strategy;
  if (!strategy) {
    if (alpha.keyColorGiven) {
      warnings.push('key_color is used only to make a transparent background with transparency "chroma_key"; this request is not transparent, so it was not used.');
    }
    return;
  }
  if (outputFormat === 'jpeg') {
    problems.push({
      field: 'output_format',
      message:
        alpha.strategy === 'chroma_key'
          ? 'transparency "chroma_key" makes a transparent image, which needs png or webp output (jpeg has no alpha channel). Set output_format to png or webp.'
          : 'A transparent background needs png or webp output (jpeg has no alpha channel). Set output_format to png or webp.',
    });
  }
  const unsupported = model.info !== undefined && !model.info.transparent;
  if (strategy === 'route' && unsupported) {
    const target = lookupModel(TRANSPARENT_TARGET, ctx.now);
    const routeFix =
      target.kind === 'known'
        ? `leave model unset (transparent requests go to ${TRANSPARENT_TARGET}), or set model to ${TRANSPARENT_TARGET} with png or webp output`
        : `leave model unset (with ${TRANSPARENT_TARGET} shut down, that uses chroma_key on ${DEFAULT_MODEL} too)`;
    problems.push({
      field: 'background',
      message: `${model.id} does not support transparent backgrounds. Keep ${model.id} with transparency "chroma_key" (it draws on a flat key colour that the server turns into alpha), ${routeFix}.`,
    });
  }
  if (strategy === 'native' && unsupported) {
    warnings.push(
      `As far as this server knows, ${model.id} does not support transparent backgrounds (registry checked ${REGISTRY_CHECKED}); background "transparent" was sent as asked (transparency "native"), and the API judges.`,
    );
  }
  if (strategy === 'chroma_key' && isWeakKeyColor(alpha.keyColor)) {
    warnings.push(
      `key_color ${alpha.keyColor} is close to grey: parts of the subject with similar colours will turn transparent too. A saturated colour far from the subject's keys best (#00ff00, #ff00ff, #0000ff).`,
    );
  }
  // A routed request keeps key_color for its chroma_key fallback (a 404 from the target).
  if (strategy !== 'chroma_key' && alpha.keyColorGiven && !model.routingNote) {
    warnings.push(`key_color is used only by transparency "chroma_key"; with "${strategy}" it was not used.`);
  }
}

function resolveSize(raw: RawImageOptions, model: { id: string; info?: ModelInfo; routingNote?: string }, problems: Problem[]): string {
  const asked = raw.size?.trim() || DEFAULTS.size;
  const parsed = parseSize(asked);
  if (parsed.kind === 'invalid') {
    problems.push({ field: 'size', message: `size "${asked}" is not a size: use auto or WIDTHxHEIGHT, e.g. 1024x1024.` });
    return asked;
  }
  if (parsed.kind === 'auto') return 'auto';
  const size = formatSize(parsed);
  const rule = model.info?.sizes ?? { kind: 'unchecked' as const };
  if (rule.kind === 'flexible') {
    const broken = flexibleSizeViolations(parsed);
    if (broken.length > 0) {
      const suggestion = formatSize(suggestFlexibleSize(parsed));
      problems.push({
        field: 'size',
        message: `size ${size} is not valid for ${model.id}: ${broken.join('; ')}. Try ${suggestion} instead.`,
      });
    }
  } else if (rule.kind === 'fixed' && !rule.sizes.includes(size)) {
    const why = model.routingNote ? ` (transparent output goes to ${model.id})` : '';
    problems.push({
      field: 'size',
      message: `size ${size} is not available on ${model.id}${why}: it makes only ${list(rule.sizes)} or auto. Pick one of those.`,
    });
  }
  return size;
}

function resolveOptions(raw: RawImageOptions, ctx: ResolveContext, problems: Problem[], warnings: string[]): ResolvedOptions | undefined {
  const formatAsked = (raw.output_format ?? DEFAULTS.outputFormat).trim().toLowerCase();
  const outputFormat = FORMATS[formatAsked];
  if (!outputFormat) {
    problems.push({ field: 'output_format', message: `output_format "${raw.output_format}" is not supported: use png, jpeg (or jpg) or webp.` });
  }

  const background = raw.background as Background | undefined;
  if (background !== undefined && !BACKGROUNDS.includes(background)) {
    problems.push({ field: 'background', message: `background "${raw.background}" is not one of ${list(BACKGROUNDS)}.` });
  }

  const alpha = resolveAlphaPlan(raw, ctx, problems);
  const model = resolveModel(raw, alpha, ctx, problems, warnings);
  if (model) checkTransparency(alpha, model, outputFormat, ctx, problems, warnings);

  const n = raw.n ?? DEFAULTS.n;
  if (!Number.isInteger(n) || n < 1 || n > 10) {
    problems.push({
      field: 'n',
      message: `n must be a whole number from 1 to 10 (it is ${n}): n makes variants of one prompt; distinct assets are separate jobs in generate_batch.`,
    });
  }

  const size = model ? resolveSize(raw, model, problems) : (raw.size ?? DEFAULTS.size);

  const qualityAsked = (raw.quality ?? DEFAULTS.quality).trim().toLowerCase() as Quality;
  const qualities = model?.info?.qualities ?? ALL_QUALITIES;
  if (!qualities.includes(qualityAsked)) {
    problems.push({
      field: 'quality',
      message: `quality "${raw.quality}" is not available${model ? ` on ${model.id}` : ''}: use ${list(qualities)}.`,
    });
  }

  let outputCompression: number | undefined;
  if (raw.output_compression !== undefined) {
    const c = raw.output_compression;
    if (!Number.isInteger(c) || c < 0 || c > 100) {
      problems.push({ field: 'output_compression', message: `output_compression must be a whole number from 0 to 100 (it is ${c}).` });
    } else if (outputFormat === 'png') {
      warnings.push('output_compression applies to jpeg and webp only, so it was not sent for png output.');
    } else {
      outputCompression = c;
    }
  }

  const moderation = raw.moderation as Moderation | undefined;
  if (moderation !== undefined && !MODERATIONS.includes(moderation)) {
    problems.push({ field: 'moderation', message: `moderation "${raw.moderation}" is not one of auto, low.` });
  }

  let inputFidelity: InputFidelity | undefined;
  if (raw.input_fidelity !== undefined) {
    const value = raw.input_fidelity as InputFidelity;
    if (ctx.tool !== 'edit') {
      problems.push({
        field: 'input_fidelity',
        message: 'input_fidelity applies to edits of input images only: use the edit tool, or drop input_fidelity.',
      });
    } else if (value !== 'low' && value !== 'high') {
      problems.push({ field: 'input_fidelity', message: `input_fidelity "${raw.input_fidelity}" is not one of low, high.` });
    } else if (model?.info && model.info.inputFidelity.length === 0) {
      const why = model.info.note ? ` (it ${model.info.note})` : '';
      problems.push({
        field: 'input_fidelity',
        message: `${model.id} does not accept input_fidelity${why}. Drop input_fidelity, or use gpt-image-1.5 to set it.`,
      });
    } else if (model?.info && !model.info.inputFidelity.includes(value)) {
      problems.push({
        field: 'input_fidelity',
        message: `${model.id} accepts input_fidelity ${list(model.info.inputFidelity)} only. Use that, or drop input_fidelity.`,
      });
    } else {
      inputFidelity = value;
    }
  }

  if (!model || !outputFormat || problems.length > 0) return undefined;
  const resolved: ResolvedOptions = { model: model.id, n, size, quality: qualityAsked, outputFormat };
  // chroma_key asks the model for an opaque image on the key colour; the alpha is made locally.
  const sentBackground = model.strategy === 'chroma_key' ? 'opaque' : model.strategy ? 'transparent' : background;
  if (sentBackground !== undefined) resolved.background = sentBackground;
  if (outputCompression !== undefined) resolved.outputCompression = outputCompression;
  if (moderation !== undefined) resolved.moderation = moderation;
  if (inputFidelity !== undefined) resolved.inputFidelity = inputFidelity;
  if (model.routingNote) resolved.routingNote = model.routingNote;
  if (model.strategy) resolved.transparency = model.strategy;
  if (model.strategy === 'chroma_key') resolved.keyColor = alpha.keyColor;
  return resolved;
}

function resolvePrompt(raw: RawRequest, problems: Problem[], warnings: string[]): { userPrompt: string; prompt: string } {
  const userPrompt = raw.prompt ?? '';
  if (userPrompt.trim() === '') {
    problems.push({ field: 'prompt', message: 'prompt is empty: describe the image to make (or give prompt_file).' });
    return { userPrompt, prompt: userPrompt };
  }
  const fields = givenFields(raw);
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
  if (options.transparency === 'route' && options.routingNote) {
    const fallback = chromaKeyFallback(raw, ctx);
    if (fallback) value.fallback = fallback;
  }
  return { ok: true, value, warnings };
}

/**
 * A routed request redone with chroma_key on the default model (used when the route target
 * answers 404). input_fidelity is dropped, since the default model always uses high fidelity.
 */
function chromaKeyFallback(raw: RawRequest, ctx: ResolveContext): ResolvedRequest['fallback'] {
  const { input_fidelity: fidelity, ...rest } = raw;
  const out = resolveRequest({ ...rest, model: DEFAULT_MODEL, background: 'transparent', transparency: 'chroma_key' }, ctx);
  if (!out.ok) return undefined;
  const request = out.value;
  request.options.routingNote = notFoundNote(request.options.model, request.options.keyColor ?? DEFAULT_KEY_COLOR);
  const warnings = [...out.warnings];
  if (fidelity !== undefined) warnings.push(`input_fidelity was not sent to ${DEFAULT_MODEL}, which always uses high input fidelity.`);
  return { request, warnings };
}

/** The request body fields the API receives for these options (never the prompt or images). */
export function apiParameters(options: ResolvedOptions): Record<string, string | number> {
  const params: Record<string, string | number> = {
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
  return params;
}

