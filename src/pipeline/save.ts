/**
 * The save step: the checked images of an answer put in place, each keyed first for chroma_key,
 * linked (or written) to its target without replacing a file unless forced, then its derived files
 * made (the downscaled copy, the keyed image's original, an SVG's clean copy) and its alpha read
 * back. Nothing saved is a failure (it throws); once one image is saved, every later problem is a
 * warning in what the step returns. Temp files not placed are removed, whatever happens.
 */
import { promises as fs } from 'node:fs';
import { downscaledPath, DEFAULT_DOWNSCALE_SUFFIX } from '../core/paths.js';
import { downscale } from '../io/images.js';
import type { SavedFile, Workspace } from '../io/workspace.js';
import type { ImageFactsOut } from '../results.js';
import { finishTransparentImage, keyOutApiImage } from './alpha.js';
import { messageOf } from './context.js';
import type { ImagePlan } from './plan.js';
import { discard, type CheckedImage, type Received } from './spend.js';
import { reportGif, reportSvg } from './vector-motion.js';

export interface SavedImage {
  facts: ImageFactsOut;
  /** Absolute paths of the image and its derived files, for resource links. */
  files: string[];
}

export interface Saved {
  images: SavedImage[];
  /** What an SVG's check or a GIF's frames say, for the result's text. */
  lines: string[];
  warnings: string[];
}

/** Places every checked image of the answer; see the file's comment. */
export async function saveReceived(plan: ImagePlan, received: Received, workspace: Workspace): Promise<Saved> {
  const placed = new Set<string>();
  try {
    const images: SavedImage[] = [];
    const warnings: string[] = [];
    const unsaved: unknown[] = [];
    for (const image of received.images) {
      try {
        const one = await saveImage(plan, workspace, image, placed);
        images.push(one.image);
        warnings.push(...one.warnings);
      } catch (error) {
        unsaved.push(error);
      }
    }
    // Nothing saved: the call failed. Something saved: the rest is said, and the call succeeds.
    if (images.length === 0 && unsaved.length > 0) throw unsaved[0];
    for (const error of unsaved) warnings.push(`One image of the answer could not be saved: ${messageOf(error)}`);
    const checked = await checkVectorMotion(plan, images, workspace);
    return { images: checked.images, lines: checked.lines, warnings: [...warnings, ...checked.warnings] };
  } finally {
    await discard(received.images.filter((image) => !placed.has(image.file)));
  }
}

/** `placed` gets the temp file once it is consumed (linked into place), so it is not removed after. */
async function saveImage(plan: ImagePlan, workspace: Workspace, image: CheckedImage, placed: Set<string>): Promise<{ image: SavedImage; warnings: string[] }> {
  const resolved = plan.request.options;
  const target = plan.targets[image.index]!;
  const warnings: string[] = [];
  // chroma_key: the key colour becomes alpha; when almost nothing matched, the original is kept.
  const apiBytes = resolved.keyColor ? await fs.readFile(image.file) : undefined;
  const cutout = apiBytes
    ? await keyOutApiImage(apiBytes, resolved).catch((error: unknown) => {
        warnings.push(`The image could not be keyed (${messageOf(error)}), so the API's opaque image was saved as it came.`);
        return undefined;
      })
    : undefined;
  const keyedBytes = cutout?.keyed ? cutout.bytes : undefined;
  let file: SavedFile;
  if (keyedBytes) {
    file = await workspace.saveFile(target, keyedBytes, { force: plan.force }); // the API's temp file is removed after
  } else {
    placed.add(image.file); // placeFile consumes the temp file, whatever happens
    file = await workspace.placeFile(image.file, target, { force: plan.force });
  }
  const facts: ImageFactsOut = {
    path: workspace.relative(file.path),
    width: image.header.width,
    height: image.header.height,
    format: image.header.format,
    bytes: keyedBytes ? keyedBytes.length : image.bytes,
  };
  if (file.versionedFrom) {
    facts.versioned_from = workspace.relative(file.versionedFrom);
    warnings.push(`${facts.versioned_from} already existed, so ${facts.path} was written instead (set force to overwrite).`);
  }
  const files = [file.path];
  // Saved: from here on nothing turns the call into a failure.
  if (plan.downscaleMaxDim) {
    try {
      const small = await downscale(file.path, plan.downscaleMaxDim, resolved.outputFormat);
      const web = await workspace.saveFile(downscaledPath(file.path, plan.downscaleSuffix ?? DEFAULT_DOWNSCALE_SUFFIX), small, { force: plan.force });
      facts.web_path = workspace.relative(web.path);
      files.push(web.path);
    } catch (error) {
      warnings.push(`${facts.path} was saved, but its downscaled copy could not be made: ${messageOf(error)}`);
    }
  }
  // An SVG's transparency is what it draws; its alpha is not measured (that would render it by path).
  if (resolved.transparency && resolved.outputFormat !== 'svg') {
    try {
      const finished = await finishTransparentImage({ path: file.path, apiBytes, cutout }, resolved, workspace, plan.force);
      facts.alpha = finished.alpha;
      files.push(...finished.files);
      if (finished.problem) warnings.push(finished.problem);
    } catch (error) {
      warnings.push(`${facts.path} was saved, but its transparency could not be checked: ${messageOf(error)}`);
    }
  }
  return { image: { facts, files }, warnings };
}

/** An SVG's check (and clean copy) or a GIF's frames, per saved file; a clean copy joins its file's links. */
async function checkVectorMotion(plan: ImagePlan, saved: readonly SavedImage[], workspace: Workspace): Promise<Saved> {
  const lines: string[] = [];
  const warnings: string[] = [];
  const images: SavedImage[] = [];
  for (const [i, image] of saved.entries()) {
    const label = saved.length > 1 ? `${i + 1}. ` : '';
    const file = image.files[0]!;
    let files = image.files;
    try {
      if (image.facts.format === 'svg') {
        const report = await reportSvg(file, workspace, { sanitize: plan.sanitize ?? false, force: plan.force });
        lines.push(...report.lines.map((line, k) => (k === 0 ? label + line : line)));
        files = [...files, ...report.files];
      } else if (image.facts.format === 'gif') {
        lines.push(label + (await reportGif(file)));
      }
    } catch (error) {
      warnings.push(`${image.facts.path} was saved, but it could not be checked: ${messageOf(error)}`);
    }
    images.push({ ...image, files });
  }
  return { images, lines, warnings };
}
