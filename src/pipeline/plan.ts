/**
 * The first step of every image call: arguments in, a plan out (the resolved request, the files it
 * will write, confined to the workspace, and the plan's own warnings) or every problem found. Also
 * what a plan says before it is spent: its estimate, its exact payload, its planned files.
 */
import { promises as fs } from 'node:fs';
import { estimateCost, type Estimate } from '../core/cost.js';
import { DEFAULT_DOWNSCALE_SUFFIX, downscaledPath, planOutputPaths, suffixProblem } from '../core/paths.js';
import type { Problem } from '../core/problems.js';
import { apiParameters, resolveRequest, type RawRequest, type ResolvedRequest, type ToolKind } from '../core/request.js';
import { keyedSourcePath } from '../core/transparency.js';
import { historyProblem } from '../io/history.js';
import { lifecycleOf } from '../io/lifecycle.js';
import type { Endpoint, UploadFile } from '../io/openai.js';
import { readRegularFile, WorkspaceError, type Workspace } from '../io/workspace.js';
import type { DryRunPayload, ImageFactsOut } from '../results.js';
import type { RunContext } from './context.js';

export interface InputImage extends UploadFile {
  /** Workspace-relative path (or a label for data: URLs), for dry runs and results. */
  label: string;
  width: number;
  height: number;
  /** The input's own format, when it was converted to png for upload. */
  convertedFrom?: string;
  /** The mask check's verdict, shown in dry runs. */
  check?: string;
}

/** Everything a call will do, decided before anything is spent. Later steps read it, never change it. */
export interface ImagePlan {
  readonly endpoint: Endpoint;
  readonly request: ResolvedRequest;
  /** What planning found worth saying (the normaliser's and the paths' warnings). */
  readonly warnings: readonly string[];
  /** Absolute, confined paths, one per image to save. */
  readonly targets: readonly string[];
  readonly force: boolean;
  readonly downscaleMaxDim?: number | undefined;
  readonly downscaleSuffix?: string | undefined;
  readonly maxAttempts?: number | undefined;
  readonly dryRun: boolean;
  readonly images?: readonly InputImage[] | undefined;
  readonly mask?: InputImage | undefined;
  /** Extra lines for the text result (e.g. input roles). */
  readonly notes?: readonly string[] | undefined;
  /** The `preview` argument: false leaves the picture out (default true). */
  readonly preview?: boolean | undefined;
  /** The `sanitize` argument: an SVG with active or external content gets a `-clean.svg` copy without it. */
  readonly sanitize?: boolean | undefined;
  /** The `max_cost_usd` argument: the spending cap for this call, instead of IMAGEGEN_MAX_COST_USD. */
  readonly maxCostUsd?: number | undefined;
}

export const ENDPOINT_PATHS: Record<Endpoint, string> = {
  generations: '/v1/images/generations',
  edits: '/v1/images/edits',
};

const MAX_PROMPT_FILE_BYTES = 1024 * 1024;

export interface PromptArgs {
  prompt?: string | undefined;
  prompt_file?: string | undefined;
}

export interface OutputArgs {
  out?: string | undefined;
  out_dir?: string | undefined;
  force?: boolean | undefined;
  downscale_max_dim?: number | undefined;
  downscale_suffix?: string | undefined;
  /** An SVG's `-clean.svg` copy is an output too. */
  sanitize?: boolean | undefined;
}

/** The suffix of the API's original kept beside a keyed image (see keyedSourcePath). */
export const KEYED_SOURCE_SUFFIX = keyedSourcePath('');

export type Planned<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

const problem = (field: string, message: string): Planned<never> => ({ ok: false, problems: [{ field, message }] });

/** The prompt text: exactly one of prompt and prompt_file, the file read from inside the workspace. */
export async function readPrompt(args: PromptArgs, workspace: Workspace): Promise<Planned<string>> {
  if (args.prompt !== undefined && args.prompt_file !== undefined) return problem('prompt', 'Give either prompt or prompt_file, not both.');
  if (args.prompt_file === undefined) {
    if (args.prompt === undefined) return problem('prompt', 'prompt is missing: describe the image to make (or give prompt_file).');
    return { ok: true, value: args.prompt };
  }
  try {
    const file = await workspace.resolveInput(args.prompt_file, 'prompt_file');
    const stat = await fs.stat(file);
    if (!stat.isFile()) return problem('prompt_file', `prompt_file "${args.prompt_file}" is not a file.`);
    if (stat.size > MAX_PROMPT_FILE_BYTES) {
      return problem('prompt_file', `prompt_file "${args.prompt_file}" is over 1 MB; a prompt may be at most 32,000 characters.`);
    }
    // Read as it was checked: a regular file (never a FIFO swapped in since), within the cap.
    return { ok: true, value: (await readRegularFile(file, MAX_PROMPT_FILE_BYTES)).toString('utf8').trim() };
  } catch (error) {
    if (error instanceof WorkspaceError) return problem('prompt_file', error.message);
    throw error;
  }
}

export interface PlannedRequest {
  request: ResolvedRequest;
  warnings: string[];
  targets: string[];
}

/** Resolves the request and confines its planned output paths. Collects every problem found. */
export async function planRequest(
  raw: RawRequest & OutputArgs,
  tool: ToolKind,
  defaultStem: string,
  ctx: RunContext,
  workspace: Workspace,
): Promise<Planned<PlannedRequest>> {
  const resolved = resolveRequest(raw, {
    tool,
    now: ctx.config.now(),
    transparency: ctx.config.transparency,
    transparentModels: ctx.config.transparentModels,
    shutdownDates: lifecycleOf(ctx.api).known, // read by earlier calls; never looked up here
  });
  if (!resolved.ok) return resolved;
  const { options } = resolved.value;
  // Everything about the files is checked here, so dry runs refuse it too and nothing is paid for
  // an image that could not be saved.
  const suffix = raw.downscale_suffix ?? DEFAULT_DOWNSCALE_SUFFIX;
  const badSuffix = raw.downscale_suffix === undefined ? undefined : suffixProblem('downscale_suffix', raw.downscale_suffix);
  if (badSuffix) return problem('downscale_suffix', badSuffix);
  if (raw.downscale_max_dim && (options.outputFormat === 'svg' || options.outputFormat === 'gif')) {
    const why = options.outputFormat === 'svg' ? 'an SVG scales without a copy' : 'a GIF is already frame-sized';
    return problem('downscale_max_dim', `downscale_max_dim makes smaller raster copies; ${why}: drop downscale_max_dim.`);
  }
  const derived = [...(raw.downscale_max_dim ? [suffix] : []), ...(options.transparency ? [KEYED_SOURCE_SUFFIX] : [])];
  const planned = planOutputPaths({ out: raw.out, outDir: raw.out_dir, n: options.n, format: options.outputFormat, defaultStem, derived });
  if (!planned.ok) return planned;
  const targets: string[] = [];
  const field = raw.out_dir !== undefined ? 'out_dir' : 'out';
  try {
    for (const file of planned.plan.files) targets.push(await workspace.resolveOutput(file, field, { replace: raw.force ?? false }));
    if (raw.force) {
      // Copies are replaced under force too: each must be a regular file if it exists.
      for (const target of targets) {
        if (raw.downscale_max_dim) await workspace.assertReplaceable(downscaledPath(target, suffix), field);
        if (options.transparency) await workspace.assertReplaceable(keyedSourcePath(target), field);
      }
    }
  } catch (error) {
    if (error instanceof WorkspaceError) return problem(field, error.message);
    throw error;
  }
  const history = await historyProblem(workspace);
  if (history) return problem('history', history);
  const warnings = [...resolved.warnings, ...planned.plan.warnings];
  if (raw.sanitize && options.outputFormat !== 'svg') warnings.push('sanitize cleans SVG output only (set output_format to svg); nothing was cleaned.');
  return { ok: true, value: { request: resolved.value, warnings, targets } };
}

/** The cost of the plan before it is sent, where a published figure exists. */
export function estimatePlan(plan: ImagePlan): Estimate {
  const { model, size, quality, n } = plan.request.options;
  return estimateCost({ model, size, quality, n, prompt: plan.request.prompt, inputImages: plan.images?.length ?? 0 });
}

function describeUpload(image: InputImage) {
  return {
    path: image.label,
    width: image.width,
    height: image.height,
    type: image.type,
    bytes: image.bytes.length,
    ...(image.convertedFrom ? { converted_from: image.convertedFrom } : {}),
    ...(image.check ? { check: image.check } : {}),
  };
}

/** The request exactly as it would be sent (input images described, not their bytes). */
export function dryRunPayload(plan: ImagePlan): DryRunPayload {
  const { svg, ...params } = apiParameters(plan.request.options);
  const payload: DryRunPayload = { ...(params as Record<string, string | number>), prompt: plan.request.prompt };
  // The svg object, as the JSON it is sent as (payload values are flat).
  if (svg !== undefined) payload.svg = JSON.stringify(svg);
  if (plan.images) payload.image = plan.images.map(describeUpload);
  if (plan.mask) payload.mask = describeUpload(plan.mask);
  return payload;
}

/** The files the plan would write, as a result lists them. */
export function plannedFacts(plan: ImagePlan, workspace: Workspace): ImageFactsOut[] {
  const size = plan.request.options.size;
  const [w, h] = size === 'auto' ? [] : size.split('x').map(Number);
  return plan.targets.map((target) => {
    const facts: ImageFactsOut = { path: workspace.relative(target), format: plan.request.options.outputFormat };
    if (w && h) Object.assign(facts, { width: w, height: h });
    if (plan.downscaleMaxDim) facts.web_path = workspace.relative(downscaledPath(target, plan.downscaleSuffix));
    return facts;
  });
}
