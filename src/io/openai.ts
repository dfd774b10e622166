/**
 * The edge to the OpenAI Images API: the official SDK over the platform HTTP client (both loaded
 * on first use, so start-up does not pay for them), the server's retry policy around it, failures
 * turned into ImageApiError with their cause kept, and usage checked before anything reads it.
 */
import type OpenAI from 'openai';
import { networkFailure, redact, type ApiFailure, type CauseLink, describeFailure } from '../core/api-errors.js';
import { MAX_ERROR_BODY_BYTES } from '../core/answer-limits.js';
import { MalformedAnswerError } from '../core/answer-scanner.js';
import { isRetryableStatus, retryDelayMs, type RetryPolicy } from '../core/retry.js';
import type { Readable } from 'node:stream';
import type { DirectAnswer, PlatformClient } from './platform-fetch.js';
import { BodyReadError, LocalWriteError, receiveImages, type ImageDestination, type ReceivedImage } from './receive.js';

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
const USER_AGENT = 'imagegen-mcp';

/** At most `limit` bytes of a body as text; the rest is not read. */
async function readCapped(body: Readable, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    parts.push(chunk);
    length += chunk.length;
    if (length >= limit) break; // leaving the loop destroys the stream
  }
  return Buffer.concat(parts).subarray(0, limit).toString('utf8');
}

export type Endpoint = 'generations' | 'edits';

export interface UploadFile {
  name: string;
  type: string;
  bytes: Buffer;
}

export interface ImageApiRequest {
  endpoint: Endpoint;
  prompt: string;
  /** Sent as given; `svg` is an object (multipart sends it as svg[model], svg[reasoning][effort]). */
  params: Record<string, unknown>;
  images?: UploadFile[];
  mask?: UploadFile;
}

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
  input_tokens_details?: { text_tokens?: number; image_tokens?: number };
  output_tokens_details?: Record<string, number>;
}

export interface SvgUsage {
  model: string;
  input_tokens?: number;
  output_tokens?: number;
  reasoning_tokens?: number;
  total_tokens?: number;
}

/** svg_usage as the answer gave it, if believable (counts are counts, the model a short name). */
function checkedSvgUsage(raw: Record<string, unknown> | undefined): SvgUsage | undefined {
  if (!raw || typeof raw.model !== 'string' || raw.model.length === 0 || raw.model.length > 100) return undefined;
  const out: SvgUsage = { model: raw.model };
  for (const key of ['input_tokens', 'output_tokens', 'reasoning_tokens', 'total_tokens'] as const) {
    const v = raw[key];
    if (v === undefined) continue;
    if (!isCount(v)) return undefined;
    out[key] = v as number;
  }
  return out;
}

export interface ImageApiAnswer {
  /** The images written to their destinations, in answer order. */
  images: ReceivedImage[];
  /** How many images the answer carried. */
  count: number;
  usage?: Usage;
  /** svg output: the author model's tokens, when every count is a count and the model is named. */
  svgUsage?: SvgUsage;
  /** What was wrong with the answer without making it fail (e.g. usage that was not believable). */
  warnings?: string[];
  attempts: number;
  durationMs: number;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  maxAttempts: number;
  /** Where each image of the answer is streamed to (a temp file beside its final name). */
  destination: ImageDestination;
  /** The most bytes one image may decode to (see core/answer-limits.ts); past it the answer is refused. */
  maxImageBytes?: number;
  /** Told once an answer's body is fully in (its files may still be finishing). */
  onReceived?: () => void;
  /** Told before each wait between attempts. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export class ImageApiError extends Error {
  constructor(
    message: string,
    readonly failure: ApiFailure,
    readonly attempts: number,
  ) {
    super(message);
    this.name = 'ImageApiError';
  }
}

export interface ImageApi {
  call(request: ImageApiRequest, options: CallOptions): Promise<ImageApiAnswer>;
  /** The model's `shutdown_date` from GET /v1/models/{id} (null: none announced); throws when it cannot be read. */
  shutdownDate?(model: string, signal: AbortSignal): Promise<string | null>;
}

export interface ApiEnvironment {
  apiKey?: string | undefined;
  baseURL?: string | undefined;
  organization?: string | undefined;
  project?: string | undefined;
  /** IMAGEGEN_TIMEOUT_MS: the longest wait for an answer's head, and for each pause in its body. */
  timeoutMs?: number | undefined;
}

/** IMAGEGEN_TIMEOUT_MS as a usable number of milliseconds, or undefined (unset or not one). */
export function parseTimeoutMs(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 1 && n <= 2 ** 31 - 1 ? Math.round(n) : undefined;
}

export function apiEnvironment(env: NodeJS.ProcessEnv): ApiEnvironment {
  return {
    apiKey: env.OPENAI_API_KEY || undefined,
    baseURL: env.OPENAI_BASE_URL || undefined,
    organization: env.OPENAI_ORG_ID || undefined,
    project: env.OPENAI_PROJECT_ID || undefined,
    timeoutMs: parseTimeoutMs(env.IMAGEGEN_TIMEOUT_MS),
  };
}

/** The error and its causes, outermost first, as plain data (a cycle or a very deep chain stops it). */
function causeChain(error: unknown): CauseLink[] {
  const chain: CauseLink[] = [];
  const seen = new Set<unknown>();
  for (let e = error; e instanceof Error && !seen.has(e) && chain.length < 8; e = e.cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    chain.push({ code: typeof code === 'string' ? code : undefined, name: e.name, message: e.message });
  }
  return chain;
}

const USAGE_COUNTS = ['input_tokens', 'output_tokens', 'total_tokens'] as const;
const isCount = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/**
 * The answer's usage when every token count in it is a finite non-negative number, else undefined
 * with the reason: `1e999` parses as Infinity, and a negative count would make a negative cost.
 * Checked here so nothing downstream (cost, history, results) ever sees such a number.
 */
export function checkedUsage(raw: Record<string, unknown> | undefined): { usage?: Usage; problem?: string } {
  if (!raw) return {};
  const bad: string[] = [];
  for (const key of USAGE_COUNTS) {
    if (raw[key] !== undefined && !isCount(raw[key])) bad.push(key);
  }
  for (const group of ['input_tokens_details', 'output_tokens_details'] as const) {
    const details = raw[group];
    if (details === undefined) continue;
    if (details === null || typeof details !== 'object' || Array.isArray(details)) {
      bad.push(group);
      continue;
    }
    for (const [key, value] of Object.entries(details)) if (!isCount(value)) bad.push(`${group}.${key}`);
  }
  if (bad.length === 0) return { usage: raw as Usage };
  return {
    problem: `The API reported usage that is not a token count (${bad.slice(0, 3).join(', ')}), so usage and cost are unknown for this call; the image itself is fine.`,
  };
}

function abortError(): Error {
  return new ImageApiError(describeFailure({ kind: 'cancelled' }, { model: '', attempts: 0 }), { kind: 'cancelled' }, 0);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface ClassifiedError {
  failure: ApiFailure;
  retryable: boolean;
  header: (name: string) => string | null | undefined;
}

async function classify(error: unknown): Promise<ClassifiedError> {
  const sdk = await import('openai');
  const none = () => undefined;
  if (error instanceof sdk.APIUserAbortError) {
    return { failure: { kind: 'cancelled' }, retryable: false, header: none };
  }
  if (error instanceof sdk.APIConnectionTimeoutError) {
    return { failure: { kind: 'timeout' }, retryable: true, header: none };
  }
  if (error instanceof sdk.APIConnectionError) {
    // The SDK wraps what fetch threw: the cause chain says whether it was TLS, a timeout, a parse error.
    return { ...networkFailure(causeChain(error.cause)), header: none };
  }
  if (error instanceof sdk.APIError && typeof error.status === 'number') {
    const body = (error.error ?? {}) as { message?: string };
    const failure: ApiFailure = {
      kind: 'http',
      status: error.status,
      code: error.code ?? null,
      param: error.param ?? null,
    };
    if (typeof body.message === 'string') failure.message = body.message;
    // Not JSON: the SDK put the (truncated) text in its message; it is quoted, cut short.
    else if (error.error === undefined && !/\(no body\)$/.test(error.message)) failure.message = error.message.replace(/^\d{3}\s*/, '');
    const headers = error.headers;
    return { failure, retryable: isRetryableStatus(error.status), header: (name) => headers?.get(name) };
  }
  // A body cut off, or stalled midway (undici's body timeout): retried like a dropped connection.
  if (error instanceof BodyReadError) return { ...networkFailure(causeChain(error.cause)), header: none };
  if (error instanceof MalformedAnswerError) return { failure: { kind: 'malformed', message: error.message }, retryable: false, header: none };
  if (error instanceof ImageApiError) return { failure: error.failure, retryable: false, header: none };
  const message = error instanceof Error ? error.message : String(error);
  return { failure: { kind: 'malformed', message }, retryable: false, header: none };
}

export function createImageApi(environment: ApiEnvironment, policy: Pick<RetryPolicy, 'baseDelayMs'>): ImageApi {
  let platform: Promise<PlatformClient> | undefined;
  const getPlatform = () => (platform ??= import('./platform-fetch.js').then((m) => m.createPlatformClient({ timeoutMs: environment.timeoutMs })));
  let client: OpenAI | undefined;
  const getClient = async (): Promise<OpenAI> => {
    if (!client) {
      const [{ default: OpenAIClient }, { fetch, dispatcher }] = await Promise.all([import('openai'), getPlatform()]);
      client = new OpenAIClient({
        fetch,
        fetchOptions: { dispatcher } as never, // proxies and the head/body timeouts
        apiKey: environment.apiKey,
        baseURL: environment.baseURL ?? null,
        organization: environment.organization ?? null,
        project: environment.project ?? null,
        maxRetries: 0, // the server owns retries
        ...(environment.timeoutMs ? { timeout: environment.timeoutMs } : {}),
      });
    }
    return client;
  };

  /**
   * POST /images/generations on the platform client's request API (see PlatformClient.post),
   * failures raised as the SDK raises them (the same error classes, so they are classified alike).
   */
  async function generate(request: ImageApiRequest, signal: AbortSignal | undefined): Promise<Readable> {
    const [sdk, { post }] = await Promise.all([import('openai'), getPlatform()]);
    const headers: Record<string, string> = {
      authorization: `Bearer ${environment.apiKey ?? ''}`,
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': USER_AGENT,
    };
    if (environment.organization) headers['openai-organization'] = environment.organization;
    if (environment.project) headers['openai-project'] = environment.project;
    const url = `${(environment.baseURL ?? DEFAULT_BASE_URL).replace(/\/+$/, '')}/images/generations`;
    let answer: DirectAnswer;
    try {
      answer = await post(url, headers, JSON.stringify({ ...request.params, prompt: request.prompt }), signal);
    } catch (error) {
      if (signal?.aborted) throw new sdk.APIUserAbortError();
      throw new sdk.APIConnectionError({ cause: error as Error });
    }
    if (answer.status < 400) return answer.body;
    // As the SDK reads an error: JSON when it parses, else the text (cut at MAX_ERROR_BODY_BYTES).
    const text = await readCapped(answer.body, MAX_ERROR_BODY_BYTES).catch(() => '');
    let json: object | undefined;
    try {
      json = JSON.parse(text) as object;
    } catch {
      json = undefined;
    }
    throw sdk.APIError.generate(answer.status, json, json ? undefined : text, answer.headers);
  }

  async function once(request: ImageApiRequest, options: CallOptions): Promise<Omit<ImageApiAnswer, 'attempts' | 'durationMs'>> {
    const signal = options.signal;
    let body: ReadableStream<Uint8Array> | Readable | null;
    if (request.endpoint === 'generations') {
      body = await generate(request, signal);
    } else {
      const openai = await getClient();
      const { toFile } = await import('openai');
      const files = await Promise.all((request.images ?? []).map((f) => toFile(f.bytes, f.name, { type: f.type })));
      const form: Record<string, unknown> = {
        ...request.params,
        prompt: request.prompt,
        image: files.length === 1 ? files[0] : files,
      };
      if (request.mask) form.mask = await toFile(request.mask.bytes, request.mask.name, { type: request.mask.type });
      const response = await openai.images
        .edit(form as unknown as OpenAI.Images.ImageEditParamsNonStreaming, { signal: signal ?? null, maxRetries: 0 })
        .asResponse();
      body = response.body;
    }
    // Streamed, never parsed whole: a 3824x2160 PNG answer is ~16 MB of base64.
    const received = await receiveImages(body, options.destination, signal, options.onReceived, options.maxImageBytes);
    const { usage, problem } = checkedUsage(received.usage);
    const svgUsage = checkedSvgUsage(received.svgUsage);
    return {
      images: received.images,
      count: received.count,
      ...(usage ? { usage } : {}),
      ...(svgUsage ? { svgUsage } : {}),
      ...(problem ? { warnings: [problem] } : {}),
    };
  }

  const api: ImageApi = {
    shutdownDate: (model, signal) => readShutdownDate(getClient, model, signal),
    async call(request, options) {
      const started = Date.now();
      const model = String(request.params.model ?? '');
      for (let attempt = 1; ; attempt++) {
        try {
          const answer = await once(request, options);
          return { ...answer, attempts: attempt, durationMs: Date.now() - started };
        } catch (error) {
          if (error instanceof LocalWriteError) throw error; // a local disk problem: no point asking the API again
          const classified = await classify(error);
          if (options.signal?.aborted) classified.failure = { kind: 'cancelled' };
          const cancelled = classified.failure.kind === 'cancelled';
          if (!cancelled && classified.retryable && attempt < options.maxAttempts) {
            const delayMs = retryDelayMs(attempt, { maxAttempts: options.maxAttempts, ...policy }, classified.header);
            options.onRetry?.({ attempt, delayMs, reason: describeFailure(classified.failure, { model, attempts: attempt }) });
            await sleep(delayMs, options.signal);
            continue;
          }
          const message = redact(describeFailure(classified.failure, { model, attempts: attempt }), environment.apiKey);
          throw new ImageApiError(message, classified.failure, attempt);
        }
      }
    },
  };
  clients.set(api, getClient);
  return api;
}

const clients = new WeakMap<ImageApi, () => Promise<OpenAI>>();

/** The SDK client an ImageApi made (built on first use), for the Files and Batches calls. */
export function sdkClientOf(api: ImageApi): Promise<OpenAI> {
  const get = clients.get(api);
  if (!get) return Promise.reject(new Error('This API edge has no OpenAI client.'));
  return get();
}

/**
 * A model's lifecycle as the API publishes it: `shutdown_date` (YYYY-MM-DD, or null when none is
 * announced) from GET /v1/models/{id}. The 6.x SDK returns the field untyped. One attempt, no
 * retries: the caller time-boxes it and falls back to the registry when it fails.
 */
async function readShutdownDate(getClient: () => Promise<OpenAI>, model: string, signal: AbortSignal): Promise<string | null> {
  const openai = await getClient();
  const answer = (await openai.models.retrieve(model, { signal, maxRetries: 0 })) as unknown as { id?: unknown; shutdown_date?: unknown };
  const date = answer.shutdown_date;
  if (date === undefined) throw new Error('the answer has no shutdown_date'); // not published: the registry decides
  if (date === null) return null;
  // A real calendar day only: the date is compared as text and counted in days.
  const day = typeof date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T00:00:00Z`) : NaN;
  if (Number.isFinite(day) && new Date(day).toISOString().startsWith(date as string)) return date as string;
  throw new Error(`unexpected shutdown_date ${JSON.stringify(date).slice(0, 40)}`);
}
