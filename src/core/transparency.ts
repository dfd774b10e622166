/**
 * How a transparent image is made (README, "Transparent images"), as words and names only: the
 * strategies, the key colour instruction added to the prompt, the notes that explain a fallback,
 * the names of the files a chroma key leaves, and shares of pixels as percentages. The normaliser
 * (request.ts) applies these rules; no I/O here.
 */
import { formatHexColor, keyChroma, MIN_ESTIMATED_KEY_CHROMA, parseHexColor } from './chroma-key.js';
import { DEFAULT_MODEL } from './models.js';
import { splitExt, type OutputFormat } from './paths.js';

/**
 * - `route`: a model that makes alpha itself (the registry's dated transparent route, see models.ts),
 *   passing to the next target on a 404 or a "not supported", and chroma_key as the last resort;
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

/** Why a target of the transparent route was passed over. */
export type RouteSkip =
  | { model: string; why: 'retired'; shutDown: string }
  | { model: string; why: 'not_found' }
  | { model: string; why: 'unsupported' };

/** A step of the route: a model making the alpha itself, or chroma_key on a model. */
export interface RouteStepName {
  model: string;
  strategy: TransparencyStrategy;
  keyColor?: string | undefined;
}

function skipText(skip: RouteSkip): string {
  switch (skip.why) {
    case 'retired':
      return `${skip.model} was shut down on ${skip.shutDown}`;
    case 'not_found':
      return `${skip.model} is not available to this key (the API answered 404, model not found)`;
    case 'unsupported':
      return `${skip.model} answered that it does not support transparent backgrounds (400)`;
  }
}

function joinAnd(parts: readonly string[]): string {
  if (parts.length <= 2) return parts.join(' and ');
  return `${parts.slice(0, -1).join(', ')}, and ${parts[parts.length - 1]}`;
}

/** Every passed-over target, in order, as one clause. */
export function describeSkips(skipped: readonly RouteSkip[]): string {
  return joinAnd(skipped.map(skipText));
}

/** How a step is named in failures: the model, or chroma_key on it. */
export function stepName(step: RouteStepName): string {
  return step.strategy === 'chroma_key' ? `transparency "chroma_key" on ${step.model}` : step.model;
}

/**
 * The one sentence a routed transparent request carries: which model made the alpha, and why
 * (the default model does not make transparent backgrounds; earlier targets were passed over).
 */
export function routeNote(step: RouteStepName, skipped: readonly RouteSkip[]): string {
  const why = skipped.length > 0 ? describeSkips(skipped) : `Transparent backgrounds are not supported by ${DEFAULT_MODEL}, the default model`;
  if (step.strategy === 'chroma_key') {
    const hex = step.keyColor ?? DEFAULT_KEY_COLOR;
    return `${why}, so ${step.model} drew the image on a flat ${hex} background and the server turned that colour into alpha (transparency "chroma_key").`;
  }
  return `${why}, so ${step.model} was used (it makes the alpha itself).`;
}

/** Opens the error of a route whose every step failed: each step named, in order. */
export function routeFailurePrefix(step: RouteStepName, skipped: readonly RouteSkip[]): string {
  return `${describeSkips(skipped)}, and the next step of the transparent route, ${stepName(step)}, failed too: `;
}

/** A fallback step that the spending cap holds back. */
export function routeCapRefusal(step: RouteStepName, skipped: readonly RouteSkip[], refusal: string): string {
  return `${describeSkips(skipped)}, so the request would be redone with ${stepName(step)}, but: ${refusal}`;
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
