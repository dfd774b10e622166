/**
 * The sharp side of the chroma key: decode to raw RGBA, run the pure pixel pass
 * (core/chroma-key.ts), encode png or webp; and the alpha check of a saved file.
 */
import { chromaKey, formatHexColor, type Rgb } from '../core/chroma-key.js';
import { loadSharp } from './images.js';

export type CutoutFormat = 'png' | 'webp';

export interface CutoutOptions {
  /** The key colour; without it, the median of the image's border. */
  key?: Rgb | undefined;
  format: CutoutFormat;
  /** webp quality 0-100 (default 90); png is lossless. */
  quality?: number | undefined;
  contract?: number | undefined;
  feather?: number | undefined;
}

export interface Cutout {
  width: number;
  height: number;
  /** The key used, as `#rrggbb`. */
  keyColor: string;
  keyGiven: boolean;
  transparentShare: number;
  partialShare: number;
  borderTransparentShare: number;
  /** false when almost nothing matched the key: then no image is encoded. */
  keyed: boolean;
  /** The encoded cutout, when keyed. */
  bytes?: Buffer;
  /** Time spent in the pixel pass alone. */
  passMs: number;
}

const WEBP_QUALITY = 90;

/** Turns the key colour of an image into alpha. Existing transparency in the input is kept. */
export async function cutOut(input: Buffer, options: CutoutOptions): Promise<Cutout> {
  const sharp = await loadSharp();
  const { data, info } = await sharp(input)
    .autoOrient()
    .toColourspace('srgb')
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const rgba = new Uint8Array(data.buffer, data.byteOffset, data.length);
  const started = performance.now();
  const result = chromaKey(rgba, width, height, {
    ...(options.key ? { key: options.key } : {}),
    ...(options.contract ? { contract: options.contract } : {}),
    ...(options.feather ? { feather: options.feather } : {}),
  });
  const passMs = performance.now() - started;
  let { transparentShare, partialShare } = result;
  if (hasTransparency(rgba)) ({ transparentShare, partialShare } = keepInputAlpha(result.rgba, rgba));

  const cutout: Cutout = {
    width,
    height,
    keyColor: formatHexColor(result.key),
    keyGiven: options.key !== undefined,
    transparentShare,
    partialShare,
    borderTransparentShare: result.borderTransparentShare,
    keyed: result.keyed,
    passMs,
  };
  if (result.keyed) {
    clearHiddenColour(result.rgba);
    const raw = sharp(Buffer.from(result.rgba.buffer, result.rgba.byteOffset, result.rgba.length), {
      raw: { width, height, channels: 4 },
    });
    cutout.bytes = await (options.format === 'webp'
      ? raw.webp({ quality: options.quality ?? WEBP_QUALITY, alphaQuality: 100 })
      : raw.png()
    ).toBuffer();
  }
  return cutout;
}

/**
 * Fully transparent pixels keep no colour: the leftover background noise is invisible but would
 * cost file size and encoding time (about half of it on a 3824x2160 PNG).
 */
function clearHiddenColour(rgba: Uint8Array): void {
  if (rgba.byteOffset % 4 !== 0) {
    for (let p = 0; p < rgba.length; p += 4) if (rgba[p + 3] === 0) rgba[p] = rgba[p + 1] = rgba[p + 2] = 0;
    return;
  }
  const words = new Uint32Array(rgba.buffer, rgba.byteOffset, rgba.length >> 2);
  const alphaMask = new Uint8Array(new Uint32Array([0xff000000]).buffer)[3] === 0xff ? 0xff000000 : 0x000000ff;
  for (let i = 0; i < words.length; i++) if ((words[i]! & alphaMask) === 0) words[i] = 0;
}

function hasTransparency(rgba: Uint8Array): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i]! < 255) return true;
  return false;
}

/** An input that already had alpha keeps it: the result's alpha is the smaller of the two. */
function keepInputAlpha(out: Uint8Array, input: Uint8Array): { transparentShare: number; partialShare: number } {
  let transparent = 0;
  let partial = 0;
  for (let i = 3; i < out.length; i += 4) {
    const a = Math.min(out[i]!, input[i]!);
    out[i] = a;
    if (a === 0) transparent++;
    else if (a < 255) partial++;
  }
  const n = out.length / 4;
  return { transparentShare: transparent / n, partialShare: partial / n };
}

export interface AlphaFacts {
  hasAlpha: boolean;
  /** Share of pixels with alpha 0 (0 when there is no alpha channel). */
  transparentShare: number;
}

/** Reads a saved image back: does it have an alpha channel, and how much of it is fully transparent? */
export async function alphaFacts(file: string | Buffer): Promise<AlphaFacts> {
  const sharp = await loadSharp();
  const meta = await sharp(file).metadata();
  if (!meta.hasAlpha) return { hasAlpha: false, transparentShare: 0 };
  const alpha = await sharp(file).extractChannel('alpha').raw({ depth: 'uchar' }).toBuffer();
  let clear = 0;
  for (let i = 0; i < alpha.length; i++) if (alpha[i] === 0) clear++;
  return { hasAlpha: true, transparentShare: alpha.length > 0 ? clear / alpha.length : 0 };
}
