/**
 * A fetch for the OpenAI SDK over plain sockets (HTTP/1.1, TLS for https), given to the client as
 * its `fetch` option.
 *
 * Why not fetch or node:http: both hand every network read to JavaScript as a newly allocated
 * buffer (fetch then copies it twice more). A 3824x2160 answer is ~16 MB of base64, so a batch
 * pushes gigabytes through short-lived buffers; the garbage collector then scavenges back to back,
 * promotes whatever a request holds across those scavenges, and the peak memory of the process
 * climbs with the length of the batch. Here each connection reads into one buffer of its own,
 * reused for every read, and a body is a byte stream: a reader that brings its own buffer (as
 * src/io/receive.ts does) gets the bytes copied into it, with nothing allocated per read. Other
 * readers (the SDK reading an error) get fresh chunks, as from any stream.
 *
 * Bodies are sent as fetch would send them (a multipart body is encoded by the standard Request
 * class); keep-alive connections are reused, as fetch does.
 */
import net from 'node:net';
import { Readable, pipeline } from 'node:stream';
import tls from 'node:tls';
import zlib from 'node:zlib';
import {
  HttpProtocolError,
  MAX_HEAD_BYTES,
  UntilCloseBody,
  bodyDecoder,
  bodyFraming,
  connectionReusable,
  headEnd,
  parseResponseHead,
  requestHead,
  type BodyDecoder,
  type ResponseHead,
} from '../core/http1.js';

/** Each connection's read buffer: a network read is at most this many bytes. */
const READ_BUFFER_BYTES = 64 * 1024;
/**
 * Body bytes a connection keeps for a reader that has not asked for them yet before it stops
 * reading. Pausing the socket for every read would cost an event-loop turn per 64 KB; a little
 * slack keeps the socket reading while the reader catches up.
 */
const HOLD_BYTES = 256 * 1024;
/** An idle connection is closed after this; servers commonly keep one for 5 s or more. */
const IDLE_TIMEOUT_MS = 4_000;
/** Statuses whose responses have no body (a Response refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

interface Origin {
  key: string;
  secure: boolean;
  host: string;
  port: number;
  servername?: string;
}

function originOf(url: URL): Origin {
  const secure = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  const origin: Origin = { key: `${url.protocol}//${url.host}`, secure, host, port };
  if (secure && net.isIP(host) === 0) origin.servername = host;
  return origin;
}

function connectionError(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

const abortError = (signal: AbortSignal): unknown =>
  signal.reason instanceof Error && signal.reason.name === 'AbortError' ? signal.reason : new DOMException('This operation was aborted', 'AbortError');

/** Idle keep-alive connections, by origin. */
const idle = new Map<string, Connection[]>();

class Connection {
  readonly socket: net.Socket;
  /** Where body bytes wait for the body's reader (see Exchange.hold); made on first use. */
  spill: Buffer | undefined;
  private exchange: Exchange | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(readonly origin: Origin) {
    const onread = {
      buffer: Buffer.allocUnsafeSlow(READ_BUFFER_BYTES),
      callback: (length: number, buffer: Uint8Array): boolean => this.onBytes(buffer, length),
    };
    this.socket = origin.secure
      ? tls.connect({ host: origin.host, port: origin.port, servername: origin.servername, ALPNProtocols: ['http/1.1'], onread } as tls.ConnectionOptions)
      : net.connect({ host: origin.host, port: origin.port, onread });
    this.socket.setNoDelay(true);
    this.socket.on('error', (error) => this.onClosed(error));
    this.socket.on('end', () => this.onClosed());
    this.socket.on('close', () => this.onClosed());
  }

  get alive(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  start(exchange: Exchange): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.socket.ref();
    this.exchange = exchange;
  }

  /** The exchange is over: back to the pool when the connection can carry another request. */
  release(reusable: boolean): void {
    this.exchange = undefined;
    if (!reusable || !this.alive) {
      this.destroy();
      return;
    }
    this.socket.resume(); // keep reading, to notice the server closing it
    this.socket.unref();
    this.idleTimer = setTimeout(() => this.destroy(), IDLE_TIMEOUT_MS);
    this.idleTimer.unref();
    const list = idle.get(this.origin.key) ?? [];
    list.push(this);
    idle.set(this.origin.key, list);
  }

  destroy(): void {
    this.socket.destroy();
    this.onClosed();
  }

  private onBytes(buffer: Uint8Array, length: number): boolean {
    const exchange = this.exchange;
    if (!exchange) {
      this.destroy(); // bytes nobody asked for: the connection cannot be trusted with another request
      return false;
    }
    try {
      return exchange.onBytes(buffer, 0, length);
    } catch (error) {
      exchange.fail(error);
      return false;
    }
  }

  private onClosed(error?: Error): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (!this.closed) {
      this.closed = true;
      const list = idle.get(this.origin.key);
      const at = list?.indexOf(this) ?? -1;
      if (list && at >= 0) list.splice(at, 1);
    }
    const exchange = this.exchange;
    this.exchange = undefined;
    exchange?.connectionClosed(error);
  }
}

function acquire(origin: Origin): Connection {
  const list = idle.get(origin.key);
  while (list && list.length > 0) {
    const connection = list.pop()!;
    if (connection.alive) return connection;
  }
  return new Connection(origin);
}

interface Outgoing {
  method: string;
  origin: Origin;
  bytes: Buffer[];
  signal?: AbortSignal;
}

/** One request and its response on one connection. */
class Exchange {
  private phase: 'head' | 'body' | 'done' = 'head';
  private head = Buffer.alloc(0);
  private decoder: BodyDecoder | undefined;
  private reusable = false;
  private controller: ReadableByteStreamController | undefined;
  private pending: { buffer: Uint8Array; pos: number; end: number } | undefined;
  private connection!: Connection;
  /** The fetch promise has its Response: later failures go to the body instead. */
  private responded = false;
  /** The connection ended while bytes still waited for the reader: they go first. */
  private ended = false;

  constructor(
    private readonly outgoing: Outgoing,
    private readonly resolve: (response: Response) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    this.onAbort = this.onAbort.bind(this);
    outgoing.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.send(acquire(outgoing.origin));
  }

  private send(connection: Connection): void {
    this.connection = connection;
    connection.start(this);
    const socket = connection.socket;
    socket.cork();
    for (const bytes of this.outgoing.bytes) socket.write(bytes);
    socket.uncork();
  }

  /** Bytes read from the socket, in buffer[pos, end); false pauses reading until the body's reader asks for more. */
  onBytes(buffer: Uint8Array, pos: number, end: number): boolean {
    if (this.phase === 'body') return this.feed(buffer, pos, end);
    if (this.phase === 'done') {
      this.connection.destroy(); // more than the response said it had
      return false;
    }
    let headBytes: Uint8Array;
    let bodyStart: number;
    if (this.head.length === 0) {
      const at = headEnd(buffer, pos, end);
      if (at >= 0) {
        headBytes = buffer.subarray(pos, at);
        bodyStart = at;
      } else {
        this.keepHead(buffer, pos, end);
        return true;
      }
    } else {
      const before = this.head.length;
      this.keepHead(buffer, pos, end);
      const at = headEnd(this.head, Math.max(0, before - 3));
      if (at < 0) return true;
      headBytes = this.head.subarray(0, at);
      bodyStart = pos + (at - before);
      this.head = Buffer.alloc(0);
    }
    const head = parseResponseHead(Buffer.from(headBytes.buffer, headBytes.byteOffset, headBytes.byteLength).toString('latin1'));
    if (head.status >= 100 && head.status < 200) {
      if (head.status === 101) throw new HttpProtocolError('the server switched protocols');
      return this.onBytes(buffer, bodyStart, end); // an interim response: the real one follows
    }
    this.respond(head);
    return this.feed(buffer, bodyStart, end);
  }

  private keepHead(buffer: Uint8Array, pos: number, end: number): void {
    if (this.head.length + (end - pos) > MAX_HEAD_BYTES) throw new HttpProtocolError(`the response head is over ${MAX_HEAD_BYTES} bytes`);
    this.head = Buffer.concat([this.head, buffer.subarray(pos, end)]);
  }

  private respond(head: ResponseHead): void {
    if (head.status > 599) throw new HttpProtocolError(`status ${head.status}`);
    const framing = bodyFraming(this.outgoing.method, head);
    this.decoder = bodyDecoder(framing);
    this.reusable = connectionReusable(head, framing);
    this.phase = 'body';
    const headers = new Headers();
    for (const [name, value] of head.headers) headers.append(name, value);
    let body: ReadableStream<Uint8Array> | null = null;
    if (!NULL_BODY.has(head.status)) {
      body = new ReadableStream(
        {
          type: 'bytes',
          autoAllocateChunkSize: READ_BUFFER_BYTES,
          start: (controller) => {
            this.controller = controller;
          },
          pull: () => this.onPull(),
          cancel: () => this.stop(),
        },
        { highWaterMark: 0 },
      );
      body = decompressed(body, headers);
    }
    const response = new Response(body, { status: head.status, statusText: head.statusText, headers });
    this.responded = true;
    this.resolve(response);
  }

  /**
   * Hands body bytes to the reader, as far as it has asked for them; the rest waits in the
   * connection's spill buffer (the next read reuses the read buffer). True while the socket may
   * go on reading: false once HOLD_BYTES wait.
   */
  private feed(buffer: Uint8Array, pos: number, end: number): boolean {
    if (this.pending && pos < end) {
      this.hold(buffer, pos, end); // older bytes wait: these go after them
      return this.waiting() < HOLD_BYTES;
    }
    const decoder = this.decoder;
    for (;;) {
      if (!decoder || decoder.done) {
        this.finish(pos < end);
        return !this.connection.socket.destroyed;
      }
      if (pos >= end) return true;
      const request = this.controller ? this.controller.byobRequest : undefined;
      if (this.controller && !request) {
        if (buffer === this.connection.spill) this.pending = { buffer, pos, end };
        else this.hold(buffer, pos, end);
        return this.waiting() < HOLD_BYTES;
      }
      const view = request?.view;
      const target = view ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : undefined;
      const step = decoder.next(buffer, pos, end, target?.byteLength ?? end - pos);
      pos = step.pos;
      if (step.data && target) {
        target.set(buffer.subarray(step.data.start, step.data.end));
        request!.respond(step.data.end - step.data.start);
      }
    }
  }

  private waiting(): number {
    return this.pending ? this.pending.end - this.pending.pos : 0;
  }

  /**
   * Copies bytes the reader has not asked for yet out of the read buffer, after those already
   * waiting. The socket then reads on, up to HOLD_BYTES ahead of the reader. (Over TLS even a
   * paused socket goes on handing over the records it has already decrypted, so bytes could not
   * wait in the read buffer anyway.)
   */
  private hold(buffer: Uint8Array, pos: number, end: number): void {
    const waiting = this.pending;
    const kept = waiting ? waiting.end - waiting.pos : 0;
    const length = kept + (end - pos);
    let spill = this.connection.spill;
    if (!spill || spill.length < length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(HOLD_BYTES + READ_BUFFER_BYTES, length));
      if (waiting) grown.set(waiting.buffer.subarray(waiting.pos, waiting.end));
      spill = this.connection.spill = grown;
    } else if (waiting) {
      if (waiting.buffer === spill) spill.copyWithin(0, waiting.pos, waiting.end);
      else spill.set(waiting.buffer.subarray(waiting.pos, waiting.end));
    }
    spill.set(buffer.subarray(pos, end), kept);
    this.pending = { buffer: spill, pos: 0, end: length };
  }

  private onPull(): void {
    const pending = this.pending;
    if (!pending) {
      if (this.phase === 'body') this.connection.socket.resume();
      return;
    }
    this.pending = undefined;
    try {
      if (this.feed(pending.buffer, pending.pos, pending.end) && this.phase === 'body') {
        if (this.ended) this.connectionClosed();
        else this.connection.socket.resume();
      }
    } catch (error) {
      this.fail(error);
    }
  }

  private finish(extraBytes: boolean): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.outgoing.signal?.removeEventListener('abort', this.onAbort);
    if (this.controller) {
      this.controller.close();
      this.controller.byobRequest?.respond(0);
    }
    this.connection.release(this.reusable && !extraBytes);
  }

  /** The connection ended (with or without an error) while this exchange was on it. */
  connectionClosed(error?: Error): void {
    if (this.phase === 'done') return;
    if (this.phase === 'head') {
      // Not sent again here, even on a kept-alive connection: whether the server saw a POST cannot
      // be told from here, and the caller's retry policy decides (as with node:http).
      this.fail(error ?? connectionError('socket hang up', 'ECONNRESET'));
      return;
    }
    if (!error && this.pending) {
      // The end of the stream can be read while bytes wait for the reader (see hold):
      // they came first, and may be the rest of the answer. Decided once the reader has them.
      this.ended = true;
      return;
    }
    if (!error && this.decoder && !this.decoder.done && this.decoder instanceof UntilCloseBody && !this.pending) {
      this.finish(false);
      return;
    }
    this.fail(connectionError('the connection closed before the whole answer arrived', (error as NodeJS.ErrnoException | undefined)?.code ?? 'ECONNRESET', error));
  }

  private onAbort(): void {
    this.fail(abortError(this.outgoing.signal!));
  }

  /** The reader cancelled the body. */
  private stop(): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.outgoing.signal?.removeEventListener('abort', this.onAbort);
    this.connection.destroy();
  }

  /** The exchange ends with an error (the fetch rejects, or the body errors), and the connection with it. */
  fail(error: unknown): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.pending = undefined;
    this.outgoing.signal?.removeEventListener('abort', this.onAbort);
    if (this.responded) this.controller?.error(error);
    else this.reject(error);
    this.connection.destroy();
  }
}

/** The body as sent, or decompressed when a server (or a gateway in OPENAI_BASE_URL) compressed it. */
function decompressed(body: ReadableStream<Uint8Array>, headers: Headers): ReadableStream<Uint8Array> {
  const encoding = (headers.get('content-encoding') ?? '').trim().toLowerCase();
  const decompress =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : undefined;
  if (!decompress) return body;
  headers.delete('content-encoding');
  headers.delete('content-length');
  const raw = Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>);
  return Readable.toWeb(pipeline(raw, decompress, () => {})) as ReadableStream<Uint8Array>; // an error on either side ends the body with it
}

/** The request body as bytes, and its headers, as fetch would send them. */
async function encodeRequest(url: URL, init: RequestInit): Promise<{ headers: Headers; body?: Buffer }> {
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
  return body ? { headers, body } : { headers };
}

export async function nodeFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  if (input instanceof Request) throw new TypeError('nodeFetch takes a URL and options, as the OpenAI SDK calls it');
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`);
  const method = (init.method ?? 'GET').toUpperCase();
  const { headers, body } = await encodeRequest(url, init);
  const fields: Array<[string, string]> = [];
  if (!headers.has('host')) fields.push(['host', url.host]);
  for (const [name, value] of headers) if (name !== 'content-length' && name !== 'transfer-encoding') fields.push([name, value]);
  if (body) fields.push(['content-length', String(body.length)]);
  else if (method !== 'GET' && method !== 'HEAD') fields.push(['content-length', '0']);
  const bytes: Buffer[] = [Buffer.from(requestHead(method, `${url.pathname}${url.search}`, fields), 'latin1')];
  if (body && body.length > 0) bytes.push(body);
  const signal = init.signal ?? undefined;
  if (signal?.aborted) throw abortError(signal);
  return new Promise<Response>((resolve, reject) => {
    new Exchange({ method, origin: originOf(url), bytes, ...(signal ? { signal } : {}) }, resolve, reject);
  });
}
