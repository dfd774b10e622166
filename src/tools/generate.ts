/** The `generate` tool: one prompt, 1-10 variants, saved under the workspace. */
import { z } from 'zod';
import { imageResultSchema, problemsResult } from '../results.js';
import { defineTool } from './context.js';
import { planRequest, readPrompt } from '../pipeline/plan.js';
import { runImage } from '../pipeline/run.js';
import { augmentationShape, controlShape, imageOptionsShape, outputShape, promptShape, RULES } from './schema.js';
import { strictArguments } from './arguments.js';

const EDIT_ONLY =
  'belongs to the edit tool (it changes existing images): call edit with images, or drop it to generate a new image.';

export const generateArguments = strictArguments(
  'generate',
  {
    ...promptShape,
    ...imageOptionsShape,
    ...outputShape,
    ...controlShape,
    ...augmentationShape,
  },
  {
    mask: `mask ${EDIT_ONLY}`,
    input_fidelity: `input_fidelity ${EDIT_ONLY}`,
    images: `images ${EDIT_ONLY}`,
    image: `image ${EDIT_ONLY}`,
    input_images: `input_images ${EDIT_ONLY}`,
  },
);

export type GenerateArguments = z.infer<typeof generateArguments>;

export const generateTool = defineTool({
  name: 'generate',
  title: 'Generate images',
  description:
    'Make new images, SVGs or GIFs from a prompt (OpenAI GPT Image models), saved in the workspace (default output/imagegen/output.png; ' +
    'never overwrites without force). Returns path, preview, prompt, cost. ' +
    RULES,
  inputSchema: generateArguments,
  outputSchema: imageResultSchema,
  annotations: {
    title: 'Generate images',
    readOnlyHint: false,
    destructiveHint: false, // never overwrites without force
    idempotentHint: false,
    openWorldHint: true,
  },
  writesFiles: true,
  async handle(args, ctx) {
    const workspace = await ctx.workspace();
    const prompt = await readPrompt(args, workspace);
    if (!prompt.ok) return problemsResult(prompt.problems);
    const prepared = await planRequest({ ...args, prompt: prompt.value }, 'generate', 'output', ctx, workspace);
    if (!prepared.ok) return problemsResult(prepared.problems);
    return runImage(
      {
        endpoint: 'generations',
        ...prepared.value,
        force: args.force ?? false,
        downscaleMaxDim: args.downscale_max_dim,
        downscaleSuffix: args.downscale_suffix,
        maxAttempts: args.max_attempts,
        dryRun: args.dry_run ?? false,
        preview: args.preview,
        sanitize: args.sanitize,
        maxCostUsd: args.max_cost_usd,
      },
      ctx,
    );
  },
});
