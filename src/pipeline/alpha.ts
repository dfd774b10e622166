/**
 * Alpha in the save step: a chroma_key image is keyed out before it is saved (the API's original
 * kept beside it), and every transparent result is read back from its saved file to show it has an
 * alpha channel and transparent pixels. Nothing silently ends up opaque: when it does, the result
 * says so. Also how the report speaks of transparency.
 */
import type { ApiFailure } from '../core/api-errors.js';
import { parseHexColor } from '../core/chroma-key.js';
import type { ResolvedOptions } from '../core/request.js';
import { chromaKeyNote, keyedSourcePath, percent } from '../core/transparency.js';
import { alphaFacts, cutOut, type Cutout } from '../io/cutout.js';
import type { Workspace } from '../io/workspace.js';
import type { ImageFactsOut } from '../results.js';

type AlphaOut = NonNullable<ImageFactsOut['alpha']>;

/** chroma_key only: the API's image with its key colour turned into alpha (encoded only when keyed). */
export async function keyOutApiImage(bytes: Buffer, options: ResolvedOptions): Promise<Cutout | undefined> {
  const format = options.outputFormat;
  // chroma_key is refused for svg and gif by the normaliser; jpeg has no alpha.
  if (!options.keyColor || (format !== 'png' && format !== 'webp')) return undefined;
  return cutOut(bytes, {
    key: parseHexColor(options.keyColor),
    format,
    quality: options.outputCompression,
  });
}

export interface FinishedAlpha {
  alpha: AlphaOut;
  /** Extra files written (the keyed image's opaque source). */
  files: string[];
  /** Said in the result when the saved file is not transparent after all. */
  problem?: string;
}

/** After saving: keeps the API's original beside a keyed image, then checks the saved file's alpha. */
export async function finishTransparentImage(
  saved: { path: string; apiBytes?: Buffer | undefined; cutout?: Cutout | undefined },
  options: ResolvedOptions,
  workspace: Workspace,
  force: boolean,
): Promise<FinishedAlpha> {
  const strategy = options.transparency ?? 'route';
  const files: string[] = [];
  const alpha: Partial<AlphaOut> = {};
  const { cutout } = saved;
  if (cutout) {
    Object.assign(alpha, { key_color: cutout.keyColor, keyed: cutout.keyed, partial_share: cutout.partialShare });
    if (cutout.keyed && saved.apiBytes) {
      // The cutout is re-encoded; the API's bytes (and their provenance metadata) stay beside it.
      const source = await workspace.saveFile(keyedSourcePath(saved.path), saved.apiBytes, { force });
      alpha.source_path = workspace.relative(source.path);
      files.push(source.path);
    }
  }
  const facts = await alphaFacts(saved.path);
  const out: AlphaOut = { has_alpha: facts.hasAlpha, transparent_share: facts.transparentShare, ...alpha };
  const name = workspace.relative(saved.path);
  let problem: string | undefined;
  if (cutout && !cutout.keyed) {
    problem =
      `${name} is NOT transparent: almost nothing in it matched the key colour ${cutout.keyColor} (${percent(cutout.transparentShare)} of the pixels), ` +
      `so the model did not draw on a flat ${cutout.keyColor} background and the opaque original was saved as it came. ` +
      `Try again (say "flat ${cutout.keyColor} background" in the prompt), pick another key_color, or run remove_background on it with its actual background colour.`;
  } else if (!facts.hasAlpha || facts.transparentShare === 0) {
    problem =
      `${name} is NOT transparent: it has ${facts.hasAlpha ? 'an alpha channel but no transparent pixel' : 'no alpha channel'} although a transparent background was asked (transparency "${strategy}"). ` +
      `Check it before use; transparency "chroma_key" makes the alpha locally.`;
  }
  return problem ? { alpha: out, files, problem } : { alpha: out, files };
}

/** The alpha facts of a saved image, for the result's file line. */
export function describeAlpha(alpha: AlphaOut): string {
  if (!alpha.has_alpha || alpha.transparent_share === 0) return 'NOT transparent';
  const parts = [`${percent(alpha.transparent_share)} transparent`];
  if (alpha.partial_share !== undefined) parts.push(`${percent(alpha.partial_share)} soft edge`);
  if (alpha.key_color) parts.push(`key ${alpha.key_color}`);
  if (alpha.source_path) parts.push(`original ${alpha.source_path}`);
  return parts.join(', ');
}

/** A line saying how the alpha is made, for the result's text (none when the routing note says it). */
export function strategyLine(options: ResolvedOptions): string | undefined {
  if (options.routingNote) return undefined;
  if (options.transparency === 'chroma_key') return chromaKeyNote(options.model, options.keyColor ?? '');
  if (options.transparency === 'native') return `Transparency native: background "transparent" was sent to ${options.model} as it is.`;
  return undefined;
}

/** The result's `transparency` field. */
export function transparencyFacts(options: ResolvedOptions): { strategy: NonNullable<ResolvedOptions['transparency']>; key_color?: string } | undefined {
  if (!options.transparency) return undefined;
  return options.keyColor ? { strategy: options.transparency, key_color: options.keyColor } : { strategy: options.transparency };
}

/** What to do when the model refused native transparency (a 400 about the background). */
export function nativeRefusalHint(options: ResolvedOptions, failure: ApiFailure): string {
  if (options.transparency !== 'native' || failure.kind !== 'http' || failure.status !== 400) return '';
  const aboutBackground = failure.param === 'background' || /transparen/i.test(failure.message ?? '');
  if (!aboutBackground) return '';
  return ` ${options.model} refused a native transparent background. Use transparency "chroma_key" to keep ${options.model} (it draws on a flat key colour that the server turns into alpha), or leave model unset with transparency "route".`;
}
