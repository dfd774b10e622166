/**
 * The pure rules of the Batch API engine: which models OpenAI's Batch API takes (dated data), the
 * request lines of the JSONL it is handed, the lines of its output and error files, and what a
 * batch costs at batch prices.
 */
import { roundUsd } from './cost.js';

/** Checked against OpenAI's Batch API documents and provider reports on this date. */
export const BATCH_API_CHECKED = '2026-12-02';
/** Requests in one Batch API batch. */
export const MAX_BATCH_API_JOBS = 50_000;
/** The Batch API's input file limit. */
export const MAX_BATCH_API_FILE_BYTES = 200 * 1024 * 1024;
/** The Batch API bills half the synchronous price. */
export const BATCH_PRICE_FACTOR = 0.5;
export const COMPLETION_WINDOW = '24h';
export const GENERATIONS_URL = '/v1/images/generations';

/**
 * Model families the Batch API accepts for /v1/images/generations (dated snapshots included).
 * gpt-image-2.6-* is reported as not (yet) accepted there.
 */
export const BATCH_API_MODELS: readonly string[] = ['gpt-image-2', 'gpt-image-2.5-sunburst', 'gpt-image-2.5-flare'];

export function batchApiAccepts(model: string): boolean {
  const base = model.replace(/-\d{4}-\d{2}-\d{2}$/, '');
  return BATCH_API_MODELS.includes(base);
}

/** The refusal for a model the Batch API does not take, with the fix. */
export function batchApiModelProblem(model: string): string {
  return (
    `${model} is not accepted by OpenAI's Batch API (as of ${BATCH_API_CHECKED}). Use ${BATCH_API_MODELS.join(', ')} ` +
    `(or a dated snapshot of one) for engine "batch_api", or run these jobs with engine "direct".`
  );
}

/** `custom_id` of a job: its number first (what the collector reads back), then its file name. */
export function customId(number: number, name: string): string {
  const slug = name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 48);
  return `job-${number}${slug ? `-${slug}` : ''}`;
}

/** The job number a custom_id names, or undefined when it is not one of ours. */
export function jobNumberOf(id: unknown): number | undefined {
  if (typeof id !== 'string') return undefined;
  const match = /^job-(\d+)(?:-|$)/.exec(id);
  return match ? Number(match[1]) : undefined;
}

/** One line of the requests JSONL (newline included). */
export function requestLine(number: number, name: string, body: Record<string, unknown>): string {
  return `${JSON.stringify({ custom_id: customId(number, name), method: 'POST', url: GENERATIONS_URL, body })}\n`;
}

/** What one line of an output or error file says about its job. */
export type ResultLine =
  | { kind: 'images'; job: number; images: string[]; usage?: Record<string, unknown> }
  | { kind: 'error'; job: number; message: string }
  | { kind: 'unreadable'; message: string };

function errorMessage(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const e = value as { message?: unknown; code?: unknown };
  const message = typeof e.message === 'string' ? e.message : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (message && code) return `${message} (${code})`;
  return message ?? code;
}

/**
 * Reads one line of an output or error file:
 * `{"custom_id", "response": {"status_code", "body": {"data": [{"b64_json"}], "usage"}}, "error"}`.
 */
export function parseResultLine(text: string): ResultLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'unreadable', message: 'a line of the batch file is not JSON' };
  }
  if (!value || typeof value !== 'object') return { kind: 'unreadable', message: 'a line of the batch file is not an object' };
  const line = value as { custom_id?: unknown; response?: unknown; error?: unknown };
  const job = jobNumberOf(line.custom_id);
  if (job === undefined) return { kind: 'unreadable', message: `a line names an unknown custom_id ${JSON.stringify(line.custom_id)}` };
  const lineError = errorMessage(line.error);
  if (lineError) return { kind: 'error', job, message: lineError };
  const response = line.response as { status_code?: unknown; body?: unknown } | null | undefined;
  if (!response || typeof response !== 'object') return { kind: 'error', job, message: 'the batch returned no response for this job' };
  const body = (response.body ?? {}) as { data?: unknown; usage?: unknown; error?: unknown };
  const status = typeof response.status_code === 'number' ? response.status_code : 0;
  if (status !== 200) {
    return { kind: 'error', job, message: `the API answered ${status || 'without a status'}: ${errorMessage(body.error) ?? 'no message'}` };
  }
  const images = Array.isArray(body.data)
    ? body.data.map((d: unknown) => (d && typeof d === 'object' ? (d as { b64_json?: unknown }).b64_json : undefined)).filter((b): b is string => typeof b === 'string')
    : [];
  if (images.length === 0) return { kind: 'error', job, message: 'the answer carried no image' };
  const result: ResultLine = { kind: 'images', job, images };
  if (body.usage && typeof body.usage === 'object') result.usage = body.usage as Record<string, unknown>;
  return result;
}

/** A cost at batch prices, from the synchronous price. */
export function batchPrice(usd: number): number {
  return roundUsd(usd * BATCH_PRICE_FACTOR);
}

/** The longest line of an output file read. */
export const MAX_RESULT_LINE_BYTES = 256 * 1024 * 1024;

/** Batch statuses after which nothing more will come. */
export const FINAL_STATUSES = ['completed', 'failed', 'expired', 'cancelled'] as const;
/** Statuses whose output (whole or partial) can be collected. */
export const COLLECTABLE_STATUSES = ['completed', 'expired', 'cancelled'] as const;

export function isFinal(status: string): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}

export function isCollectable(status: string): boolean {
  return (COLLECTABLE_STATUSES as readonly string[]).includes(status);
}

/**
 * Splits a byte stream into lines without holding more than the current line: pieces are kept
 * until a newline closes them, then joined once.
 */
export class LineSplitter {
  private pieces: Uint8Array[] = [];
  private held = 0;

  /** A line longer than this is refused rather than held (ten 4K PNGs in base64 are ~170 MB). */
  constructor(private readonly maxLineBytes = MAX_RESULT_LINE_BYTES) {}

  /** The complete lines in `chunk` (with what came before), without their newlines. */
  *push(chunk: Uint8Array): Generator<Uint8Array> {
    let start = 0;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, start)) {
      yield this.take(chunk.subarray(start, i));
      start = i + 1;
    }
    if (start < chunk.length) {
      this.held += chunk.length - start;
      if (this.held > this.maxLineBytes) throw new Error(`a line of the batch's file is over ${Math.round(this.maxLineBytes / 1024 / 1024)} MB; it was not read`);
      this.pieces.push(chunk.slice(start));
    }
  }

  /** What is left after the last newline. */
  end(): Uint8Array | undefined {
    if (this.pieces.length === 0) return undefined;
    return this.take(new Uint8Array(0));
  }

  private take(last: Uint8Array): Uint8Array {
    if (this.pieces.length === 0) return last;
    const parts = [...this.pieces, last];
    this.pieces = [];
    this.held = 0;
    const size = parts.reduce((s, p) => s + p.length, 0);
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
