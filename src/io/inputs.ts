/**
 * Reads edit inputs: workspace paths and file:// URIs (through the workspace's containment, on
 * real paths), or data: URLs. Each is proved to be an image by sharp before it is used; formats
 * the API does not take are converted to png, and a black-and-white mask can be turned into an
 * alpha mask. The rules themselves live in core/inputs.ts.
 */
import { constants, promises as fs } from 'node:fs';
import {
  INPUT_SOURCES_HINT,
  MASK_MARKS_NOTHING,
  MAX_INPUT_BYTES,
  alphaMaskFromLuminance,
  anyFullyTransparent,
  classifyInput,
  dimensionProblem,
  inputHandling,
  maskProblems,
  nameInput,
  parseDataUrl,
  tooLargeProblem,
  uploadName,
  webUrlProblem,
  type Dimensions,
} from '../core/inputs.js';
import { inputStem } from '../core/paths.js';
import type { Problem } from '../core/problems.js';
import { loadSharp } from './images.js';
import type { UploadFile } from './openai.js';
import { WorkspaceError, type Workspace } from './workspace.js';

/** The file an input was read from: for telling whether an output would replace it. */
export interface SourceFile {
  path: string;
  dev: number;
  ino: number;
}

export interface LoadedImage extends UploadFile {
  /** Workspace-relative path, or "data: URL". */
  label: string;
  width: number;
  height: number;
  /** The format as read, before any conversion. */
  format: string;
  hasAlpha: boolean;
  /** Set when the input was converted to png for upload. */
  convertedFrom?: string;
  /** Frames or pages in the input, when more than one (only the first is used). */
  pages?: number;
  source?: SourceFile;
}

export interface LoadedMask extends LoadedImage {
  /** What the mask check found, for results and dry runs. */
  check: string;
}

export type Loaded<T> = { ok: true; value: T; warnings: string[] } | { ok: false; problems: Problem[] };

class InputError extends Error {}

interface RawInput {
  bytes: Buffer;
  label: string;
  stem: string;
  source?: SourceFile;
}

// O_NOFOLLOW: the real path has no symlink left, so one swapped in after the check is refused.
// O_NONBLOCK: a FIFO put in place of the file cannot hang the server.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

async function readFileWithin(reference: string, what: string, workspace: Workspace): Promise<RawInput> {
  const named = nameInput(what, reference);
  let real: string;
  try {
    real = await workspace.resolveInput(reference, what);
  } catch (error) {
    if (!(error instanceof WorkspaceError)) throw error;
    const missing = error.message.includes('does not exist');
    throw new InputError(missing ? `${error.message} ${INPUT_SOURCES_HINT}` : error.message);
  }
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(real, OPEN_FLAGS);
  } catch (error) {
    throw new InputError(`${named} could not be opened (${(error as NodeJS.ErrnoException).code ?? 'error'}). Check that it is a readable file.`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new InputError(`${named} is not a file. Give an image file.`);
    if (stat.size === 0) throw new InputError(`${named} is empty (0 bytes). Give a png, jpeg or webp image.`);
    // Checked before reading, so an oversized file costs no memory.
    const tooLarge = tooLargeProblem(named, stat.size);
    if (tooLarge) throw new InputError(tooLarge);
    const bytes = Buffer.allocUnsafe(stat.size);
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return {
      bytes: filled === bytes.length ? bytes : bytes.subarray(0, filled),
      label: workspace.relative(real),
      stem: inputStem(real),
      source: { path: real, dev: stat.dev, ino: stat.ino },
    };
  } finally {
    await handle.close();
  }
}

async function readReference(reference: string, what: string, fallbackStem: string, workspace: Workspace): Promise<RawInput> {
  const kind = classifyInput(reference);
  if (kind.kind === 'web') throw new InputError(webUrlProblem(what, reference));
  if (kind.kind === 'path') return readFileWithin(reference, what, workspace);
  const parsed = parseDataUrl(reference.trim());
  if (!parsed.ok) throw new InputError(`${nameInput(what, reference)} ${parsed.reason}.`);
  if (parsed.bytes.length === 0) throw new InputError(`${nameInput(what, reference)} is empty. Give a png, jpeg or webp image.`);
  const tooLarge = tooLargeProblem(nameInput(what, reference), parsed.bytes.length, MAX_INPUT_BYTES);
  if (tooLarge) throw new InputError(tooLarge);
  return { bytes: parsed.bytes, label: 'data: URL', stem: fallbackStem };
}

interface Header {
  format: string;
  width: number;
  height: number;
  hasAlpha: boolean;
  channels: number;
  pages?: number;
}

/** Proves the bytes are an image sharp reads, from the header only. */
async function readHeader(bytes: Buffer, named: string): Promise<Header> {
  const sharp = await loadSharp();
  let meta;
  try {
    meta = await sharp(bytes).metadata();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new InputError(`${named} is not an image (${why.replace(/\.$/, '')}). Give a png, jpeg or webp file.`);
  }
  if (!meta.format || !meta.width || !meta.height) {
    throw new InputError(`${named} is not an image with a known size. Give a png, jpeg or webp file.`);
  }
  const header: Header = {
    format: meta.format,
    width: meta.width,
    height: meta.height,
    hasAlpha: meta.hasAlpha === true,
    channels: meta.channels ?? (meta.hasAlpha ? 4 : 3),
  };
  if (meta.pages && meta.pages > 1) header.pages = meta.pages;
  return header;
}

function failed(field: string, error: unknown): { ok: false; problems: Problem[] } {
  if (error instanceof InputError) return { ok: false, problems: [{ field, message: error.message }] };
  throw error;
}

/**
 * Input image `index` (0-based): read from inside the workspace or a data: URL, checked to be an
 * image, and made ready to upload (png, jpeg and webp as they are; gif, tiff, avif, heif as png).
 */
export async function loadInputImage(reference: string, index: number, workspace: Workspace): Promise<Loaded<LoadedImage>> {
  const what = `image ${index + 1}`;
  try {
    const raw = await readReference(reference, what, `image-${index + 1}`, workspace);
    const named = nameInput(what, reference);
    const header = await readHeader(raw.bytes, named);
    const handling = inputHandling(header.format);
    if (handling.kind === 'refuse') throw new InputError(`${named} ${handling.reason}.`);
    const image: LoadedImage = {
      label: raw.label,
      width: header.width,
      height: header.height,
      format: header.format,
      hasAlpha: header.hasAlpha,
      name: '',
      type: '',
      bytes: raw.bytes,
    };
    if (raw.source) image.source = raw.source;
    if (handling.kind === 'as-is') {
      image.name = uploadName(raw.stem, handling.format);
      image.type = handling.mimeType;
    } else {
      const sharp = await loadSharp();
      try {
        image.bytes = await sharp(raw.bytes).png().toBuffer(); // the first frame or page
      } catch (error) {
        throw new InputError(`${named} (${header.format}) could not be converted to png: ${(error as Error).message}. Convert it to png yourself.`);
      }
      image.name = uploadName(raw.stem, 'png');
      image.type = 'image/png';
      image.convertedFrom = header.format;
      if (header.pages) image.pages = header.pages;
    }
    return { ok: true, value: image, warnings: [] };
  } catch (error) {
    return failed('images', error);
  }
}

/**
 * The mask: a PNG with alpha and exactly image 1's dimensions, checked as given; or, with
 * `fromLuminance`, a black-and-white image of the same size turned into one (white = edit).
 */
export async function loadMask(
  reference: string,
  image1: Dimensions,
  fromLuminance: boolean,
  workspace: Workspace,
): Promise<Loaded<LoadedMask>> {
  try {
    const raw = await readReference(reference, 'mask', 'mask', workspace);
    const named = nameInput('mask', reference);
    const header = await readHeader(raw.bytes, named);
    const sharp = await loadSharp();
    const warnings: string[] = [];
    const size = `${header.width}x${header.height}`;
    const mask: LoadedMask = {
      label: raw.label,
      width: header.width,
      height: header.height,
      format: header.format,
      hasAlpha: header.hasAlpha,
      name: uploadName(raw.stem, 'png'),
      type: 'image/png',
      bytes: raw.bytes,
      check: '',
    };
    if (raw.source) mask.source = raw.source;

    if (fromLuminance) {
      const wrongSize = dimensionProblem(header, image1, named);
      if (wrongSize) return { ok: false, problems: [{ field: 'mask', message: wrongSize }] };
      // Transparent pixels count as black (kept), so white strokes on a clear layer work too.
      const { data, info } = await sharp(raw.bytes)
        .flatten({ background: '#000000' })
        .greyscale()
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 1) throw new InputError(`${named} could not be read as black-and-white (${info.channels} channels).`);
      const rgba = alphaMaskFromLuminance(data, info.width, info.height);
      if (!anyFullyTransparent(rgba)) warnings.push(MASK_MARKS_NOTHING);
      mask.bytes = await sharp(Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength), {
        raw: { width: info.width, height: info.height, channels: 4 },
      })
        .png()
        .toBuffer();
      mask.hasAlpha = true;
      if (header.format !== 'png') mask.convertedFrom = header.format;
      mask.check = `converted from black-and-white (white = area to edit) to a PNG with alpha, ${size} like image 1`;
      return { ok: true, value: mask, warnings };
    }

    const problems = maskProblems(header, image1, named);
    if (problems.length > 0) return { ok: false, problems: problems.map((message) => ({ field: 'mask', message })) };
    // Only the alpha channel is decoded (sharp's stats() takes ~15x as long on a 1024x1024 mask).
    const alpha = await sharp(raw.bytes).extractChannel(Math.min(3, header.channels - 1) as 0 | 1 | 2 | 3).raw({ depth: 'uchar' }).toBuffer();
    if (alpha.indexOf(0) < 0) warnings.push(MASK_MARKS_NOTHING);
    mask.check = `PNG with alpha, ${size} like image 1`;
    return { ok: true, value: mask, warnings };
  } catch (error) {
    return failed('mask', error);
  }
}

/** Output targets that already exist as one of the input files (same device and inode). */
export async function targetsThatAreInputs(targets: readonly string[], sources: readonly SourceFile[]): Promise<Array<{ target: string; source: SourceFile }>> {
  const clashes: Array<{ target: string; source: SourceFile }> = [];
  for (const target of targets) {
    let stat;
    try {
      stat = await fs.lstat(target); // a symlink at the target is replaced, not what it points to
    } catch {
      continue;
    }
    const source = sources.find((s) => s.dev === stat.dev && s.ino === stat.ino);
    if (source) clashes.push({ target, source });
  }
  return clashes;
}
