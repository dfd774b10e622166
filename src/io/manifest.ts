/**
 * A batch's manifest (out_dir/manifest.json), rewritten atomically as jobs finish: each write is
 * a temp file renamed into place, and writes never overlap. Changes that come while a write is
 * under way, or within MIN_INTERVAL_MS of the last one, are folded into the next write, so 25
 * jobs finishing together cost one rewrite, not 25; flush() writes the final state at once.
 * Each job's entry is serialised once per change, when the next write renders it, and kept as
 * bytes: a rewrite joins buffers, and no manifest-sized string (which the JS heap would keep in its
 * old generation until a full collection) is made every second of a long batch.
 */
import type { Workspace } from './workspace.js';

const JOBS_TOKEN = '"__jobs__"';
/** At most about one rewrite a second, however fast jobs finish. */
export const MIN_INTERVAL_MS = 1000;
const SEPARATOR = Buffer.from(',\n    ');
/** The manifest is written in pieces of about this size: no allocation the size of the whole file. */
const PIECE_BYTES = 64 * 1024;

export class ManifestWriter {
  private readonly entries: Buffer[];
  /** Entries changed since they were last serialised. */
  private readonly stale = new Map<number, () => Record<string, unknown>>();
  private writing: Promise<void> | undefined;
  private dirty = false;
  private lastWrite = 0;
  private flushing = false;
  private wake: (() => void) | undefined;
  /** The last write's failure, if the latest write failed. */
  error: Error | undefined;

  constructor(
    private readonly workspace: Workspace,
    /** Absolute, confined path of the manifest. */
    readonly file: string,
    private readonly header: () => Record<string, unknown>,
    jobs: number,
  ) {
    this.entries = new Array<Buffer>(jobs).fill(Buffer.from('{}'));
  }

  /** The job's entry, built when the next write renders it (so it shows the job's latest state). */
  set(index: number, entry: () => Record<string, unknown>): void {
    this.stale.set(index, entry);
  }

  /** Asks for a write of the current state. */
  write(): void {
    this.dirty = true;
    this.writing ??= this.loop();
  }

  /** Resolves once everything set so far is on disk (or has failed to be). */
  async flush(): Promise<void> {
    this.flushing = true;
    this.wake?.();
    while (this.writing) await this.writing;
    this.flushing = false;
  }

  private render(): Buffer[] {
    for (const [index, entry] of this.stale) this.entries[index] = Buffer.from(JSON.stringify(entry(), null, 2).replace(/\n/g, '\n    '));
    this.stale.clear();
    const head = JSON.stringify({ ...this.header(), jobs: '__jobs__' }, null, 2);
    // `jobs` is the header's last key, so its placeholder is the last occurrence.
    const at = head.lastIndexOf(JOBS_TOKEN);
    const parts: Buffer[] = [Buffer.from(head.slice(0, at))];
    if (this.entries.length === 0) {
      parts.push(Buffer.from('[]'));
    } else {
      parts.push(Buffer.from('[\n    '));
      this.entries.forEach((entry, i) => {
        if (i > 0) parts.push(SEPARATOR);
        parts.push(entry);
      });
      parts.push(Buffer.from('\n  ]'));
    }
    parts.push(Buffer.from(`${head.slice(at + JOBS_TOKEN.length)}\n`));
    const pieces: Buffer[] = [];
    let group: Buffer[] = [];
    let size = 0;
    for (const part of parts) {
      if (size + part.length > PIECE_BYTES && group.length > 0) {
        pieces.push(Buffer.concat(group, size));
        group = [];
        size = 0;
      }
      group.push(part);
      size += part.length;
    }
    if (group.length > 0) pieces.push(Buffer.concat(group, size));
    return pieces;
  }

  private async loop(): Promise<void> {
    // Not in the caller's turn: whoever asked for the write goes on first (e.g. sends its requests).
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.dirty) {
      const wait = this.lastWrite + MIN_INTERVAL_MS - Date.now();
      if (wait > 0 && !this.flushing) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
      this.dirty = false;
      try {
        await this.workspace.saveFile(this.file, this.render(), { force: true });
        this.error = undefined;
      } catch (error) {
        this.error = error instanceof Error ? error : new Error(String(error));
      }
      this.lastWrite = Date.now();
    }
    this.writing = undefined;
  }
}
