/**
 * The options of SVG and animated GIF output (gpt-image-2.6 only): who makes them, what they do
 * not take, and what is sent. Called by options.ts once the model and output format are known, so
 * every refusal happens before anything is spent.
 */
import { checkGifRequest } from './gif.js';
import type { ModelInfo } from './models.js';
import type { OutputFormat } from './paths.js';
import type { Problem } from './problems.js';
import type { RawImageOptions } from './request.js';
import type { Dimensions } from './sizes.js';

/** The models that answer svg and gif: new outputs on 2.6, not on gpt-image-2 or 2.5. */
export const VECTOR_MOTION_MODELS = ['gpt-image-2.6-sunburst', 'gpt-image-2.6-flare'] as const;

export interface SvgParameter {
  model?: string;
  reasoning?: { effort: string };
}

export interface VectorMotionOptions {
  /** svg: the API's `svg` object, only when svg_model or svg_effort was given. */
  svg?: SvgParameter;
  /** gif: as sent (defaults filled in, the duration rounded to 10 ms). */
  frameCount?: number;
  frameDurationMs?: number;
}

interface Context {
  outputFormat: OutputFormat | undefined;
  model: { id: string; info?: ModelInfo } | undefined;
  /** The parsed size ('auto' when the API chooses). */
  size: Dimensions | 'auto' | undefined;
  /** Set when the output is to be transparent: how the alpha is made. */
  strategy: string | undefined;
  /** Why a routed step's model was used, when the user did not name it. */
  routedWhy: string;
}

const text = (value: string | undefined) => (value === undefined ? undefined : value.trim());

/** Refusals and warnings of svg and gif requests, and what they send. */
export function resolveVectorMotion(raw: RawImageOptions, ctx: Context, problems: Problem[], warnings: string[]): VectorMotionOptions {
  const { outputFormat: format, model } = ctx;
  const out: VectorMotionOptions = {};
  const svgModel = text(raw.svg_model);
  const svgEffort = text(raw.svg_effort);
  if (format !== 'svg') {
    for (const [name, value] of [['svg_model', svgModel], ['svg_effort', svgEffort]] as const) {
      if (value !== undefined) problems.push({ field: name, message: `${name} applies to output_format "svg" only: set output_format to svg, or drop ${name}.` });
    }
  }
  if (format !== 'gif') {
    for (const name of ['frame_count', 'frame_duration_ms'] as const) {
      if (raw[name] !== undefined) problems.push({ field: name, message: `${name} applies to output_format "gif" only: set output_format to gif, or drop ${name}.` });
    }
  }
  if (format !== 'svg' && format !== 'gif') return out;

  // A model the registry knows but that makes neither; an unknown model is left to the API.
  if (model?.info && !(VECTOR_MOTION_MODELS as readonly string[]).includes(model.info.id)) {
    problems.push({
      field: 'output_format',
      message: `output_format "${format}" is made only by ${VECTOR_MOTION_MODELS.join(' and ')}, not ${model.id}${ctx.routedWhy}. Set model to gpt-image-2.6-flare (fast) or gpt-image-2.6-sunburst (detail), or ask for png.`,
    });
  }
  if (ctx.strategy === 'chroma_key') {
    problems.push({
      field: 'transparency',
      message: `transparency "chroma_key" keys a raster image into png or webp; it cannot make a ${format}. Drop transparency (gpt-image-2.6 makes the ${format}'s transparency itself), or ask for png or webp.`,
    });
  }

  if (format === 'svg') {
    if (raw.n !== undefined && raw.n !== 1) {
      problems.push({ field: 'n', message: `output_format "svg" makes one file per call (n = 1): drop n, or make variants as separate calls or generate_batch jobs.` });
    }
    if (raw.output_compression !== undefined) {
      problems.push({ field: 'output_compression', message: 'output_compression does not apply to SVG output (it is text): leave it out.' });
    }
    if (svgModel === '') problems.push({ field: 'svg_model', message: 'svg_model is empty: name the SVG author model, or drop svg_model.' });
    if (svgEffort === '') problems.push({ field: 'svg_effort', message: 'svg_effort is empty: give low, medium or high, or drop svg_effort.' });
    const svg: SvgParameter = {};
    if (svgModel) svg.model = svgModel;
    if (svgEffort) svg.reasoning = { effort: svgEffort.toLowerCase() };
    if (svg.model || svg.reasoning) out.svg = svg;
    return out;
  }

  const plan = checkGifRequest({
    size: ctx.size,
    frame_count: raw.frame_count,
    frame_duration_ms: raw.frame_duration_ms,
    mask: raw.mask !== undefined && raw.mask !== false,
    output_compression: raw.output_compression,
    background: raw.background,
  });
  if (!plan.ok) problems.push(...plan.problems);
  else {
    warnings.push(...plan.warnings);
    out.frameCount = plan.value.frameCount;
    out.frameDurationMs = plan.value.frameDurationMs;
  }
  return out;
}
