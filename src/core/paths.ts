/**
 * Output path planning: where each image of a call will go, as paths relative to the workspace
 * (or as the user wrote them). No file system here: the workspace edge resolves and confines them.
 */
import path from 'node:path';
import type { Problem } from './problems.js';

export type OutputFormat = 'png' | 'jpeg' | 'webp';

export const DEFAULT_OUTPUT_DIR = 'output/imagegen';
export const DEFAULT_DOWNSCALE_SUFFIX = '-web';

export function extensionFor(format: OutputFormat): string {
  return format === 'jpeg' ? 'jpg' : format;
}

const EXTENSIONS_OF: Record<OutputFormat, readonly string[]> = {
  png: ['.png'],
  jpeg: ['.jpg', '.jpeg'],
  webp: ['.webp'],
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
}

export interface PathPlan {
  files: string[];
  warnings: string[];
}

export function planOutputPaths(input: PlanInput): { ok: true; plan: PathPlan } | { ok: false; problems: Problem[] } {
  const ext = extensionFor(input.format);
  const warnings: string[] = [];
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
    return { ok: true, plan: { files: numbered(file, input.n), warnings } };
  }
  if (input.outDir !== undefined) {
    const dir = input.outDir.trim() || '.';
    const files = Array.from({ length: input.n }, (_, i) => path.join(dir, `image_${i + 1}.${ext}`));
    return { ok: true, plan: { files, warnings } };
  }
  const file = path.join(DEFAULT_OUTPUT_DIR, `${input.defaultStem}.${ext}`);
  return { ok: true, plan: { files: numbered(file, input.n), warnings } };
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
