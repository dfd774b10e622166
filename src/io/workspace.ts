/**
 * The workspace: the folder(s) this server may read from and write to. Every path is resolved on
 * real paths (symlinks followed) and checked with a separator-aware test before it is used, and
 * files are written atomically without ever replacing one unless asked. Files are opened without
 * following a final symlink and only when they are regular files: a link planted in the workspace
 * never redirects a write, and a FIFO never blocks the server.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PATH_MAX_BYTES, quoteName, versionedPath } from '../core/paths.js';

// O_NOFOLLOW and O_NONBLOCK do not exist on Windows, which has no FIFOs to block on.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
/** A new file: created here or refused, never opened through a link. */
const NEW_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW;
/** Appending: a final symlink is refused (ELOOP) and a FIFO without a reader fails at once (ENXIO). */
const APPEND_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | O_NOFOLLOW | O_NONBLOCK;
/** Reading: a FIFO opens at once instead of waiting for a writer, and is then refused by fstat. */
const READ_FLAGS = constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
/** Names longer than this (bytes) are left out of temp file names, which must fit NAME_MAX too. */
const TEMP_NAME_KEEP = 200;
/** Room kept below PATH_MAX for version marks, suffixes and temp names. */
const PATH_ROOM = 96;

const byteLength = (text: string) => Buffer.byteLength(text, 'utf8');

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

async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch {
    return p;
  }
}

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

const hardLinks = (stat: Stats) => `a file with ${stat.nlink - 1} other hard link(s)`;

async function realpathOfNearest(p: string): Promise<string> {
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

export interface SaveOptions {
  force?: boolean;
}

export interface OutputOptions {
  /** The file will be replaced (force) or appended to: if it exists, it must be a regular file. */
  replace?: boolean;
  /** The file will be appended to: nor may it have other hard links (names for a file elsewhere). */
  append?: boolean;
  /** What to do about a file in the way, for the refusal (default: remove it or choose another name). */
  fix?: string;
}

/** Reads a whole regular file, without following a final symlink and without blocking on a FIFO. */
export async function readRegularFile(file: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  const handle = await fs.open(file, READ_FLAGS).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ELOOP' && error.code !== 'EMLINK') throw error;
    throw new WorkspaceError(`${file} is a symbolic link; it is not read.`);
  });
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new WorkspaceError(`${file} is ${fileKind(stat)}, not a regular file; it is not read.`);
    if (stat.size > maxBytes) throw new WorkspaceError(`${file} is ${stat.size} bytes, over the ${maxBytes}-byte limit for reading it.`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

export interface SavedFile {
  path: string;
  /** Set when the planned name was taken and a versioned sibling was written instead. */
  versionedFrom?: string;
}

export class Workspace {
  /** Real paths of the roots; relative paths resolve against the first. */
  readonly roots: readonly string[];

  constructor(
    roots: readonly string[],
    readonly source: RootSource,
  ) {
    if (roots.length === 0) throw new Error('a workspace needs a root');
    this.roots = roots;
  }

  static async create(roots: readonly string[], source: RootSource): Promise<Workspace> {
    const real = await Promise.all(roots.map((r) => realpathOrSelf(path.resolve(r))));
    return new Workspace(real, source);
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

  private contain(real: string, userPath: string, what: string): string {
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
    if (byteLength(target) > PATH_MAX_BYTES - PATH_ROOM) {
      throw new WorkspaceError(
        `${what} ${quoteName(userPath)} makes a path of ${byteLength(target)} bytes; file systems allow ${PATH_MAX_BYTES} (less room for versions and copies: ${PATH_MAX_BYTES - PATH_ROOM}). Choose a shorter path.`,
      );
    }
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

  private notRegular(target: string, what: string, kind: string, fix?: string): WorkspaceError {
    const link = kind === 'a symbolic link' ? ' (a link could lead outside the workspace)' : '';
    return new WorkspaceError(
      `${what} ${this.relative(target)} is ${kind}, not a regular file; the server writes only regular files and never through a link${link}. ${fix ?? `Remove it, or choose another ${what}, and call again.`}`,
    );
  }

  /**
   * Appends `text` to `target` (created if missing): opened without following a final symlink,
   * without blocking on a FIFO, and written only when it is a regular file. One write per call.
   */
  async appendFile(target: string, text: string, what: string, fix?: string): Promise<void> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(target, APPEND_FLAGS, 0o644);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // ELOOP (EMLINK on BSDs): a final symlink; ENXIO: a FIFO nobody reads; EISDIR: a folder.
      if (code === 'ELOOP' || code === 'EMLINK' || code === 'ENXIO' || code === 'EISDIR') {
        const stat = await fs.lstat(target).catch(() => undefined);
        throw this.notRegular(target, what, stat ? fileKind(stat) : 'not a regular file', fix);
      }
      throw error;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw this.notRegular(target, what, fileKind(stat), fix);
      // A hard link is a second name for a file that may live anywhere on the disk.
      if (stat.nlink > 1) throw this.notRegular(target, what, hardLinks(stat), fix);
      // The folder was confined before; a folder swapped for a link since is caught here.
      this.contain(await fs.realpath(path.dirname(target)), target, what);
      await handle.writeFile(text, 'utf8');
    } finally {
      await handle.close();
    }
  }

  /**
   * A fresh temp file name in `target`'s folder (created if missing, and confined), for a writer
   * that streams into it before placeFile links it into place. Created exclusively by the writer.
   */
  async tempFileFor(target: string): Promise<string> {
    const dir = path.dirname(target);
    const base = path.basename(target);
    // The target's name is kept for people looking at the folder, unless the temp name would not fit NAME_MAX.
    const shown = byteLength(base) <= TEMP_NAME_KEEP ? `${base}.` : '';
    const temp = path.join(dir, `.${shown}${randomBytes(6).toString('hex')}.tmp`);
    const real = await fs.realpath(dir).catch(() => undefined);
    if (real !== undefined) {
      this.contain(real, target, 'out'); // the usual case: the folder exists, one check
      return temp;
    }
    this.contain(await realpathOfNearest(dir), target, 'out');
    await fs.mkdir(dir, { recursive: true });
    // Re-check after creating folders: a symlink could have been swapped in meanwhile.
    this.contain(await fs.realpath(dir), target, 'out');
    return temp;
  }

  /**
   * Puts an already-written temp file (from tempFileFor) at `target`: a hard link to the final
   * name, which fails rather than replace an existing file, so the next free versioned name
   * (`-v2`, `-v3` …) is taken instead; with `force`, a rename replaces the file. The temp file is
   * gone afterwards, whatever happens. Concurrent writers never clobber each other.
   */
  async placeFile(temp: string, target: string, options: SaveOptions = {}): Promise<SavedFile> {
    try {
      if (options.force) {
        // rename replaces a name without following it; a link, FIFO or folder there is refused rather than replaced.
        await this.assertReplaceable(target, 'out');
        await fs.rename(temp, target);
        return { path: target };
      }
      for (let version = 1; version < 10_000; version++) {
        const candidate = versionedPath(target, version);
        try {
          await fs.link(temp, candidate);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
          continue;
        }
        await fs.unlink(temp);
        return version === 1 ? { path: candidate } : { path: candidate, versionedFrom: target };
      }
      throw new WorkspaceError(`Too many versions of ${target} exist; choose another out name.`);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
  }

  /**
   * Writes `bytes` (one buffer, or pieces written in order) at `target` atomically (a temp file,
   * then placeFile's rules); no partial file on failure.
   */
  async saveFile(target: string, bytes: Uint8Array | Iterable<Uint8Array>, options: SaveOptions = {}): Promise<SavedFile> {
    const temp = await this.tempFileFor(target);
    try {
      await fs.writeFile(temp, bytes, { flag: NEW_FILE_FLAGS });
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
    return this.placeFile(temp, target, options);
  }

  async exists(target: string): Promise<boolean> {
    try {
      await fs.lstat(target);
      return true;
    } catch {
      return false;
    }
  }
}

export interface RootChoice {
  flag?: string | undefined;
  env?: string | undefined;
  clientRoots?: readonly string[] | undefined;
  cwd: string;
}

/** The root in its order of precedence: --root, IMAGEGEN_ROOT, the client's roots, the working directory. */
export async function chooseWorkspace(choice: RootChoice): Promise<Workspace> {
  if (choice.flag) return Workspace.create([choice.flag], 'flag');
  if (choice.env) return Workspace.create([choice.env], 'env');
  if (choice.clientRoots && choice.clientRoots.length > 0) return Workspace.create(choice.clientRoots, 'client');
  return Workspace.create([choice.cwd], 'cwd');
}

/** Client roots are file:// URIs; anything else is ignored. */
export function rootUrisToPaths(uris: readonly string[]): string[] {
  const paths: string[] = [];
  for (const uri of uris) {
    if (!uri.startsWith('file://')) continue;
    try {
      paths.push(fileURLToPath(uri));
    } catch {
      // a malformed root is skipped rather than trusted
    }
  }
  return paths;
}
