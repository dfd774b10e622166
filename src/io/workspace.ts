/**
 * The workspace: the folder(s) this server may read from and write to, and its files. Every path
 * is confined on real paths first (workspace-roots.ts); files are written atomically without ever
 * replacing one unless asked. Files are opened without following a final symlink and only when
 * they are regular files: a link planted in the workspace never redirects a write, and a FIFO
 * never blocks the server.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { versionedPath } from '../core/paths.js';
import { byteLength, fileKind, hardLinks, realpathOfNearest, WorkspaceError, WorkspaceRoots, type RootSource } from './workspace-roots.js';

export { checkPathLength, fileKind, isInside, WorkspaceError, type OutputOptions, type RootSource } from './workspace-roots.js';

// O_NOFOLLOW and O_NONBLOCK do not exist on Windows, which has no FIFOs to block on.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
/** A new file: created here or refused, never opened through a link. */
const NEW_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW;
/** Appending: a final symlink is refused (ELOOP) and a FIFO without a reader fails at once (ENXIO). */
const APPEND_EXISTING_FLAGS = constants.O_WRONLY | constants.O_APPEND | O_NOFOLLOW | O_NONBLOCK;
const APPEND_FLAGS = APPEND_EXISTING_FLAGS | constants.O_CREAT;
/** Reading: a FIFO opens at once instead of waiting for a writer, and is then refused by fstat. */
const READ_FLAGS = constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
/** Names longer than this (bytes) are left out of temp file names, which must fit NAME_MAX too. */
const TEMP_NAME_KEEP = 200;

async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch {
    return p;
  }
}

export interface SaveOptions {
  force?: boolean;
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

/** The roots with their checks (WorkspaceRoots), and the writes that rely on them. */
export class Workspace extends WorkspaceRoots {
  static async create(roots: readonly string[], source: RootSource): Promise<Workspace> {
    const real = await Promise.all(roots.map((r) => realpathOrSelf(path.resolve(r))));
    return new Workspace(real, source);
  }

  /**
   * Appends `text` to `target`: opened without following a final symlink, without blocking on a
   * FIFO, and written only when it is a regular file inside the workspace. One write per call.
   * With `create: false` a missing file (or folder) is not created and the answer is false, so a
   * caller that has not confined the path itself never creates a file through a swapped folder.
   */
  async appendFile(target: string, text: string, what: string, fix?: string, { create = true } = {}): Promise<boolean> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(target, create ? APPEND_FLAGS : APPEND_EXISTING_FLAGS, 0o644);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (!create && (code === 'ENOENT' || code === 'ENOTDIR')) return false;
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
      // Where the file really is, after opening: a folder swapped for a link is caught here.
      this.contain(await fs.realpath(path.dirname(target)), target, what);
      await handle.writeFile(text, 'utf8');
      return true;
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
