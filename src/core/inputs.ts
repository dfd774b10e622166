/**
 * Rules for edit inputs that need no I/O: what an input reference is, data: URL parsing, size and
 * count limits, which formats go as they are and which are converted, the mask checks, the
 * luminance-to-alpha conversion, and the lines that describe inputs in a result.
 */
import { fileURLToPath } from 'node:url';
import { mimeTypeOf } from './formats.js';
import { inputStem } from './paths.js';

export const MAX_INPUT_IMAGES = 16;
/** Per input file (the API takes files under 50 MB). */
export const MAX_INPUT_BYTES = 50 * 1024 * 1024;
/**
 * The largest JSON-RPC message the server reads: the MCP SDK's stdio limit, which common clients
 * share. A larger message is refused (and the server goes on serving).
 */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
/**
 * Decoded size of a data: URL input. It travels inside the JSON-RPC message as base64 (4
 * characters per 3 bytes), so 7 MiB of image is 9.33 MiB of text, leaving 0.67 MiB of the
 * message for the prompt and the other arguments. Several data: URLs in one call share the
 * message: together they must stay under MAX_MESSAGE_BYTES.
 */
export const MAX_DATA_URL_BYTES = 7 * 1024 * 1024;

const WHERE_INPUTS_COME_FROM = 'a path inside the workspace, a file:// URI inside it, or a data: URL';

export type InputReference = { kind: 'data' } | { kind: 'path' } | { kind: 'web'; scheme: string };

/** A data: URL, a web URL (refused: the server fetches nothing), or a path / file:// URI. */
export function classifyInput(reference: string): InputReference {
  const trimmed = reference.trim();
  if (/^data:/i.test(trimmed)) return { kind: 'data' };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme && scheme !== 'file') return { kind: 'web', scheme };
  return { kind: 'path' };
}

export function webUrlProblem(what: string, reference: string): string {
  return `${nameInput(what, reference)} is a web URL; this server reads no URLs. Download the image into the workspace and give its path, or pass it as a data: URL.`;
}

export type DataUrl = { ok: true; mediaType: string; bytes: Buffer } | { ok: false; reason: string };

/**
 * Decodes a base64 `data:` URL. The decoded size is checked from the text's length before
 * anything is decoded, so an oversized URL costs no memory.
 */
export function parseDataUrl(url: string, maxBytes = MAX_DATA_URL_BYTES): DataUrl {
  const comma = url.indexOf(',');
  const header = comma < 0 ? '' : url.slice(0, comma).trim();
  if (comma < 0 || !/^data:/i.test(header)) {
    return { ok: false, reason: 'is not a valid data: URL (expected data:image/png;base64,...)' };
  }
  const [mediaType = '', ...params] = header.slice('data:'.length).split(';');
  if (!params.some((p) => p.trim().toLowerCase() === 'base64')) {
    return { ok: false, reason: 'is a data: URL that is not base64-encoded: encode the image as data:image/png;base64,...' };
  }
  const text = url.slice(comma + 1).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) {
    return { ok: false, reason: 'is a data: URL whose base64 text is damaged (characters outside the base64 alphabet)' };
  }
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const decodedBytes = Math.floor((text.length * 3) / 4) - padding;
  if (decodedBytes > maxBytes) {
    return {
      ok: false,
      reason: `is a data: URL of ${formatMiB(decodedBytes)}, over the ${formatMiB(maxBytes)} limit for data: URLs: save the image in the workspace and give its path`,
    };
  }
  return { ok: true, mediaType: mediaType.trim().toLowerCase(), bytes: Buffer.from(text, 'base64') };
}

function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The refusal for a file over the per-input limit, checked from its size before it is read. */
export function tooLargeProblem(what: string, bytes: number, maxBytes = MAX_INPUT_BYTES): string | undefined {
  if (bytes <= maxBytes) return undefined;
  return `${what} is ${formatMiB(bytes)}; each input may be at most ${formatMiB(maxBytes)}. Downscale it or save it as jpeg or webp first.`;
}

/** The stem of the first input, for the default output name `<stem>-edit.<ext>`. */
export function inputStemOf(reference: string): string {
  const ref = reference.trim();
  const kind = classifyInput(ref).kind;
  if (kind !== 'path') return 'image';
  let file = ref;
  if (/^file:\/\//i.test(ref)) {
    try {
      file = fileURLToPath(ref);
    } catch {
      return 'image';
    }
  }
  return inputStem(file);
}

export type UploadFormat = 'png' | 'jpeg' | 'webp';

export type InputHandling =
  | { kind: 'as-is'; format: UploadFormat; mimeType: string }
  /** A format sharp reads but the API does not: converted to png before upload. */
  | { kind: 'convert'; from: string }
  | { kind: 'refuse'; reason: string };

const CONVERTIBLE = new Set(['gif', 'tiff', 'heif', 'avif']);

/**
 * What happens to an input of a given format (sharp's name for it). Formats beyond the listed
 * ones (svg, pdf ...) are refused rather than rendered: an SVG can pull in other files.
 */
export function inputHandling(format: string): InputHandling {
  if (format === 'png' || format === 'jpeg' || format === 'webp') {
    return { kind: 'as-is', format, mimeType: mimeTypeOf(format) };
  }
  if (CONVERTIBLE.has(format)) return { kind: 'convert', from: format };
  return {
    kind: 'refuse',
    reason: `is ${format}, which the Images API does not take: give png, jpeg or webp (gif, tiff, avif and heif are converted to png for you)`,
  };
}

/** The file name an upload carries: the input's stem with the extension of what is sent. */
export function uploadName(stem: string, format: UploadFormat): string {
  return `${stem || 'image'}.${format === 'jpeg' ? 'jpg' : format}`;
}

export interface Dimensions {
  width: number;
  height: number;
}

export interface MaskFacts extends Dimensions {
  format: string;
  hasAlpha: boolean;
}

const LUMINANCE_HINT =
  'or, for a black-and-white mask (white = area to edit), set mask_from_luminance: true to convert it';

/**
 * Problems with a mask as given (not converted): it must be a PNG with an alpha channel and
 * exactly image 1's dimensions. Fully transparent pixels mark the area to edit.
 */
export function maskProblems(mask: MaskFacts, image1: Dimensions, name = 'mask'): string[] {
  const problems: string[] = [];
  if (mask.format !== 'png') {
    problems.push(`${name} is ${mask.format}; a mask must be a PNG with an alpha channel. Export it as PNG with transparency where the image should change, ${LUMINANCE_HINT}.`);
  } else if (!mask.hasAlpha) {
    problems.push(`${name} has no alpha channel; a mask must be a PNG whose fully transparent pixels mark the area to edit. Add transparency there, ${LUMINANCE_HINT}.`);
  }
  const size = dimensionProblem(mask, image1, name);
  if (size) problems.push(size);
  return problems;
}

/** The mask's size must equal image 1's: nothing is resized, since that would move the marked area. */
export function dimensionProblem(mask: Dimensions, image1: Dimensions, name = 'mask'): string | undefined {
  if (mask.width === image1.width && mask.height === image1.height) return undefined;
  return `${name} is ${mask.width}x${mask.height}, image 1 is ${image1.width}x${image1.height}: the mask must have exactly the first image's dimensions. Resize or redraw the mask at ${image1.width}x${image1.height} (it is not resized for you).`;
}

/**
 * A black-and-white mask (one grey value per pixel) as RGBA where alpha = 255 - luminance: white
 * (the area to edit) becomes fully transparent, black stays opaque, greys in between.
 */
export function alphaMaskFromLuminance(grey: Uint8Array, width: number, height: number): Uint8Array {
  const pixels = width * height;
  if (grey.length !== pixels) throw new RangeError(`expected ${pixels} grey values, got ${grey.length}`);
  const rgba = new Uint8Array(pixels * 4);
  for (let i = 0, o = 0; i < pixels; i++, o += 4) {
    const l = grey[i]!;
    rgba[o] = l;
    rgba[o + 1] = l;
    rgba[o + 2] = l;
    rgba[o + 3] = 255 - l;
  }
  return rgba;
}

/** Said when a mask has no fully transparent pixel: it then marks nothing to edit. */
export const MASK_MARKS_NOTHING =
  'The mask has no fully transparent pixel, so it marks no area to edit. Make the area to change transparent (or white, with mask_from_luminance).';

/** Warnings for an input_images text that names images that were not given ("Image 3" of 2). */
export function inputRoleWarnings(roles: string | undefined, count: number): string[] {
  if (!roles) return [];
  const named = new Set<number>();
  for (const match of roles.matchAll(/\bimage\s*#?\s*(\d+)/gi)) named.add(Number(match[1]));
  const missing = [...named].filter((n) => n < 1 || n > count).sort((a, b) => a - b);
  if (missing.length === 0) return [];
  return [
    `input_images names ${missing.map((n) => `Image ${n}`).join(', ')}, but ${count} image${count === 1 ? ' was' : 's were'} given (Image 1 to Image ${count}, in the order of images).`,
  ];
}

export interface DescribedInput extends Dimensions {
  label: string;
  /** The format read (before any conversion). */
  format: string;
  convertedFrom?: string | undefined;
  /** More than one frame or page: only the first was used. */
  pages?: number | undefined;
}

/** `Image 2: art/anim.gif (512x512 gif, converted to png; first frame only)`. */
export function inputLine(index: number, input: DescribedInput): string {
  const extra = input.convertedFrom
    ? `, converted to png${input.pages && input.pages > 1 ? `; first of ${input.pages} frames only` : ''}`
    : '';
  return `Image ${index + 1}: ${input.label} (${input.width}x${input.height} ${input.convertedFrom ?? input.format}${extra})`;
}

/**
 * An input may be overwritten only when `out` names it and `force` is set: a single output file,
 * named by the user. Default names, out_dir and numbered variants never replace an input.
 */
export function inputOverwriteProblem(
  target: string,
  input: string,
  options: { force: boolean; outGiven: boolean; n: number },
): string | undefined {
  if (!options.force) return undefined; // a versioned sibling is written instead
  if (options.outGiven && options.n === 1) return undefined;
  const same = target === input ? '' : ` (the same file as ${input})`;
  return `${target} is one of the input images${same}, and force would overwrite it. An input is overwritten only when out names it (with n = 1) and force is set; choose another out or out_dir, or drop force to get a versioned sibling.`;
}

/**
 * How messages name an input: `image 2 "shots/a.png"`, or `image 2 (a data: URL)` (never the
 * URL's text, which may be megabytes long).
 */
export function nameInput(what: string, reference: string): string {
  const trimmed = reference.trim();
  if (classifyInput(trimmed).kind === 'data') return `${what} (a data: URL)`;
  return `${what} "${trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed}"`;
}

/** The fix for a reference that names no file. */
export const INPUT_SOURCES_HINT = `Inputs are ${WHERE_INPUTS_COME_FROM}; relative paths start at the workspace root.`;

/** True when some pixel of RGBA data is fully transparent (so a mask marks something to edit). */
export function anyFullyTransparent(rgba: Uint8Array): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] === 0) return true;
  return false;
}
