/** The `edit` tool: 1-16 input images (and an optional mask) changed by a prompt, saved under the workspace. */
import { z } from 'zod';
import {
  MAX_INPUT_IMAGES,
  inputLine,
  inputOverwriteProblem,
  inputRoleWarnings,
  inputStemOf,
} from '../core/inputs.js';
import { downscaledPath } from '../core/paths.js';
import type { Problem } from '../core/problems.js';
import { loadInputImage, loadMask, targetsThatAreInputs, type LoadedImage, type LoadedMask, type SourceFile } from '../io/inputs.js';
import type { Workspace } from '../io/workspace.js';
import { imageResultSchema, problemsResult } from '../results.js';
import { defineTool } from './context.js';
import { planRequest, readPrompt } from '../pipeline/plan.js';
import { runImage } from '../pipeline/run.js';
import { augmentationShapeBrief, controlShape, imageOptionsShape, outputShape, promptShape, SAME_RULES } from './schema.js';
import { strictArguments } from './arguments.js';

const IMAGES_HELP = `give a list of 1 to ${MAX_INPUT_IMAGES} input images (workspace paths, file:// URIs inside the workspace, or data: URLs), e.g. ["photos/room.png"]`;

export const editArguments = strictArguments(
  'edit',
  {
    images: z
      .array(z.string(), {
        error: (issue) => (issue.input === undefined ? `images is missing: ${IMAGES_HELP}.` : `images is not a list of strings: ${IMAGES_HELP}.`),
      })
      .min(1, { error: `images is empty: ${IMAGES_HELP}.` })
      .max(MAX_INPUT_IMAGES, {
        error: (issue) =>
          `images has ${Array.isArray(issue.input) ? issue.input.length : 'too many'} entries; the Images API takes at most ${MAX_INPUT_IMAGES}. Drop some, or combine references into one image.`,
      })
      .describe('Paths, file:// links or small data: URLs'),
    ...promptShape,
    mask: z.string().optional().describe('PNG with alpha, size of image 1; clear = edit'),
    mask_from_luminance: z.boolean().optional().describe('Black-and-white mask (white = edit)'),
    input_fidelity: z.enum(['low', 'high']).optional(),
    ...imageOptionsShape,
    ...outputShape,
    ...controlShape,
    ...augmentationShapeBrief,
    input_images: z.string().optional().describe('Roles, e.g. "Image 1: edit target; Image 2: style"'),
  },
  {
    image: 'image is not an argument of edit: give images, a list of paths (even for one image), e.g. "images": ["photos/room.png"].',
  },
);

export type EditArguments = z.infer<typeof editArguments>;

interface LoadedInputs {
  images: LoadedImage[];
  mask?: LoadedMask;
  warnings: string[];
  problems: Problem[];
}

async function loadInputs(args: EditArguments, workspace: Workspace): Promise<LoadedInputs> {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const images: LoadedImage[] = [];
  const loaded = await Promise.all(args.images.map((reference, i) => loadInputImage(reference, i, workspace)));
  for (const result of loaded) {
    if (result.ok) {
      images.push(result.value);
      warnings.push(...result.warnings);
    } else {
      problems.push(...result.problems);
    }
  }
  for (const [i, image] of images.entries()) {
    if (image.pages) warnings.push(`Image ${i + 1} (${image.label}) has ${image.pages} frames; only the first was used.`);
  }
  let mask: LoadedMask | undefined;
  if (args.mask === undefined) {
    if (args.mask_from_luminance) {
      problems.push({ field: 'mask_from_luminance', message: 'mask_from_luminance converts a mask, but no mask was given: add mask, or drop mask_from_luminance.' });
    }
  } else if (loaded[0]?.ok) {
    // The mask is judged against image 1, so it can be checked only once image 1 is known.
    const result = await loadMask(args.mask, loaded[0].value, args.mask_from_luminance ?? false, workspace);
    if (result.ok) {
      mask = result.value;
      warnings.push(...result.warnings);
    } else {
      problems.push(...result.problems);
    }
  }
  warnings.push(...inputRoleWarnings(args.input_images, args.images.length));
  return mask ? { images, mask, warnings, problems } : { images, warnings, problems };
}

export const editTool = defineTool({
  name: 'edit',
  title: 'Edit images',
  description:
    'Change existing images with a prompt (OpenAI GPT Image models): 1-16 inputs, Image 1 edited, others references the prompt can name; optional mask. ' +
    'Saves output/imagegen/<input>-edit.png by default, never over a file without force. Returns the path, a preview to check, the prompt and the cost. ' +
    SAME_RULES,
  inputSchema: editArguments,
  outputSchema: imageResultSchema,
  annotations: {
    title: 'Edit images',
    readOnlyHint: false,
    destructiveHint: false, // never overwrites without force, and an input only when out names it
    idempotentHint: false,
    openWorldHint: true,
  },
  writesFiles: true,
  async handle(args, ctx) {
    const workspace = await ctx.workspace();
    const problems: Problem[] = [];
    const prompt = await readPrompt(args, workspace);
    if (!prompt.ok) problems.push(...prompt.problems);
    const stem = `${inputStemOf(args.images[0] ?? '')}-edit`;
    const prepared = prompt.ok ? await planRequest({ ...args, prompt: prompt.value }, 'edit', stem, ctx, workspace) : undefined;
    if (prepared && !prepared.ok) problems.push(...prepared.problems);
    const inputs = await loadInputs(args, workspace);
    problems.push(...inputs.problems);
    if (problems.length > 0 || !prepared?.ok) return problemsResult(problems);

    const { request, targets, warnings } = prepared.value;
    const sources = [...inputs.images, ...(inputs.mask ? [inputs.mask] : [])]
      .map((input) => input.source)
      .filter((source): source is SourceFile => source !== undefined);
    const force = args.force ?? false;
    const named = { force, outGiven: args.out !== undefined, n: request.options.n };
    // Downscaled copies are never named by out, so they may never replace an input.
    const copies = args.downscale_max_dim ? targets.map((t) => downscaledPath(t, args.downscale_suffix)) : [];
    const checks = [
      ...(await targetsThatAreInputs(targets, sources)).map((clash) => ({ ...clash, options: named })),
      ...(await targetsThatAreInputs(copies, sources)).map((clash) => ({ ...clash, options: { ...named, outGiven: false } })),
    ];
    for (const { target, source, options } of checks) {
      const problem = inputOverwriteProblem(workspace.relative(target), workspace.relative(source.path), options);
      if (problem) problems.push({ field: 'out', message: problem });
    }
    if (problems.length > 0) return problemsResult(problems);

    const notes = inputs.images.map((image, i) => inputLine(i, image));
    if (inputs.mask) notes.push(`Mask: ${inputs.mask.label} (${inputs.mask.check})`);
    if (args.input_images?.trim()) notes.push(`Roles: ${args.input_images.trim()}`);

    return runImage(
      {
        endpoint: 'edits',
        request,
        targets,
        warnings: [...warnings, ...inputs.warnings],
        images: inputs.images,
        ...(inputs.mask ? { mask: inputs.mask } : {}),
        notes,
        force,
        downscaleMaxDim: args.downscale_max_dim,
        downscaleSuffix: args.downscale_suffix,
        maxAttempts: args.max_attempts,
        preview: args.preview,
        sanitize: args.sanitize,
        maxCostUsd: args.max_cost_usd,
        dryRun: args.dry_run ?? false,
      },
      ctx,
    );
  },
});
