/**
 * Batch API batches in the gallery: one resource per batch, imagegen://batch/<batch id>, listed
 * with its status, counts and cost as its manifest last recorded them (no API call), and read as a
 * small JSON summary. Manifests can hold 50,000 jobs, so only their head is read: the manifest
 * writer puts every header key (batch, summary) before the jobs list.
 */
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { formatUsd } from './core/cost.js';
import { MANIFEST_NAME } from './core/batch.js';
import type { Workspace } from './io/workspace.js';
import { submittedBatches } from './tools/batch-api-submit.js';

export const BATCH_URI_PREFIX = 'imagegen://batch/';
/** Enough for any header this server writes (an out_dir is at most 4,000 bytes). */
const HEAD_BYTES = 64 * 1024;
/** Where the jobs list starts: `jobs` is the header's last key, at the top level's indentation. */
const JOBS_KEY = ',\n  "jobs": ';
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

export interface BatchCounts {
  jobs: number;
  done: number;
  failed: number;
  skipped: number;
  cancelled: number;
  pending: number;
}

/** A Batch API batch as its manifest's head records it. */
export interface BatchHead {
  id: string;
  status: string;
  out_dir: string;
  collected: boolean;
  counts?: BatchCounts;
  cost_usd?: number;
  estimated_cost_usd?: number;
  submitted?: string;
  updated?: string;
  requests_file?: string;
}

const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function countsOf(summary: unknown): BatchCounts | undefined {
  if (!summary || typeof summary !== 'object') return undefined;
  const s = summary as Record<string, unknown>;
  const [jobs, done, failed, skipped, cancelled] = [s.jobs, s.done, s.failed, s.skipped, s.cancelled].map((v) => num(v) ?? 0) as [number, number, number, number, number];
  if (num(s.jobs) === undefined) return undefined;
  return { jobs, done, failed, skipped, cancelled, pending: Math.max(0, jobs - done - failed - skipped - cancelled) };
}

/**
 * The head of a Batch API manifest (at most HEAD_BYTES read, never through a final link, never
 * blocking on a FIFO), or undefined when the file is not one.
 */
export async function readBatchHead(file: string): Promise<BatchHead | undefined> {
  let text: string;
  try {
    const handle = await fs.open(file, READ_FLAGS);
    try {
      if (!(await handle.stat()).isFile()) return undefined;
      const buffer = Buffer.alloc(HEAD_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  // JSON strings hold no raw newline, so this is the top-level key; what precedes it is the header.
  const at = text.indexOf(JOBS_KEY);
  if (at < 0) return undefined;
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(`${text.slice(0, at)}\n}`) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const batch = header.batch as Record<string, unknown> | undefined;
  if (header.tool !== 'generate_batch' || header.engine !== 'batch_api' || !batch || typeof batch !== 'object') return undefined;
  const id = str(batch.id);
  const outDir = str(header.out_dir);
  if (!id || outDir === undefined) return undefined;
  const head: BatchHead = { id, status: str(batch.status) ?? 'unknown', out_dir: outDir, collected: batch.collected === true };
  const counts = countsOf(header.summary);
  if (counts) head.counts = counts;
  const cost = num(batch.cost_usd);
  if (cost !== undefined) head.cost_usd = cost;
  const estimate = num(batch.estimated_cost_usd);
  if (estimate !== undefined) head.estimated_cost_usd = estimate;
  for (const [key, value] of [['submitted', header.started], ['updated', header.updated], ['requests_file', batch.requests_file]] as const) {
    const text = str(value);
    if (text !== undefined) head[key] = text;
  }
  return head;
}

/** Manifests of every batch submitted from this workspace (per the index), wherever their out_dir. */
export async function submittedManifests(workspace: Workspace): Promise<string[]> {
  const batches = await submittedBatches(workspace).catch(() => new Map<string, string>());
  return [...new Set(batches.values())].map((outDir) => path.resolve(workspace.root, outDir, MANIFEST_NAME));
}

export function batchUri(id: string): string {
  return `${BATCH_URI_PREFIX}${encodeURIComponent(id)}`;
}

function countsText(counts: BatchCounts | undefined): string {
  if (!counts) return 'counts not recorded';
  const parts = [`${counts.done} done`, `${counts.failed} failed`];
  if (counts.skipped) parts.push(`${counts.skipped} skipped`);
  if (counts.cancelled) parts.push(`${counts.cancelled} cancelled`);
  if (counts.pending) parts.push(`${counts.pending} not collected`);
  return `${counts.jobs} job${counts.jobs === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

function costText(head: BatchHead): string {
  if (head.cost_usd !== undefined) return `cost ${formatUsd(head.cost_usd)} at batch prices`;
  if (head.estimated_cost_usd !== undefined) return `estimated ${formatUsd(head.estimated_cost_usd)} at batch prices`;
  return 'cost from usage once collected';
}

/** The listing's one-line description: status, counts and cost as last recorded. */
export function describeBatch(head: BatchHead): string {
  const state = head.collected ? `${head.status}, collected` : `${head.status} when last checked, not collected yet`;
  return `Batch API batch (${state}); ${countsText(head.counts)}; ${costText(head)}; files in ${head.out_dir || '.'}/.`;
}

/** What resources/read returns for a batch. */
export function batchSummary(head: BatchHead, manifest: string): Record<string, unknown> {
  return {
    batch_id: head.id,
    status: head.status,
    collected: head.collected,
    counts: head.counts ?? null,
    cost_usd: head.cost_usd ?? null,
    estimated_cost_usd: head.estimated_cost_usd ?? null,
    out_dir: head.out_dir,
    manifest,
    ...(head.requests_file ? { requests_file: head.requests_file } : {}),
    ...(head.submitted ? { submitted: head.submitted } : {}),
    ...(head.updated ? { updated: head.updated } : {}),
    next: head.collected
      ? head.counts && head.counts.failed > 0
        ? 'generate_batch with the same jobs, engine "batch_api" and resume: true runs the failed jobs again.'
        : 'Nothing to do: every image is in out_dir.'
      : `batch_status with out_dir "${head.out_dir}" checks it and, once finished, saves its images.`,
  };
}

/** The summary of batch `raw` (its id, URI-encoded), from the first of these manifests (newest first) that names it. */
export async function findBatch(
  manifests: readonly { file: string; rel: string }[],
  raw: string,
): Promise<{ summary: Record<string, unknown> } | { problem: string; notFound: boolean }> {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    return { problem: `${BATCH_URI_PREFIX}${raw} is not a valid batch URI.`, notFound: false };
  }
  for (const manifest of manifests) {
    const head = await readBatchHead(manifest.file);
    if (head?.id === id) return { summary: batchSummary(head, manifest.rel) };
  }
  return { problem: `No batch ${id} was submitted from this workspace (no manifest names it). resources/list shows the batches there are.`, notFound: true };
}
