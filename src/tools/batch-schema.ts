/**
 * generate_batch's arguments: the batch-level defaults and the job schema, declared so a model
 * sees every field a job may carry. One schema checks a job inline (as part of the arguments) and
 * as a JSONL line (batch-jobs.ts), so both get the same refusals; the batch-level defaults are
 * listed as text and checked against the image option values by the handler.
 */

import { z } from 'zod';
import { JOB_FIELD_KEYS } from '../core/batch.js';
import { augmentationShapeBrief, controlShape, imageOptionValues, outputShape, promptFieldsShape } from './schema.js';
import { argumentIssues, coerceArguments, describeValue, strictArguments } from './arguments.js';
import type { Problem } from '../core/problems.js';

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
 * values are listed once, in the job object; checkBatchDefaults checks them as a job's are).
 */
const batchDefaultsShape = {
  ...jobOptionsShape,
  quality: z.string().optional(),
  background: z.string().optional(),
  transparency: z.string().optional(),
  output_format: z.string().optional(),
  moderation: z.string().optional(),
};

/** Keys that belong elsewhere, each with where it goes. */
const BATCH_LEVEL = ['augment', 'out_dir', 'force', 'resume', 'concurrency', 'fail_fast', 'dry_run', 'max_attempts', 'downscale_max_dim', 'downscale_suffix', 'preview', 'max_cost_usd', 'engine', 'input', 'jobs'];
const EDIT_ONLY = ['images', 'image', 'mask', 'input_fidelity', 'input_images'];

const jobShape = {
  prompt: z.string({ error: (issue) => (issue.input === undefined ? 'prompt is missing: each job needs the prompt of its image.' : undefined) }),
  out: z.string().optional().describe('File name inside out_dir'),
  ...jobOptionsShape,
  // A record keyed by the prompt fields: a strict object of them, listed as compactly as a record.
  fields: z
    .partialRecord(z.enum(JOB_FIELD_KEYS), z.string(), {
      error: (issue) => {
        // A partial record refuses keys outside its enum as unrecognized_keys (not in its declared issue types).
        const { code, keys } = issue as { code: string; keys?: string[] };
        if (code === 'unrecognized_keys') return (keys ?? []).map((key) => `fields.${describeValue(key).slice(1, -1)} is not an augmentation field. Fields are: ${JOB_FIELD_KEYS.join(', ')}.`).join('\n');
        if (code === 'invalid_type') return 'fields must be an object of augmentation fields, e.g. {"style": "flat vector"}.';
        return undefined;
      },
    })
    .optional(),
};

function hintFor(key: string): string {
  if (key === 'prompt_file') return 'prompt_file is not read per job: put the prompt itself in the job.';
  if (BATCH_LEVEL.includes(key)) return `"${key}" is a batch-level argument: give it once in the generate_batch call, not per job.`;
  if (EDIT_ONLY.includes(key)) return `"${key}" belongs to the edit tool; batch jobs generate new images.`;
  return `${describeValue(key)} is not a job key. A job takes: ${Object.keys(jobShape).filter((k) => k !== 'fields').join(', ')}, and fields (an object of the augmentation fields).`;
}

/** One job's object: unknown keys are refused, each with where it belongs (one hint a line). */
const jobObject = z.strictObject(jobShape, {
  error: (issue) => (issue.code === 'unrecognized_keys' ? issue.keys.map(hintFor).join('\n') : undefined),
});

/** A job: a prompt, or an object with its own options. Inline jobs and JSONL lines are both checked by it. */
export const jobSchema = z.union([z.string(), jobObject], { error: 'a job is a prompt (text) or an object with "prompt"' });

export const generateBatchArguments = strictArguments(
  'generate_batch',
  {
    jobs: z.array(jobSchema).optional().describe('Prompts, or job objects; give this or input'),
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

/** What the batch-level defaults must be: the image options' values (they are listed as text). */
const batchDefaultsSchema = z.object({ ...imageOptionValues, use_case: z.string().optional(), ...promptFieldsShape, augment: z.boolean().optional() });
export type BatchDefaultValues = z.infer<typeof batchDefaultsSchema>;

/** The batch-level defaults, checked like a job's values, or their problems named as arguments. */
export function checkBatchDefaults(args: GenerateBatchArguments): { ok: true; value: BatchDefaultValues } | { ok: false; problems: Problem[] } {
  const given: Record<string, unknown> = {};
  for (const key of Object.keys(batchDefaultsSchema.shape)) {
    const value = (args as Record<string, unknown>)[key];
    if (value !== undefined) given[key] = value;
  }
  const coerced = coerceArguments(batchDefaultsSchema, given);
  const parsed = batchDefaultsSchema.safeParse(coerced);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, problems: argumentIssues(parsed.error, coerced) };
}
