/**
 * The README's "How it is built" map is how a newcomer finds their way: every file in src/ has its
 * line there, and every file or folder the map names exists.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './helpers.js';

const HEADING = '## How it is built';

interface MapEntry {
  /** Relative to the project root, with forward slashes; folders end in `/`. */
  path: string;
  description: string;
  line: number;
}

/** The entries of the map: the first fenced block under the heading, nested by indentation. */
function readMap(readme: string): MapEntry[] {
  const start = readme.indexOf(`\n${HEADING}\n`);
  if (start < 0) throw new Error(`README.md has no "${HEADING}" section.`);
  const open = readme.indexOf('```', start);
  const close = readme.indexOf('\n```', open + 3);
  const firstLine = readme.slice(0, open).split('\n').length + 1;
  const lines = readme.slice(readme.indexOf('\n', open) + 1, close).split('\n');
  const entries: MapEntry[] = [];
  const folders: Array<{ indent: number; path: string }> = [];
  lines.forEach((text, i) => {
    const match = /^( *)(\S+)\s*(.*)$/.exec(text);
    if (!match) return;
    const indent = match[1]!.length;
    while (folders.length > 0 && folders[folders.length - 1]!.indent >= indent) folders.pop();
    const entry = (folders[folders.length - 1]?.path ?? '') + match[2]!;
    entries.push({ path: entry, description: match[3]!.trim(), line: firstLine + i });
    if (entry.endsWith('/')) folders.push({ indent, path: entry });
  });
  return entries;
}

function filesUnder(dir: string): string[] {
  return readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(PROJECT_ROOT, path.join(d.parentPath, d.name)).split(path.sep).join('/'))
    .sort();
}

function kindOnDisk(entry: string): 'file' | 'folder' | 'missing' {
  try {
    return statSync(path.join(PROJECT_ROOT, entry)).isDirectory() ? 'folder' : 'file';
  } catch {
    return 'missing';
  }
}

/** What is wrong with the map, each with its fix; none when it is true. */
function mapProblems(readme: string, sourceFiles: string[]): string[] {
  const entries = readMap(readme);
  const problems: string[] = [];
  const named = new Set(entries.map((e) => e.path));
  for (const file of sourceFiles) {
    if (!named.has(file)) {
      const folder = path.posix.dirname(file);
      problems.push(`${file} is missing: add a line "${path.posix.basename(file)}  what it does" under ${folder}/ in README's "${HEADING}".`);
    }
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    const where = `README.md line ${entry.line}`;
    if (seen.has(entry.path)) problems.push(`${where} names ${entry.path} a second time: keep one line for it.`);
    seen.add(entry.path);
    const onDisk = kindOnDisk(entry.path);
    const wanted = entry.path.endsWith('/') ? 'folder' : 'file';
    if (onDisk !== wanted) {
      problems.push(`${where} names ${entry.path}, which is ${onDisk === 'missing' ? 'not there' : `a ${onDisk}`}: correct or remove the line.`);
    }
    if (wanted === 'file' && entry.path.startsWith('src/') && entry.description === '') {
      problems.push(`${where} names ${entry.path} without saying what it is: add a few words after the name.`);
    }
  }
  return problems;
}

const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
const sourceFiles = filesUnder('src');

describe('the README map ("How it is built")', () => {
  it('names every file in src/, each once and with what it does, and only files and folders that exist', () => {
    expect(sourceFiles.length).toBeGreaterThan(10);
    expect(mapProblems(readme, sourceFiles)).toEqual([]);
  });

  it('places files by indentation under their folders', () => {
    const paths = readMap(readme).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['src/', 'src/index.ts', 'src/core/', 'src/core/models.ts', 'src/io/workspace.ts', 'src/tools/generate.ts', 'test/helpers.ts', 'bench/']));
  });

  it('is found wanting when a source file has no line, or a line names a file that is gone', () => {
    const withoutPaths = readme.replace(/\n {4}paths\.ts .*\n/, '\n');
    expect(withoutPaths).not.toBe(readme);
    expect(mapProblems(withoutPaths, sourceFiles)).toEqual([
      expect.stringMatching(/^src\/core\/paths\.ts is missing: add a line "paths\.ts {2}what it does" under src\/core\//),
    ]);

    const withGhost = readme.replace('\n    models.ts ', '\n    ghost.ts          gone\n    models.ts ');
    expect(mapProblems(withGhost, sourceFiles)).toEqual([expect.stringContaining('names src/core/ghost.ts, which is not there')]);

    const twice = readme.replace('\n    models.ts ', '\n    sizes.ts          again\n    models.ts ');
    expect(mapProblems(twice, sourceFiles)).toEqual([expect.stringContaining('names src/core/sizes.ts a second time')]);

    const bare = readme.replace(/\n {4}sizes\.ts .*\n/, '\n    sizes.ts\n');
    expect(mapProblems(bare, sourceFiles)).toEqual([expect.stringContaining('names src/core/sizes.ts without saying what it is')]);
  });
});
