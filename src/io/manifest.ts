/**
 * A batch's manifest (out_dir/manifest.json), rewritten atomically as jobs finish: each write is
 * a temp file renamed into place, and writes never overlap. Changes that come while a write is
 * under way, or within MIN_INTERVAL_MS of the last one, are folded into the next write, so 25
 * jobs finishing together cost one rewrite, not 25; flush() writes the final state at once.
 * Each job's entry is serialised once per change, when the next write renders it (ENTRIES_PER_TURN
 * at a time, so a 500-job batch's first write never holds the event loop while answers arrive),
 * and kept as bytes: a rewrite copies them piece by piece into one scratch buffer as the file is
 * written, so neither a manifest-sized string (which the JS heap would keep in its old generation
 * until a full collection) nor a manifest-sized buffer is made every second of a long batch.
 */
import type { Workspace } from './workspace.js';

const JOBS_TOKEN = '"__jobs__"';
/** At most about one rewrite a second, however fast jobs finish. */
export const MIN_INTERVAL_MS = 1000;
const SEPARATOR = Buffer.from(',\n    ');
/** The manifest is written in pieces of about this size: no allocation the size of the whole file. */
const PIECE_BYTES = 64 * 1024;
/**
 * Entries serialised in one turn of the event loop (~1.5 ms): a batch's first write serialises
 * every job, and done in one go (~30 ms for 500) it would delay the first answers and requests.
 */
export const ENTRIES_PER_TURN = 25;

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

  /**
   * The entries as an earlier writer wrote them, one job's bytes each (see splitEntries): a
   * collection starts from these rather than serialising every job again.
   */
  seed(entries: readonly Buffer[]): void {
    entries.forEach((entry, index) => {
      if (index < this.entries.length) this.entries[index] = entry;
    });
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

  /** Serialises the entries changed since the last write, a slice per turn of the event loop. */
  private async serialiseStale(): Promise<void> {
    let count = 0;
    for (const [index, entry] of this.stale) {
      this.entries[index] = Buffer.from(JSON.stringify(entry(), null, 2).replace(/\n/g, '\n    '));
      this.stale.delete(index); // after: an entry that failed to serialise is tried again by the next write
      if (++count % ENTRIES_PER_TURN === 0 && this.stale.size > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * The manifest's bytes, made piece by piece as the file is written: at most one piece of about
   * PIECE_BYTES exists at a time, never a copy of the whole manifest.
   */
  private render(): Iterable<Buffer> {
    const head = JSON.stringify({ ...this.header(), jobs: '__jobs__' }, null, 2);
    // `jobs` is the header's last key, so its placeholder is the last occurrence.
    const at = head.lastIndexOf(JOBS_TOKEN);
    // A snapshot of the list: entries set while the file is written go to the next write.
    const entries = [...this.entries];
    function* parts(): Generator<Buffer> {
      yield Buffer.from(head.slice(0, at));
      if (entries.length === 0) {
        yield Buffer.from('[]');
      } else {
        yield Buffer.from('[\n    ');
        for (let i = 0; i < entries.length; i++) {
          if (i > 0) yield SEPARATOR;
          yield entries[i]!;
        }
        yield Buffer.from('\n  ]');
      }
      yield Buffer.from(`${head.slice(at + JOBS_TOKEN.length)}\n`);
    }
    // One scratch buffer for every piece: the file is written piece by piece (writeFile awaits each
    // write before it asks for the next), so a rewrite leaves no manifest-sized garbage behind.
    const scratch = Buffer.allocUnsafe(PIECE_BYTES);
    return (function* pieces(): Generator<Buffer> {
      let size = 0;
      for (const part of parts()) {
        if (size + part.length > PIECE_BYTES && size > 0) {
          yield scratch.subarray(0, size);
          size = 0;
        }
        if (part.length > PIECE_BYTES) {
          yield part; // an entry larger than a piece goes as it is
          continue;
        }
        part.copy(scratch, size);
        size += part.length;
      }
      if (size > 0) yield scratch.subarray(0, size);
    })();
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
        await this.serialiseStale();
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

/**
 * The jobs of a manifest this writer wrote, as the bytes of each entry (the list is indented 4
 * spaces and JSON strings hold no raw newline, so entries part at "\n    },\n    {"), or
 * undefined when the text is not laid out that way or an entry is not the job with its number.
 */
export function splitEntries(text: string, numbers: readonly number[]): Buffer[] | undefined {
  const open = '\n  "jobs": [\n    ';
  const start = text.indexOf(open);
  const end = text.lastIndexOf('\n  ]');
  if (start < 0 || end < start || numbers.length === 0) return undefined;
  const parts = text.slice(start + open.length, end).split('\n    },\n    {');
  if (parts.length !== numbers.length) return undefined;
  const entries: Buffer[] = [];
  for (const [i, part] of parts.entries()) {
    const entry = `${i > 0 ? '{' : ''}${part}${i < parts.length - 1 ? '\n    }' : ''}`;
    if (!entry.startsWith(`{\n      "number": ${numbers[i]},`)) return undefined;
    entries.push(Buffer.from(entry));
  }
  return entries;
}
