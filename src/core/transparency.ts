/**
 * How a transparent image is made (README, "Transparent images"), as words and names only: the
 * strategies, the key colour instruction added to the prompt, the notes that explain a fallback,
 * the names of the files a chroma key leaves, and shares of pixels as percentages. The normaliser
 * (request.ts) applies these rules; no I/O here.
 */
import { formatHexColor, keyChroma, MIN_ESTIMATED_KEY_CHROMA, parseHexColor } from './chroma-key.js';
import { DEFAULT_MODEL, TRANSPARENT_TARGET } from './models.js';
import { splitExt, type OutputFormat } from './paths.js';

/**
 * - `route`: the registry's transparent target (gpt-image-1.5) makes the alpha itself;
 * - `chroma_key`: the chosen model draws on a flat key colour, which the server turns into alpha;
 * - `native`: `background: "transparent"` goes to the chosen model as it is.
 */
export const TRANSPARENCY_STRATEGIES = ['route', 'chroma_key', 'native'] as const;
export type TransparencyStrategy = (typeof TRANSPARENCY_STRATEGIES)[number];
export const DEFAULT_TRANSPARENCY: TransparencyStrategy = 'route';

/** The key colour asked of the model unless key_color says otherwise: pure green. */
export const DEFAULT_KEY_COLOR = '#00ff00';

export function parseTransparency(value: string | undefined): TransparencyStrategy | undefined {
  const v = value?.trim().toLowerCase();
  return (TRANSPARENCY_STRATEGIES as readonly string[]).includes(v ?? '') ? (v as TransparencyStrategy) : undefined;
}

/** `#0F0`, `00ff00` … as lower-case `#rrggbb`, or undefined when it is no hex colour. */
export function normaliseKeyColor(value: string): string | undefined {
  const rgb = parseHexColor(value);
  return rgb ? formatHexColor(rgb) : undefined;
}

/** True when the colour is too grey to be told apart from a subject's neutrals (white, black, greys). */
export function isWeakKeyColor(hex: string): boolean {
  const rgb = parseHexColor(hex);
  return rgb !== undefined && keyChroma(rgb) < MIN_ESTIMATED_KEY_CHROMA;
}

/** The one instruction chroma_key adds to the prompt. */
export function keyColorInstruction(hex: string): string {
  return (
    `Background: a perfectly flat, solid ${hex} background filling the whole frame behind the subject ` +
    `(one uniform colour; no gradient, texture, shadow, floor or scenery), and no ${hex} anywhere on the subject itself.`
  );
}

/** The prompt sent for chroma_key: the user's (augmented) prompt, then the key instruction. */
export function withKeyColorInstruction(prompt: string, hex: string): string {
  return `${prompt}\n\n${keyColorInstruction(hex)}`;
}

// Notes: one sentence each, saying which model made the image and why.

export function routedNote(): string {
  return `Transparent backgrounds are not supported by ${DEFAULT_MODEL}, the latest model, so ${TRANSPARENT_TARGET} was used.`;
}

export function retiredTargetNote(shutDown: string, model: string, hex: string): string {
  return `${TRANSPARENT_TARGET}, where transparent requests used to go, was shut down on ${shutDown}, so ${model} drew the image on a flat ${hex} background and the server turned that colour into alpha (transparency "chroma_key").`;
}

export function notFoundNote(model: string, hex: string): string {
  return `${TRANSPARENT_TARGET} is not available to this key (the API answered 404, model not found), so ${model} drew the image on a flat ${hex} background and the server turned that colour into alpha (transparency "chroma_key").`;
}

export function chromaKeyNote(model: string, hex: string): string {
  return `Transparency by chroma key: ${model} drew the image on a flat ${hex} background and the server turned that colour into alpha.`;
}

/** A share of pixels as a percentage: `0.25` → `25.0%`; a share under 0.1% keeps two decimals, so it does not read as none. */
export function percent(share: number): string {
  return `${(share * 100).toFixed(share > 0 && share < 0.001 ? 2 : 1)}%`;
}

// Files a chroma key leaves.

/** Where the API's opaque original is kept beside a keyed image: `hero.png` → `hero-keyed-source.png`. */
export function keyedSourcePath(file: string): string {
  const { stem, ext } = splitExt(file);
  return `${stem}-keyed-source${ext}`;
}

/** remove_background's default output, beside its input: `art/logo.jpg` → `art/logo-cutout.png`. */
export function cutoutPath(input: string, format: Extract<OutputFormat, 'png' | 'webp'>): string {
  return `${splitExt(input).stem}-cutout.${format}`;
}
