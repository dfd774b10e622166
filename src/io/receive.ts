/**
 * Receives an Images API answer straight into files: the body is scanned as it arrives and each
 * image's base64 is decoded piece by piece into the file its destination names (a temp file next
 * to the final one). Memory stays at a few network chunks per request, whatever the image size.
 * On any failure (a cut connection, a malformed answer, a cancel) every file written is removed.
 */
import type { FileHandle } from 'node:fs/promises';
import { promises as fs } from 'node:fs';
import { ImagesAnswerScanner } from '../core/answer-scanner.js';

export interface ReceivedImage {
  /** Position in the answer's data[]. */
  index: number;
  /** The file holding the image's bytes (the destination's temp file). */
  file: string;
  bytes: number;
}

export interface ReceivedAnswer {
  images: ReceivedImage[];
  /** How many images the answer carried (more than were written when a destination declined some). */
  count: number;
  usage?: Record<string, unknown>;
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

/** Decoded bytes are gathered up to this size before a write: few syscalls, little memory. */
const WRITE_BATCH_BYTES = 256 * 1024;
/**
 * Writes run while the next chunks are read (waiting on the disk would pause the socket and
 * slow the sender), up to this many bytes queued; beyond it reading waits for the disk.
 */
const MAX_QUEUED_BYTES = 1024 * 1024;

class OpenImage {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private queuedBytes = 0;
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    readonly index: number,
    readonly file: string,
    private readonly handle: FileHandle,
  ) {}

  async add(bytes: Buffer): Promise<void> {
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= WRITE_BATCH_BYTES) this.flush();
    if (this.failure !== undefined) throw this.failure;
    if (this.queuedBytes > MAX_QUEUED_BYTES) await this.settled();
  }

  /** Writes what is left and closes the file. */
  async finish(): Promise<void> {
    this.flush();
    await this.settled();
    await this.handle.close();
  }

  async abandon(): Promise<void> {
    await this.writing;
    await this.handle.close().catch(() => {});
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const buffers = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.queuedBytes += bytes;
    this.writing = this.writing
      .then(async () => {
        if (this.failure === undefined) await this.handle.writev(buffers);
      })
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        this.queuedBytes -= bytes;
      });
  }

  private async settled(): Promise<void> {
    await this.writing;
    if (this.failure !== undefined) throw this.failure;
  }
}

const local = async <T>(step: () => Promise<T>): Promise<T> => {
  try {
    return await step();
  } catch (error) {
    throw new LocalWriteError(error);
  }
};

export async function receiveImages(
  body: ReadableStream<Uint8Array> | null,
  destination: ImageDestination,
  signal?: AbortSignal,
): Promise<ReceivedAnswer> {
  if (!body) throw new BodyReadError(new Error('no body'));
  const scanner = new ImagesAnswerScanner();
  const created: string[] = [];
  const images: ReceivedImage[] = [];
  /** The image being written; null while one is being dropped. */
  let open: OpenImage | null | undefined;
  const reader = body.getReader();
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
        if (read.done) break;
        chunk = read.value;
      } catch (error) {
        if (signal?.aborted) throw error;
        throw new BodyReadError(error);
      }
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      for (const event of scanner.push(chunk)) {
        if (event.kind === 'image-start') {
          const file = await local(() => destination(event.index));
          if (file === undefined) {
            open = null;
          } else {
            const handle = await local(() => fs.open(file, 'wx'));
            created.push(file);
            open = new OpenImage(event.index, file, handle);
          }
        } else if (event.kind === 'image-bytes') {
          if (open) await local(() => open!.add(event.bytes));
        } else {
          if (open) {
            const finished = open;
            open = undefined;
            await local(() => finished.finish());
            images.push({ index: finished.index, file: finished.file, bytes: event.bytes });
          }
          open = undefined;
        }
      }
    }
    const answer = scanner.finish();
    done = true;
    return answer.usage ? { images, count: answer.images, usage: answer.usage } : { images, count: answer.images };
  } finally {
    signal?.removeEventListener('abort', cancel);
    if (!done) {
      cancel();
      if (open) await open.abandon();
      await Promise.all(created.map((file) => fs.rm(file, { force: true })));
    }
  }
}
