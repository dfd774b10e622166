/**
 * The edge to the OpenAI Images API: the official SDK (loaded on first use, so start-up does not
 * pay for it), the server's retry policy around it, and failures turned into ImageApiError.
 */
import type OpenAI from 'openai';
import { redact, type ApiFailure, describeFailure } from '../core/api-errors.js';
import { MalformedAnswerError } from '../core/answer-scanner.js';
import { isRetryableStatus, retryDelayMs, type RetryPolicy } from '../core/retry.js';
import { BodyReadError, LocalWriteError, receiveImages, type ImageDestination, type ReceivedImage } from './receive.js';

export type Endpoint = 'generations' | 'edits';

export interface UploadFile {
  name: string;
  type: string;
  bytes: Buffer;
}

export interface ImageApiRequest {
  endpoint: Endpoint;
  prompt: string;
  params: Record<string, string | number>;
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

export interface ImageApiAnswer {
  /** The images written to their destinations, in answer order. */
  images: ReceivedImage[];
  /** How many images the answer carried. */
  count: number;
  usage?: Usage;
  attempts: number;
  durationMs: number;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  maxAttempts: number;
  /** Where each image of the answer is streamed to (a temp file beside its final name). */
  destination: ImageDestination;
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
}

export interface ApiEnvironment {
  apiKey?: string | undefined;
  baseURL?: string | undefined;
  organization?: string | undefined;
  project?: string | undefined;
  /** Per-attempt timeout. */
  timeoutMs?: number | undefined;
}

export function apiEnvironment(env: NodeJS.ProcessEnv): ApiEnvironment {
  return {
    apiKey: env.OPENAI_API_KEY || undefined,
    baseURL: env.OPENAI_BASE_URL || undefined,
    organization: env.OPENAI_ORG_ID || undefined,
    project: env.OPENAI_PROJECT_ID || undefined,
    timeoutMs: env.IMAGEGEN_TIMEOUT_MS ? Number(env.IMAGEGEN_TIMEOUT_MS) : undefined,
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
    return { failure: { kind: 'connection' }, retryable: true, header: none };
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
    const headers = error.headers;
    return { failure, retryable: isRetryableStatus(error.status), header: (name) => headers?.get(name) };
  }
  if (error instanceof BodyReadError) return { failure: { kind: 'connection' }, retryable: true, header: none };
  if (error instanceof MalformedAnswerError) return { failure: { kind: 'malformed', message: error.message }, retryable: false, header: none };
  if (error instanceof ImageApiError) return { failure: error.failure, retryable: false, header: none };
  const message = error instanceof Error ? error.message : String(error);
  return { failure: { kind: 'malformed', message }, retryable: false, header: none };
}

export function createImageApi(environment: ApiEnvironment, policy: Pick<RetryPolicy, 'baseDelayMs'>): ImageApi {
  let client: OpenAI | undefined;
  const getClient = async (): Promise<OpenAI> => {
    if (!client) {
      const [{ default: OpenAIClient }, { nodeFetch }] = await Promise.all([import('openai'), import('./http.js')]);
      client = new OpenAIClient({
        fetch: nodeFetch, // answers reach the reader without fetch's two copies per chunk
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

  async function once(request: ImageApiRequest, options: CallOptions): Promise<Omit<ImageApiAnswer, 'attempts' | 'durationMs'>> {
    const signal = options.signal;
    const openai = await getClient();
    const requestOptions = { signal: signal ?? null, maxRetries: 0 } as const;
    let response: Response;
    if (request.endpoint === 'generations') {
      const body = { ...request.params, prompt: request.prompt } as unknown as OpenAI.Images.ImageGenerateParamsNonStreaming;
      response = await openai.images.generate(body, requestOptions).asResponse();
    } else {
      const { toFile } = await import('openai');
      const files = await Promise.all(
        (request.images ?? []).map((f) => toFile(f.bytes, f.name, { type: f.type })),
      );
      const body: Record<string, unknown> = {
        ...request.params,
        prompt: request.prompt,
        image: files.length === 1 ? files[0] : files,
      };
      if (request.mask) body.mask = await toFile(request.mask.bytes, request.mask.name, { type: request.mask.type });
      response = await openai.images
        .edit(body as unknown as OpenAI.Images.ImageEditParamsNonStreaming, requestOptions)
        .asResponse();
    }
    // Streamed, never parsed whole: a 3824x2160 PNG answer is ~16 MB of base64.
    return receiveImages(response.body, options.destination, signal, options.onReceived);
  }

  const api: ImageApi = {
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
