/**
 * The workspace: the folder(s) this server may read from and write to. Every path is resolved on
 * real paths (symlinks followed) and checked with a separator-aware test before it is used, and
 * files are written atomically without ever replacing one unless asked.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { versionedPath } from '../core/paths.js';

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

/**
 * The real path of `p`, or of its nearest existing ancestor with the rest appended. A dangling
 * symlink on the way is followed to where it points, so a link to a folder that does not exist
 * yet is judged by its target, not by its name.
 */
async function realpathOfNearest(p: string): Promise<string> {
  const rest: string[] = [];
  let current = p;
  for (let hops = 0; ; ) {
    try {
      const real = await fs.realpath(current);
      return rest.length ? path.join(real, ...[...rest].reverse()) : real;
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
      if (parent === current) return p;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

export interface SaveOptions {
  force?: boolean;
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

  /** Where a new file would go: checked on the real path of its nearest existing ancestor. */
  async resolveOutput(userPath: string, what = 'out'): Promise<string> {
    if (!this.writable) {
      throw new WorkspaceError(`The workspace root is "/", where no files should be written. ${ROOT_HELP}`);
    }
    const absolute = this.lexical(userPath, what);
    this.contain(absolute, userPath, what);
    const parent = await realpathOfNearest(path.dirname(absolute));
    this.contain(parent, userPath, what);
    return path.join(parent, path.basename(absolute));
  }

  /**
   * A fresh temp file name in `target`'s folder (created if missing, and confined), for a writer
   * that streams into it before placeFile links it into place. Created exclusively by the writer.
   */
  async tempFileFor(target: string): Promise<string> {
    const dir = path.dirname(target);
    const temp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
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
  async saveFile(target: string, bytes: Uint8Array | readonly Uint8Array[], options: SaveOptions = {}): Promise<SavedFile> {
    const temp = await this.tempFileFor(target);
    try {
      await fs.writeFile(temp, bytes, { flag: 'wx' });
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
