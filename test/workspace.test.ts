import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { Workspace, WorkspaceError, chooseWorkspace, isInside, readRegularFile, rootUrisToPaths } from '../src/io/workspace.js';

let base: string; // real path of a scratch folder holding ws/ and outside/
let root: string;
let outside: string;
let ws: Workspace;

beforeAll(async () => {
  base = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'imagegen-ws-test-')));
  root = path.join(base, 'ws');
  outside = path.join(base, 'ws-evil');
  await fs.mkdir(root);
  await fs.mkdir(outside);
  await fs.writeFile(path.join(outside, 'secret.png'), 'secret');
  await fs.writeFile(path.join(root, 'input.png'), 'input');
  await fs.mkdir(path.join(root, 'shots'));
  await fs.writeFile(path.join(root, 'shots', 'hero.png'), 'hero');
  await fs.symlink(outside, path.join(root, 'escape'));
  await fs.symlink(path.join(outside, 'secret.png'), path.join(root, 'secret-link.png'));
  await fs.symlink(path.join(root, 'shots'), path.join(root, 'shots-link'));
  ws = await Workspace.create([root], 'flag');
});

afterAll(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<WorkspaceError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(WorkspaceError);
    return error as WorkspaceError;
  }
  throw new Error('expected a WorkspaceError, but the call succeeded');
}

async function scratch(name: string): Promise<string> {
  const dir = path.join(root, 'saves', name);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

describe('isInside', () => {
  const sep = path.sep;
  const r = `${sep}tmp${sep}ws`;

  it('accepts the root itself and what lies below it', () => {
    expect(isInside(r, r)).toBe(true);
    expect(isInside(r, `${r}${sep}a.png`)).toBe(true);
    expect(isInside(r, `${r}${sep}a${sep}b${sep}c.png`)).toBe(true);
  });

  it('refuses a sibling that shares the prefix (/tmp/ws vs /tmp/ws-evil)', () => {
    expect(isInside(r, `${sep}tmp${sep}ws-evil`)).toBe(false);
    expect(isInside(r, `${sep}tmp${sep}ws-evil${sep}x.png`)).toBe(false);
    expect(isInside(r, `${sep}tmp${sep}wsx`)).toBe(false);
  });

  it('refuses the parent and unrelated folders', () => {
    expect(isInside(r, `${sep}tmp`)).toBe(false);
    expect(isInside(r, `${sep}etc${sep}passwd`)).toBe(false);
  });

  it('handles a root given with a trailing separator', () => {
    expect(isInside(`${r}${sep}`, `${r}${sep}a.png`)).toBe(true);
    expect(isInside(`${r}${sep}`, `${sep}tmp${sep}ws-evil`)).toBe(false);
  });
});

describe('Workspace.resolveOutput', () => {
  it('accepts a relative path in new nested folders, on the real root', async () => {
    expect(await ws.resolveOutput('a/b/c/new.png')).toBe(path.join(root, 'a', 'b', 'c', 'new.png'));
  });

  it('accepts an absolute path inside', async () => {
    expect(await ws.resolveOutput(path.join(root, 'out.png'))).toBe(path.join(root, 'out.png'));
  });

  it('accepts a path through a symlinked folder that stays inside, on its real path', async () => {
    expect(await ws.resolveOutput('shots-link/new.png')).toBe(path.join(root, 'shots', 'new.png'));
  });

  it('accepts ".." that stays inside', async () => {
    expect(await ws.resolveOutput('a/../b.png')).toBe(path.join(root, 'b.png'));
  });

  it.each(['../x.png', '../ws-evil/x.png', 'a/../../x.png'])('refuses %j, saying it is outside the workspace', async (p) => {
    const error = await rejection(ws.resolveOutput(p));
    expect(error.message).toContain('outside the workspace');
    expect(error.message).toContain(p);
  });

  it('refuses an absolute path outside', async () => {
    const error = await rejection(ws.resolveOutput(path.join(outside, 'x.png')));
    expect(error.message).toContain('outside the workspace');
    await expect(rejection(ws.resolveOutput('/etc/x.png'))).resolves.toBeInstanceOf(WorkspaceError);
  });

  it('refuses a NUL byte', async () => {
    const error = await rejection(ws.resolveOutput('a\0b.png'));
    expect(error.message).toContain('NUL');
  });

  it('refuses a path through a symlinked folder pointing outside', async () => {
    const error = await rejection(ws.resolveOutput('escape/x.png'));
    expect(error.message).toContain('outside the workspace');
    await expect(rejection(ws.resolveOutput('escape/new/deeper/x.png'))).resolves.toBeInstanceOf(WorkspaceError);
  });

  it('refuses a path through a dangling symlinked folder pointing outside', async () => {
    const link = path.join(root, 'dangling-escape');
    await fs.symlink(path.join(outside, 'not-yet'), link);
    try {
      const error = await rejection(ws.resolveOutput('dangling-escape/x.png'));
      expect(error.message).toContain('outside the workspace');
    } finally {
      await fs.rm(link, { force: true });
    }
  });

  it('refuses a file:// URI outside and accepts one inside', async () => {
    await rejection(ws.resolveOutput(pathToFileURL(path.join(outside, 'x.png')).href));
    expect(await ws.resolveOutput(pathToFileURL(path.join(root, 'y.png')).href)).toBe(path.join(root, 'y.png'));
  });

  it('refuses every write when the root is "/", saying how to set the root', async () => {
    const slash = await Workspace.create(['/'], 'cwd');
    expect(slash.writable).toBe(false);
    const error = await rejection(slash.resolveOutput('x.png'));
    expect(error.message).toContain('"/"');
    expect(error.message).toContain('--root');
    expect(error.message).toContain('IMAGEGEN_ROOT');
  });

  it('is writable with a real root', () => {
    expect(ws.writable).toBe(true);
  });

  it('refuses a folder on the way that is a file, naming it', async () => {
    const error = await rejection(ws.resolveOutput('input.png/deeper/x.png', 'out_dir'));
    expect(error.message).toBe('out_dir "input.png/deeper/x.png" cannot be written: input.png is a file, not a folder. Choose another out_dir, or move that file out of the way.');
  });

  it('refuses a folder this process may not write in (for root too: the immutable flag)', async () => {
    const dir = await scratch('locked');
    await fs.chmod(dir, 0o555);
    const root = process.getuid?.() === 0;
    if (root) execFileSync('chattr', ['+i', dir]);
    try {
      const error = await rejection(ws.resolveOutput('saves/locked/new/x.png'));
      expect(error.message).toMatch(/^out "saves\/locked\/new\/x\.png" cannot be written: the folder saves\/locked is not writable by this server \(E(PERM|ACCES)\)\. Make it writable, or choose another out\.$/);
    } finally {
      if (root) execFileSync('chattr', ['-i', dir]);
      await fs.chmod(dir, 0o755);
    }
  });

  it('refuses a path over PATH_MAX (less room for versions and copies)', async () => {
    const deep = Array.from({ length: 17 }, () => 'd'.repeat(250)).join('/');
    const error = await rejection(ws.resolveOutput(`${deep}/x.png`));
    expect(error.message).toMatch(/makes a path of \d+ bytes; file systems allow 4096 \(less room for versions and copies: 4000\)/);
  });

  it('with replace, refuses a link, a FIFO or a folder already at the target, and accepts a regular file', async () => {
    const dir = await scratch('replace');
    await fs.symlink(path.join(outside, 'secret.png'), path.join(dir, 'link.png'));
    execFileSync('mkfifo', [path.join(dir, 'fifo.png')]);
    await fs.mkdir(path.join(dir, 'folder.png'));
    await fs.writeFile(path.join(dir, 'file.png'), 'x');
    for (const [name, kind] of [
      ['link.png', 'a symbolic link'],
      ['fifo.png', 'a FIFO (named pipe)'],
      ['folder.png', 'a folder'],
    ]) {
      const error = await rejection(ws.resolveOutput(`saves/replace/${name}`, 'out', { replace: true }));
      expect(error.message).toContain(`out saves/replace/${name} is ${kind}, not a regular file; the server writes only regular files and never through a link`);
    }
    expect(await ws.resolveOutput('saves/replace/file.png', 'out', { replace: true })).toBe(path.join(dir, 'file.png'));
    expect(await ws.resolveOutput('saves/replace/link.png')).toBe(path.join(dir, 'link.png')); // without replace: a versioned sibling
  });
});

describe('Workspace.appendFile and readRegularFile', () => {
  it('appends to a regular file, creating it', async () => {
    const dir = await scratch('append');
    const file = path.join(dir, 'log.jsonl');
    await ws.appendFile(file, 'a\n', 'history');
    await ws.appendFile(file, 'b\n', 'history');
    expect(await fs.readFile(file, 'utf8')).toBe('a\nb\n');
    expect((await readRegularFile(file)).toString()).toBe('a\nb\n');
  });

  it('refuses a final symlink, naming the file and the fix, and writes nothing through it', async () => {
    const dir = await scratch('append-link');
    const target = path.join(base, 'appended.txt'); // outside the workspace
    await fs.writeFile(target, 'outside\n');
    await fs.symlink(target, path.join(dir, 'log.jsonl'));
    const error = await rejection(ws.appendFile(path.join(dir, 'log.jsonl'), 'x\n', 'history', 'Remove it.'));
    expect(error.message).toBe(
      'history saves/append-link/log.jsonl is a symbolic link, not a regular file; the server writes only regular files and never through a link (a link could lead outside the workspace). Remove it.',
    );
    expect(await fs.readFile(target, 'utf8')).toBe('outside\n');
    await expect(readRegularFile(path.join(dir, 'log.jsonl'))).rejects.toThrow(/is a symbolic link; it is not read/);
  });

  it('refuses a FIFO at once, whether or not something reads it, and never blocks reading one', async () => {
    const dir = await scratch('append-fifo');
    const fifo = path.join(dir, 'log.jsonl');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    await expect(ws.appendFile(fifo, 'x\n', 'history')).rejects.toThrow(/is a FIFO \(named pipe\), not a regular file/);
    await expect(readRegularFile(fifo)).rejects.toThrow(/is a FIFO \(named pipe\), not a regular file; it is not read/);
    // With a reader holding it open, the append opens but fstat refuses it.
    const reader = await fs.open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await expect(ws.appendFile(fifo, 'x\n', 'history')).rejects.toThrow(/is a FIFO/);
    } finally {
      await reader.close();
    }
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a file with another hard link (a second name for a file elsewhere)', async () => {
    const dir = await scratch('append-hardlink');
    const elsewhere = path.join(base, 'hard.txt'); // outside the workspace, same file system
    await fs.writeFile(elsewhere, 'mine\n');
    await fs.link(elsewhere, path.join(dir, 'log.jsonl'));
    await expect(ws.appendFile(path.join(dir, 'log.jsonl'), 'x\n', 'history')).rejects.toThrow(/log\.jsonl is a file with 1 other hard link\(s\), not a regular file/);
    expect(await fs.readFile(elsewhere, 'utf8')).toBe('mine\n');
  });

  it('refuses a file over the read cap', async () => {
    const dir = await scratch('read-cap');
    await fs.writeFile(path.join(dir, 'big.png'), Buffer.alloc(2048));
    await expect(readRegularFile(path.join(dir, 'big.png'), 1024)).rejects.toThrow(/2048 bytes, over the 1024-byte limit/);
  });
});

describe('Workspace.resolveInput', () => {
  it('accepts an existing file inside, on its real path', async () => {
    expect(await ws.resolveInput('input.png')).toBe(path.join(root, 'input.png'));
    expect(await ws.resolveInput('shots-link/hero.png')).toBe(path.join(root, 'shots', 'hero.png'));
  });

  it('refuses a symlinked file pointing outside', async () => {
    const error = await rejection(ws.resolveInput('secret-link.png', 'images[0]'));
    expect(error.message).toContain('outside the workspace');
    expect(error.message).toContain('images[0]');
  });

  it('refuses a file through a symlinked folder pointing outside', async () => {
    await rejection(ws.resolveInput('escape/secret.png'));
  });

  it('refuses a missing file, naming it', async () => {
    const error = await rejection(ws.resolveInput('shots/missing.png', 'mask'));
    expect(error.message).toContain('mask');
    expect(error.message).toContain('"shots/missing.png"');
    expect(error.message).toContain('does not exist');
  });

  it('accepts a file:// URI inside', async () => {
    const uri = pathToFileURL(path.join(root, 'shots', 'hero.png')).href;
    expect(await ws.resolveInput(uri)).toBe(path.join(root, 'shots', 'hero.png'));
  });

  it('refuses a file:// URI outside (even to an existing file)', async () => {
    const error = await rejection(ws.resolveInput(pathToFileURL(path.join(outside, 'secret.png')).href));
    expect(error.message).toContain('outside the workspace');
  });

  it('refuses a malformed file:// URI', async () => {
    const error = await rejection(ws.resolveInput('file://remote-host/share/x.png'));
    expect(error.message).toContain('file://');
  });

  it('refuses ../ and NUL bytes', async () => {
    await rejection(ws.resolveInput('../ws-evil/secret.png'));
    await rejection(ws.resolveInput('input.png\0.txt'));
  });

  it('reports paths relative to the root', () => {
    expect(ws.relative(path.join(root, 'output', 'imagegen', 'a.png'))).toBe(path.join('output', 'imagegen', 'a.png'));
    expect(ws.relative(root)).toBe('.');
    expect(ws.relative(path.join(outside, 'x.png'))).toBe(path.join(outside, 'x.png'));
  });
});

describe('Workspace.saveFile', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it('writes the bytes atomically, leaving no temp file', async () => {
    const dir = await scratch('atomic');
    const target = path.join(dir, 'hero.png');
    expect(await ws.saveFile(target, bytes('one'))).toEqual({ path: target });
    expect(await fs.readFile(target, 'utf8')).toBe('one');
    expect(await fs.readdir(dir)).toEqual(['hero.png']);
  });

  it('creates missing parent folders', async () => {
    const target = path.join(root, 'saves', 'deep', 'er', 'x.png');
    expect((await ws.saveFile(target, bytes('x'))).path).toBe(target);
    expect(await fs.readFile(target, 'utf8')).toBe('x');
  });

  it('never overwrites: the second save goes to -v2, the third to -v3, with versionedFrom set', async () => {
    const dir = await scratch('versions');
    const target = path.join(dir, 'hero.png');
    await ws.saveFile(target, bytes('first'));
    const second = await ws.saveFile(target, bytes('second'));
    expect(second).toEqual({ path: path.join(dir, 'hero-v2.png'), versionedFrom: target });
    const third = await ws.saveFile(target, bytes('third'));
    expect(third).toEqual({ path: path.join(dir, 'hero-v3.png'), versionedFrom: target });
    expect(await fs.readFile(target, 'utf8')).toBe('first');
    expect(await fs.readFile(second.path, 'utf8')).toBe('second');
    expect(await fs.readFile(third.path, 'utf8')).toBe('third');
    expect((await fs.readdir(dir)).sort()).toEqual(['hero-v2.png', 'hero-v3.png', 'hero.png']);
  });

  it('replaces the file with force, leaving no temp file and no version', async () => {
    const dir = await scratch('force');
    const target = path.join(dir, 'hero.png');
    await ws.saveFile(target, bytes('old'));
    expect(await ws.saveFile(target, bytes('new'), { force: true })).toEqual({ path: target });
    expect(await fs.readFile(target, 'utf8')).toBe('new');
    expect(await fs.readdir(dir)).toEqual(['hero.png']);
  });

  it('lands 20 concurrent saves to one name on 20 distinct files with intact content', async () => {
    const dir = await scratch('concurrent');
    const target = path.join(dir, 'same.png');
    const payloads = Array.from({ length: 20 }, (_, i) => bytes(`payload-${i}-${'z'.repeat(10_000 + i)}`));
    const saved = await Promise.all(payloads.map((p) => ws.saveFile(target, p)));
    const paths = saved.map((s) => s.path);
    expect(new Set(paths).size).toBe(20);
    expect(paths).toContain(target);
    expect(saved.filter((s) => s.versionedFrom === undefined)).toHaveLength(1);
    for (let i = 0; i < 20; i++) {
      expect(Buffer.from(await fs.readFile(paths[i]!)).equals(Buffer.from(payloads[i]!))).toBe(true);
    }
    const expectedNames = ['same.png', ...Array.from({ length: 19 }, (_, i) => `same-v${i + 2}.png`)].sort();
    expect((await fs.readdir(dir)).sort()).toEqual(expectedNames);
  });

  it('refuses to save into a folder that resolves outside the workspace', async () => {
    await rejection(ws.saveFile(path.join(root, 'escape', 'x.png'), bytes('x')));
    await expect(fs.access(path.join(outside, 'x.png'))).rejects.toThrow();
  });

  it('refuses, as outside the workspace, a save through a dangling symlinked folder pointing outside', async () => {
    const link = path.join(root, 'dangling-save');
    await fs.symlink(path.join(outside, 'not-yet-either'), link);
    try {
      const error = await rejection(ws.saveFile(path.join(link, 'x.png'), bytes('x')));
      expect(error.message).toContain('outside the workspace');
    } finally {
      await fs.rm(link, { force: true });
    }
    expect(await fs.readdir(outside)).toEqual(['secret.png']);
  });

  it('with force, refuses to replace a link or a folder, and leaves no temp file', async () => {
    const dir = await scratch('force-special');
    await fs.symlink(path.join(outside, 'secret.png'), path.join(dir, 'link.png'));
    await fs.mkdir(path.join(dir, 'folder.png'));
    await rejection(ws.saveFile(path.join(dir, 'link.png'), bytes('x'), { force: true }));
    await rejection(ws.saveFile(path.join(dir, 'folder.png'), bytes('x'), { force: true }));
    expect((await fs.readdir(dir)).sort()).toEqual(['folder.png', 'link.png']);
    expect(await fs.readFile(path.join(outside, 'secret.png'), 'utf8')).toBe('secret');
  });

  it('without force, a link at the name gets a versioned sibling, not a write through it', async () => {
    const dir = await scratch('link-version');
    await fs.symlink(path.join(outside, 'secret.png'), path.join(dir, 'hero.png'));
    const saved = await ws.saveFile(path.join(dir, 'hero.png'), bytes('mine'));
    expect(saved).toEqual({ path: path.join(dir, 'hero-v2.png'), versionedFrom: path.join(dir, 'hero.png') });
    expect(await fs.readFile(path.join(outside, 'secret.png'), 'utf8')).toBe('secret');
  });

  it('saves a name of 249 bytes: its temp file leaves the name out rather than pass NAME_MAX', async () => {
    const dir = await scratch('long-name');
    const name = `${'n'.repeat(245)}.png`;
    const temp = await ws.tempFileFor(path.join(dir, name));
    expect(Buffer.byteLength(path.basename(temp))).toBeLessThanOrEqual(255);
    expect((await ws.saveFile(path.join(dir, name), bytes('x'))).path).toBe(path.join(dir, name));
    expect((await ws.saveFile(path.join(dir, name), bytes('y'))).path).toBe(path.join(dir, `${'n'.repeat(245)}-v2.png`));
  });

  it('exists tells whether a path is taken (a dangling link counts)', async () => {
    expect(await ws.exists(path.join(root, 'input.png'))).toBe(true);
    expect(await ws.exists(path.join(root, 'nope.png'))).toBe(false);
    const link = path.join(root, 'dangling-exists.png');
    await fs.symlink(path.join(root, 'gone.png'), link);
    try {
      expect(await ws.exists(link)).toBe(true);
    } finally {
      await fs.rm(link, { force: true });
    }
  });
});

describe('chooseWorkspace', () => {
  let dirs: { flag: string; env: string; client1: string; client2: string; cwd: string };

  beforeAll(async () => {
    const make = async (name: string) => {
      const dir = path.join(base, 'choose', name);
      await fs.mkdir(dir, { recursive: true });
      return dir;
    };
    dirs = { flag: await make('flag'), env: await make('env'), client1: await make('c1'), client2: await make('c2'), cwd: await make('cwd') };
  });

  it('prefers the --root flag over everything', async () => {
    const w = await chooseWorkspace({ flag: dirs.flag, env: dirs.env, clientRoots: [dirs.client1], cwd: dirs.cwd });
    expect(w.source).toBe('flag');
    expect(w.roots).toEqual([dirs.flag]);
  });

  it('then IMAGEGEN_ROOT', async () => {
    const w = await chooseWorkspace({ env: dirs.env, clientRoots: [dirs.client1], cwd: dirs.cwd });
    expect(w.source).toBe('env');
    expect(w.root).toBe(dirs.env);
  });

  it("then the client's roots, all of them", async () => {
    const w = await chooseWorkspace({ flag: '', env: '', clientRoots: [dirs.client1, dirs.client2], cwd: dirs.cwd });
    expect(w.source).toBe('client');
    expect(w.roots).toEqual([dirs.client1, dirs.client2]);
    expect(await w.resolveOutput(path.join(dirs.client2, 'x.png'))).toBe(path.join(dirs.client2, 'x.png'));
    await rejection(w.resolveOutput(path.join(dirs.cwd, 'x.png')));
  });

  it('then the working directory', async () => {
    const w = await chooseWorkspace({ clientRoots: [], cwd: dirs.cwd });
    expect(w.source).toBe('cwd');
    expect(w.roots).toEqual([dirs.cwd]);
  });

  it('resolves the root to its real path', async () => {
    const link = path.join(base, 'choose', 'root-link');
    await fs.symlink(dirs.flag, link);
    const w = await chooseWorkspace({ flag: link, cwd: dirs.cwd });
    expect(w.root).toBe(dirs.flag);
  });
});

describe('rootUrisToPaths', () => {
  it('keeps file:// URIs as paths and ignores the rest', () => {
    expect(
      rootUrisToPaths([
        'file:///home/me/project',
        'https://example.com/project',
        'vscode-remote://ssh/home/me',
        '/plain/path',
        'file:///tmp/with%20space',
      ]),
    ).toEqual(['/home/me/project', '/tmp/with space']);
  });

  it('skips a malformed file:// URI instead of trusting it', () => {
    expect(rootUrisToPaths(['file://remote-host/share', 'file:///ok'])).toEqual(['/ok']);
  });
});
