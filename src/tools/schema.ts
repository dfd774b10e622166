/**
 * Argument schemas shared by the tools. Names follow the image CLI's long flags in snake_case so
 * its JSONL batch files work unchanged. A model reads every byte of these in every conversation,
 * so descriptions are short: rules that apply to several arguments (sizes, models, prompt fields)
 * are said once in the tool's description (RULES below), and the cross-field rules live in
 * core/request.ts, so every tool applies them the same way.
 */
import { z } from 'zod';
import { describeValue } from './arguments.js';
import { USE_CASES } from '../core/prompt.js';
import { ALL_QUALITIES, COMPLEXITIES } from '../core/models.js';
import { TRANSPARENCY_STRATEGIES } from '../core/transparency.js';

/** The rules shared by generate, edit and generate_batch, said once in each tool's description. */
export const RULES =
  'Models: gpt-image-2 (default), gpt-image-2.5/2.6 -sunburst (detail) and -flare (fast). ' +
  'size: auto or WxH, multiples of 16, longest edge < 3840, ratio <= 3:1, 655,360-8,294,400 px (1024x1024 fastest; 1536x1024, 3824x2160). ' +
  'Transparent background: png/webp; leave model unset, or transparency chroma_key. complexity: 2.6 only. ' +
  'svg/gif: 2.6 only; svg n=1, sanitize: a -clean.svg copy without scripts; gif frame_count 2-16, frame_duration_ms. ' +
  'Prompt fields make labelled lines (text: verbatim; negative: avoid). dry_run: free preview. max_cost_usd: refuse above.';

function nRange(issue: { input?: unknown }): string {
  return `n must be a whole number from 1 to 10 (it is ${describeValue(issue.input)}): n makes variants of one prompt; distinct assets are separate jobs in generate_batch.`;
}

/** The options of one image request as values only: what a batch job may carry. */
export const imageOptionValues = {
  model: z.string().optional(),
  // The fix is more than the range: distinct images are separate jobs, not variants.
  n: z
    .number({ error: nRange })
    .int({ error: nRange })
    .min(1, { error: nRange })
    .max(10, { error: nRange })
    .optional(),
  size: z.string().optional(),
  quality: z.enum(ALL_QUALITIES).optional(),
  background: z.enum(['transparent', 'opaque', 'auto']).optional(),
  transparency: z.enum(TRANSPARENCY_STRATEGIES).optional(),
  key_color: z.string().optional(),
  output_format: z.enum(['png', 'jpeg', 'jpg', 'webp', 'svg', 'gif']).optional(),
  output_compression: z.number().int().min(0).max(100).optional(),
  moderation: z.enum(['auto', 'low']).optional(),
  complexity: z.enum(COMPLEXITIES).optional(),
};

/** The same for generate and edit, with the few words a model needs, and the SVG/GIF options. */
export const imageOptionsShape = {
  ...imageOptionValues,
  n: imageOptionValues.n.describe('Variants'),
  quality: imageOptionValues.quality.describe('low for drafts'),
  background: imageOptionValues.background.describe("The output's alpha, not the scene"),
  svg_model: z.string().optional(),
  svg_effort: z.string().optional(),
  sanitize: z.boolean().optional(),
  // Ranges checked by the normaliser (core/gif.ts), whose refusals name the fix.
  frame_count: z.number().optional(),
  frame_duration_ms: z.number().optional(),
};

/** Said by edit and generate_batch, whose descriptions leave the shared rules to generate's. */
export const SAME_RULES = 'Models, sizes, transparency and prompt fields as in generate.';

/** Prompt fields without descriptions: the tool description says what they are. */
const field = () => z.string().optional();
export const promptFieldsShape = {
  asset_type: field(),
  scene: field(),
  subject: field(),
  style: field(),
  composition: field(),
  lighting: field(),
  palette: field(),
  materials: field(),
  text: field(),
  constraints: field(),
  negative: field(),
};

export const augmentationShape = {
  augment: z.boolean().optional(),
  use_case: z.enum(USE_CASES).optional(),
  ...promptFieldsShape,
};

/** The same, with use_case as text (the normaliser checks the slug): its list is said once, in generate. */
export const augmentationShapeBrief = {
  augment: z.boolean().optional(),
  use_case: z.string().optional().describe('Slug, e.g. precise-object-edit'),
  ...promptFieldsShape,
};

export const outputShape = {
  out: z.string().optional(),
  out_dir: z.string().optional(),
  force: z.boolean().optional().describe('Overwrite (else -v2)'),
  downscale_max_dim: z.number().int().min(1).optional().describe('Also a -web copy'),
  downscale_suffix: z.string().optional(),
};

export const controlShape = {
  dry_run: z.boolean().optional(),
  max_attempts: z.number().int().min(1).max(10).optional(),
  preview: z.boolean().optional(),
  max_cost_usd: z.number().min(0).optional(),
};

export const promptShape = {
  prompt: z.string().optional(),
  prompt_file: z.string().optional(),
};
