/**
 * A batch's manifest (out_dir/manifest.json), rewritten atomically as jobs finish: each write is
 * a temp file renamed into place, writes never overlap, and a change made during a write is
 * written right after it (changes in between are folded into one write). Each job's entry is
 * serialised once per change, so a rewrite of 500 jobs is a string join, not a full stringify.
 */
import type { Workspace } from './workspace.js';

const JOBS_TOKEN = '"__jobs__"';

export class ManifestWriter {
  private readonly entries: string[];
  private writing: Promise<void> | undefined;
  private dirty = false;
  /** The last write's failure, if the latest write failed. */
  error: Error | undefined;

  constructor(
    private readonly workspace: Workspace,
    /** Absolute, confined path of the manifest. */
    readonly file: string,
    private readonly header: () => Record<string, unknown>,
    jobs: number,
  ) {
    this.entries = new Array<string>(jobs).fill('{}');
  }

  set(index: number, entry: Record<string, unknown>): void {
    this.entries[index] = JSON.stringify(entry, null, 2).replace(/\n/g, '\n    ');
  }

  /** Asks for a write of the current state. */
  write(): void {
    this.dirty = true;
    this.writing ??= this.loop();
  }

  /** Resolves once everything set so far is on disk (or has failed to be). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private render(): string {
    const head = JSON.stringify({ ...this.header(), jobs: '__jobs__' }, null, 2);
    const jobs = this.entries.length === 0 ? '[]' : `[\n    ${this.entries.join(',\n    ')}\n  ]`;
    // `jobs` is the header's last key, so its placeholder is the last occurrence.
    const at = head.lastIndexOf(JOBS_TOKEN);
    return `${head.slice(0, at)}${jobs}${head.slice(at + JOBS_TOKEN.length)}\n`;
  }

  private async loop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      try {
        await this.workspace.saveFile(this.file, Buffer.from(this.render()), { force: true });
        this.error = undefined;
      } catch (error) {
        this.error = error instanceof Error ? error : new Error(String(error));
      }
    }
    this.writing = undefined;
  }
}
