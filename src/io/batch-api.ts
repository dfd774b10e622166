/**
 * The edge to OpenAI's Files and Batches APIs, through the SDK client the Images API edge built:
 * upload a requests JSONL (purpose batch), create, read and cancel a batch, and read an output or
 * error file line by line as it arrives (never whole in memory).
 */
import { createReadStream } from 'node:fs';
import type OpenAI from 'openai';
import { redact } from '../core/api-errors.js';
import { COMPLETION_WINDOW, GENERATIONS_URL, LineSplitter } from '../core/batch-api.js';
import { sdkClientOf, type ImageApi } from './openai.js';

/** These calls are few and cheap to repeat: the SDK retries them itself. */
const RETRIES = { maxRetries: 2 } as const;

export interface BatchInfo {
  id: string;
  status: string;
  input_file_id: string;
  output_file_id?: string | null | undefined;
  error_file_id?: string | null | undefined;
  request_counts?: { total: number; completed: number; failed: number } | undefined;
  errors?: { data?: Array<{ code?: string | null; message?: string | null; line?: number | null }> } | null | undefined;
  expires_at?: number | null | undefined;
}

export class BatchApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchApiError';
  }
}

/** A failed call as a sentence naming what was being done and what the API said. */
async function wrap<T>(what: string, apiKey: string | undefined, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const sdk = await import('openai');
    let detail: string;
    if (error instanceof sdk.APIError && typeof error.status === 'number') {
      const body = (error.error ?? {}) as { message?: string };
      detail = `the API answered ${error.status}${body.message ? `: ${body.message}` : ''}`;
      if (error.status === 401) detail += ' Check OPENAI_API_KEY in this server\'s env.';
      if (error.status === 404) detail += ' Check the batch id (or that the key belongs to the project that made the batch).';
    } else if (error instanceof sdk.APIConnectionError) {
      detail = 'the API could not be reached. Check the network (and OPENAI_BASE_URL), then call again.';
    } else {
      detail = error instanceof Error ? error.message : String(error);
    }
    throw new BatchApiError(redact(`${what} failed: ${detail}`, apiKey));
  }
}

const READ_BYTES = 64 * 1024;

/**
 * Reads a body chunk by chunk; a byte stream (the transport's) into one buffer handed back and
 * forth for the whole file, so reading a 5,000-line output file allocates nothing per read. A
 * chunk is valid until the next read.
 */
function byteReader(body: ReadableStream<Uint8Array>): { read(): Promise<Uint8Array | undefined>; cancel(): Promise<void> } {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = body.getReader({ mode: 'byob' });
  } catch {
    const reader = body.getReader();
    return { read: async () => (await reader.read()).value, cancel: () => reader.cancel() };
  }
  let buffer = new ArrayBuffer(READ_BYTES);
  return {
    async read() {
      const { done, value } = await byob.read(new Uint8Array(buffer));
      if (done || !value) return undefined;
      buffer = value.buffer as ArrayBuffer;
      return value;
    },
    cancel: () => byob.cancel(),
  };
}

export interface BatchApi {
  upload(file: string): Promise<string>;
  create(inputFileId: string, metadata: Record<string, string>): Promise<BatchInfo>;
  retrieve(id: string): Promise<BatchInfo>;
  cancel(id: string): Promise<BatchInfo>;
  /** Calls `onLine` with each line of the file, in order, awaiting it before the next. */
  readLines(fileId: string, onLine: (line: Uint8Array) => Promise<void>, signal?: AbortSignal): Promise<void>;
}

export function batchApi(api: ImageApi, apiKey: string | undefined): BatchApi {
  const client = (): Promise<OpenAI> => sdkClientOf(api);
  return {
    upload: (file) =>
      wrap('Uploading the requests file', apiKey, async () => {
        const uploaded = await (await client()).files.create({ file: createReadStream(file), purpose: 'batch' }, RETRIES);
        return uploaded.id;
      }),
    create: (inputFileId, metadata) =>
      wrap('Creating the batch', apiKey, async () =>
        (await client()).batches.create(
          { input_file_id: inputFileId, endpoint: GENERATIONS_URL as OpenAI.Batches.BatchCreateParams['endpoint'], completion_window: COMPLETION_WINDOW, metadata },
          RETRIES,
        ) as Promise<BatchInfo>,
      ),
    retrieve: (id) => wrap(`Reading batch ${id}`, apiKey, async () => (await client()).batches.retrieve(id, RETRIES) as Promise<BatchInfo>),
    cancel: (id) => wrap(`Cancelling batch ${id}`, apiKey, async () => (await client()).batches.cancel(id, RETRIES) as Promise<BatchInfo>),
    readLines: (fileId, onLine, signal) =>
      wrap(`Reading file ${fileId}`, apiKey, async () => {
        const response = await (await client()).files.content(fileId, { ...RETRIES, signal: signal ?? null });
        if (!response.body) return;
        const splitter = new LineSplitter();
        const reader = byteReader(response.body);
        try {
          for (let chunk = await reader.read(); chunk; chunk = await reader.read()) {
            for (const line of splitter.push(chunk)) if (line.length > 0) await onLine(line);
          }
          const last = splitter.end();
          if (last && last.length > 0) await onLine(last);
        } finally {
          await reader.cancel().catch(() => {});
        }
      }),
  };
}
