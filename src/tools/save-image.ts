/**
 * One checked image of an answer put in place: keyed first for chroma_key, linked (or written)
 * to its target, then its derived files made. Once the image is placed, every later problem is a
 * warning on the run, never a failure.
 */
import { promises as fs } from 'node:fs';
import { downscaledPath, DEFAULT_DOWNSCALE_SUFFIX } from '../core/paths.js';
import { downscale, type ImageFacts } from '../io/images.js';
import type { ReceivedImage } from '../io/receive.js';
import type { SavedFile, Workspace } from '../io/workspace.js';
import type { ImageFactsOut } from '../results.js';
import type { ImageRun, SavedImage } from './image-run.js';
import { finishTransparentImage, keyOutApiImage } from './transparency.js';

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** `placed` gets the temp file once it is consumed (linked into place), so the caller does not remove it. */
export async function saveImage(
  run: ImageRun,
  workspace: Workspace,
  image: ReceivedImage,
  header: ImageFacts,
  placed: Set<string>,
): Promise<SavedImage> {
  const resolved = run.request.options;
  const target = run.targets[image.index]!;
  // chroma_key: the key colour becomes alpha; when almost nothing matched, the original is kept.
  const apiBytes = resolved.keyColor ? await fs.readFile(image.file) : undefined;
  const cutout = apiBytes
    ? await keyOutApiImage(apiBytes, resolved).catch((error: unknown) => {
        run.warnings.push(`The image could not be keyed (${messageOf(error)}), so the API's opaque image was saved as it came.`);
        return undefined;
      })
    : undefined;
  const keyedBytes = cutout?.keyed ? cutout.bytes : undefined;
  let file: SavedFile;
  if (keyedBytes) {
    file = await workspace.saveFile(target, keyedBytes, { force: run.force }); // the API's temp file is removed by the caller
  } else {
    placed.add(image.file); // placeFile consumes the temp file, whatever happens
    file = await workspace.placeFile(image.file, target, { force: run.force });
  }
  const entry: ImageFactsOut = {
    path: workspace.relative(file.path),
    width: header.width,
    height: header.height,
    format: header.format,
    bytes: keyedBytes ? keyedBytes.length : image.bytes,
  };
  if (file.versionedFrom) {
    entry.versioned_from = workspace.relative(file.versionedFrom);
    run.warnings.push(`${entry.versioned_from} already existed, so ${entry.path} was written instead (set force to overwrite).`);
  }
  const files = [file.path];
  // Saved: from here on nothing turns the call into a failure.
  if (run.downscaleMaxDim) {
    try {
      const small = await downscale(file.path, run.downscaleMaxDim, resolved.outputFormat);
      const web = await workspace.saveFile(downscaledPath(file.path, run.downscaleSuffix ?? DEFAULT_DOWNSCALE_SUFFIX), small, { force: run.force });
      entry.web_path = workspace.relative(web.path);
      files.push(web.path);
    } catch (error) {
      run.warnings.push(`${entry.path} was saved, but its downscaled copy could not be made: ${messageOf(error)}`);
    }
  }
  // An SVG's transparency is what it draws; its alpha is not measured (that would render it by path).
  if (resolved.transparency && resolved.outputFormat !== 'svg') {
    try {
      const finished = await finishTransparentImage({ path: file.path, apiBytes, cutout }, resolved, workspace, run.force);
      entry.alpha = finished.alpha;
      files.push(...finished.files);
      if (finished.problem) run.warnings.push(finished.problem);
    } catch (error) {
      run.warnings.push(`${entry.path} was saved, but its transparency could not be checked: ${messageOf(error)}`);
    }
  }
  return { facts: entry, files };
}
