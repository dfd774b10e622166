/**
 * Receives an Images API answer straight into files: the body is scanned as it arrives and each
 * image's base64 is decoded piece by piece into the file its destination names (a temp file next
 * to the final one). Memory stays at a few network chunks per request, whatever the image size.
 * On any failure (a cut connection, a malformed answer, a cancel) every file written is removed.
 */
import { close, open, promises as fs, writev } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { ImagesAnswerScanner, MalformedAnswerError, decodeBase64Into } from '../core/answer-scanner.js';

export interface ReceivedImage {
  /** Position in the answer's data[]. */
  index: number;
  /** The file holding the image's bytes (the destination's temp file). */
  file: string;
  bytes: number;
  /** A copy of the image's first bytes (up to HEAD_BYTES): its header, read without opening the file. */
  head: Uint8Array;
}

/** Enough of an image's start for its header: PNG, WebP and GIF need under 40 bytes, a JPEG's frame header usually comes within a few KB. */
export const HEAD_BYTES = 16 * 1024;

export interface ReceivedAnswer {
  images: ReceivedImage[];
  /** How many images the answer carried (more than were written when a destination declined some). */
  count: number;
  usage?: Record<string, unknown>;
  svgUsage?: Record<string, unknown>;
}

/** Where image `index` goes: a path to create, or undefined to drop it. */
export type ImageDestination = (index: number) => Promise<string | undefined>;

/** The body stopped arriving (connection cut): worth another attempt. */
export class BodyReadError extends Error {
  constructor(cause: unknown) {
    super(`the answer was cut off: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'BodyReadError';
  }
}

/** The image could not be written locally (disk full, permissions): not the API's fault, not retried. */
export class LocalWriteError extends Error {
  constructor(cause: unknown) {
    super(`Could not write the image: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'LocalWriteError';
  }
}

// Plain descriptors rather than FileHandles: a few hundred images a minute make the lighter API count.
const openFile = promisify(open);
const writeFile = promisify(writev);
const closeFile = promisify(close);

/**
 * Images are decoded into buffers of this size, taken from a pool and given back once written:
 * memory stays flat however many images go through (no garbage per chunk).
 */
const BUFFER_BYTES = 64 * 1024;
/** Filled buffers an image may have waiting for the disk before reading waits for it. */
const MAX_QUEUED_BUFFERS = 2;
/**
 * The pool is one slab, enough for 25 images in flight (filling, queued, being written), made on
 * first use. One large allocation is mapped on its own by the C allocator; 64 KB buffers made one
 * by one would sit among the socket's short-lived chunks and keep the process heap from shrinking.
 */
const SLAB_BUFFERS = 25 * (MAX_QUEUED_BUFFERS + 2);
let slab: Buffer | undefined;
const pool: Buffer[] = [];
const takeBuffer = (): Buffer => {
  if (!slab) {
    slab = Buffer.allocUnsafeSlow(SLAB_BUFFERS * BUFFER_BYTES);
    for (let i = SLAB_BUFFERS - 1; i >= 0; i--) pool.push(slab.subarray(i * BUFFER_BYTES, (i + 1) * BUFFER_BYTES));
  }
  return pool.pop() ?? Buffer.allocUnsafeSlow(BUFFER_BYTES);
};
const giveBack = (buffer: Buffer): void => {
  if (buffer.buffer === slab?.buffer) pool.push(buffer);
};

/**
 * One image of the answer on its way to its file. Decoding happens as pieces arrive; the file
 * work (creating, writing, closing) runs on its own chain while the next chunks are read, since
 * waiting on the disk would pause the socket and hold the request open.
 */
class ImageFile {
  file: string | undefined;
  bytes = 0;
  head: Uint8Array | undefined;
  private fd: number | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private buffer: Buffer | undefined;
  private used = 0;
  private queued = 0;

  constructor(
    readonly index: number,
    destination: ImageDestination,
    private readonly maxBytes: number,
  ) {
    this.step(async () => {
      const file = await destination(index);
      if (file === undefined) return; // dropped: the bytes go nowhere
      this.fd = await openFile(file, 'wx');
      this.file = file;
    });
  }

  /** Decodes a piece (throws MalformedAnswerError on bad base64); true when reading should wait for the disk. */
  add(base64: Uint8Array): boolean {
    if (this.failure !== undefined) throw new LocalWriteError(this.failure);
    let at = 0;
    while (at < base64.length) {
      this.buffer ??= takeBuffer();
      const room = this.buffer.length - this.used;
      const take = Math.min(base64.length - at, Math.floor(room / 3) * 4);
      const piece = take === base64.length ? base64 : base64.subarray(at, at + take);
      const written = decodeBase64Into(piece, this.buffer, this.used);
      this.used += written;
      this.bytes += written;
      at += take;
      if (this.bytes > this.maxBytes) {
        throw new MalformedAnswerError(
          `image ${this.index + 1} passed ${formatMb(this.maxBytes)}, more than an image of the requested size can weigh, so the answer was stopped there`,
        );
      }
      if (this.buffer.length - this.used < 3) this.flush();
    }
    return this.queued > MAX_QUEUED_BUFFERS;
  }

  /** The image is complete: the rest is written and the file closed, on the chain. */
  end(): void {
    this.flush();
    this.step(async () => {
      const fd = this.fd;
      this.fd = undefined;
      if (fd !== undefined) await closeFile(fd);
    });
  }

  /** Waits for the file work so far; throws its first failure. */
  async settled(): Promise<void> {
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
  }

  /** After a failure: waits for the file work, then closes and removes the file. */
  async discard(): Promise<void> {
    if (this.buffer) giveBack(this.buffer);
    this.buffer = undefined;
    await this.chain;
    if (this.fd !== undefined) await closeFile(this.fd).catch(() => {});
    this.fd = undefined;
    if (this.file !== undefined) await fs.rm(this.file, { force: true });
  }

  private step(work: () => Promise<void>): void {
    this.chain = this.chain
      .then(async () => {
        if (this.failure === undefined) await work();
      })
      .catch((error: unknown) => {
        this.failure ??= error;
      });
  }

  private flush(): void {
    const buffer = this.buffer;
    if (!buffer) return;
    const used = this.used;
    this.buffer = undefined;
    this.used = 0;
    if (used === 0) {
      giveBack(buffer);
      return;
    }
    this.head ??= new Uint8Array(buffer.subarray(0, Math.min(used, HEAD_BYTES))); // a copy: the buffer goes back to the pool
    this.queued++;
    this.step(async () => {
      try {
        if (this.fd !== undefined) await writeAll(this.fd, [buffer.subarray(0, used)]);
      } finally {
        this.queued--;
        giveBack(buffer);
      }
    });
  }
}

const formatMb = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;

/** writev may write less than asked (rarely, for large batches): write the rest. */
async function writeAll(fd: number, buffers: Buffer[]): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    let written = (await writeFile(fd, rest)).bytesWritten;
    const next: Buffer[] = [];
    for (const buffer of rest) {
      if (written >= buffer.length) {
        written -= buffer.length;
      } else {
        next.push(written > 0 ? buffer.subarray(written) : buffer);
        written = 0;
      }
    }
    rest = next;
  }
}

const local = async <T>(step: () => Promise<T>): Promise<T> => {
  try {
    return await step();
  } catch (error) {
    throw new LocalWriteError(error);
  }
};

/** Network reads are rarely larger than this (a socket read); a larger buffer would sit half empty. */
const READ_BYTES = 64 * 1024;

interface ChunkReader {
  /** The next chunk, valid until the next read; undefined at the end. */
  read(): Promise<Uint8Array | undefined>;
  cancel(): Promise<void>;
}

/**
 * Reads a body chunk by chunk. A Node stream (the direct request) is read as the socket gives it;
 * a web byte stream (the SDK's fetch) is read into one buffer, handed
 * back and forth for the whole answer, so reading allocates nothing; any other stream is read as
 * it comes.
 */
function chunkReader(body: ReadableStream<Uint8Array> | Readable): ChunkReader {
  if (body instanceof Readable) {
    // Node's own stream (the direct request): chunks as the socket gives them.
    const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    return {
      read: async () => {
        const next = await chunks.next();
        return next.done ? undefined : next.value;
      },
      cancel: async () => {
        body.destroy();
      },
    };
  }
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: 'byob' });
  } catch {
    const reader = body.getReader();
    return {
      read: async () => {
        const { done, value } = await reader.read();
        return done ? undefined : value;
      },
      cancel: () => reader.cancel(),
    };
  }
  const reader = byob;
  let buffer = new ArrayBuffer(READ_BYTES);
  return {
    async read() {
      const { done, value } = await reader.read(new Uint8Array(buffer));
      if (done || !value) return undefined;
      buffer = value.buffer as ArrayBuffer; // the same memory, transferred back to us
      return value;
    },
    cancel: () => reader.cancel(),
  };
}

/**
 * Reads the answer body into files. `onReceived` is told once the whole body is in and checked,
 * before the last writes finish: the request itself is over then. An image that decodes to more
 * than `maxImageBytes` stops the answer (MalformedAnswerError) and leaves no file: a gzip bomb is
 * cut off near the cap, however much it would inflate to.
 */
export async function receiveImages(
  body: ReadableStream<Uint8Array> | Readable | null,
  destination: ImageDestination,
  signal?: AbortSignal,
  onReceived?: () => void,
  maxImageBytes = Number.POSITIVE_INFINITY,
): Promise<ReceivedAnswer> {
  if (!body) throw new BodyReadError(new Error('no body'));
  const scanner = new ImagesAnswerScanner();
  const files: ImageFile[] = [];
  let current: ImageFile | undefined;
  const reader = chunkReader(body);
  const cancel = () => {
    reader.cancel().catch(() => {});
  };
  signal?.addEventListener('abort', cancel, { once: true });
  let done = false;
  try {
    for (;;) {
      let chunk: Uint8Array;
      try {
        const read = await reader.read();
        if (!read) break;
        chunk = read;
      } catch (error) {
        if (signal?.aborted) throw error;
        throw new BodyReadError(error);
      }
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      for (const event of scanner.push(chunk)) {
        if (event.kind === 'image-start') {
          current = new ImageFile(event.index, destination, maxImageBytes);
          files.push(current);
        } else if (event.kind === 'image-data') {
          if (current!.add(event.base64)) await local(() => current!.settled());
        } else {
          current!.end();
          current = undefined;
        }
      }
    }
    const answer = scanner.finish();
    onReceived?.();
    await local(() => Promise.all(files.map((f) => f.settled())));
    done = true;
    const images = files
      .filter((f) => f.file !== undefined)
      .map((f): ReceivedImage => ({ index: f.index, file: f.file!, bytes: f.bytes, head: f.head ?? new Uint8Array(0) }));
    return { images, count: answer.images, ...(answer.usage ? { usage: answer.usage } : {}), ...(answer.svgUsage ? { svgUsage: answer.svgUsage } : {}) };
  } finally {
    signal?.removeEventListener('abort', cancel);
    if (!done) {
      cancel();
      await Promise.all(files.map((f) => f.discard()));
    }
  }
}
