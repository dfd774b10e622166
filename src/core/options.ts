/**
 * The image options of one request on one model: the model and its lifecycle, the transparency
 * strategy, size, quality, complexity, compression, moderation and input_fidelity, each checked
 * against the registry, with every problem's fix. The normaliser (request.ts) calls this once per
 * step of a request (a routed transparent request has several).
 */
import {
  ALL_QUALITIES,
  DEFAULT_MODEL,
  REGISTRY_CHECKED,
  currentModels,
  knownModelIds,
  lookupModel,
  retiredMessage,
  routeModels,
  shutdownWarning,
  type Complexity,
  type InputFidelity,
  type ModelInfo,
  type Quality,
} from './models.js';
import type { OutputFormat } from './paths.js';
import type { Problem } from './problems.js';
import type { RawImageOptions, ResolveContext, ResolvedOptions } from './request.js';
import { FLEXIBLE_RULES, flexibleSizeViolations, formatSize, parseSize, suggestFlexibleSize, type Dimensions } from './sizes.js';
import { resolveVectorMotion } from './vector-motion.js';
import { DEFAULT_KEY_COLOR, DEFAULT_TRANSPARENCY, isWeakKeyColor, normaliseKeyColor, type TransparencyStrategy } from './transparency.js';

export const DEFAULTS = {
  model: DEFAULT_MODEL,
  size: 'auto',
  quality: 'medium' as Quality,
  outputFormat: 'png' as OutputFormat,
  n: 1,
} as const;

/** What the transparency arguments ask for, before a model is chosen. */
interface AlphaPlan {
  /** The output is to be transparent (background "transparent", or a transparency given with no background). */
  wanted: boolean;
  strategy: TransparencyStrategy;
  keyColor: string;
  keyColorGiven: boolean;
}

/** The API's name of each format as asked (jpg is jpeg's other spelling). */
const FORMATS: Record<NonNullable<RawImageOptions['output_format']>, OutputFormat> = { png: 'png', jpeg: 'jpeg', jpg: 'jpeg', webp: 'webp', svg: 'svg', gif: 'gif' };

const list = (values: readonly string[]) => values.join(', ');

type ModelChoice = { id: string; info?: ModelInfo; strategy?: TransparencyStrategy };

function resolveModel(
  raw: RawImageOptions,
  alpha: AlphaPlan,
  ctx: ResolveContext,
  problems: Problem[],
  warnings: string[],
): ModelChoice | undefined {
  const asked = raw.model?.trim();
  const id = asked || DEFAULT_MODEL;
  const found = lookupModel(id, ctx.now, ctx.shutdownDates);
  const strategy = alpha.wanted ? alpha.strategy : undefined;
  switch (found.kind) {
    case 'known':
    case 'unknown': {
      if (asked && !ctx.routeStep) {
        const soon = shutdownWarning(id, found.shutDown, found.kind === 'known' ? found.info : undefined, ctx.now);
        if (soon) warnings.push(soon);
      }
      if (found.kind === 'unknown') {
        warnings.push(`This server does not know the rules of ${id}: only generic checks were applied, and the API judges the rest.`);
        return { id, ...(strategy ? { strategy } : {}) };
      }
      return { id, info: found.info, ...(strategy ? { strategy } : {}) };
    }
    case 'retired': {
      const transparent = alpha.wanted ? '; for a transparent background, leave model unset and the server picks a model that makes the alpha itself' : '';
      problems.push({ field: 'model', message: `${retiredMessage(id, found.shutDown, found.info)}${transparent}.` });
      return undefined;
    }
    case 'invalid':
      problems.push({
        field: 'model',
        message: `"${id}" is not a GPT Image model. Use one of ${list(knownModelIds(ctx.now))}, or leave model unset for ${DEFAULT_MODEL}.`,
      });
      return undefined;
  }
}

/** The route's first target that is still running today (by the API's dates, else the registry's). */
export function currentRouteTarget(ctx: Pick<ResolveContext, 'now' | 'shutdownDates' | 'transparentModels'>): string | undefined {
  return routeModels(ctx.now, ctx.transparentModels).find((id) => {
    const found = lookupModel(id, ctx.now, ctx.shutdownDates);
    return found.kind === 'unknown' || (found.kind === 'known' && found.info.transparency !== 'none');
  });
}

/** Why a routed step's model refuses something: the user did not name it. */
function routedWhy(ctx: ResolveContext, id: string): string {
  return ctx.routeStep ? ` (transparent requests without a model go to ${id})` : '';
}

/** Reads background, transparency and key_color: whether the output is to be transparent, and how. */
function resolveAlphaPlan(raw: RawImageOptions, ctx: ResolveContext, problems: Problem[]): AlphaPlan {
  const explicit = raw.transparency;
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
  model: ModelChoice,
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
  const support = model.info?.transparency ?? 'native';
  if (strategy === 'route' && support !== 'native') {
    // The skill's rule: never send a transparent request to a model that does not make alpha; say what works today.
    const target = currentRouteTarget(ctx);
    const fixes = [
      target
        ? `leave model unset (transparent requests go to ${target}, which makes the alpha itself), or set model to ${target}, with png or webp output`
        : `leave model unset (the server then uses chroma_key on ${DEFAULT_MODEL})`,
      `keep ${model.id} with transparency "chroma_key" (it draws on a flat key colour that the server turns into alpha)`,
    ];
    if (support === 'preview') fixes.push(`set transparency "native" to try ${model.id}'s transparency preview`);
    const preview = support === 'preview' ? ' (its support is only a preview)' : '';
    problems.push({
      field: 'background',
      message: `${model.id} does not support transparent backgrounds${preview}. To get one: ${fixes.slice(0, -1).join('; ')}; or ${fixes[fixes.length - 1]}.`,
    });
  }
  if (strategy === 'native' && support === 'preview' && !ctx.routeStep) {
    warnings.push(
      `Transparent backgrounds on ${model.id} are a preview (registry checked ${REGISTRY_CHECKED}): background "transparent" was sent as asked (transparency "native"); the API may refuse it, and the saved file's alpha is checked.`,
    );
  }
  if (strategy === 'native' && support === 'none') {
    warnings.push(
      `As far as this server knows, ${model.id} does not support transparent backgrounds (registry checked ${REGISTRY_CHECKED}); background "transparent" was sent as asked (transparency "native"), and the API judges.`,
    );
  }
  if (strategy === 'chroma_key' && isWeakKeyColor(alpha.keyColor)) {
    warnings.push(
      `key_color ${alpha.keyColor} is close to grey: parts of the subject with similar colours will turn transparent too. A saturated colour far from the subject's keys best (#00ff00, #ff00ff, #0000ff).`,
    );
  }
  // A routed request keeps key_color for its chroma_key fallback.
  if (strategy !== 'chroma_key' && alpha.keyColorGiven && !ctx.routeStep) {
    warnings.push(`key_color is used only by transparency "chroma_key"; with "${strategy}" it was not used.`);
  }
}

function resolveSize(raw: RawImageOptions, model: ModelChoice, ctx: ResolveContext, problems: Problem[], outputFormat?: OutputFormat): string {
  const asked = raw.size?.trim() || DEFAULTS.size;
  const parsed = parseSize(asked);
  if (parsed.kind === 'invalid') {
    problems.push({ field: 'size', message: `size "${asked}" is not a size: use auto or WIDTHxHEIGHT, e.g. 1024x1024.` });
    return asked;
  }
  if (parsed.kind === 'auto') return 'auto';
  const size = formatSize(parsed);
  const rule = model.info?.sizes ?? { kind: 'unchecked' as const };
  if (outputFormat === 'gif') {
    // GIF frames are small (720-960 px, checked by gif.ts): the still pixel minimum does not apply.
    if (parsed.width % FLEXIBLE_RULES.multiple || parsed.height % FLEXIBLE_RULES.multiple) {
      const fix = (v: number) => Math.max(FLEXIBLE_RULES.multiple, Math.round(v / FLEXIBLE_RULES.multiple) * FLEXIBLE_RULES.multiple);
      problems.push({ field: 'size', message: `size ${size} is not valid for a GIF: both edges must be multiples of ${FLEXIBLE_RULES.multiple}. Try ${fix(parsed.width)}x${fix(parsed.height)}.` });
    }
  } else if (rule.kind === 'flexible') {
    const broken = flexibleSizeViolations(parsed);
    if (broken.length > 0) {
      const suggestion = formatSize(suggestFlexibleSize(parsed));
      problems.push({
        field: 'size',
        message: `size ${size} is not valid for ${model.id}${routedWhy(ctx, model.id)}: ${broken.join('; ')}. Try ${suggestion} instead.`,
      });
    }
  } else if (rule.kind === 'fixed' && !rule.sizes.includes(size)) {
    const why = routedWhy(ctx, model.id);
    problems.push({
      field: 'size',
      message: `size ${size} is not available on ${model.id}${why}: it makes only ${list(rule.sizes)} or auto. Pick one of those.`,
    });
  }
  return size;
}

export function resolveOptions(raw: RawImageOptions, ctx: ResolveContext, problems: Problem[], warnings: string[]): ResolvedOptions | undefined {
  const outputFormat = FORMATS[raw.output_format ?? DEFAULTS.outputFormat];
  const background = raw.background;

  const alpha = resolveAlphaPlan(raw, ctx, problems);
  const model = resolveModel(raw, alpha, ctx, problems, warnings);
  if (model) checkTransparency(alpha, model, outputFormat, ctx, problems, warnings);

  const n = raw.n ?? DEFAULTS.n;

  const size = model ? resolveSize(raw, model, ctx, problems, outputFormat) : (raw.size ?? DEFAULTS.size);
  const parsedSize = parseSize(size);
  const vectorMotion = resolveVectorMotion(
    raw,
    {
      outputFormat,
      model,
      size: parsedSize.kind === 'dimensions' ? ({ width: parsedSize.width, height: parsedSize.height } satisfies Dimensions) : 'auto',
      strategy: model?.strategy,
      routedWhy: model ? routedWhy(ctx, model.id) : '',
    },
    problems,
    warnings,
  );

  const qualityAsked = raw.quality ?? DEFAULTS.quality;
  const qualities = model?.info?.qualities ?? ALL_QUALITIES;
  if (!qualities.includes(qualityAsked)) {
    const elsewhere = currentModels(ctx.now, (m) => m.qualities.includes(qualityAsked), ctx.shutdownDates);
    const where = elsewhere.length > 0 ? ` (${qualityAsked} is available on ${list(elsewhere)})` : '';
    problems.push({
      field: 'quality',
      message: `quality "${qualityAsked}" is not available${model ? ` on ${model.id}${routedWhy(ctx, model.id)}` : ''}: use ${list(qualities)}${where}.`,
    });
  }

  let complexity: Complexity | undefined;
  if (raw.complexity !== undefined) {
    const value = raw.complexity;
    const takers = currentModels(ctx.now, (m) => m.complexity, ctx.shutdownDates);
    if (model?.info && !model.info.complexity) {
      problems.push({
        field: 'complexity',
        message: `${model.id}${routedWhy(ctx, model.id)} does not accept complexity (planning effort); ${takers.length > 0 ? `${list(takers)} do. Set model to one of them, or drop complexity` : 'no current model does. Drop complexity'}.`,
      });
    } else {
      complexity = value;
    }
  }

  let outputCompression: number | undefined;
  if (raw.output_compression !== undefined) {
    const c = raw.output_compression;
    if (outputFormat === 'svg' || outputFormat === 'gif') {
      // Refused by resolveVectorMotion.
    } else if (outputFormat === 'png') {
      warnings.push('output_compression applies to jpeg and webp only, so it was not sent for png output.');
    } else {
      outputCompression = c;
    }
  }

  const moderation = raw.moderation;

  let inputFidelity: InputFidelity | undefined;
  if (raw.input_fidelity !== undefined) {
    const value = raw.input_fidelity;
    if (ctx.tool !== 'edit') {
      problems.push({
        field: 'input_fidelity',
        message: 'input_fidelity applies to edits of input images only: use the edit tool, or drop input_fidelity.',
      });
    } else if (model?.info && model.info.inputFidelity.length === 0) {
      const why = model.info.note ? ` (it ${model.info.note})` : '';
      const takers = currentModels(ctx.now, (m) => m.inputFidelity.length > 0, ctx.shutdownDates);
      problems.push({
        field: 'input_fidelity',
        message: `${model.id}${routedWhy(ctx, model.id)} does not accept input_fidelity${why}. Drop input_fidelity${takers.length > 0 ? `, or use ${list(takers)} to set it` : ' (no current model takes it)'}.`,
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
  if (complexity !== undefined) resolved.complexity = complexity;
  if (model.strategy) resolved.transparency = model.strategy;
  if (model.strategy === 'chroma_key') resolved.keyColor = alpha.keyColor;
  Object.assign(resolved, vectorMotion);
  return resolved;
}
