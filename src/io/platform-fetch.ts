/**
 * The HTTP client the OpenAI SDK is given: undici (the client inside Node's own fetch), loaded on
 * first use so start-up does not pay for it. Its dispatcher honours HTTP_PROXY, HTTPS_PROXY and
 * NO_PROXY (either case) and bounds the wait for an answer's head and every pause in its body, so a
 * stalled answer ends the attempt instead of holding the call forever. Error bodies are cut short:
 * the SDK reads them whole, and a hostile endpoint can send hundreds of megabytes.
 */
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { Dispatcher, RequestInit as UndiciRequestInit } from 'undici';
import { MAX_ERROR_BODY_BYTES } from '../core/answer-limits.js';

/** Waiting for the head of an answer (image generation can take minutes). */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10 * 60_000;
/** A pause inside a body this long means it stalled (images arrive in one steady stream). */
export const DEFAULT_BODY_TIMEOUT_MS = 2 * 60_000;

export type FetchFunction = (url: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** An answer as the direct request gives it: the body as Node reads it, already decompressed. */
export interface DirectAnswer {
  status: number;
  /** Made when asked for (an error's are read; a success's never are). */
  readonly headers: Headers;
  body: Readable;
}

export type PostFunction = (url: string, headers: Record<string, string>, body: string, signal?: AbortSignal) => Promise<DirectAnswer>;

export interface PlatformClient {
  fetch: FetchFunction;
  /**
   * A JSON POST on undici's request API, for the one call a batch makes hundreds of times: the
   * same dispatcher (proxies, timeouts) without fetch's web streams, so an answer is read as
   * Node reads a socket.
   */
  post: PostFunction;
  dispatcher: Dispatcher;
}

export interface PlatformClientOptions {
  /** IMAGEGEN_TIMEOUT_MS: bounds both the wait for the head and each pause in the body. */
  timeoutMs?: number | undefined;
}

/** A stream that ends after `limit` bytes, cancelling the rest of `body` unread. */
function truncated(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let seen = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      const room = limit - seen;
      seen += value.byteLength;
      if (value.byteLength < room) return controller.enqueue(value);
      if (room > 0) controller.enqueue(value.subarray(0, room));
      controller.close();
      await reader.cancel().catch(() => {});
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/**
 * The SDK builds uploads with Node's global FormData, a class the npm undici cannot encode: the
 * global Response encodes it (multipart with its boundary) into bytes sent with a content length,
 * as a multipart upload of in-memory images always was.
 */
async function encodeForm(init: RequestInit | undefined): Promise<RequestInit | undefined> {
  if (!(init?.body instanceof FormData)) return init;
  const encoded = new Response(init.body);
  const headers = new Headers(init.headers);
  headers.set('content-type', encoded.headers.get('content-type')!);
  return { ...init, headers, body: new Uint8Array(await encoded.arrayBuffer()) };
}

/** The decoder for a content-encoding (as fetch decodes them), or undefined for the body as sent. */
function decoderFor(encoding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  if (encoding === 'gzip' || encoding === 'x-gzip') return zlib.createGunzip();
  if (encoding === 'deflate') return zlib.createInflate();
  if (encoding === 'br') return zlib.createBrotliDecompress();
  return undefined;
}

/** The head's fields as web Headers (repeated fields joined, as fetch does). */
function webHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

/**
 * The proxies the environment names (either case), read once: with none, requests go straight to
 * an Agent, without a proxy decision (a URL parsed, NO_PROXY read from the environment) per request.
 */
export function proxySettings(env: NodeJS.ProcessEnv = process.env): { httpProxy?: string; httpsProxy?: string; noProxy: string } | undefined {
  const httpProxy = env.http_proxy ?? env.HTTP_PROXY;
  const httpsProxy = env.https_proxy ?? env.HTTPS_PROXY;
  if (!httpProxy && !httpsProxy) return undefined;
  return { ...(httpProxy ? { httpProxy } : {}), ...(httpsProxy ? { httpsProxy } : {}), noProxy: env.no_proxy ?? env.NO_PROXY ?? '' };
}

/** `url` as undici's dispatcher takes it, kept for the next call (a server posts to one URL). */
function splitUrl(): (url: string) => { origin: string; path: string } {
  let last: { url: string; origin: string; path: string } | undefined;
  return (url) => {
    if (last?.url !== url) {
      const parsed = new URL(url);
      last = { url, origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    }
    return last;
  };
}

export async function createPlatformClient(options: PlatformClientOptions = {}): Promise<PlatformClient> {
  const undici = await import('undici');
  const timeouts = {
    headersTimeout: options.timeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    bodyTimeout: options.timeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
  };
  const proxies = proxySettings();
  const dispatcher: Dispatcher = proxies ? new undici.EnvHttpProxyAgent({ ...timeouts, ...proxies }) : new undici.Agent(timeouts);
  const split = splitUrl();
  const fetch: FetchFunction = async (url, init) => {
    // undici's own fetch, so the dispatcher given in init (fetchOptions) is one it understands.
    const request = { dispatcher, ...(await encodeForm(init)) } as UndiciRequestInit;
    const response = (await undici.fetch(url as string | URL, request)) as unknown as Response;
    if (response.status < 400 || !response.body) return response;
    return new undici.Response(truncated(response.body, MAX_ERROR_BODY_BYTES) as never, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers as never,
    }) as unknown as Response;
  };
  const post: PostFunction = async (url, headers, body, signal) => {
    const answer = await dispatcher.request({
      ...split(url),
      method: 'POST',
      headers: { ...headers, 'accept-encoding': 'gzip, deflate, br' },
      body,
      ...(signal ? { signal } : {}),
    });
    const encoding = String(answer.headers['content-encoding'] ?? '').trim().toLowerCase();
    const decoder = decoderFor(encoding);
    // A failure on either side (a stalled or cut body, a bad gzip stream) ends the read with its cause.
    const decoded = decoder ? pipeline(answer.body, decoder, () => {}) : answer.body;
    return {
      status: answer.statusCode,
      get headers() {
        return webHeaders(answer.headers);
      },
      body: decoded,
    };
  };
  // The SDK asks `fetch.Response` whether global FormData bodies are understood: they are (encodeForm).
  return { fetch: Object.assign(fetch, { Response }), post, dispatcher };
}
