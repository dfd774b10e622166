import { execFileSync } from 'node:child_process';
import { appendFile, link, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HISTORY_FILE, appendHistory, historyProblem, latestByPath, readHistory, type HistoryEntry } from '../../src/io/history.js';
import { Workspace } from '../../src/io/workspace.js';
import { tempWorkspace } from '../helpers.js';

let ws: { dir: string; cleanup: () => Promise<void> };
let workspace: Workspace;

beforeEach(async () => {
  ws = await tempWorkspace('imagegen-history-');
  workspace = await Workspace.create([ws.dir], 'flag');
});
afterEach(() => ws.cleanup());

const entry = (call: number, image: number, prompt: string): HistoryEntry => ({
  time: new Date(0).toISOString(),
  tool: 'generate',
  path: `out/call-${call}-${image}.png`,
  model: 'gpt-image-2',
  prompt,
  params: { n: 4 },
});

describe('history.jsonl', () => {
  it('keeps each call\'s lines whole and together when many calls append at once', async () => {
    // Each call's text is over 512 KB, more than Node writes in one go, so unserialised appends would interleave.
    const calls = Array.from({ length: 40 }, (_, call) =>
      Array.from({ length: 4 }, (_, image) => entry(call, image, `${call}:${image} `.repeat(30_000))),
    );
    await Promise.all(calls.map((entries) => appendHistory(workspace, entries)));
    const lines = (await readFile(path.join(ws.dir, HISTORY_FILE), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(160);
    const parsed = lines.map((line) => JSON.parse(line) as HistoryEntry);
    for (let i = 0; i < parsed.length; i += 4) {
      const call = parsed[i]!.path.split('-')[1];
      expect(parsed.slice(i, i + 4).map((e) => e.path)).toEqual([0, 1, 2, 3].map((image) => `out/call-${call}-${image}.png`));
    }
    expect(new Set(parsed.map((e) => e.path)).size).toBe(160);
  });

  it('writes the lines of calls that come while a write is under way together, in the next write', async () => {
    await appendHistory(workspace, [entry(0, 0, 'the history is there already')]);
    const writes = vi.spyOn(workspace, 'appendFile');
    await Promise.all(Array.from({ length: 25 }, (_, call) => appendHistory(workspace, [entry(call, 1, 'a prompt')])));
    // The first call's lines go at once; the 24 that came meanwhile share the next write.
    expect(writes).toHaveBeenCalledTimes(2);
    const lines = (await readFile(path.join(ws.dir, HISTORY_FILE), 'utf8')).trimEnd().split('\n');
    expect(lines.slice(1).map((line) => (JSON.parse(line) as HistoryEntry).path)).toEqual(Array.from({ length: 25 }, (_, call) => `out/call-${call}-1.png`));
  });

  it('appends to a history that is there without checking its folder again, and never through a folder swapped for a link', async () => {
    await appendHistory(workspace, [entry(1, 1, 'first')]);
    const resolves = vi.spyOn(workspace, 'resolveOutput');
    await appendHistory(workspace, [entry(2, 1, 'second')]);
    expect(resolves).not.toHaveBeenCalled();
    const outside = await tempWorkspace('imagegen-outside-');
    try {
      // The folder is swapped for a link to a folder outside, with and then without a history there.
      const folder = path.join(ws.dir, 'output', 'imagegen');
      await rename(folder, path.join(ws.dir, 'moved'));
      await symlink(outside.dir, folder);
      await writeFile(path.join(outside.dir, 'history.jsonl'), '# mine\n');
      await expect(appendHistory(workspace, [entry(3, 1, 'third')])).rejects.toThrow(/outside/);
      expect(await readFile(path.join(outside.dir, 'history.jsonl'), 'utf8')).toBe('# mine\n');
      await rm(path.join(outside.dir, 'history.jsonl'));
      await expect(appendHistory(workspace, [entry(4, 1, 'fourth')])).rejects.toThrow(/outside/);
      expect(await readdir(outside.dir)).toEqual([]);
      // Removed, the history is started again by the full check.
      await rm(folder);
      await appendHistory(workspace, [entry(5, 1, 'fifth')]);
      expect((await readHistory(workspace)).map((e) => e.prompt)).toEqual(['fifth']);
    } finally {
      await outside.cleanup();
    }
  });

  it('tells every call whose lines were in a failed write, and writes later calls afresh', async () => {
    vi.spyOn(workspace, 'appendFile').mockRejectedValueOnce(new Error('disk full')).mockRejectedValueOnce(new Error('disk full'));
    const first = Promise.all(Array.from({ length: 3 }, (_, call) => appendHistory(workspace, [entry(call, 1, 'lost')]).then(() => 'written', (e: Error) => e.message)));
    expect(await first).toEqual(['disk full', 'disk full', 'disk full']);
    vi.restoreAllMocks();
    await appendHistory(workspace, [entry(9, 1, 'kept')]);
    expect((await readHistory(workspace)).map((e) => e.prompt)).toEqual(['kept']);
  });

  it('reads back the latest entry per path and skips damaged lines', async () => {
    await appendHistory(workspace, [entry(1, 1, 'first')]);
    await appendHistory(workspace, [{ ...entry(1, 1, 'second'), web_path: 'out/call-1-1-web.png' }]);
    await appendFile(path.join(ws.dir, HISTORY_FILE), '{"broken\n');
    const entries = await readHistory(workspace);
    expect(entries).toHaveLength(2);
    const latest = latestByPath(entries);
    expect(latest.get('out/call-1-1.png')!.prompt).toBe('second');
    expect(latest.get('out/call-1-1-web.png')!.prompt).toBe('second');
  });

  it('is empty before anything was saved', async () => {
    expect(await readHistory(workspace)).toEqual([]);
  });

  it('never appends through a symlink: the lines are refused, naming the file, and the target is untouched', async () => {
    const outside = await tempWorkspace('imagegen-outside-');
    try {
      const target = path.join(outside.dir, 'profile.sh');
      await writeFile(target, '# mine\n');
      await mkdir(path.join(ws.dir, 'output', 'imagegen'), { recursive: true });
      await symlink(target, path.join(ws.dir, HISTORY_FILE));
      expect(await historyProblem(workspace)).toMatch(
        /^Every saved image gets a line in the history, which cannot be written, so nothing is sent: history output\/imagegen\/history\.jsonl is a symbolic link, not a regular file.*Remove it \(a new history is started there\), then call again\.$/,
      );
      // Planted after the check: the append itself refuses it.
      await expect(appendHistory(workspace, [entry(1, 1, 'rm -rf ~')])).rejects.toThrow(/history\.jsonl is a symbolic link/);
      expect(await readFile(target, 'utf8')).toBe('# mine\n');
      expect(await readHistory(workspace)).toEqual([]);
    } finally {
      await outside.cleanup();
    }
  });

  it('refuses a FIFO at once, for appending and for reading', async () => {
    await mkdir(path.join(ws.dir, 'output', 'imagegen'), { recursive: true });
    execFileSync('mkfifo', [path.join(ws.dir, HISTORY_FILE)]);
    const started = Date.now();
    expect(await historyProblem(workspace)).toMatch(/history\.jsonl is a FIFO \(named pipe\), not a regular file/);
    await expect(appendHistory(workspace, [entry(1, 1, 'x')])).rejects.toThrow(/is a FIFO/);
    expect(await readHistory(workspace)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a history hard-linked to a file elsewhere before anything is spent', async () => {
    const outside = await tempWorkspace('imagegen-outside-');
    try {
      await writeFile(path.join(outside.dir, 'notes.txt'), 'mine\n');
      await mkdir(path.join(ws.dir, 'output', 'imagegen'), { recursive: true });
      await link(path.join(outside.dir, 'notes.txt'), path.join(ws.dir, HISTORY_FILE));
      expect(await historyProblem(workspace)).toMatch(/history\.jsonl is a file with 1 other hard link\(s\), not a regular file/);
    } finally {
      await outside.cleanup();
    }
  });

  it('has no problem with a regular history, or none yet', async () => {
    expect(await historyProblem(workspace)).toBeUndefined();
    await appendHistory(workspace, [entry(1, 1, 'x')]);
    expect(await historyProblem(workspace)).toBeUndefined();
  });
});
