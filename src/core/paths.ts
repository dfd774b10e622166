/**
 * Output path planning: where each image of a call will go, as paths relative to the workspace
 * (or as the user wrote them). No file system here: the workspace edge resolves and confines them.
 */
import path from 'node:path';
import type { Problem } from './problems.js';

export type OutputFormat = 'png' | 'jpeg' | 'webp' | 'svg' | 'gif';

export const DEFAULT_OUTPUT_DIR = 'output/imagegen';
/** Intermediate files (a batch dry run's plan). */
export const TMP_DIR = 'tmp/imagegen';
export const DEFAULT_DOWNSCALE_SUFFIX = '-web';

export function extensionFor(format: OutputFormat): string {
  return format === 'jpeg' ? 'jpg' : format;
}

const EXTENSIONS_OF: Record<OutputFormat, readonly string[]> = {
  png: ['.png'],
  jpeg: ['.jpg', '.jpeg'],
  webp: ['.webp'],
  svg: ['.svg'],
  gif: ['.gif'],
};

/**
 * `out/hero.png` → `out/hero` + `.png`. The extension is that of the last segment, with `/` or `\`
 * as separator on every platform, so a folder's dot (`art.d\logo`) is never taken for one; a
 * leading dot is a name, not an extension (`.env`, `..`).
 */
export function splitExt(file: string): { stem: string; ext: string } {
  const base = file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
  const ext = path.posix.extname(base);
  return { stem: file.slice(0, file.length - ext.length), ext };
}

/** `name.png` → `name-1.png`, `name-2.png` … for n variants; a single image keeps its name. */
export function numbered(file: string, count: number): string[] {
  if (count === 1) return [file];
  const { stem, ext } = splitExt(file);
  return Array.from({ length: count }, (_, i) => `${stem}-${i + 1}${ext}`);
}

export interface PlanInput {
  out?: string | undefined;
  outDir?: string | undefined;
  n: number;
  format: OutputFormat;
  /** File stem used when neither out nor out_dir is given (`output`, `<input>-edit`). */
  defaultStem: string;
  /** Suffixes of copies derived from each file (`-web`, `-keyed-source`): their names must fit too. */
  derived?: readonly string[] | undefined;
}

export interface PathPlan {
  files: string[];
  warnings: string[];
}

export function planOutputPaths(input: PlanInput): { ok: true; plan: PathPlan } | { ok: false; problems: Problem[] } {
  const ext = extensionFor(input.format);
  const warnings: string[] = [];
  const text = [
    ['out', input.out],
    ['out_dir', input.outDir],
  ] as const;
  const unsafe = text.flatMap(([field, value]) => {
    const message = value === undefined ? undefined : controlCharacterProblem(field, value);
    return message ? [{ field, message }] : [];
  });
  if (unsafe.length > 0) return { ok: false, problems: unsafe };
  const checked = (files: string[]): { ok: true; plan: PathPlan } | { ok: false; problems: Problem[] } => {
    const field = input.outDir !== undefined ? 'out_dir' : 'out';
    const problems = files.flatMap((file) => {
      const message = nameLengthProblem(field, file, input.derived);
      return message ? [{ field, message }] : [];
    });
    return problems.length > 0 ? { ok: false, problems: problems.slice(0, 1) } : { ok: true, plan: { files, warnings } };
  };
  if (input.out !== undefined && input.outDir !== undefined) {
    return {
      ok: false,
      problems: [{ field: 'out', message: 'Give either out (a file path) or out_dir (a folder), not both.' }],
    };
  }
  if (input.out !== undefined) {
    const out = input.out.trim();
    if (out === '' || out.endsWith('/') || out.endsWith(path.sep)) {
      return {
        ok: false,
        problems: [{ field: 'out', message: `out must name a file, e.g. "assets/hero.${ext}"; to choose a folder, use out_dir instead.` }],
      };
    }
    let file = out;
    const given = path.extname(out).toLowerCase();
    if (!given) {
      file = `${out}.${ext}`;
    } else if (!EXTENSIONS_OF[input.format].includes(given)) {
      warnings.push(`out ends in "${given}" but the image is ${input.format}; the name was kept as given.`);
    }
    return checked(numbered(file, input.n));
  }
  if (input.outDir !== undefined) {
    const dir = input.outDir.trim() || '.';
    return checked(Array.from({ length: input.n }, (_, i) => path.join(dir, `image_${i + 1}.${ext}`)));
  }
  return checked(numbered(path.join(DEFAULT_OUTPUT_DIR, `${input.defaultStem}.${ext}`), input.n));
}

/** Stem of an input file for the default edit name: `shots/hero.png` → `hero`. */
export function inputStem(file: string): string {
  const base = path.basename(file);
  const stem = splitExt(base).stem;
  return stem || 'image';
}

/** A sibling that does not overwrite: `hero.png`, version 2 → `hero-v2.png`. */
export function versionedPath(file: string, version: number): string {
  if (version <= 1) return file;
  const { stem, ext } = splitExt(file);
  return `${stem}-v${version}${ext}`;
}

/** The downscaled copy's name: `hero.png` + `-web` → `hero-web.png`. A leading dash is added if missing. */
export function downscaledPath(file: string, suffix: string = DEFAULT_DOWNSCALE_SUFFIX): string {
  const dashed = suffix.startsWith('-') ? suffix : `-${suffix}`;
  const { stem, ext } = splitExt(file);
  return `${stem}${dashed}${ext}`;
}

/**
 * A batch job's file slug: the prompt's first 80 characters, lower-cased, every run of other
 * characters than a-z0-9 made one dash, trimmed of dashes, at most 60 characters; `job` if empty.
 */
export function promptSlug(prompt: string): string {
  const slug = prompt
    .slice(0, 80)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/g, '');
  return slug || 'job';
}

/** `NNN-<slug>.<ext>` for job `number` (1-based), numbered when the job asks for n variants. */
export function batchJobFiles(number: number, prompt: string, format: OutputFormat, n: number): string[] {
  const base = `${String(number).padStart(3, '0')}-${promptSlug(prompt)}.${extensionFor(format)}`;
  return numbered(base, n);
}

/** Bytes one file or folder name may take (NAME_MAX of ext4, APFS, NTFS, …). */
export const NAME_MAX_BYTES = 255;
/** Bytes a whole absolute path may take (Linux PATH_MAX). */
export const PATH_MAX_BYTES = 4096;
/** The longest version mark the server adds to a taken name (`hero-v9999.png`): every name keeps room for it. */
export const VERSION_MARK_ROOM = '-v9999';
/** Longest downscale_suffix: a name part, not a name. */
export const MAX_SUFFIX_BYTES = 64;

const byteLength = (text: string) => Buffer.byteLength(text, 'utf8');

/**
 * Characters a file name must not carry: control characters (a newline would forge lines in a
 * result, a tab or escape hides in a listing), line and paragraph separators, and the
 * bidirectional overrides that make a name read differently from what it is.
 */
const UNSAFE_CHARACTER = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

function describeCharacter(char: string): string {
  const names: Record<string, string> = { '\n': 'a line break (\\n)', '\r': 'a carriage return (\\r)', '\t': 'a tab (\\t)', '\0': 'a NUL byte' };
  return names[char] ?? `the invisible character U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** A short, printable quotation of a name for messages (never the whole of a huge or hostile value). */
export function quoteName(value: string, max = 80): string {
  const printable = value.replace(new RegExp(UNSAFE_CHARACTER.source, 'gu'), '\uFFFD');
  return JSON.stringify(printable.length > max ? `${printable.slice(0, max - 1)}…` : printable);
}

/** A path or name part given by the client, refused when it holds a control or invisible character. */
export function controlCharacterProblem(field: string, value: string): string | undefined {
  const match = UNSAFE_CHARACTER.exec(value);
  if (!match) return undefined;
  return `${field} ${quoteName(value)} contains ${describeCharacter(match[0])} at position ${match.index + 1}; file names here are plain text. Remove it and call again.`;
}

/** downscale_suffix is added to a file name (`hero.png` → `hero-web.png`): a name part, never a path. */
export function suffixProblem(field: string, suffix: string): string | undefined {
  const control = controlCharacterProblem(field, suffix);
  if (control) return control;
  if (/[\\/]/.test(suffix)) {
    return `${field} ${quoteName(suffix)} contains a path separator; it is added to the image's file name (hero.png → hero-web.png), so it must stay a name part such as "-web" or "-small".`;
  }
  if (byteLength(suffix) > MAX_SUFFIX_BYTES) {
    return `${field} is ${byteLength(suffix)} bytes long; at most ${MAX_SUFFIX_BYTES} are allowed (e.g. "-web").`;
  }
  return undefined;
}

/**
 * A planned file whose name the file system would refuse (over NAME_MAX bytes), checked with
 * room for what the server may add to it: a version mark (`-v9999`), and for derived copies
 * their suffix (`-web`, `-keyed-source`) with a version mark of their own.
 */
export function nameLengthProblem(field: string, file: string, derived: readonly string[] = []): string | undefined {
  const parts = file.split(/[\\/]+/).filter((p) => p !== '');
  const last = parts.pop() ?? '';
  for (const folder of parts) {
    if (byteLength(folder) > NAME_MAX_BYTES) {
      return `${field} has a folder name of ${byteLength(folder)} bytes (${quoteName(folder, 40)}); file systems allow at most ${NAME_MAX_BYTES}. Choose shorter names.`;
    }
  }
  const dashed = derived.map((s) => (s.startsWith('-') ? s : `-${s}`));
  const room = byteLength(VERSION_MARK_ROOM) + Math.max(0, ...dashed.map((s) => byteLength(s) + byteLength(VERSION_MARK_ROOM)));
  const allowed = NAME_MAX_BYTES - room;
  const bytes = byteLength(last);
  if (bytes <= allowed) return undefined;
  const what = dashed.length > 0 ? `a version mark (${VERSION_MARK_ROOM}) and the copies' suffixes (${dashed.join(', ')})` : `a version mark (${VERSION_MARK_ROOM})`;
  return `${field} gives a file name of ${bytes} bytes (${quoteName(last, 40)}); file systems allow ${NAME_MAX_BYTES}, and with room for ${what} it may be at most ${allowed}. Choose a shorter name.`;
}
