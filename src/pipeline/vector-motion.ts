/**
 * What a saved SVG or animated GIF adds to a result: the SVG's check (viewBox, element count,
 * anything active or external by name) and its cleaned copy when `sanitize` asks; the GIF's frame
 * count, duration and size. An SVG is never read by sharp from its path (librsvg resolves hrefs
 * to local files), and its text never goes into a result.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { describeGif } from '../core/gif.js';
import { splitExt } from '../core/paths.js';
import { inspectImage, loadSharp, type ImageFacts } from '../io/images.js';
import type { Workspace } from '../io/workspace.js';

// The XML parser costs ~150 ms to load: only the first SVG pays for it.
let svgModule: Promise<typeof import('../core/svg.js')> | undefined;
const loadSvg = () => (svgModule ??= import('../core/svg.js'));

/** Raster formats by their first bytes: those sharp may read from memory without fetching anything. */
const RASTER_MAGIC = [[0x89, 0x50, 0x4e, 0x47], [0xff, 0xd8, 0xff], [0x47, 0x49, 0x46, 0x38], [0x52, 0x49, 0x46, 0x46]];

/** A regular file's bytes, at most `max` (a FIFO, a final symlink or a larger file is refused, never waited on). */
async function readBounded(file: string, max: number): Promise<Buffer> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error('not a regular file');
    if (stats.size > max) throw new Error(`${(stats.size / 1024 / 1024).toFixed(1)} MB, over the ${max / 1024 / 1024} MB an SVG may have to be checked`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * The header facts of an answer asked for as svg, from its bytes: an SVG is parsed by the check
 * (its nominal size from width/height or viewBox); a raster file is read from memory so its format
 * can be named; anything else is not an image.
 */
export async function inspectSvgAnswer(file: string): Promise<ImageFacts> {
  const { MAX_SVG_CHECK_BYTES, checkSvg, svgPixelSize } = await loadSvg();
  const bytes = await readBounded(file, MAX_SVG_CHECK_BYTES);
  if (RASTER_MAGIC.some((magic) => magic.every((b, i) => bytes[i] === b))) return inspectImage(bytes);
  const verdict = checkSvg(bytes);
  if (!verdict.ok) throw new Error(verdict.reason);
  const size = svgPixelSize(verdict);
  return { format: 'svg', width: Math.max(1, Math.round(size?.width ?? 1)), height: Math.max(1, Math.round(size?.height ?? 1)), hasAlpha: true };
}

/** `icons/done.svg` → `icons/done-clean.svg`. */
export function cleanCopyPath(file: string): string {
  const { stem, ext } = splitExt(file);
  return `${stem}-clean${ext || '.svg'}`;
}

export interface VectorMotionReport {
  lines: string[];
  /** Files written here (cleaned copies), for resource links. */
  files: string[];
}

/** The check of one saved SVG, and its cleaned copy when `sanitize` is set and something was found. */
export async function reportSvg(file: string, workspace: Workspace, options: { sanitize: boolean; force: boolean }): Promise<VectorMotionReport> {
  const { MAX_SVG_CHECK_BYTES, checkSvg, describeSvgCheck, sanitizeSvg } = await loadSvg();
  const bytes = await readBounded(file, MAX_SVG_CHECK_BYTES);
  const verdict = checkSvg(bytes);
  const lines = describeSvgCheck(verdict);
  const files: string[] = [];
  if (!options.sanitize) return { lines, files };
  if (!verdict.ok) lines.push('sanitize: no clean copy, the file could not be parsed.');
  else if (verdict.findingsTotal === 0) lines.push('sanitize: nothing to remove, so no clean copy was written.');
  else {
    const cleaned = sanitizeSvg(bytes);
    if (!cleaned.ok) lines.push(`sanitize: no clean copy. ${cleaned.reason}`);
    else {
      const saved = await workspace.saveFile(cleanCopyPath(file), Buffer.from(cleaned.svg), { force: options.force });
      files.push(saved.path);
      lines.push(`Clean copy: ${workspace.relative(saved.path)} (${cleaned.removedTotal} removed; it parses and renders without them).`);
    }
  }
  return { lines, files };
}

/** A saved GIF in one line: frames, duration, size. */
export async function reportGif(file: string): Promise<string> {
  const sharp = await loadSharp();
  const meta = await sharp(file, { animated: true }).metadata();
  const frames = meta.pages ?? 1;
  const height = meta.pageHeight ?? meta.height ?? 0;
  return `GIF: ${describeGif({ frames, delaysMs: meta.delay ?? [], width: meta.width ?? 0, height })}.`;
}

/**
 * svg_usage in one line. It is billed at the author model's rates, which this server's price table
 * does not hold (it prices image models only), so the figure above leaves it out and says so.
 */
export function svgUsageLine(usage: { model: string; input_tokens?: number; output_tokens?: number; reasoning_tokens?: number }): string {
  const n = (v: number | undefined) => (v ?? 0).toLocaleString('en-US');
  const reasoning = usage.reasoning_tokens ? ` (${n(usage.reasoning_tokens)} reasoning)` : '';
  return `SVG authoring: ${n(usage.input_tokens)} in, ${n(usage.output_tokens)} out${reasoning} tokens by ${usage.model}, billed at its rates; its price is not in this server's table, so the cost above leaves it out.`;
}
