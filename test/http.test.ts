import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { nodeFetch } from '../src/io/http.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('nodeFetch (the SDK transport)', () => {
  it('sends method, headers and a JSON body as fetch would, and returns status, headers and body', async () => {
    handler = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1', 'set-cookie': ['a=1', 'b=2'] });
      res.end('{"error":{"message":"slow down"}}');
    };
    const response = await nodeFetch(`${base}/v1/images/generations?x=1`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'café' }),
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual({ error: { message: 'slow down' } });
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', url: '/v1/images/generations?x=1' });
    expect(request.headers.authorization).toBe('Bearer k');
    expect(request.headers['content-length']).toBe(String(Buffer.byteLength('{"prompt":"café"}')));
    expect(JSON.parse(request.body.toString())).toEqual({ prompt: 'café' });
  });

  it('sends a multipart body with its boundary', async () => {
    handler = (_req, res) => res.end('{}');
    const form = new FormData();
    form.append('prompt', 'edit');
    form.append('image[]', new Blob([Buffer.from('PNGDATA')], { type: 'image/png' }), 'a.png');
    await nodeFetch(`${base}/v1/images/edits`, { method: 'POST', body: form });
    const request = seen.at(-1)!;
    expect(request.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    const parsed = await new Request('http://x/', { method: 'POST', headers: { 'content-type': request.headers['content-type']! }, body: request.body }).formData();
    expect(parsed.get('prompt')).toBe('edit');
    const file = parsed.get('image[]') as File;
    expect(file.type).toBe('image/png');
    expect(Buffer.from(await file.arrayBuffer()).toString()).toBe('PNGDATA');
  });

  it('streams the body, decompressing it when the server compressed it', async () => {
    const text = JSON.stringify({ data: [{ b64_json: 'x'.repeat(200_000) }] });
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(text));
    };
    const response = await nodeFetch(`${base}/gz`);
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(await response.text()).toBe(text);
  });

  it('gives no body for 204', async () => {
    handler = (_req, res) => {
      res.writeHead(204);
      res.end();
    };
    const response = await nodeFetch(`${base}/empty`, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it('rejects with an AbortError when the signal fires, and with an error when the connection drops', async () => {
    handler = () => {}; // never answers
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const aborted = await nodeFetch(`${base}/hang`, { signal: controller.signal }).catch((e: unknown) => e);
    expect((aborted as Error).name).toBe('AbortError');

    handler = (req) => req.socket.destroy();
    const dropped = await nodeFetch(`${base}/drop`).catch((e: unknown) => e);
    expect(dropped).toBeInstanceOf(Error);
    expect((dropped as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });

  it('ends the body with an error when the connection drops mid-answer', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000000' });
      res.write('{"data":[{"b64_json":"AAAA');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const response = await nodeFetch(`${base}/cut`);
    const error = await response.text().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
  });
});

// ---------------------------------------------------------------------------------------------
// Helpers for the transport tests below: local servers on 127.0.0.1 (node:http, node:https, and
// raw net servers writing HTTP by hand), seeded data, and body readers.
// ---------------------------------------------------------------------------------------------

// Every exchange here takes milliseconds: a test that waits longer is stuck, and should fail soon.
vi.setConfig({ testTimeout: 5_000 });

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A xorshift32 generator: the same numbers every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Pseudo-random bytes, the same for a seed. */
function seededBytes(length: number, seed: number): Buffer {
  const next = rng(seed);
  const words = new Uint32Array(Math.ceil(length / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  return Buffer.from(words.buffer, 0, length);
}

/** Piece sizes for writing a body: odd, mostly a few KB to ~70 KB, now and then tiny. */
function oddSizes(seed: number): () => number {
  const next = rng(seed);
  return () => (next() % 4 === 0 ? next() % 17 : next() % 70_000) | 1;
}

/** Resolves when the stream can take more, or is gone. */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** Writes `data` in pieces of the given sizes, as a real server would: waiting for 'drain'. */
async function writePieces(stream: Writable, data: Uint8Array, sizes: () => number): Promise<void> {
  for (let at = 0; at < data.length && !stream.destroyed; ) {
    const piece = data.subarray(at, at + sizes());
    at += piece.length;
    if (!stream.write(piece)) await drained(stream);
  }
}

/** A server-side connection, and when it closed. */
interface Tracked {
  socket: Socket;
  closed: Promise<void>;
}

/** Waits for a server-side connection to close: at once, since every close here is prompt. */
async function closedSoon(connection: Tracked | undefined, ms = 1_000): Promise<void> {
  expect(connection).toBeDefined();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the connection was still open after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([connection!.closed, late]);
  } finally {
    clearTimeout(timer);
  }
}

function track(socket: Socket): Tracked {
  return { socket, closed: new Promise<void>((resolve) => socket.once('close', () => resolve())) };
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** A node:http server on 127.0.0.1, closed after the test; `connections` are its TCP connections. */
async function httpServer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; base: string; connections: Tracked[] }> {
  const server = createServer(handle);
  const connections: Tracked[] = [];
  server.on('connection', (socket: Socket) => connections.push(track(socket)));
  const port = await listen(server);
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, base: `http://127.0.0.1:${port}`, connections };
}

interface RawRequest {
  method: string;
  target: string;
  /** Which connection (its index in `connections`) the request came on. */
  connection: number;
}

/**
 * A TCP server that parses request heads (GET: no bodies) and lets `respond` write the answer by
 * hand, byte for byte. Several requests on one connection are handed over one after another.
 */
async function rawServer(respond: (socket: Socket, request: RawRequest) => void | Promise<void>): Promise<{ base: string; connections: Tracked[] }> {
  const connections: Tracked[] = [];
  const server = net.createServer((socket) => {
    const connection = connections.push(track(socket)) - 1;
    socket.setNoDelay(true);
    socket.on('error', () => {});
    let received = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      for (let at = received.indexOf('\r\n\r\n'); at >= 0; at = received.indexOf('\r\n\r\n')) {
        const [method = '', target = ''] = received.subarray(0, at).toString('latin1').split(' ');
        received = received.subarray(at + 4);
        void respond(socket, { method, target, connection });
      }
    });
  });
  const port = await listen(server);
  cleanups.push(async () => {
    for (const { socket } of connections) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { base: `http://127.0.0.1:${port}`, connections };
}

/** Writes the pieces one by one with a pause between them (each arrives as its own read). */
async function writeSlowly(socket: Socket, pieces: Array<string | Uint8Array>, pauseMs = 3): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed) return;
    socket.write(typeof piece === 'string' ? Buffer.from(piece, 'latin1') : piece);
    await sleep(pauseMs);
  }
}

interface ReadResult {
  bytes: number;
  sha256: string;
}

/**
 * Reads a body as src/io/receive.ts does: a BYOB reader and one buffer, handed to every read and
 * taken back from its answer. Checks that the answer always comes back in that same memory.
 */
async function readByob(body: ReadableStream<Uint8Array>, size = 64 * 1024): Promise<ReadResult> {
  const reader = body.getReader({ mode: 'byob' });
  let buffer = new ArrayBuffer(size);
  const hash = createHash('sha256');
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done || !value) break;
    expect(value.buffer.byteLength).toBe(size);
    expect(value.byteOffset).toBe(0);
    hash.update(value);
    bytes += value.byteLength;
    buffer = value.buffer as ArrayBuffer;
  }
  return { bytes, sha256: hash.digest('hex') };
}

type ReadMode = 'arrayBuffer' | 'byob';

async function readBody(response: Response, mode: ReadMode): Promise<ReadResult> {
  if (mode === 'byob') return readByob(response.body!);
  const body = new Uint8Array(await response.arrayBuffer());
  return { bytes: body.byteLength, sha256: sha256(body) };
}

const root = fileURLToPath(new URL('..', import.meta.url));
const tlsKey = readFileSync(new URL('fixtures/tls/localhost-key.pem', import.meta.url));
const tlsCertPath = fileURLToPath(new URL('fixtures/tls/localhost-cert.pem', import.meta.url));
const tlsCert = readFileSync(tlsCertPath);

/** 16 MB of seeded data; the tests take slices of it. */
const DATA = seededBytes(16 * 1024 * 1024, 0x9e3779b9);

describe('nodeFetch keep-alive', () => {
  it('carries sequential requests to one origin on one connection', async () => {
    const ports: number[] = [];
    const { base, connections } = await httpServer((req, res) => {
      ports.push(req.socket.remotePort!);
      res.end(`answer ${ports.length}`);
    });
    expect(await (await nodeFetch(`${base}/a`)).text()).toBe('answer 1');
    expect(await (await nodeFetch(`${base}/b`)).text()).toBe('answer 2');
    const third = await readByob((await nodeFetch(`${base}/c`)).body!);
    expect(third.bytes).toBe('answer 3'.length);
    expect(ports).toHaveLength(3);
    expect(new Set(ports).size).toBe(1);
    expect(connections).toHaveLength(1);
  });

  it('opens a new connection when the server closed the idle one', async () => {
    const ports: number[] = [];
    let finished: Promise<unknown> = Promise.resolve();
    const { server, base, connections } = await httpServer((req, res) => {
      ports.push(req.socket.remotePort!);
      finished = once(res, 'finish');
      res.end('ok');
    });
    expect(await (await nodeFetch(`${base}/a`)).text()).toBe('ok');
    await finished;
    server.closeIdleConnections(); // as when its keep-alive timeout ends
    await closedSoon(connections[0]);
    await sleep(20); // time for the client to read the FIN
    expect(await (await nodeFetch(`${base}/b`)).text()).toBe('ok');
    expect(connections).toHaveLength(2);
    expect(ports[1]).not.toBe(ports[0]);
  });

  it('does not reuse a connection the server answered with "connection: close"', async () => {
    const ports: number[] = [];
    const { base, connections } = await httpServer((req, res) => {
      ports.push(req.socket.remotePort!);
      res.setHeader('connection', 'close');
      res.end('bye');
    });
    expect(await (await nodeFetch(`${base}/a`)).text()).toBe('bye');
    expect(await (await nodeFetch(`${base}/b`)).text()).toBe('bye');
    expect(connections).toHaveLength(2);
    expect(ports[1]).not.toBe(ports[0]);
  });

  it('reuses the connection after HEAD and 304 answers, which have no body', async () => {
    const ports: number[] = [];
    const { base, connections } = await httpServer((req, res) => {
      ports.push(req.socket.remotePort!);
      if (req.url === '/cached') {
        res.writeHead(304, { etag: '"x"' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': '1000', 'content-type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1000));
    });
    const head = await nodeFetch(`${base}/file`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('1000');
    expect(await head.text()).toBe('');
    const cached = await nodeFetch(`${base}/cached`);
    expect(cached.status).toBe(304);
    expect(cached.body).toBeNull();
    expect(await (await nodeFetch(`${base}/file`)).text()).toBe('x'.repeat(1000));
    expect(connections).toHaveLength(1);
    expect(new Set(ports).size).toBe(1);
  });
});

describe('nodeFetch body bytes', () => {
  const body = DATA.subarray(0, 6 * 1024 * 1024 + 12_345);
  const expected = { bytes: body.length, sha256: sha256(body) };

  it.each<ReadMode>(['arrayBuffer', 'byob'])('a chunked body written in many odd-sized pieces arrives exactly (%s)', async (mode) => {
    const { base } = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      void writePieces(res, body, oddSizes(7)).then(() => res.end());
    });
    const response = await nodeFetch(`${base}/chunked`);
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    expect(await readBody(response, mode)).toEqual(expected);
  });

  it.each<ReadMode>(['arrayBuffer', 'byob'])('a content-length body arrives exactly (%s)', async (mode) => {
    const { base } = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
      void writePieces(res, body, oddSizes(11)).then(() => res.end());
    });
    const response = await nodeFetch(`${base}/length`);
    expect(response.headers.get('content-length')).toBe(String(body.length));
    expect(await readBody(response, mode)).toEqual(expected);
  });

  it.each<ReadMode>(['arrayBuffer', 'byob'])('an HTTP/1.0 body delimited by the close arrives exactly (%s)', async (mode) => {
    const { base } = await rawServer(async (socket) => {
      socket.write('HTTP/1.0 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n');
      await writePieces(socket, body, oddSizes(13));
      socket.end();
    });
    const response = await nodeFetch(`${base}/until-close`);
    expect(response.status).toBe(200);
    expect(await readBody(response, mode)).toEqual(expected);
  });

  it.each(['until-close', 'length-close'])(
    'a slow reader gets every byte when the server closes while bytes still wait for it (%s)',
    async (kind) => {
      // The socket reads ahead of a slow reader (up to 256 KB), so the whole answer and the close
      // arrive while the reader is still at its first pieces.
      const slow = DATA.subarray(0, 200 * 1024 + 7);
      const { base } = await rawServer((socket) => {
        const length = kind === 'length-close' ? `content-length: ${slow.length}\r\nconnection: close\r\n` : '';
        socket.write(`HTTP/1.${kind === 'length-close' ? 1 : 0} 200 OK\r\n${length}\r\n`);
        socket.end(slow);
      });
      const response = await nodeFetch(`${base}/${kind}`);
      const reader = response.body!.getReader({ mode: 'byob' });
      let buffer = new ArrayBuffer(16 * 1024);
      const hash = createHash('sha256');
      let bytes = 0;
      for (;;) {
        const { done, value } = await reader.read(new Uint8Array(buffer));
        if (done || !value) break;
        hash.update(value);
        bytes += value.byteLength;
        buffer = value.buffer as ArrayBuffer;
        await sleep(2);
      }
      expect({ bytes, sha256: hash.digest('hex') }).toEqual({ bytes: slow.length, sha256: sha256(slow) });
    },
  );

  it('a BYOB reader with a small buffer gets every byte, in order', async () => {
    const small = DATA.subarray(100, 100 + 300_001);
    const { base } = await httpServer((_req, res) => {
      res.writeHead(200);
      void writePieces(res, small, oddSizes(17)).then(() => res.end());
    });
    const response = await nodeFetch(`${base}/small-reads`);
    expect(await readByob(response.body!, 1021)).toEqual({ bytes: small.length, sha256: sha256(small) });
  });

  it('chunked framing split at every kind of boundary, with extensions and trailers', async () => {
    const { base } = await rawServer((socket) =>
      writeSlowly(
        socket,
        ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n', '5', ';ext=1\r', '\nhel', 'lo\r', '\n', 'A\r\n0123', '456789', '\r\n0\r\nx-trailer: 1\r', '\n\r', '\n'],
        1,
      ),
    );
    const response = await nodeFetch(`${base}/framing`);
    expect(await response.text()).toBe('hello0123456789');
  });
});

describe('nodeFetch response heads', () => {
  it('parses a head that arrives in pieces, split anywhere (even inside the blank line)', async () => {
    const splits: Record<string, string[]> = {
      '/lines': ['HTTP/1.1 200 OK\r\n', 'content-type: text/plain\r\n', 'content-length: 5\r\n', '\r\n', 'hello'],
      '/blank-line': ['HTTP/1.1 20', '0 OK\r\ncontent-le', 'ngth: 5\r', '\n\r', '\nhel', 'lo'],
      '/with-body': ['HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r', '\nhello'],
      '/bytes': [...'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello'],
    };
    const { base, connections } = await rawServer((socket, request) => writeSlowly(socket, splits[request.target]!, 1));
    for (const target of Object.keys(splits)) {
      const response = await nodeFetch(`${base}${target}`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('hello');
    }
    expect(connections).toHaveLength(1); // every answer was complete and clean: one connection
  });

  it('skips 1xx interim responses, in the same read as the final one or in their own', async () => {
    const { base } = await rawServer(async (socket, request) => {
      if (request.target === '/together') {
        socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-final: yes\r\n\r\nok');
      } else {
        await writeSlowly(socket, ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 201 Created\r\n', 'content-length: 4\r\n\r\n', 'done']);
      }
    });
    const together = await nodeFetch(`${base}/together`);
    expect(together.status).toBe(200);
    expect(together.headers.get('x-final')).toBe('yes');
    expect(together.headers.get('link')).toBeNull();
    expect(await together.text()).toBe('ok');
    const apart = await nodeFetch(`${base}/apart`);
    expect(apart.status).toBe(201);
    expect(apart.statusText).toBe('Created');
    expect(await apart.text()).toBe('done');
  });
});

describe('nodeFetch malformed answers', () => {
  it('rejects a bad status line with an HttpProtocolError, and drops the connection', async () => {
    const { base, connections } = await rawServer((socket, request) => {
      if (request.target === '/bad') socket.write('HTTP/1.1 2OO OK\r\ncontent-length: 2\r\n\r\nok'); // the server keeps the connection open
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ngood');
    });
    const error = await nodeFetch(`${base}/bad`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('HttpProtocolError');
    await closedSoon(connections[0]); // the client closed it
    expect(await (await nodeFetch(`${base}/good`)).text()).toBe('good');
    expect(connections).toHaveLength(2);
  });

  it.each<ReadMode>(['arrayBuffer', 'byob'])('errors the body on a bad chunk size mid-body, and drops the connection (%s)', async (mode) => {
    const { base, connections } = await rawServer(async (socket, request) => {
      if (request.target === '/good') {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ngood');
        return;
      }
      const piece = DATA.subarray(0, 100_000);
      socket.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${piece.length.toString(16)}\r\n`);
      socket.write(piece);
      await sleep(5);
      socket.write('\r\nzz\r\nmore\r\n0\r\n\r\n'); // and the server keeps the connection open
    });
    const response = await nodeFetch(`${base}/bad-chunk`);
    expect(response.status).toBe(200);
    const error = await readBody(response, mode).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('HttpProtocolError');
    await closedSoon(connections[0]);
    expect(await (await nodeFetch(`${base}/good`)).text()).toBe('good');
    expect(connections).toHaveLength(2);
  });

  it('drops a connection whose answer ran past its content-length', async () => {
    const { base, connections } = await rawServer((socket, request) => {
      if (request.target === '/extra') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ngood');
    });
    expect(await (await nodeFetch(`${base}/extra`)).text()).toBe('ok');
    await closedSoon(connections[0]);
    expect(await (await nodeFetch(`${base}/good`)).text()).toBe('good');
    expect(connections).toHaveLength(2);
  });

  it('rejects an answer cut off in its head', async () => {
    const { base } = await rawServer((socket) => {
      socket.end('HTTP/1.1 200 OK\r\ncontent-len');
    });
    const error = await nodeFetch(`${base}/cut`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });
});

describe('nodeFetch flow control', () => {
  it('leaves unread data in the kernel while the reader waits, then delivers all of it', async () => {
    const total = DATA.length;
    const piece = 64 * 1024;
    let flushed = 0; // bytes the server's socket handed to the kernel
    let sawNeedDrain = false;
    let response: ServerResponse | undefined;
    const { base } = await httpServer((_req, res) => {
      response = res;
      res.writeHead(200, { 'content-length': String(total) });
      void (async () => {
        for (let at = 0; at < total && !res.destroyed; at += piece) {
          const bytes = DATA.subarray(at, at + piece);
          if (!res.write(bytes, () => (flushed += bytes.length))) {
            sawNeedDrain ||= res.writableNeedDrain;
            await drained(res);
          }
        }
        res.end();
      })();
    });
    const answer = await nodeFetch(`${base}/16mb`);
    const reader = answer.body!.getReader({ mode: 'byob' });
    const hash = createHash('sha256');
    let received = 0;
    let buffer = new ArrayBuffer(64 * 1024);
    const readOnce = async (): Promise<boolean> => {
      const { done, value } = await reader.read(new Uint8Array(buffer));
      if (done || !value) return false;
      hash.update(value);
      received += value.byteLength;
      buffer = value.buffer as ArrayBuffer;
      return true;
    };
    for (let i = 0; i < 3; i++) expect(await readOnce()).toBe(true);

    // The reader now waits. The server fills the socket buffers and then cannot write more.
    let last = -1;
    for (let stable = 0, started = Date.now(); stable < 3; ) {
      expect(Date.now() - started).toBeLessThan(3_000);
      await sleep(25);
      stable = flushed === last ? stable + 1 : 0;
      last = flushed;
    }
    expect(sawNeedDrain).toBe(true);
    expect(response!.writableNeedDrain).toBe(true);
    expect(flushed).toBeLessThan(total / 2);
    expect(received).toBeLessThanOrEqual(3 * 64 * 1024);

    while (await readOnce());
    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(sha256(DATA));
  });
});

describe('nodeFetch cancel and abort', () => {
  /** A server with a large answer at /big (of which it sends only the start) and a small one elsewhere. */
  async function bigAndSmall(): Promise<{ base: string; connections: Tracked[] }> {
    return httpServer((req, res) => {
      if (req.url === '/big') {
        // a part of the answer, then nothing: only the client can end the connection
        res.writeHead(200, { 'content-length': String(4 * 1024 * 1024) });
        res.write(DATA.subarray(0, 1000));
      } else {
        res.end('small');
      }
    });
  }

  it.each(['byob', 'default'])('cancelling the body mid-way closes its connection; the next request works (%s reader)', async (kind) => {
    const { base, connections } = await bigAndSmall();
    const response = await nodeFetch(`${base}/big`);
    if (kind === 'byob') {
      const reader = response.body!.getReader({ mode: 'byob' });
      const first = await reader.read(new Uint8Array(64 * 1024));
      expect(first.value!.byteLength).toBeGreaterThan(0);
      await reader.cancel();
    } else {
      const reader = response.body!.getReader();
      const first = await reader.read();
      expect(first.value!.byteLength).toBeGreaterThan(0);
      await reader.cancel();
    }
    await closedSoon(connections[0]);
    expect(await (await nodeFetch(`${base}/small`)).text()).toBe('small');
    expect(connections).toHaveLength(2);
  });

  it('aborting mid-body errors the read with an AbortError and closes the connection', async () => {
    const { base, connections } = await httpServer((req, res) => {
      if (req.url === '/small') {
        res.end('small');
        return;
      }
      res.writeHead(200, { 'content-length': '1000000' });
      res.write('x'.repeat(1000)); // and nothing more
    });

    // a read waiting for bytes when the signal fires
    const controller = new AbortController();
    const response = await nodeFetch(`${base}/slow`, { signal: controller.signal });
    const reader = response.body!.getReader();
    expect((await reader.read()).value!.byteLength).toBeGreaterThan(0);
    const waiting = reader.read();
    controller.abort();
    const error = await waiting.catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    await closedSoon(connections[0]);

    // no read under way when the signal fires: the next one fails
    const later = new AbortController();
    const second = await nodeFetch(`${base}/slow`, { signal: later.signal });
    later.abort();
    const secondError = await second.text().catch((e: unknown) => e);
    expect((secondError as Error).name).toBe('AbortError');
    await closedSoon(connections[1]);

    expect(await (await nodeFetch(`${base}/small`)).text()).toBe('small');
    expect(connections).toHaveLength(3);
  });

  it('an abort signal that already fired rejects at once, sending nothing', async () => {
    const { base, connections } = await httpServer((_req, res) => res.end('never'));
    const error = await nodeFetch(`${base}/x`, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(connections).toHaveLength(0);
  });
});

describe('nodeFetch over HTTPS', () => {
  const body = DATA.subarray(0, 3 * 1024 * 1024 + 7);

  interface Seen {
    path: string;
    servername: string | false;
    port: number;
  }

  /**
   * An https server with the test certificate. Answers are chunked, in odd-sized pieces; at
   * /length-close with a content-length and the connection closed after it, at /until-close with
   * no length (the body ends with the connection).
   */
  async function httpsServer(): Promise<{ port: number; seen: Seen[] }> {
    const seen: Seen[] = [];
    const server = createHttpsServer({ key: tlsKey, cert: tlsCert }, (req, res) => {
      const socket = req.socket as TLSSocket & { servername: string | false };
      seen.push({ path: req.url ?? '', servername: socket.servername, port: socket.remotePort! });
      if (req.url === '/length-close') {
        res.writeHead(200, { 'content-length': String(body.length), connection: 'close' });
      } else if (req.url === '/until-close') {
        res.useChunkedEncodingByDefault = false;
        res.writeHead(200, { connection: 'close' });
      } else {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
      }
      void writePieces(res, body, oddSizes(23)).then(() => res.end());
    });
    server.on('tlsClientError', () => {});
    const port = await listen(server);
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { port, seen };
  }

  it('verifies the certificate: an untrusted self-signed one is refused', async () => {
    const server = await httpsServer();
    const error = await nodeFetch(`https://localhost:${server.port}/x`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as NodeJS.ErrnoException).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    expect(server.seen).toHaveLength(0);
  });

  it('fetches exact bytes when the certificate is trusted, with SNI, keep-alive and a slow reader', async () => {
    const server = await httpsServer();
    const localhost = `https://localhost:${server.port}`;
    const requests: Array<[string, string]> = [
      ['arrayBuffer', `${localhost}/a`],
      ['byob', `${localhost}/b`],
      ['arrayBuffer', `https://127.0.0.1:${server.port}/c`],
      ['byob', `${localhost}/length-close`],
      ['byob', `${localhost}/until-close`],
    ];
    const { stdout } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(new URL('fixtures/https-fetch.ts', import.meta.url)), ...requests.flat()],
        { cwd: root, env: { ...process.env, NODE_EXTRA_CA_CERTS: tlsCertPath }, timeout: 20_000 },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve({ stdout, stderr })),
      ),
    );
    const results = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { url: string; status: number; mode: string; bytes: number; sha256: string });
    expect(results.map((r) => [r.mode, r.url])).toEqual(requests);
    for (const result of results) expect(result).toMatchObject({ status: 200, bytes: body.length, sha256: sha256(body) });
    expect(server.seen.map((s) => [s.path, s.servername])).toEqual([
      ['/a', 'localhost'],
      ['/b', 'localhost'],
      ['/c', false], // no SNI for an IP address
      ['/length-close', 'localhost'],
      ['/until-close', 'localhost'],
    ]);
    const [a, b, , lengthClose, untilClose] = server.seen.map((s) => s.port);
    expect(b).toBe(a); // one connection for the requests to https://localhost
    expect(lengthClose).toBe(a);
    expect(untilClose).not.toBe(a); // the server closed that one after /length-close
  });
});
