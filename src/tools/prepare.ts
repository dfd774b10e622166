/**
 * Steps shared by generate and edit before anything is sent: read the prompt, resolve the request,
 * plan and confine the output paths.
 */
import { promises as fs } from 'node:fs';
import { planOutputPaths } from '../core/paths.js';
import type { Problem } from '../core/problems.js';
import { resolveRequest, type RawRequest, type ResolvedRequest, type ToolKind } from '../core/request.js';
import { lifecycleOf } from '../io/lifecycle.js';
import { WorkspaceError, type Workspace } from '../io/workspace.js';
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
}

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
    return { ok: true, value: (await fs.readFile(file, 'utf8')).trim() };
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
  const planned = planOutputPaths({ out: raw.out, outDir: raw.out_dir, n: options.n, format: options.outputFormat, defaultStem });
  if (!planned.ok) return planned;
  const targets: string[] = [];
  try {
    for (const file of planned.plan.files) targets.push(await workspace.resolveOutput(file, raw.out_dir !== undefined ? 'out_dir' : 'out'));
  } catch (error) {
    if (error instanceof WorkspaceError) return { ok: false, problems: [{ field: 'out', message: error.message }] };
    throw error;
  }
  return {
    ok: true,
    value: { request: resolved.value, warnings: [...resolved.warnings, ...planned.plan.warnings], targets },
  };
}
