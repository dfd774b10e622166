/**
 * What the gallery holds: the images under output/imagegen/ (and any other image the history
 * records), newest first, with the prompt from the history as description; batch manifests (any
 * manifest.json under output/, or next to an image the history records), each Batch API batch
 * beside its manifest (batch-gallery.ts); and the history itself. resources/list pages through it
 * with a cursor; resources.ts serves the files.
 */
import type { Dirent } from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCode, McpError, type ListResourcesResult, type Resource } from '@modelcontextprotocol/sdk/types.js';
import { batchUri, describeBatch, readBatchHead, submittedManifests, type BatchHead } from './batch-gallery.js';
import { imageFormatOfFile, mimeTypeOf } from './core/formats.js';
import { DEFAULT_OUTPUT_DIR } from './core/paths.js';
import { HISTORY_FILE, latestByPath, readHistory, type HistoryEntry } from './io/history.js';
import type { Workspace } from './io/workspace.js';

const MANIFEST_NAME = 'manifest.json';
const OUTPUT_TREE = 'output';
/** Files looked at per listing, so a huge output tree cannot stall the server. */
const MAX_WALK = 20_000;
const DESCRIPTION_CHARS = 400;

export type Kind = 'image' | 'manifest' | 'history';

interface GalleryEntry {
  file: string;
  /** Relative to the workspace root, with forward slashes. */
  rel: string;
  kind: Kind;
  mimeType: string;
  size: number;
  mtimeMs: number;
  /** Set on the entry of a Batch API batch (listed beside its manifest, as imagegen://batch/<id>). */
  batch?: BatchHead;
}

export function kindOf(file: string): { kind: Kind; mimeType: string } | undefined {
  const base = path.basename(file);
  const format = imageFormatOfFile(base);
  if (format) return { kind: 'image', mimeType: mimeTypeOf(format) };
  if (base === MANIFEST_NAME) return { kind: 'manifest', mimeType: 'application/json' };
  if (base === path.posix.basename(HISTORY_FILE)) return { kind: 'history', mimeType: 'application/jsonl' };
  return undefined;
}

/** The gallery's order: newest first, ties by path (afterCursor reads a cursor's position in it). */
const newestFirst = (a: GalleryEntry, b: GalleryEntry) => b.mtimeMs - a.mtimeMs || (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0);

const toPosix = (p: string) => p.split(path.sep).join('/');

async function walk(dir: string, visit: (file: string) => void, budget: { left: number }): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (budget.left-- <= 0) return;
    // Temp files of atomic writes start with a dot; symlinks are never followed out of the tree.
    if (entry.name.startsWith('.') || entry.isSymbolicLink()) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, visit, budget);
    else if (entry.isFile()) visit(full);
  }
}

/** Everything the gallery shows, newest first (ties by path). */
export async function collectGallery(workspace: Workspace, history: readonly HistoryEntry[]): Promise<GalleryEntry[]> {
  const root = workspace.root;
  const candidates = new Set<string>();
  const imagesDir = path.join(root, DEFAULT_OUTPUT_DIR) + path.sep;
  await walk(
    path.join(root, OUTPUT_TREE),
    (file) => {
      const kind = kindOf(file)?.kind;
      if (kind === 'manifest' || (kind !== undefined && file.startsWith(imagesDir))) candidates.add(file);
    },
    { left: MAX_WALK },
  );
  // Images saved elsewhere (out, out_dir) are in the gallery too, with their batch's manifest.
  for (const entry of history) {
    for (const rel of [entry.path, entry.web_path]) {
      if (!rel) continue;
      const file = path.resolve(root, rel);
      candidates.add(file);
      candidates.add(path.join(path.dirname(file), MANIFEST_NAME));
    }
  }
  // Batch API batches are listed from submission on, before any image (or history line) exists.
  for (const manifest of await submittedManifests(workspace)) candidates.add(manifest);

  const entries: GalleryEntry[] = [];
  const seen = new Set<string>();
  await Promise.all(
    [...candidates].map(async (candidate) => {
      const kind = kindOf(candidate);
      if (!kind) return;
      let real: string;
      try {
        real = await workspace.resolveInput(candidate, 'resource');
        const stat = await fs.stat(real);
        if (!stat.isFile() || seen.has(real)) return;
        seen.add(real);
        entries.push({ file: real, rel: toPosix(workspace.relative(real)), ...kind, size: stat.size, mtimeMs: stat.mtimeMs });
      } catch {
        // gone, or outside the workspace: not listed
      }
    }),
  );
  return entries.sort(newestFirst);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function describe(entry: GalleryEntry, made: HistoryEntry | undefined): string {
  switch (entry.kind) {
    case 'history':
      return 'History: one JSON line per saved image (time, tool, path, model, final prompt, parameters, usage, cost).';
    case 'manifest':
      return 'Batch manifest: the jobs of a generate_batch run, their status and files.';
    case 'image':
      return made ? clip(made.prompt, DESCRIPTION_CHARS) : 'Image in the output folder (no history line records how it was made).';
  }
}

/** Each Batch API manifest's batch, as an entry of its own beside the manifest (only the manifest's head is read). */
async function withBatches(entries: GalleryEntry[]): Promise<GalleryEntry[]> {
  const batches = await Promise.all(
    entries.map(async (entry) => {
      if (entry.kind !== 'manifest') return undefined;
      const head = await readBatchHead(entry.file);
      return head ? { ...entry, rel: `${entry.rel}#batch`, mimeType: 'application/json', batch: head } : undefined;
    }),
  );
  const all = [...entries, ...batches.filter((b) => b !== undefined)];
  return all.sort(newestFirst);
}

function toResource(entry: GalleryEntry, made: HistoryEntry | undefined): Resource {
  if (entry.batch) {
    return {
      uri: batchUri(entry.batch.id),
      name: `batch ${entry.batch.id}`,
      title: `Batch API batch ${entry.batch.id}`,
      description: clip(describeBatch(entry.batch), DESCRIPTION_CHARS),
      mimeType: 'application/json',
      annotations: { lastModified: new Date(entry.mtimeMs).toISOString() },
      _meta: { status: entry.batch.status, manifest: entry.rel.slice(0, -'#batch'.length) },
    };
  }
  const resource: Resource = {
    uri: pathToFileURL(entry.file).href,
    name: entry.rel,
    title: path.basename(entry.rel),
    description: describe(entry, made),
    mimeType: entry.mimeType,
    size: entry.size,
    annotations: { lastModified: new Date(entry.mtimeMs).toISOString() },
  };
  if (made && entry.kind === 'image') resource._meta = { model: made.model, tool: made.tool, time: made.time };
  return resource;
}

interface Cursor {
  mtimeMs: number;
  rel: string;
}

function encodeCursor(entry: GalleryEntry): string {
  return Buffer.from(JSON.stringify([entry.mtimeMs, entry.rel])).toString('base64url');
}

function decodeCursor(cursor: string): Cursor {
  try {
    const [mtimeMs, rel] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof mtimeMs === 'number' && typeof rel === 'string') return { mtimeMs, rel };
  } catch {
    // falls through to the error below
  }
  throw new McpError(ErrorCode.InvalidParams, 'This cursor was not made by this server. Call resources/list without a cursor to start from the newest.');
}

/** Entries after the cursor's position in the newest-first order (files added since come before it, so none repeats). */
function afterCursor(entries: readonly GalleryEntry[], cursor: Cursor): GalleryEntry[] {
  return entries.filter((e) => e.mtimeMs < cursor.mtimeMs || (e.mtimeMs === cursor.mtimeMs && e.rel > cursor.rel));
}

export interface ResourceOptions {
  workspace: () => Promise<Workspace>;
  pageSize: number;
}

/** The paged gallery listing (resources/list). */
export async function listGallery(options: ResourceOptions, cursor?: string): Promise<ListResourcesResult> {
  const workspace = await options.workspace();
  if (!workspace.writable) return { resources: [] };
  const history = await readHistory(workspace);
  const made = latestByPath(history);
  const all = await withBatches(await collectGallery(workspace, history));
  const remaining = cursor === undefined ? all : afterCursor(all, decodeCursor(cursor));
  const page = remaining.slice(0, options.pageSize);
  const result: ListResourcesResult = { resources: page.map((e) => toResource(e, made.get(e.rel))) };
  if (remaining.length > page.length) result.nextCursor = encodeCursor(page[page.length - 1]!);
  return result;
}
