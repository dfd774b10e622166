/**
 * MCP over stdio, with a bound on incoming messages that refuses one message instead of ending
 * the server. The SDK's StdioServerTransport closes itself when a line passes its 10 MB read
 * buffer; the server then has nothing left to wait for and exits with code 0, taking every other
 * call with it. Here a line over the limit is skipped to its end, holding only its first and last
 * bytes; the id is read from those (a request's id sits at its start or its end in every client's
 * JSON), the request gets a JSON-RPC error saying the limit and what to send instead, the refusal
 * is logged on stderr, and the next line is served as usual.
 */
import process from 'node:process';
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { MAX_MESSAGE_BYTES } from '../core/inputs.js';

/** JSON-RPC 2.0 "Invalid Request". */
const INVALID_REQUEST = -32600;
/** Bytes kept from each end of an oversized line, to find its id and method. */
const END_BYTES = 4096;

const STRING = String.raw`"(?:[^"\\]|\\.)*"`;
const SIMPLE = String.raw`(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|${STRING}|true|false|null)`;
const PAIR = String.raw`${STRING}\s*:\s*${SIMPLE}`;
const ID = String.raw`-?\d+|${STRING}`;
/** A top-level key among the first ones, before any large value: `{"jsonrpc":"2.0","id":7,…`. */
const headKey = (key: string, value: string) => new RegExp(String.raw`^\s*\{\s*(?:${PAIR}\s*,\s*)*?"${key}"\s*:\s*(${value})`);
/** A top-level key among the last ones, after any large value: `…},"jsonrpc":"2.0","id":7}`. */
const tailKey = (key: string, value: string) => new RegExp(String.raw`[{,]\s*"${key}"\s*:\s*(${value})\s*(?:,\s*${PAIR}\s*)*\}\s*$`);
const ID_AT = [headKey('id', ID), tailKey('id', ID)];
const METHOD_AT = [headKey('method', STRING), tailKey('method', STRING)];

function firstMatch(patterns: readonly RegExp[], texts: readonly string[]): string | undefined {
  for (const pattern of patterns) {
    for (const text of texts) {
      const found = pattern.exec(text)?.[1];
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** The id and method of a JSON-RPC message known only by its first and last bytes, where they can be read. */
export function peekMessage(head: string, tail: string): { id?: RequestId; method?: string } {
  const found: { id?: RequestId; method?: string } = {};
  const id = firstMatch(ID_AT, [head, tail]);
  const method = firstMatch(METHOD_AT, [head, tail]);
  try {
    if (id !== undefined) found.id = JSON.parse(id) as RequestId;
    if (method !== undefined) found.method = JSON.parse(method) as string;
  } catch {
    // an id the patterns took for one but JSON does not: no answer rather than a wrong one
  }
  return found;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** What the client is told about a refused message. */
export function oversizedMessageText(bytes: number, limit = MAX_MESSAGE_BYTES): string {
  return (
    `The message was ${mb(bytes)} (${bytes} bytes); this server reads messages of at most ${mb(limit)} (${limit} bytes), as common MCP clients send and receive. ` +
    'Pass images as files inside the workspace (a path or file:// URI) rather than data: URLs, and long prompts with prompt_file.'
  );
}

interface Skipping {
  bytes: number;
  head: Buffer;
  tail: Buffer;
}

export interface StdioOptions {
  maxMessageBytes?: number;
  /** Where refusals are logged (default: stderr). */
  log?: (line: string) => void;
}

export class BoundedStdioServerTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly max: number;
  private readonly log: (line: string) => void;
  private pieces: Buffer[] = [];
  private size = 0;
  private skipping: Skipping | undefined;
  private started = false;

  constructor(
    private readonly stdin: Readable = process.stdin,
    private readonly stdout: Writable = process.stdout,
    options: StdioOptions = {},
  ) {
    this.max = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('BoundedStdioServerTransport already started');
    this.started = true;
    this.stdin.on('data', this.onData);
    this.stdin.on('error', this.onStreamError);
  }

  private readonly onStreamError = (error: Error) => this.onerror?.(error);

  private readonly onData = (chunk: Buffer | string) => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    while (start < data.length) {
      const newline = data.indexOf(0x0a, start);
      this.take(data.subarray(start, newline === -1 ? data.length : newline));
      if (newline === -1) break;
      this.endLine();
      start = newline + 1;
    }
  };

  /** A piece of the current line: held while the line is within the limit, else only its ends. */
  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.skipping) {
      this.skipping.bytes += piece.length;
      this.skipping.tail = lastBytes([this.skipping.tail, piece]);
      return;
    }
    if (this.size + piece.length <= this.max) {
      this.pieces.push(piece);
      this.size += piece.length;
      return;
    }
    const held = [...this.pieces, piece];
    this.skipping = { bytes: this.size + piece.length, head: firstBytes(held), tail: lastBytes(held) };
    this.pieces = [];
    this.size = 0;
  }

  private endLine(): void {
    const skipped = this.skipping;
    if (skipped) {
      this.skipping = undefined;
      this.refuse(skipped);
      return;
    }
    const line = Buffer.concat(this.pieces, this.size).toString('utf8').replace(/\r$/, '');
    this.pieces = [];
    this.size = 0;
    if (line.trim() === '') return;
    let message: JSONRPCMessage;
    try {
      message = JSONRPCMessageSchema.parse(JSON.parse(line));
    } catch (error) {
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.onmessage?.(message);
  }

  private refuse(skipped: Skipping): void {
    const { id, method } = peekMessage(skipped.head.toString('utf8'), skipped.tail.toString('utf8'));
    const text = oversizedMessageText(skipped.bytes, this.max);
    const what = method ? `a ${method} request` : 'a message';
    const answered = id !== undefined && method !== undefined;
    this.log(`imagegen-mcp: refused ${what} of ${skipped.bytes} bytes${id !== undefined ? ` (id ${JSON.stringify(id)})` : ''}, over the ${this.max}-byte limit${answered ? '; answered with an error' : ''}.`);
    // Only a request is answered: an id without a method may be the client's own (a response).
    if (answered) {
      this.send({ jsonrpc: '2.0', id, error: { code: INVALID_REQUEST, message: text } }).catch((error: unknown) => {
        this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      });
    }
  }

  async close(): Promise<void> {
    this.stdin.off('data', this.onData);
    this.stdin.off('error', this.onStreamError);
    if (this.stdin.listenerCount('data') === 0) this.stdin.pause();
    this.pieces = [];
    this.size = 0;
    this.skipping = undefined;
    this.onclose?.();
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => {
      if (this.stdout.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.stdout.once('drain', resolve);
    });
  }
}

function firstBytes(pieces: readonly Buffer[]): Buffer {
  const out: Buffer[] = [];
  let size = 0;
  for (const piece of pieces) {
    if (size >= END_BYTES) break;
    const part = piece.subarray(0, END_BYTES - size);
    out.push(part);
    size += part.length;
  }
  return Buffer.concat(out, size); // a copy: the large pieces are let go
}

function lastBytes(pieces: readonly Buffer[]): Buffer {
  const out: Buffer[] = [];
  let size = 0;
  for (let i = pieces.length - 1; i >= 0 && size < END_BYTES; i--) {
    const piece = pieces[i]!;
    const part = piece.subarray(Math.max(0, piece.length - (END_BYTES - size)));
    out.unshift(part);
    size += part.length;
  }
  return Buffer.concat(out, size);
}
