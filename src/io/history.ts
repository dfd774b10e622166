/**
 * output/imagegen/history.jsonl: one JSON line per saved image (time, tool, path, model, final
 * prompt, parameters, usage, cost), so a person can find how any asset was made and an agent can
 * make it again. Appends are serialised in this process: each call's lines go whole into one write
 * to a file opened for appending, so lines from concurrent calls never interleave, and the lines
 * that arrive while a write is under way go together in the next one (a batch of 25 jobs finishing
 * at once costs a few writes, not 25 opens and checks). The history is only
 * ever a regular file: a symlink (which a cloned repository can ship) or a FIFO there is refused,
 * and every tool checks that before it spends anything.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DEFAULT_OUTPUT_DIR } from '../core/paths.js';
import { readRegularFile, WorkspaceError, type Workspace } from './workspace.js';

export const HISTORY_FILE = path.posix.join(DEFAULT_OUTPUT_DIR, 'history.jsonl');

export interface HistoryEntry {
  /** ISO 8601, when the image was saved. */
  time: string;
  tool: string;
  /** The image, relative to the workspace root. */
  path: string;
  web_path?: string;
  model: string;
  /** The final prompt sent to the API. */
  prompt: string;
  /** The prompt as the user wrote it, when augmentation changed it. */
  user_prompt?: string;
  /** The API parameters (model, n, size, quality, output_format ...). */
  params: Record<string, unknown>;
  width?: number;
  height?: number;
  format?: string;
  bytes?: number;
  /** Input images of an edit, relative to the workspace root. */
  inputs?: string[];
  /** The usage of the whole call that made this image (shared by its n images). */
  call_usage?: Record<string, unknown>;
  /** This image's share of the call's cost (the call's cost / its images), so lines add up. */
  cost_usd?: number;
  routing_note?: string;
  /** Batch jobs: the job's number and the batch's folder. */
  job?: number;
  batch?: string;
}

interface PendingLines {
  text: string;
  resolve(): void;
  reject(error: unknown): void;
}

/** Per history file: the lines waiting for the next write, and whether a write is under way. */
const queues = new Map<string, { pending: PendingLines[]; writing: boolean }>();

const HISTORY_FIX = `Remove it (a new history is started there), then call again.`;

/** The history file of a workspace (in its first root): its folder writable, the file absent or a regular file. */
export async function historyPath(workspace: Workspace): Promise<string> {
  return workspace.resolveOutput(HISTORY_FILE, 'history', { append: true, fix: HISTORY_FIX });
}

/**
 * Why the history could not take this call's lines, checked before anything is spent (a saved
 * image whose line cannot be written would be paid for and half-recorded), or undefined.
 */
export async function historyProblem(workspace: Workspace): Promise<string | undefined> {
  try {
    await historyPath(workspace);
    return undefined;
  } catch (error) {
    if (error instanceof WorkspaceError) return `Every saved image gets a line in the history, which cannot be written, so nothing is sent: ${error.message}`;
    throw error;
  }
}

/**
 * Appends one line per entry, in order, in one write (shared with the lines of calls that came
 * meanwhile). Safe to call concurrently; resolves once the lines are written.
 */
export function appendHistory(workspace: Workspace, entries: readonly HistoryEntry[]): Promise<void> {
  if (entries.length === 0) return Promise.resolve();
  const text = entries.map((e) => JSON.stringify(e)).join('\n') + '\n';
  const file = path.join(workspace.root, HISTORY_FILE);
  let queue = queues.get(file);
  if (!queue) {
    queue = { pending: [], writing: false };
    queues.set(file, queue);
  }
  const mine = new Promise<void>((resolve, reject) => queue.pending.push({ text, resolve, reject }));
  if (!queue.writing) void drain(workspace, file, queue);
  return mine;
}

/** Writes what is waiting to `file` (the history under the root), again while more arrives; each write's callers learn how it went. */
async function drain(workspace: Workspace, file: string, queue: { pending: PendingLines[]; writing: boolean }): Promise<void> {
  queue.writing = true;
  while (queue.pending.length > 0) {
    const lines = queue.pending.splice(0);
    const text = lines.map((l) => l.text).join('');
    try {
      // A history that is there is appended to as it is: the append's own checks (a regular file,
      // in a folder inside the workspace) are the ones that hold at the write. The first line, or
      // one after the file was removed, takes the full check and creates the file.
      if (!(await workspace.appendFile(file, text, 'history', HISTORY_FIX, { create: false }))) {
        const checked = await historyPath(workspace);
        await fs.mkdir(path.dirname(checked), { recursive: true });
        await workspace.appendFile(checked, text, 'history', HISTORY_FIX);
      }
      for (const l of lines) l.resolve();
    } catch (error) {
      for (const l of lines) l.reject(error);
    }
  }
  queue.writing = false;
  queues.delete(file);
}

/** Every well-formed line of the history, oldest first; a missing file is an empty history. */
export async function readHistory(workspace: Workspace): Promise<HistoryEntry[]> {
  let text: string;
  try {
    text = (await readRegularFile(await workspace.resolveInput(HISTORY_FILE, 'history'))).toString('utf8');
  } catch {
    return [];
  }
  const entries: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as HistoryEntry;
      if (entry && typeof entry.path === 'string') entries.push(entry);
    } catch {
      // a damaged line (e.g. hand-edited) is skipped, not fatal
    }
  }
  return entries;
}

/** The latest entry for each path (and web copy), for looking up how a file was made. */
export function latestByPath(entries: readonly HistoryEntry[]): Map<string, HistoryEntry> {
  const byPath = new Map<string, HistoryEntry>();
  for (const entry of entries) {
    byPath.set(entry.path, entry);
    if (entry.web_path) byPath.set(entry.web_path, entry);
  }
  return byPath;
}
