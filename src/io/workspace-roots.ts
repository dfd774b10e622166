/**
 * The workspace's roots and what may be reached under them: every path is resolved on real paths
 * (symlinks followed) and checked with a separator-aware test before it is used, and where a new
 * file would go is checked before anything is spent (inside, a writable folder, within PATH_MAX,
 * nothing but a regular file in the way). Workspace (workspace.ts) writes the files.
 */
import { constants, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PATH_MAX_BYTES, quoteName } from '../core/paths.js';

/** Room kept below PATH_MAX for version marks, suffixes and temp names. */
const PATH_ROOM = 96;

export const byteLength = (text: string) => Buffer.byteLength(text, 'utf8');

/** Refuses a new file's confined path past PATH_MAX, less the room kept for versions and copies. */
export function checkPathLength(target: string, userPath: string, what: string): void {
  if (byteLength(target) > PATH_MAX_BYTES - PATH_ROOM) {
    throw new WorkspaceError(
      `${what} ${quoteName(userPath)} makes a path of ${byteLength(target)} bytes; file systems allow ${PATH_MAX_BYTES} (less room for versions and copies: ${PATH_MAX_BYTES - PATH_ROOM}). Choose a shorter path.`,
    );
  }
}

export class WorkspaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkspaceError';
  }
}

export type RootSource = 'flag' | 'env' | 'client' | 'cwd';

const caseInsensitive = process.platform === 'win32';

/** True when `candidate` is `root` or lies below it. Both must be absolute and normalised. */
export function isInside(root: string, candidate: string): boolean {
  const r = caseInsensitive ? root.toLowerCase() : root;
  const c = caseInsensitive ? candidate.toLowerCase() : candidate;
  if (c === r) return true;
  const prefix = r.endsWith(path.sep) ? r : r + path.sep;
  return c.startsWith(prefix);
}

const ROOT_HELP =
  'Set the workspace root with the --root flag or the IMAGEGEN_ROOT environment variable in the MCP client config (e.g. "args": ["--root", "/path/to/project"]).';

const MAX_LINK_HOPS = 40;

/** What a file that is not a regular file is, for messages. */
export function fileKind(stat: Stats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

export const hardLinks = (stat: Stats) => `a file with ${stat.nlink - 1} other hard link(s)`;

export async function realpathOfNearest(p: string): Promise<string> {
  return (await nearestExisting(p)).real;
}

/**
 * The real path of `p`, or of its nearest existing ancestor with the rest appended, and that
 * ancestor's real path (`existing`). A dangling symlink on the way is followed to where it
 * points, so a link to a folder that does not exist yet is judged by its target, not its name.
 */
async function nearestExisting(p: string): Promise<{ real: string; existing?: string }> {
  const rest: string[] = [];
  let current = p;
  for (let hops = 0; ; ) {
    try {
      const real = await fs.realpath(current);
      return { real: rest.length ? path.join(real, ...[...rest].reverse()) : real, existing: real };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      const stat = await fs.lstat(current).catch(() => undefined);
      if (stat?.isSymbolicLink()) {
        if (++hops > MAX_LINK_HOPS) throw new WorkspaceError(`Too many symbolic links in "${p}".`);
        current = path.resolve(path.dirname(current), await fs.readlink(current));
        continue;
      }
      const parent = path.dirname(current);
      if (parent === current) return { real: p };
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

export interface OutputOptions {
  /** The file will be replaced (force) or appended to: if it exists, it must be a regular file. */
  replace?: boolean;
  /** The file will be appended to: nor may it have other hard links (names for a file elsewhere). */
  append?: boolean;
  /** What to do about a file in the way, for the refusal (default: remove it or choose another name). */
  fix?: string;
}

/** The roots, and every path checked against them; Workspace adds the writes. */
export class WorkspaceRoots {
  /** Real paths of the roots; relative paths resolve against the first. */
  readonly roots: readonly string[];

  constructor(
    roots: readonly string[],
    readonly source: RootSource,
  ) {
    if (roots.length === 0) throw new Error('a workspace needs a root');
    this.roots = roots;
  }

  get root(): string {
    return this.roots[0]!;
  }

  /** Writing into `/` (where some clients start servers) is never what the user meant. */
  get writable(): boolean {
    return this.roots.some((r) => path.parse(r).root !== r);
  }

  relative(absolute: string): string {
    for (const root of this.roots) {
      if (isInside(root, absolute)) return path.relative(root, absolute) || '.';
    }
    return absolute;
  }

  private lexical(userPath: string, what: string): string {
    if (userPath.includes('\0')) throw new WorkspaceError(`${what} contains a NUL byte; give a plain path.`);
    let p = userPath.trim();
    if (p.startsWith('file://')) {
      try {
        p = fileURLToPath(p);
      } catch {
        throw new WorkspaceError(`${what} "${userPath}" is not a valid file:// URI.`);
      }
    }
    return path.resolve(this.root, p);
  }

  protected contain(real: string, userPath: string, what: string): string {
    if (!this.roots.some((root) => isInside(root, real))) {
      throw new WorkspaceError(
        `${what} "${userPath}" is outside the workspace (${this.roots.join(', ')}). Use a path inside it, relative to ${this.root}.`,
      );
    }
    return real;
  }

  /** An existing file to read, on its real path, inside the workspace. */
  async resolveInput(userPath: string, what = 'path'): Promise<string> {
    const absolute = this.lexical(userPath, what);
    this.contain(absolute, userPath, what);
    let real: string;
    try {
      real = await fs.realpath(absolute);
    } catch {
      throw new WorkspaceError(`${what} "${userPath}" does not exist (looked for ${absolute}).`);
    }
    return this.contain(real, userPath, what);
  }

  /**
   * Where a new file would go, checked before anything is spent: confined on the real path of its
   * nearest existing ancestor, which must be a folder this process may write in (access(2) also
   * says so for root on a read-only file system or an immutable folder), within PATH_MAX; with
   * `replace`, a file already there must be a regular file.
   */
  async resolveOutput(userPath: string, what = 'out', options: OutputOptions = {}): Promise<string> {
    if (!this.writable) {
      throw new WorkspaceError(`The workspace root is "/", where no files should be written. ${ROOT_HELP}`);
    }
    const absolute = this.lexical(userPath, what);
    this.contain(absolute, userPath, what);
    const nearest = await nearestExisting(path.dirname(absolute));
    this.contain(nearest.real, userPath, what);
    if (nearest.existing !== undefined) await this.checkFolder(nearest.existing, userPath, what);
    const target = path.join(nearest.real, path.basename(absolute));
    checkPathLength(target, userPath, what);
    if (options.replace || options.append) await this.assertReplaceable(target, what, options.fix, options.append);
    return target;
  }

  /** The nearest existing folder of an output: a folder, and writable. */
  private async checkFolder(existing: string, userPath: string, what: string): Promise<void> {
    const stat = await fs.stat(existing);
    const named = `${what} ${quoteName(userPath)}`;
    if (!stat.isDirectory()) {
      throw new WorkspaceError(
        `${named} cannot be written: ${this.relative(existing)} is ${stat.isFile() ? 'a file' : fileKind(stat)}, not a folder. Choose another ${what}, or move that file out of the way.`,
      );
    }
    try {
      await fs.access(existing, constants.W_OK | constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      const why = code === 'EROFS' ? 'is on a read-only file system' : `is not writable by this server (${code})`;
      throw new WorkspaceError(`${named} cannot be written: the folder ${this.relative(existing)} ${why}. Make it writable, or choose another ${what}.`);
    }
  }

  /** A file the server would append to or replace: absent, or a regular file (never a link, FIFO or folder). */
  async assertReplaceable(target: string, what: string, fix?: string, append = false): Promise<void> {
    let stat: Stats;
    try {
      stat = await fs.lstat(target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    if (!stat.isFile()) throw this.notRegular(target, what, fileKind(stat), fix);
    if (append && stat.nlink > 1) throw this.notRegular(target, what, hardLinks(stat), fix);
  }

  protected notRegular(target: string, what: string, kind: string, fix?: string): WorkspaceError {
    const link = kind === 'a symbolic link' ? ' (a link could lead outside the workspace)' : '';
    return new WorkspaceError(
      `${what} ${this.relative(target)} is ${kind}, not a regular file; the server writes only regular files and never through a link${link}. ${fix ?? `Remove it, or choose another ${what}, and call again.`}`,
    );
  }
}
