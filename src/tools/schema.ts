/**
 * Argument schemas shared by the tools. Names follow the image CLI's long flags in snake_case so
 * its JSONL batch files work unchanged. Descriptions teach the rules in few words; the cross-field
 * rules live in core/request.ts, so every tool applies them the same way.
 */
import { z } from 'zod';
import { USE_CASES } from '../core/prompt.js';
import { ALL_QUALITIES, COMPLEXITIES } from '../core/models.js';
import { TRANSPARENCY_STRATEGIES } from '../core/transparency.js';

export const imageOptionsShape = {
  model: z
    .string()
    .optional()
    .describe('GPT Image model. Default gpt-image-2; gpt-image-2.6-sunburst (detail) or -flare (fast drafts). Transparent requests without a model go to one that makes alpha.'),
  n: z.number().int().min(1).max(10).optional().describe('Variants of this one prompt, 1-10 (default 1). Distinct assets are separate calls or batch jobs.'),
  size: z
    .string()
    .optional()
    .describe(
      'auto (default) or WIDTHxHEIGHT: edges multiples of 16, longest < 3840, ratio <= 3:1, 655,360-8,294,400 pixels (e.g. 1024x1024, 1536x1024, 2048x1152, 3824x2160).',
    ),
  quality: z.enum(ALL_QUALITIES).optional().describe('low (fast drafts), medium (default), high, auto; xhigh and max on gpt-image-2.5/2.6 models.'),
  background: z
    .enum(['transparent', 'opaque', 'auto'])
    .optional()
    .describe('Output alpha, not the scene. transparent needs png or webp; how it is made is set by transparency.'),
  transparency: z
    .enum(TRANSPARENCY_STRATEGIES)
    .optional()
    .describe(
      'How a transparent background is made (implies background transparent). route (default): a model that makes alpha itself (gpt-image-2.5/2.6-sunburst), chroma_key as last resort; ' +
        'chroma_key: the chosen model draws on a flat key colour that the server turns into alpha; native: send background transparent to the chosen model as it is.',
    ),
  key_color: z
    .string()
    .optional()
    .describe('chroma_key: the flat background colour asked of the model, hex (default #00ff00). Pick one far from the subject, e.g. #ff00ff for a green subject.'),
  output_format: z.enum(['png', 'jpeg', 'jpg', 'webp']).optional().describe('png (default), jpeg (jpg), webp.'),
  output_compression: z.number().int().min(0).max(100).optional().describe('0-100, jpeg and webp only.'),
  moderation: z.enum(['auto', 'low']).optional().describe('Content moderation strictness (default auto).'),
  complexity: z.enum(COMPLEXITIES).optional().describe('gpt-image-2.6 only: planning effort, low|medium|high.'),
};

export const augmentationShape = {
  augment: z.boolean().optional().describe('Build a labelled spec from the fields below (default true). false sends the prompt as written.'),
  use_case: z.enum(USE_CASES).optional().describe('Use-case slug, e.g. photorealistic-natural, product-mockup, ui-mockup, logo-brand, precise-object-edit.'),
  asset_type: z.string().optional().describe('Where the asset will be used, e.g. "landing page hero".'),
  scene: z.string().optional().describe('Scene or backdrop (the visual setting, not output transparency).'),
  subject: z.string().optional(),
  style: z.string().optional().describe('Style or medium.'),
  composition: z.string().optional().describe('Composition and framing.'),
  lighting: z.string().optional().describe('Lighting and mood.'),
  palette: z.string().optional().describe('Colour palette.'),
  materials: z.string().optional().describe('Materials and textures.'),
  text: z.string().optional().describe('Text to render verbatim in the image.'),
  constraints: z.string().optional().describe('Must-keep constraints.'),
  negative: z.string().optional().describe('What to avoid.'),
};

export const outputShape = {
  out: z.string().optional().describe('Output file, relative to the workspace root (default output/imagegen/...). n > 1 numbers it: name-1.png ...'),
  out_dir: z.string().optional().describe('Output folder instead of out: files image_1.png, image_2.png ...'),
  force: z.boolean().optional().describe('Overwrite an existing file. Without it a versioned sibling (name-v2.png) is written.'),
  downscale_max_dim: z.number().int().min(1).optional().describe('Also write a copy whose longest edge is at most this many px (name-web.png).'),
  downscale_suffix: z.string().optional().describe('Suffix of the downscaled copy (default -web).'),
};

export const controlShape = {
  dry_run: z.boolean().optional().describe('Return the exact request and planned paths without calling the API (no key needed).'),
  max_attempts: z.number().int().min(1).max(10).optional().describe('Attempts for transient failures (429, 5xx, timeouts), 1-10 (default 3).'),
  preview: z
    .boolean()
    .optional()
    .describe('Return one small preview picture of the saved images (a numbered contact sheet for several); default true. false: text and links only.'),
  max_cost_usd: z
    .number()
    .min(0)
    .optional()
    .describe('Spending cap in USD for this call, instead of IMAGEGEN_MAX_COST_USD: a call estimated above it is refused before anything is sent.'),
};

export const promptShape = {
  prompt: z.string().optional().describe('What to make. Give this or prompt_file.'),
  prompt_file: z.string().optional().describe('A text file inside the workspace holding the prompt, instead of prompt.'),
};
