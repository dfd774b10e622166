/**
 * A fetch for the OpenAI SDK over node:http(s), given to the client as its `fetch` option.
 *
 * Node's built-in fetch copies every chunk of an answer twice (into its parser's memory, then
 * into a new array for the web stream) before the reader sees it. At 25 answers of ~16 MB in
 * flight that churn dominates the process's memory and keeps growing the heap over long batches;
 * here the reader gets the socket's own chunks. Bodies are sent as fetch would send them (a
 * multipart body is encoded by the standard Request class); only the transport differs.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable, pipeline } from 'node:stream';
import zlib from 'node:zlib';

// Keep-alive, as fetch does: a batch reuses its connections.
const httpAgent = new http.Agent({ keepAlive: true });
const httpsAgent = new https.Agent({ keepAlive: true });

/** Statuses whose responses have no body (a Response refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** The body as sent, or decompressed when a server (or a gateway in OPENAI_BASE_URL) compressed it. */
function decoded(res: http.IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase();
  const decompress =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : undefined;
  if (!decompress) return res;
  return pipeline(res, decompress, () => {}); // an error on either side ends the body with it
}

function responseHeaders(res: http.IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  headers.delete('content-encoding'); // the body handed on is decoded
  headers.delete('content-length');
  return headers;
}

/** The request body as bytes, and its headers, as fetch would send them. */
async function encodeRequest(url: string, init: RequestInit): Promise<{ headers: Record<string, string>; body?: Buffer }> {
  const headers = new Headers(init.headers);
  let body: Buffer | undefined;
  if (typeof init.body === 'string') {
    body = Buffer.from(init.body);
    if (!headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8');
  } else if (init.body != null) {
    // FormData (multipart with its boundary), Blob, streams …: the standard Request encodes them.
    const encoded = new Request(url, { method: init.method ?? 'POST', headers, body: init.body, duplex: 'half' } as RequestInit);
    body = Buffer.from(await encoded.arrayBuffer());
    const type = encoded.headers.get('content-type');
    if (type) headers.set('content-type', type);
  }
  const plain: Record<string, string> = Object.fromEntries(headers);
  if (body) plain['content-length'] = String(body.length);
  return body ? { headers: plain, body } : { headers: plain };
}

export async function nodeFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  if (input instanceof Request) throw new TypeError('nodeFetch takes a URL and options, as the OpenAI SDK calls it');
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`);
  const { headers, body } = await encodeRequest(url.href, init);
  const secure = url.protocol === 'https:';
  const transport = secure ? https : http;
  return new Promise<Response>((resolve, reject) => {
    const req = transport.request(
      url,
      { method: init.method ?? 'GET', headers, agent: secure ? httpsAgent : httpAgent, ...(init.signal ? { signal: init.signal } : {}) },
      (res) => {
        const status = res.statusCode ?? 0;
        const stream = NULL_BODY.has(status) ? null : (Readable.toWeb(decoded(res)) as ReadableStream<Uint8Array>);
        if (!stream) res.resume();
        resolve(new Response(stream, { status, statusText: res.statusMessage ?? '', headers: responseHeaders(res) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
