/**
 * Steps shared by generate and edit before anything is sent: read the prompt, resolve the request,
 * plan and confine the output paths.
 */
import { promises as fs } from 'node:fs';
import { DEFAULT_DOWNSCALE_SUFFIX, downscaledPath, planOutputPaths, suffixProblem } from '../core/paths.js';
import type { Problem } from '../core/problems.js';
import { resolveRequest, type RawRequest, type ResolvedRequest, type ToolKind } from '../core/request.js';
import { keyedSourcePath } from '../core/transparency.js';
import { historyProblem } from '../io/history.js';
import { lifecycleOf } from '../io/lifecycle.js';
import { readRegularFile, WorkspaceError, type Workspace } from '../io/workspace.js';
import type { ToolContext } from './context.js';

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
}

/** The suffix of the API's original kept beside a keyed image (see keyedSourcePath). */
export const KEYED_SOURCE_SUFFIX = keyedSourcePath('');

export type Prepared<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

/** The prompt text: exactly one of prompt and prompt_file, the file read from inside the workspace. */
export async function readPrompt(args: PromptArgs, workspace: Workspace): Promise<Prepared<string>> {
  if (args.prompt !== undefined && args.prompt_file !== undefined) {
    return { ok: false, problems: [{ field: 'prompt', message: 'Give either prompt or prompt_file, not both.' }] };
  }
  if (args.prompt_file === undefined) {
    if (args.prompt === undefined) {
      return { ok: false, problems: [{ field: 'prompt', message: 'prompt is missing: describe the image to make (or give prompt_file).' }] };
    }
    return { ok: true, value: args.prompt };
  }
  try {
    const file = await workspace.resolveInput(args.prompt_file, 'prompt_file');
    const stat = await fs.stat(file);
    if (!stat.isFile()) return { ok: false, problems: [{ field: 'prompt_file', message: `prompt_file "${args.prompt_file}" is not a file.` }] };
    if (stat.size > MAX_PROMPT_FILE_BYTES) {
      return { ok: false, problems: [{ field: 'prompt_file', message: `prompt_file "${args.prompt_file}" is over 1 MB; a prompt may be at most 32,000 characters.` }] };
    }
    // Read as it was checked: a regular file (never a FIFO swapped in since), within the cap.
    return { ok: true, value: (await readRegularFile(file, MAX_PROMPT_FILE_BYTES)).toString('utf8').trim() };
  } catch (error) {
    if (error instanceof WorkspaceError) return { ok: false, problems: [{ field: 'prompt_file', message: error.message }] };
    throw error;
  }
}

export interface PreparedRequest {
  request: ResolvedRequest;
  warnings: string[];
  targets: string[];
}

/** Resolves the request and confines its planned output paths. Collects every problem found. */
export async function prepareRequest(
  raw: RawRequest & OutputArgs,
  tool: ToolKind,
  defaultStem: string,
  ctx: ToolContext,
  workspace: Workspace,
): Promise<Prepared<PreparedRequest>> {
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
  if (badSuffix) return { ok: false, problems: [{ field: 'downscale_suffix', message: badSuffix }] };
  if (raw.downscale_max_dim && (options.outputFormat === 'svg' || options.outputFormat === 'gif')) {
    const why = options.outputFormat === 'svg' ? 'an SVG scales without a copy' : 'a GIF is already frame-sized';
    return { ok: false, problems: [{ field: 'downscale_max_dim', message: `downscale_max_dim makes smaller raster copies; ${why}: drop downscale_max_dim.` }] };
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
    if (error instanceof WorkspaceError) return { ok: false, problems: [{ field, message: error.message }] };
    throw error;
  }
  const history = await historyProblem(workspace);
  if (history) return { ok: false, problems: [{ field: 'history', message: history }] };
  return {
    ok: true,
    value: { request: resolved.value, warnings: [...resolved.warnings, ...planned.plan.warnings], targets },
  };
}
