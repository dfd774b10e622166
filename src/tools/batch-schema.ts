/**
 * generate_batch's arguments: the batch-level defaults and the job objects, declared so a model
 * sees every field a job may carry (inline or as a JSONL line, both checked by the same schema).
 */

import { z } from 'zod';
import { augmentationShapeBrief, controlShape, imageOptionValues, outputShape, promptFieldsShape } from './schema.js';
import { strictArguments } from './arguments.js';

export const DEFAULT_CONCURRENCY = 5;
export const MAX_CONCURRENCY = 25;
export const MAX_INPUT_BYTES = 20 * 1024 * 1024;
/** 50,000 jobs with long prompts and options. */
export const MAX_BATCH_API_INPUT_BYTES = 100 * 1024 * 1024;
/** A job's own values, declared so a model sees them (no descriptions: RULES and the tool say it once). */
const jobOptionsShape = {
  ...imageOptionValues,
  use_case: z.string().optional(),
  ...promptFieldsShape,
};

/**
 * Batch-level defaults: the job options again, as plain text where a job declares an enum (the
 * values are listed once, in the job object; the normaliser checks them with the same messages).
 */
const batchDefaultsShape = {
  ...jobOptionsShape,
  quality: z.string().optional(),
  background: z.string().optional(),
  transparency: z.string().optional(),
  output_format: z.string().optional(),
  moderation: z.string().optional(),
};

/** Unknown keys pass here and are refused by the job reader, with a hint for each (core/batch.ts). */
export const jobObject = z.looseObject({
  prompt: z.string(),
  out: z.string().optional().describe('File name inside out_dir'),
  ...jobOptionsShape,
  fields: z.record(z.string(), z.string()).optional(),
});

export const generateBatchArguments = strictArguments(
  'generate_batch',
  {
    jobs: z.array(z.union([z.string(), jobObject])).optional().describe('Prompts, or job objects; give this or input'),
    input: z.string().optional().describe('JSONL file, one job per line'),
    out_dir: z.string().describe('Folder for the images and manifest.json'),
    concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional(),
    fail_fast: z.boolean().optional(),
    resume: z.boolean().optional().describe('Skip finished jobs of a batch in out_dir'),
    engine: z.enum(['direct', 'batch_api']).optional().describe('batch_api: half price, within 24 h, up to 50,000 jobs; collect with batch_status'),
    ...batchDefaultsShape,
    force: z.boolean().optional(),
    downscale_max_dim: outputShape.downscale_max_dim,
    downscale_suffix: outputShape.downscale_suffix,
    ...controlShape,
    augment: augmentationShapeBrief.augment,
  },
  {
    prompt: 'generate_batch takes its prompts per job: jobs: ["a red fox", {"prompt": "a blue bird", "out": "bird.png"}], or input (a JSONL file).',
    prompt_file: 'generate_batch reads its prompts from jobs, or from input (a JSONL file with one job per line).',
    out: 'out is per job in a batch: set out_dir for the batch, and "out" (a file name inside out_dir) inside a job.',
    images: 'images belongs to the edit tool; batch jobs generate new images.',
    mask: 'mask belongs to the edit tool; batch jobs generate new images.',
    input_fidelity: 'input_fidelity belongs to the edit tool; batch jobs generate new images.',
    input_images: 'input_images belongs to the edit tool; batch jobs generate new images.',
  },
);

export type GenerateBatchArguments = z.infer<typeof generateBatchArguments>;

