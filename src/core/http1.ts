/**
 * HTTP/1.1 message framing for the API transport (src/io/http.ts), after RFC 9112: the request
 * head, the response head, and where a response body ends (a length, chunked coding, or the
 * connection's close). Pure: bytes and strings in, values out; the caller owns every buffer.
 */

export class HttpProtocolError extends Error {
  constructor(message: string) {
    super(`The server's answer is not valid HTTP/1.1: ${message}`);
    this.name = 'HttpProtocolError';
  }
}

/** A response head larger than this is refused: the API's heads are a few hundred bytes. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Chunk extensions and trailers are skipped, up to this much in one body. */
export const MAX_CHUNK_METADATA_BYTES = 64 * 1024;

const CR = 0x0d;
const LF = 0x0a;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The request line and header fields, ending with the blank line; names and values are checked. */
export function requestHead(method: string, target: string, headers: Iterable<readonly [string, string]>): string {
  if (!TOKEN.test(method)) throw new TypeError(`invalid HTTP method ${JSON.stringify(method)}`);
  if (!/^[\x21-\x7e]+$/.test(target)) throw new TypeError('invalid request target');
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (const [name, value] of headers) {
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    if (!FIELD_VALUE.test(value)) throw new TypeError(`invalid value for header ${name}`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * Where the head ends in `bytes` (the index just after the blank line), or -1. `from` lets a
 * caller that appends bytes resume the search instead of starting over: it must start at least
 * two bytes before the old end, or a blank line split across the pieces is missed.
 */
export function headEnd(bytes: Uint8Array, from = 0, end = bytes.length): number {
  for (let i = Math.max(0, from); i < end; i++) {
    if (bytes[i] !== LF) continue;
    // a line ends at LF (with or without CR); the head ends at an empty line
    if (i + 1 < end && bytes[i + 1] === LF) return i + 2;
    if (i + 2 < end && bytes[i + 1] === CR && bytes[i + 2] === LF) return i + 3;
  }
  return -1;
}

export interface ResponseHead {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minorVersion: 0 | 1;
  status: number;
  statusText: string;
  /** Field names lower-cased, in the order received; a repeated field appears once per line. */
  headers: Array<[string, string]>;
}

/** Parses a response head (the bytes up to and including the blank line, read as latin1). */
export function parseResponseHead(text: string): ResponseHead {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/.exec(lines[0] ?? '');
  if (!statusLine) throw new HttpProtocolError(`bad status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      // obsolete line folding: the continuation joins the previous value (RFC 9112 §5.2)
      const last = headers[headers.length - 1];
      if (!last) throw new HttpProtocolError('a header continuation line with no header before it');
      last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw new HttpProtocolError(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
    headers.push([name.toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return {
    minorVersion: statusLine[1] === '1' ? 1 : 0,
    status: Number(statusLine[2]),
    statusText: statusLine[3] ?? '',
    headers,
  };
}

function values(head: ResponseHead, name: string): string[] {
  return head.headers.filter(([n]) => n === name).map(([, v]) => v);
}

/** The comma-separated elements of every line of a field, lower-cased. */
function listValues(head: ResponseHead, name: string): string[] {
  return values(head, name)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== '');
}

export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** The body runs until the server closes the connection. */
  | { kind: 'close' };

/** How the body of this response ends (RFC 9112 §6.3). */
export function bodyFraming(method: string, head: ResponseHead): BodyFraming {
  if (method.toUpperCase() === 'HEAD' || (head.status >= 100 && head.status < 200) || head.status === 204 || head.status === 304) {
    return { kind: 'none' };
  }
  const codings = listValues(head, 'transfer-encoding');
  if (codings.length > 0) return codings[codings.length - 1] === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  const lengths = values(head, 'content-length').flatMap((v) => v.split(',').map((x) => x.trim()));
  if (lengths.length > 0) {
    if (!lengths.every((v) => /^\d{1,15}$/.test(v)) || new Set(lengths).size > 1) {
      throw new HttpProtocolError(`bad content-length ${JSON.stringify(values(head, 'content-length').join(', '))}`);
    }
    return { kind: 'length', length: Number(lengths[0]) };
  }
  return { kind: 'close' };
}

/** Whether the connection may carry another request once this response's body is read. */
export function connectionReusable(head: ResponseHead, framing: BodyFraming): boolean {
  if (framing.kind === 'close') return false;
  // an HTTP/1.0 message with transfer-encoding has faulty framing: close after it (RFC 9112 §6.1)
  if (head.minorVersion === 0 && values(head, 'transfer-encoding').length > 0) return false;
  const options = listValues(head, 'connection');
  if (options.includes('close')) return false;
  return head.minorVersion === 1 || options.includes('keep-alive');
}

/** One step over body bytes: `pos` is how far the bytes were used; `data` a range of the body within them. */
export interface BodyStep {
  pos: number;
  data?: { start: number; end: number };
  done: boolean;
}

export interface BodyDecoder {
  /** Reads from bytes[pos, end), handing out at most `max` bytes of body (max >= 1). */
  next(bytes: Uint8Array, pos: number, end: number, max: number): BodyStep;
  readonly done: boolean;
}

/** A body of known length. */
export class LengthBody implements BodyDecoder {
  private remaining: number;
  constructor(length: number) {
    this.remaining = length;
  }
  get done(): boolean {
    return this.remaining === 0;
  }
  next(_bytes: Uint8Array, pos: number, end: number, max: number): BodyStep {
    const take = Math.min(this.remaining, end - pos, max);
    this.remaining -= take;
    return take > 0 ? { pos: pos + take, data: { start: pos, end: pos + take }, done: this.done } : { pos, done: this.done };
  }
}

/** A body that ends when the connection does: every byte is body. */
export class UntilCloseBody implements BodyDecoder {
  readonly done = false;
  next(_bytes: Uint8Array, pos: number, end: number, max: number): BodyStep {
    const take = Math.min(end - pos, max);
    return take > 0 ? { pos: pos + take, data: { start: pos, end: pos + take }, done: false } : { pos, done: false };
  }
}

type ChunkState = 'size' | 'extension' | 'size-lf' | 'data' | 'data-cr' | 'data-lf' | 'trailer-start' | 'trailer-line' | 'end-lf' | 'done';

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}

/**
 * The chunked transfer coding, decoded as bytes arrive in any split: each call hands out the
 * data of the current chunk (up to `max`) and steps over sizes, extensions, line ends and
 * trailers. A bare LF is accepted where CRLF is expected, as RFC 9112 §2.2 allows.
 */
export class ChunkedBody implements BodyDecoder {
  private state: ChunkState = 'size';
  private size = 0;
  private digits = 0;
  private remaining = 0;
  private metadata = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  next(bytes: Uint8Array, pos: number, end: number, max: number): BodyStep {
    while (pos < end && this.state !== 'done') {
      if (this.state === 'data') {
        const take = Math.min(this.remaining, end - pos, max);
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'data-cr';
        return { pos: pos + take, data: { start: pos, end: pos + take }, done: false };
      }
      this.frame(bytes[pos]!);
      pos++;
    }
    return { pos, done: this.state === 'done' };
  }

  /** One byte of framing. */
  private frame(byte: number): void {
    switch (this.state) {
      case 'size': {
        const digit = hexValue(byte);
        if (digit >= 0) {
          if (++this.digits > 13) throw new HttpProtocolError('a chunk size is too large');
          this.size = this.size * 16 + digit;
          return;
        }
        if (this.digits === 0) throw new HttpProtocolError('a chunk has no size');
        if (byte === 0x3b || byte === 0x20 || byte === 0x09) this.state = 'extension';
        else if (byte === CR) this.state = 'size-lf';
        else if (byte === LF) this.startChunk();
        else throw new HttpProtocolError('a chunk size is not hexadecimal');
        return;
      }
      case 'extension':
        this.countMetadata();
        if (byte === CR) this.state = 'size-lf';
        else if (byte === LF) this.startChunk();
        return;
      case 'size-lf':
        if (byte !== LF) throw new HttpProtocolError('a chunk size line does not end with CRLF');
        this.startChunk();
        return;
      case 'data-cr':
        if (byte === CR) this.state = 'data-lf';
        else if (byte === LF) this.state = 'size';
        else throw new HttpProtocolError('a chunk is longer than its size');
        return;
      case 'data-lf':
        if (byte !== LF) throw new HttpProtocolError('a chunk does not end with CRLF');
        this.state = 'size';
        return;
      case 'trailer-start':
        if (byte === CR) this.state = 'end-lf';
        else if (byte === LF) this.state = 'done';
        else {
          this.countMetadata();
          this.state = 'trailer-line';
        }
        return;
      case 'trailer-line':
        this.countMetadata();
        if (byte === LF) this.state = 'trailer-start';
        return;
      case 'end-lf':
        if (byte !== LF) throw new HttpProtocolError('the chunked body does not end with CRLF');
        this.state = 'done';
        return;
      default:
        return;
    }
  }

  private startChunk(): void {
    if (this.size === 0) {
      this.state = 'trailer-start';
    } else {
      this.remaining = this.size;
      this.state = 'data';
    }
    this.size = 0;
    this.digits = 0;
  }

  private countMetadata(): void {
    if (++this.metadata > MAX_CHUNK_METADATA_BYTES) throw new HttpProtocolError('chunk extensions or trailers are too long');
  }
}

export function bodyDecoder(framing: BodyFraming): BodyDecoder | undefined {
  switch (framing.kind) {
    case 'length':
      return new LengthBody(framing.length);
    case 'chunked':
      return new ChunkedBody();
    case 'close':
      return new UntilCloseBody();
    default:
      return undefined;
  }
}
