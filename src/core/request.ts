/**
 * One normaliser for every tool: raw arguments in, a fully resolved request out (defaults
 * applied, routing decided and explained) or every problem found, each with its fix.
 * The server refuses what it knows the API would refuse, before anything is spent.
 */
import {
  ALL_QUALITIES,
  DEFAULT_MODEL,
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
  /** One sentence saying why the model differs from what was asked, when it does. */
  routingNote?: string;
}

export interface ResolvedRequest {
  options: ResolvedOptions;
  /** The prompt as the user wrote it. */
  userPrompt: string;
  /** The prompt sent to the API (augmented unless augmentation was off or had nothing to add). */
  prompt: string;
}

export interface ResolveContext {
  tool: ToolKind;
  now: Date;
}

const FORMATS: Record<string, OutputFormat> = { png: 'png', jpeg: 'jpeg', jpg: 'jpeg', webp: 'webp' };
const BACKGROUNDS: readonly Background[] = ['transparent', 'opaque', 'auto'];
const MODERATIONS: readonly Moderation[] = ['auto', 'low'];

const list = (values: readonly string[]) => values.join(', ');

function resolveModel(
  raw: RawImageOptions,
  ctx: ResolveContext,
  problems: Problem[],
  warnings: string[],
): { id: string; info?: ModelInfo; routingNote?: string } | undefined {
  const asked = raw.model?.trim();
  if (!asked && raw.background === 'transparent') {
    const target = lookupModel(TRANSPARENT_TARGET, ctx.now);
    if (target.kind === 'known') {
      return {
        id: TRANSPARENT_TARGET,
        info: target.info,
        routingNote: `Transparent backgrounds are not supported by ${DEFAULT_MODEL}, the latest model, so ${TRANSPARENT_TARGET} was used.`,
      };
    }
    problems.push({
      field: 'background',
      message: `Transparent backgrounds need ${TRANSPARENT_TARGET}, which was shut down on ${
        target.kind === 'retired' ? target.info.shutDown : 'an unknown date'
      }, and ${DEFAULT_MODEL} does not support them. Drop background "transparent", or name a newer model that supports it.`,
    });
    return undefined;
  }
  const id = asked || DEFAULT_MODEL;
  const found = lookupModel(id, ctx.now);
  switch (found.kind) {
    case 'known': {
      if (found.info.shutDown && asked) {
        warnings.push(
          `${id} is announced to shut down on ${found.info.shutDown}; move to ${found.info.replacement ?? DEFAULT_MODEL} before then.`,
        );
      }
      return { id, info: found.info };
    }
    case 'retired':
      problems.push({
        field: 'model',
        message: `${id} was shut down on ${found.info.shutDown}. Use ${found.info.replacement ?? DEFAULT_MODEL} instead (or leave model unset for the default).`,
      });
      return undefined;
    case 'unknown':
      warnings.push(
        `This server does not know the rules of ${id}: only generic checks were applied, and the API judges the rest.`,
      );
      return { id };
    case 'invalid':
      problems.push({
        field: 'model',
        message: `"${id}" is not a GPT Image model. Use one of ${list(knownModelIds())}, or leave model unset for ${DEFAULT_MODEL}.`,
      });
      return undefined;
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
  if (background === 'transparent' && outputFormat === 'jpeg') {
    problems.push({
      field: 'output_format',
      message: 'A transparent background needs png or webp output (jpeg has no alpha channel). Set output_format to png or webp.',
    });
  }

  const model = resolveModel(raw, ctx, problems, warnings);

  if (model?.info && background === 'transparent' && !model.info.transparent) {
    problems.push({
      field: 'background',
      message: `${model.id} does not support transparent backgrounds. Leave model unset (transparent requests go to ${TRANSPARENT_TARGET}), or set model to ${TRANSPARENT_TARGET} with png or webp output.`,
    });
  }

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
  if (background !== undefined) resolved.background = background;
  if (outputCompression !== undefined) resolved.outputCompression = outputCompression;
  if (moderation !== undefined) resolved.moderation = moderation;
  if (inputFidelity !== undefined) resolved.inputFidelity = inputFidelity;
  if (model.routingNote) resolved.routingNote = model.routingNote;
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
  return { ok: true, value: { options, ...prompt }, warnings };
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

