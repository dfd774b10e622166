/**
 * A batch's jobs before anything is sent: read (inline or from a JSONL file inside the workspace),
 * planned by the core, their files confined, and for each the decision to run it, skip it (resume:
 * its files are there and decode) or refuse the batch (files in the way), every problem by job.
 */

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MANIFEST_NAME, inlineJobs, jobProblem, parseJobLines, type JobSource, type PlannedJob } from '../core/batch.js';
import type { Problem } from '../core/problems.js';
import { inspectImage } from '../io/images.js';
import type { ResolvedRequest } from '../core/request.js';
import { checkPathLength, fileKind, WorkspaceError, type Workspace } from '../io/workspace.js';
import { historyProblem } from '../io/history.js';
import { keyedSourcePath } from '../core/transparency.js';
import { problemsResult, type ImageFactsOut } from '../results.js';
import type { ImagePlan } from '../pipeline/plan.js';
import { coerceArguments, jobIssues } from './arguments.js';
import { jobSchema, MAX_BATCH_API_INPUT_BYTES, MAX_INPUT_BYTES, type GenerateBatchArguments } from './batch-schema.js';

/** A planned job with its confined paths and what this call does with it; what becomes of it is its outcome (batch-run). */
export interface BatchJob {
  readonly plan: PlannedJob;
  /** Absolute, confined targets, one per planned file. */
  readonly targets: readonly string[];
  /** Targets already holding a decodable image (resume): kept, not made again. */
  readonly kept: ReadonlyMap<number, ImageFactsOut>;
  /** Everything is there already (resume). */
  readonly skip: boolean;
  /** The image call this job makes (for the images not kept). */
  readonly call: ImagePlan;
}

type Checked<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

/** The jobs that passed the job schema, the problems of the lines that did not, and how many jobs were given. */
type JobSources = { jobs: JobSource[]; problems: Problem[]; given: number };

export async function readJobSources(args: GenerateBatchArguments, workspace: Workspace): Promise<Checked<JobSources>> {
  if (args.jobs !== undefined && args.input !== undefined) {
    return { ok: false, problems: [{ field: 'jobs', message: 'Give either jobs (inline) or input (a JSONL file), not both.' }] };
  }
  if (args.jobs !== undefined) return { ok: true, value: { jobs: inlineJobs(args.jobs), problems: [], given: args.jobs.length } };
  if (args.input === undefined) {
    return {
      ok: false,
      problems: [{ field: 'jobs', message: 'The batch has no jobs: give jobs (e.g. ["a red fox", {"prompt": "a blue bird", "out": "bird.png"}]) or input (a JSONL file inside the workspace).' }],
    };
  }
  try {
    const file = await workspace.resolveInput(args.input, 'input');
    const stat = await fs.stat(file);
    if (!stat.isFile()) return { ok: false, problems: [{ field: 'input', message: `input "${args.input}" is not a file.` }] };
    const limit = args.engine === 'batch_api' ? MAX_BATCH_API_INPUT_BYTES : MAX_INPUT_BYTES;
    if (stat.size > limit) {
      const what = args.engine === 'batch_api' ? '100 MB; a Batch API batch holds at most 50,000 jobs' : '20 MB; a batch holds at most 500 jobs';
      return { ok: false, problems: [{ field: 'input', message: `input "${args.input}" is over ${what}. Split the file.` }] };
    }
    const parsed = parseJobLines(await fs.readFile(file, 'utf8'));
    const problems = parsed.problems.map((p) => ({ ...p, message: `${args.input}, ${p.message}` }));
    const jobs: JobSource[] = [];
    for (const job of parsed.jobs) {
      // A line is taken and checked as an inline job is (numbers sent as text as meant, null as not
      // given), so both get the same refusals; its problems name its line too.
      const value = coerceArguments(jobSchema, job.value);
      const checked = jobSchema.safeParse(value);
      if (checked.success) jobs.push({ ...job, value: checked.data });
      else problems.push(...jobIssues(checked.error, value, job));
    }
    return { ok: true, value: { jobs, problems, given: parsed.jobs.length } };
  } catch (error) {
    if (error instanceof WorkspaceError) return { ok: false, problems: [{ field: 'input', message: error.message }] };
    throw error;
  }
}

/** out_dir as a path (a file:// URI is accepted, as for out). */
export function outDirPath(outDir: string): Checked<string> {
  const trimmed = outDir.trim();
  if (trimmed === '') return { ok: false, problems: [{ field: 'out_dir', message: 'out_dir is empty: name the folder for the batch, e.g. "assets/sprites".' }] };
  if (!trimmed.startsWith('file://')) return { ok: true, value: trimmed };
  try {
    return { ok: true, value: fileURLToPath(trimmed) };
  } catch {
    return { ok: false, problems: [{ field: 'out_dir', message: `out_dir "${outDir}" is not a valid file:// URI.` }] };
  }
}

type FileState = 'missing' | 'image' | 'other' | 'special';
export type Exists = (file: string) => Promise<boolean>;

export const CASE_INSENSITIVE = process.platform === 'win32' || process.platform === 'darwin';

/** Whether files exist, from one listing per folder rather than one lookup per file. */
export function folderListings(workspace: Workspace): Exists {
  const listings = new Map<string, Promise<Set<string> | undefined>>();
  const key = (name: string) => (CASE_INSENSITIVE ? name.toLowerCase() : name);
  return async (file) => {
    const dir = path.dirname(file);
    let listing = listings.get(dir);
    if (!listing) {
      listing = fs.readdir(dir).then(
        (names) => new Set(names.map(key)),
        (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? new Set<string>() : undefined),
      );
      listings.set(dir, listing);
    }
    const names = await listing;
    return names ? names.has(key(path.basename(file))) : workspace.exists(file);
  };
}

export async function fileState(target: string, workspace: Workspace, exists: Exists, decode: boolean): Promise<{ state: FileState; facts?: ImageFactsOut; kind?: string }> {
  if (!(await exists(target))) return { state: 'missing' };
  // Only a regular file is trusted: a link (to an image outside the workspace, or inside) or a
  // FIFO is never taken as a finished job, nor read, nor made into a -web copy.
  const stat = await fs.lstat(target).catch(() => undefined);
  if (!stat) return { state: 'missing' };
  if (!stat.isFile()) return { state: 'special', kind: fileKind(stat) };
  if (!decode) return { state: 'other' };
  try {
    const facts = await inspectImage(target);
    const after = await fs.lstat(target);
    // The file read must be the file checked: one swapped for a link meanwhile is not trusted.
    if (!after.isFile() || after.ino !== stat.ino || after.dev !== stat.dev) return { state: 'special', kind: fileKind(after) };
    return { state: 'image', facts: { path: workspace.relative(target), width: facts.width, height: facts.height, format: facts.format, bytes: after.size } };
  } catch {
    return { state: 'other' };
  }
}

/** out_dir as prepareJobs needs it: the manifest's confined path, the folder's own problems, and the look-ups the jobs share. */
export interface OutDir {
  manifest: string;
  /** Problems of the folder itself (an earlier batch's manifest in the way). */
  problems: Problem[];
  /** A file's confined path; each folder is confined once (on its real path), not each file. */
  confine(file: string): Promise<string>;
  exists: Exists;
}

/**
 * The checks of out_dir that no job changes (the manifest's path, the history, an earlier batch
 * there) and its listing. Started before the jobs are planned, so its first look-ups overlap the
 * planning; nothing is written.
 */
export async function checkOutDir(args: GenerateBatchArguments, workspace: Workspace): Promise<Checked<OutDir>> {
  const folders = new Map<string, Promise<string>>();
  const confine = async (file: string): Promise<string> => {
    const dir = path.dirname(file);
    let real = folders.get(dir);
    if (!real) {
      real = workspace.resolveOutput(file, 'out').then((resolved) => path.dirname(resolved));
      folders.set(dir, real);
    }
    const target = path.join(await real, path.basename(file));
    checkPathLength(target, file, 'out'); // every file's, not only the one its folder was confined with
    return target;
  };
  const exists = folderListings(workspace);
  const manifestFile = path.join(args.out_dir, MANIFEST_NAME);
  const [manifest, history] = await Promise.all([
    workspace
      .resolveOutput(manifestFile, 'out_dir', { replace: true, fix: 'Remove it, or choose another out_dir, and call again.' })
      .catch((error: unknown) => (error instanceof WorkspaceError ? error : Promise.reject(error))),
    historyProblem(workspace),
  ]);
  if (manifest instanceof WorkspaceError) return { ok: false, problems: [{ field: 'out_dir', message: manifest.message }] };
  if (history) return { ok: false, problems: [{ field: 'history', message: history }] };
  // The jobs' own names mostly go in the manifest's folder: confined with it, not again.
  folders.set(path.dirname(manifestFile), Promise.resolve(path.dirname(manifest)));
  const problems: Problem[] = [];
  // Listing the folder here lists it for the jobs' files too (most share it).
  if (!args.resume && !args.force && (await exists(manifest))) {
    problems.push({
      field: 'out_dir',
      message: `${workspace.relative(manifest)} exists: an earlier batch wrote to this folder. Set resume: true to finish it (finished jobs are skipped), force: true to start over, or choose another out_dir.`,
    });
  }
  return { ok: true, value: { manifest, problems, confine, exists } };
}

/**
 * Confines every planned file, then decides per job, before anything is sent: run it, skip it
 * (resume, its files are there and decode), or refuse the batch (files in the way).
 */
export async function prepareJobs(
  planned: PlannedJob[],
  args: GenerateBatchArguments,
  workspace: Workspace,
  outDir: OutDir,
): Promise<Checked<{ jobs: BatchJob[]; manifest: string }>> {
  const problems: Problem[] = [...outDir.problems];
  const resume = args.resume ?? false;
  const force = args.force ?? false;
  const { manifest, confine, exists } = outDir;
  const jobs: BatchJob[] = [];
  // A few jobs at a time, not all 500 at once: bounded file checks (header reads on resume) and
  // little state alive at any moment.
  await inSlices(planned, PREPARE_AT_ONCE, async (plan, index) => {
    let targets: string[];
    let webTargets: string[];
    try {
      targets = await Promise.all(plan.files.map(confine));
      webTargets = await Promise.all(plan.webFiles.map(confine));
    } catch (error) {
      if (error instanceof WorkspaceError) {
        problems.push(jobProblem(plan, 'out', error.message));
        return;
      }
      throw error;
    }
    const kept = new Map<number, ImageFactsOut>();
    let toMake = targets.map((_, i) => i);
    const keyedSources = plan.request.options.transparency ? targets.map((t) => keyedSourcePath(t)) : [];
    const states = await Promise.all(targets.map((t) => fileState(t, workspace, exists, resume)));
    const webStates = await Promise.all(webTargets.map((t) => fileState(t, workspace, exists, false)));
    const sourceStates = await Promise.all(keyedSources.map((t) => fileState(t, workspace, exists, false)));
    const special = [
      ...targets.map((file, i) => ({ file, ...states[i]! })),
      ...webTargets.map((file, i) => ({ file, ...webStates[i]! })),
      ...keyedSources.map((file, i) => ({ file, ...sourceStates[i]! })),
    ].filter((s) => s.state === 'special');
    for (const { file, kind } of special) {
      problems.push(jobProblem(plan, 'out', `${workspace.relative(file)} is ${kind}, not a regular file. A batch writes only regular files and resumes only from them (a link could lead outside the workspace). Remove it, and call again.`));
    }
    if (special.length > 0) return;
    if (!force || resume) {
      if (!resume) {
        const taken = [...targets.filter((_, i) => states[i]!.state !== 'missing'), ...webTargets.filter((_, i) => webStates[i]!.state !== 'missing')];
        for (const file of taken) {
          problems.push(jobProblem(plan, 'out', `${workspace.relative(file)} already exists. Set resume: true to skip finished jobs, force: true to replace the files, or choose another out_dir.`));
        }
      } else {
        const unreadable = targets.filter((_, i) => states[i]!.state === 'other');
        if (unreadable.length > 0 && !force) {
          for (const file of unreadable) {
            problems.push(jobProblem(plan, 'out', `${workspace.relative(file)} exists but is not an image this server can read, so the job cannot be resumed. Remove it, or set force: true to replace it.`));
          }
        } else if (unreadable.length === 0) {
          states.forEach((s, i) => s.facts && kept.set(i, s.facts));
          toMake = toMake.filter((i) => !kept.has(i));
        }
      }
    }
    const withN = (r: ResolvedRequest): ResolvedRequest => ({ ...r, options: { ...r.options, n: toMake.length } });
    const request: ResolvedRequest =
      toMake.length === targets.length || toMake.length === 0
        ? plan.request
        : { ...withN(plan.request), ...(plan.request.fallbacks ? { fallbacks: plan.request.fallbacks.map((f) => ({ ...f, request: withN(f.request) })) } : {}) };
    const call: ImagePlan = {
      endpoint: 'generations',
      request,
      warnings: plan.warnings,
      targets: toMake.map((i) => targets[i]!),
      force,
      downscaleMaxDim: args.downscale_max_dim,
      downscaleSuffix: args.downscale_suffix,
      maxAttempts: args.max_attempts,
      dryRun: args.dry_run ?? false,
    };
    jobs[index] = { plan, targets, kept, skip: toMake.length === 0, call };
  });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { jobs, manifest } };
}

const PREPARE_AT_ONCE = 16;

/** Runs `work` over `items`, `size` at a time. */
async function inSlices<T>(items: readonly T[], size: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    await Promise.all(items.slice(start, start + size).map((item, i) => work(item, start + i)));
  }
}

/**
 * Problems found concurrently or by different steps, back in the order of the jobs (the batch's own
 * first): by line in a JSONL file (a line that is no job has no number), else by job number.
 */
function sortProblems(problems: Problem[]): Problem[] {
  const place = (p: Problem) => p.line ?? p.job ?? 0;
  return problems.map((p, i) => ({ p, i })).sort((a, b) => place(a.p) - place(b.p) || a.i - b.i).map(({ p }) => p);
}

/** Most problems listed in one refusal: a file of 50,000 bad lines must not make an answer no client can take. */
export const MAX_LISTED_PROBLEMS = 100;

export function refusal(problems: Problem[]): CallToolResult {
  const count = problems.length;
  const listed = sortProblems(problems).slice(0, MAX_LISTED_PROBLEMS);
  if (count > listed.length) {
    listed.push({ field: 'jobs', message: `…and ${count - listed.length} more: fix these, and call again to see the rest.` });
  }
  return problemsResult(
    listed,
    `the batch has ${count} problem${count === 1 ? '' : 's'}, so nothing was sent. Fix ${count === 1 ? 'it' : 'them all'} and call again (no job runs until every job is valid):`,
  );
}

