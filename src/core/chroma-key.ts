/**
 * Chroma key: turn an image generated on a flat key colour (default #00ff00) into a
 * transparent cutout (`transparency: "chroma_key"`; README, "Transparent images").
 *
 * PURE module: works on raw interleaved RGBA bytes (what
 * `sharp(x).ensureAlpha().raw().toBuffer({ resolveWithObject: true })` gives). No fs, no
 * network, no sharp.
 *
 * Pipeline (typed arrays only, no per-pixel allocation; optional steps run only when asked):
 *   1. alpha pass, one loop over all pixels: colour distance to the key -> alpha through a
 *      linear ramp (lookup table indexed by the squared distance, so no sqrt per pixel);
 *      non-opaque pixels are despilled in the same loop, opaque pixels that carry some key
 *      cast are remembered.
 *   2. edge unmixing (default on): silhouette pixels get alpha and colour from unmixing them
 *      against a nearby opaque subject pixel (see unmixEdges); work is spent only on edges.
 *   3. contract (optional): grey-scale erosion (min filter) of the alpha map.
 *   4. feather (optional): box blur of the alpha map, applied inwards only (min with the
 *      unblurred alpha) so the matte never grows onto keyed-out pixels.
 *   5. despill of the remembered opaque pixels that sit near the edge (within
 *      DESPILL_EDGE_RADIUS px of a non-opaque pixel), so interior colours stay untouched.
 */

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

export interface ChromaKeyOptions {
  /** Key colour; default: estimateBorderKey(...) (median of the outer border). */
  key?: Rgb;
  /** Colour distance at or under which alpha = 0. Default DEFAULT_TRANSPARENT_BELOW. */
  transparentBelow?: number;
  /**
   * Colour distance at or over which alpha = 255; linear ramp in between. Default
   * DEFAULT_OPAQUE_ABOVE. (Silhouette pixels are then refined by unmixEdges.)
   */
  opaqueAbove?: number;
  /** Remove the key's colour cast from non-opaque and near-edge pixels. Default true. */
  despill?: boolean;
  /**
   * Re-estimate alpha (and, with despill, colour) of silhouette pixels by unmixing them against
   * a nearby opaque subject pixel, instead of trusting the distance ramp alone. Default true.
   */
  unmixEdges?: boolean;
  /** Edge contraction in px (erodes alpha; rounded to whole px). Default 0. */
  contract?: number;
  /** Feather radius in px (softens the alpha edge inwards; rounded to whole px). Default 0. */
  feather?: number;
}

export interface ChromaKeyResult {
  /** New buffer, same size as the input, with alpha written (the input is not mutated). */
  rgba: Uint8Array;
  /** The key that was used (given or estimated). */
  key: Rgb;
  /** Share of pixels with alpha 0 (0..1). */
  transparentShare: number;
  /** Share of pixels with 0 < alpha < 255 (0..1). */
  partialShare: number;
  /** Share of the outer border frame (BORDER_FRAME_PX wide) with alpha 0 (0..1). */
  borderTransparentShare: number;
  /**
   * false when the key colour was evidently not there: fewer than MIN_KEYED_SHARE of all
   * pixels, or fewer than MIN_BORDER_KEYED_SHARE of the border frame, were keyed out, or the
   * key was estimated and is not a saturated colour (MIN_ESTIMATED_KEY_CHROMA): the model
   * ignored the key-colour instruction, or the border is no flat key background.
   */
  keyed: boolean;
}

/** Default key colour asked of the model. */
export const DEFAULT_KEY_COLOR: Rgb = Object.freeze({ r: 0, g: 255, b: 0 });

/**
 * Default distances, in the weighted-YCbCr distance below (8-bit scale; pure green to mid grey
 * is ~137, to white ~146, to black ~155, to red ~240, to magenta ~275).
 *
 * - transparentBelow 40: a generated "flat" background is never perfectly flat (vignettes,
 *   soft gradients, compression noise). A drift such as #00ff00 -> #14eb19 is ~23 and a light
 *   lime #3cff3c ~34, so 40 clears the background with margin while staying far below any
 *   neutral, skin or warm subject colour (>= ~130).
 * - opaqueAbove 100: an anti-aliased edge pixel that is a mix a*F + (1-a)*K has distance
 *   exactly a*D(F); with 40..100 a grey subject's 50% edge pixel gets alpha ~0.47, and every
 *   subject colour at distance >= 100 (all neutrals, skin, reds, blues, yellows) is fully
 *   opaque inside. Colours within 100 of the key (yellow-greens, dark greens, shadows on the
 *   key) come out partly transparent, which is the right answer for cast shadows and the
 *   unavoidable cost for subjects that resemble the key.
 */
export const DEFAULT_TRANSPARENT_BELOW = 40;
export const DEFAULT_OPAQUE_ABOVE = 100;

/** keyed is false under this share of fully transparent pixels. */
export const MIN_KEYED_SHARE = 0.01;
/** keyed is false under this share of fully transparent pixels in the border frame. */
export const MIN_BORDER_KEYED_SHARE = 0.25;
/**
 * An estimated key (none given) must look like a chroma key: its CbCr distance from grey must
 * reach this (pure green ~136, blue ~129, magenta ~152, #3cc83c ~75). A washed-out median of a
 * photo's border is no key, so such an image reports keyed: false.
 */
export const MIN_ESTIMATED_KEY_CHROMA = 60;
/** Width of the outer frame sampled for the key estimate and the border share. */
export const BORDER_FRAME_PX = 2;
/** Opaque pixels with key cast within this many px of a non-opaque pixel are despilled. */
export const DESPILL_EDGE_RADIUS = 2;
/** A key whose max-min channel spread is under this has no dominant hue: despill is off. */
const MIN_KEY_SPREAD_FOR_DESPILL = 48;

// ---------------------------------------------------------------------------------------------
// Colour parsing / formatting

const HEX6 = /^#?([0-9a-fA-F]{6})$/;
const HEX3 = /^#?([0-9a-fA-F]{3})$/;

/** Parses '#00ff00', '00FF00', '#0f0', '0f0' (surrounding whitespace allowed). */
export function parseHexColor(text: string): Rgb | undefined {
  if (typeof text !== 'string') return undefined;
  const t = text.trim();
  const m6 = HEX6.exec(t);
  if (m6) {
    const v = Number.parseInt(m6[1]!, 16);
    return { r: (v >> 16) & 255, g: (v >> 8) & 255, b: v & 255 };
  }
  const m3 = HEX3.exec(t);
  if (m3) {
    const s = m3[1]!;
    const nib = (i: number): number => Number.parseInt(s[i]!, 16) * 17;
    return { r: nib(0), g: nib(1), b: nib(2) };
  }
  return undefined;
}

function clampByte(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Formats as lower-case '#rrggbb' (channels clamped to 0..255 and rounded). */
export function formatHexColor(c: Rgb): string {
  const h = (v: number): string => clampByte(v).toString(16).padStart(2, '0');
  return `#${h(c.r)}${h(c.g)}${h(c.b)}`;
}

// ---------------------------------------------------------------------------------------------
// Border

function checkImage(rgba: Uint8Array, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`chroma key: bad image size ${width}x${height}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new RangeError(
      `chroma key: expected ${width * height * 4} RGBA bytes for ${width}x${height}, got ${rgba.length}`,
    );
  }
}

/** Calls fn(pixelIndex) once for each pixel of the outer frame (BORDER_FRAME_PX wide). */
function forEachBorderPixel(width: number, height: number, fn: (i: number) => void): void {
  const fy = Math.min(BORDER_FRAME_PX, Math.ceil(height / 2));
  const fx = Math.min(BORDER_FRAME_PX, Math.ceil(width / 2));
  for (let y = 0; y < height; y++) {
    const row = y * width;
    if (y < fy || y >= height - fy) {
      for (let x = 0; x < width; x++) fn(row + x);
    } else {
      for (let x = 0; x < fx; x++) fn(row + x);
      for (let x = Math.max(fx, width - fx); x < width; x++) fn(row + x);
    }
  }
}

function medianOfHistogram(hist: Uint32Array, count: number): number {
  const half = (count - 1) >> 1; // lower median
  let seen = 0;
  for (let v = 0; v < 256; v++) {
    seen += hist[v]!;
    if (seen > half) return v;
  }
  return 255;
}

/** Per-channel median of the outer border frame (BORDER_FRAME_PX wide). */
export function estimateBorderKey(rgba: Uint8Array, width: number, height: number): Rgb {
  checkImage(rgba, width, height);
  const hr = new Uint32Array(256);
  const hg = new Uint32Array(256);
  const hb = new Uint32Array(256);
  let count = 0;
  forEachBorderPixel(width, height, (i) => {
    const p = i * 4;
    hr[rgba[p]!]!++;
    hg[rgba[p + 1]!]!++;
    hb[rgba[p + 2]!]!++;
    count++;
  });
  return {
    r: medianOfHistogram(hr, count),
    g: medianOfHistogram(hg, count),
    b: medianOfHistogram(hb, count),
  };
}

// ---------------------------------------------------------------------------------------------
// Distance
//
// Weighted YCbCr (BT.601) distance on the RGB difference to the key:
//   d^2 = LUMA_WEIGHT * dY^2 + dCb^2 + dCr^2
// Chroma carries the separation that matters (a saturated key sits ~136 away from every
// neutral in CbCr alone), while brightness drift of the generated background (vignettes,
// soft lighting, noise) mostly moves luma, which is down-weighted so it does not leave a dirty
// half-transparent background. Luma is not dropped entirely (pure CbCr would treat a darker or
// lighter shade of a weakly saturated key as the key). Being a norm of a linear transform of
// the RGB difference, the distance of a blend a*F + (1-a)*K is exactly a*d(F), so a linear
// ramp keeps alpha proportional to edge coverage. Squared distance + a lookup table avoids sqrt.

const LUMA_WEIGHT = 0.25;
const YW = Math.sqrt(LUMA_WEIGHT);
const Y_R = 0.299 * YW;
const Y_G = 0.587 * YW;
const Y_B = 0.114 * YW;
const CB_R = -0.168736;
const CB_G = -0.331264;
const CB_B = 0.5;
const CR_R = 0.5;
const CR_G = -0.418688;
const CR_B = -0.081312;
/** Upper bound of d^2 for 8-bit inputs (each term's coefficients sum to at most 1 in |.|). */
const MAX_D2 = 255 * 255 * (2 + LUMA_WEIGHT);

/** Colour distance between two colours in the keyer's metric (for callers and tests). */
export function keyDistance(a: Rgb, b: Rgb): number {
  const dr = a.r - b.r;
  const dg = a.g - b.g;
  const db = a.b - b.b;
  const y = Y_R * dr + Y_G * dg + Y_B * db;
  const cb = CB_R * dr + CB_G * dg + CB_B * db;
  const cr = CR_R * dr + CR_G * dg + CR_B * db;
  return Math.sqrt(y * y + cb * cb + cr * cr);
}

/** CbCr distance of a colour from grey (its saturation in the keyer's metric). */
export function keyChroma(c: Rgb): number {
  const cb = CB_R * c.r + CB_G * c.g + CB_B * c.b;
  const cr = CR_R * c.r + CR_G * c.g + CR_B * c.b;
  return Math.sqrt(cb * cb + cr * cr);
}

/** Ramp lookup table: entry i is the alpha for squared distance i (linear in d from t0 to t1). */
function buildRamp(t0: number, t1: number): Uint8Array {
  const size = Math.min(Math.ceil(t1 * t1), Math.ceil(MAX_D2) + 1) + 1;
  const lut = new Uint8Array(size);
  const span = t1 - t0;
  for (let i = 0; i < size; i++) {
    const d = Math.sqrt(i);
    lut[i] = d <= t0 ? 0 : span <= 0 || d >= t1 ? 255 : Math.round((255 * (d - t0)) / span);
  }
  return lut;
}

// ---------------------------------------------------------------------------------------------
// Despill
//
// The key's cast is the excess of its dominant channel(s):
//   mode 1, one dominant channel c (green, blue, red keys): spill = p[c] - max(other two);
//           despill clamps p[c] to max(other two).
//   mode 2, two dominant channels h1, h2 over a low one l (magenta, cyan, yellow keys):
//           spill = min(p[h1], p[h2]) - p[l]; despill subtracts it from both h1 and h2.
//   mode 0, key without a dominant hue (greys): no despill.

interface Despill {
  mode: 0 | 1 | 2;
  /** mode 1: dominant, other, other. mode 2: high, high, low. Channel offsets 0..2. */
  a: number;
  b: number;
  c: number;
}

function despillFor(key: Rgb): Despill {
  const ch = [
    { o: 0, v: key.r },
    { o: 1, v: key.g },
    { o: 2, v: key.b },
  ].sort((x, y) => y.v - x.v);
  const hi = ch[0]!;
  const mid = ch[1]!;
  const lo = ch[2]!;
  if (hi.v - lo.v < MIN_KEY_SPREAD_FOR_DESPILL) return { mode: 0, a: 0, b: 1, c: 2 };
  if (hi.v - mid.v >= mid.v - lo.v) return { mode: 1, a: hi.o, b: mid.o, c: lo.o };
  return { mode: 2, a: hi.o, b: mid.o, c: lo.o };
}

function despillAt(px: Uint8Array, p: number, ds: Despill): void {
  if (ds.mode === 1) {
    const o1 = px[p + ds.b]!;
    const o2 = px[p + ds.c]!;
    const m = o1 > o2 ? o1 : o2;
    if (px[p + ds.a]! > m) px[p + ds.a] = m;
  } else if (ds.mode === 2) {
    const h1 = px[p + ds.a]!;
    const h2 = px[p + ds.b]!;
    const s = (h1 < h2 ? h1 : h2) - px[p + ds.c]!;
    if (s > 0) {
      px[p + ds.a] = h1 - s;
      px[p + ds.b] = h2 - s;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Alpha-map filters (only run when asked)

/** Up to this radius, erosion runs as r rounds of cheap 3x3 min passes. */
const ERODE_ITERATE_MAX_R = 2;

/** 3-tap min along rows (edges replicated): dst[x] = min(src[x-1], src[x], src[x+1]). */
function min3Rows(src: Uint8Array, dst: Uint8Array, width: number, height: number): void {
  for (let y = 0; y < height; y++) {
    const o = y * width;
    const end = o + width - 1;
    let prev = src[o]!;
    let cur = prev;
    for (let i = o; i < end; i++) {
      const next = src[i + 1]!;
      let m = prev < cur ? prev : cur;
      if (next < m) m = next;
      dst[i] = m;
      prev = cur;
      cur = next;
    }
    dst[end] = prev < cur ? prev : cur;
  }
}

/** 3-tap min along columns (edges replicated), reading rows contiguously. */
function min3Cols(src: Uint8Array, dst: Uint8Array, width: number, height: number): void {
  for (let y = 0; y < height; y++) {
    const o = y * width;
    const up = (y > 0 ? y - 1 : 0) * width;
    const dn = (y < height - 1 ? y + 1 : y) * width;
    for (let x = 0; x < width; x++) {
      const a = src[up + x]!;
      const b = src[o + x]!;
      const c = src[dn + x]!;
      let m = a < b ? a : b;
      if (c < m) m = c;
      dst[o + x] = m;
    }
  }
}

/**
 * Grey-scale erosion with a (2r+1)^2 square; outside the image counts as the nearest edge
 * pixel, so the image border is not treated as an edge. Radii 1-2 (the usual) run as
 * r rounds of 3x3 (a square eroded by a square is the bigger square); larger ones use van
 * Herk / Gil-Werman, O(1) per pixel.
 */
function erode(alpha: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r > ERODE_ITERATE_MAX_R) return erodeVHGW(alpha, width, height, r);
  const tmp = new Uint8Array(alpha.length);
  const bufA = new Uint8Array(alpha.length);
  const bufB = r > 1 ? new Uint8Array(alpha.length) : bufA;
  let src: Uint8Array = alpha;
  for (let k = 0; k < r; k++) {
    const dst = k & 1 ? bufB : bufA;
    min3Rows(src, tmp, width, height);
    min3Cols(tmp, dst, width, height);
    src = dst;
  }
  return src;
}

/**
 * Grey-scale erosion with a (2r+1)^2 square (separable min filter), any radius.
 * van Herk / Gil-Werman: with the line padded by r replicated samples on each side, every
 * window has exactly k = 2r+1 samples and min(window) = min(suffixMin[start], prefixMin[end])
 * over blocks of k: O(1) per pixel whatever r. The vertical pass runs row by row so memory is
 * read contiguously.
 */
function erodeVHGW(alpha: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const k = 2 * r + 1;
  const tmp = new Uint8Array(alpha.length);
  const out = new Uint8Array(alpha.length);

  // Horizontal.
  const pw = width + 2 * r;
  const pad = new Uint8Array(pw);
  const g = new Uint8Array(pw);
  const h = new Uint8Array(pw);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    const first = alpha[o]!;
    const lastV = alpha[o + width - 1]!;
    pad.fill(first, 0, r);
    pad.set(alpha.subarray(o, o + width), r);
    pad.fill(lastV, r + width, pw);
    for (let j = 0, m = 0; j < pw; j++, m++) {
      const v = pad[j]!;
      if (m === k) m = 0;
      if (m === 0) g[j] = v;
      else {
        const prev = g[j - 1]!;
        g[j] = v < prev ? v : prev;
      }
    }
    for (let j = pw - 1, m = (pw - 1) % k; j >= 0; j--, m--) {
      const v = pad[j]!;
      if (j === pw - 1 || m === k - 1) h[j] = v;
      else {
        const next = h[j + 1]!;
        h[j] = v < next ? v : next;
      }
      if (m === 0) m = k;
    }
    for (let x = 0; x < width; x++) {
      const u = h[x]!;
      const w = g[x + 2 * r]!;
      tmp[o + x] = u < w ? u : w;
    }
  }

  // Vertical, on padded row indices j = 0 .. height+2r-1 (row j is source row clamp(j-r)).
  const ph = height + 2 * r;
  const G = new Uint8Array(ph * width);
  const Hs = new Uint8Array(ph * width);
  const srcRow = (j: number): number => {
    const yy = j - r;
    return (yy < 0 ? 0 : yy >= height ? height - 1 : yy) * width;
  };
  for (let j = 0; j < ph; j++) {
    const s = srcRow(j);
    const o = j * width;
    if (j % k === 0) G.set(tmp.subarray(s, s + width), o);
    else {
      const q = o - width;
      for (let x = 0; x < width; x++) {
        const v = tmp[s + x]!;
        const prev = G[q + x]!;
        G[o + x] = v < prev ? v : prev;
      }
    }
  }
  for (let j = ph - 1; j >= 0; j--) {
    const s = srcRow(j);
    const o = j * width;
    if (j === ph - 1 || j % k === k - 1) Hs.set(tmp.subarray(s, s + width), o);
    else {
      const q = o + width;
      for (let x = 0; x < width; x++) {
        const v = tmp[s + x]!;
        const next = Hs[q + x]!;
        Hs[o + x] = v < next ? v : next;
      }
    }
  }
  for (let y = 0; y < height; y++) {
    const o = y * width;
    const hu = y * width; // window start (padded row y)
    const gw = (y + 2 * r) * width; // window end (padded row y+2r)
    for (let x = 0; x < width; x++) {
      const u = Hs[hu + x]!;
      const w = G[gw + x]!;
      out[o + x] = u < w ? u : w;
    }
  }
  return out;
}

/** Box blur of radius r along each row (edges replicated). */
function boxRows(src: Uint8Array, dst: Uint8Array, width: number, height: number, r: number): void {
  const last = width - 1;
  const inv = 1 / (2 * r + 1);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    let sum = src[o]! * (r + 1);
    for (let k = 1; k <= r; k++) sum += src[o + (k < last ? k : last)]!;
    for (let x = 0; x < width; x++) {
      dst[o + x] = (sum * inv + 0.5) | 0;
      const add = x + r + 1 < last ? x + r + 1 : last;
      const sub = x - r > 0 ? x - r : 0;
      sum += src[o + add]! - src[o + sub]!;
    }
  }
}

/** Inward feather: min(alpha, box blur of alpha). */
function featherInward(alpha: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const tmp = new Uint8Array(alpha.length);
  const out = new Uint8Array(alpha.length);
  boxRows(alpha, tmp, width, height, r);
  // Vertical pass row by row with one running sum per column (contiguous memory).
  const last = height - 1;
  const inv = 1 / (2 * r + 1);
  const sum = new Float64Array(width);
  for (let x = 0; x < width; x++) sum[x] = tmp[x]! * (r + 1);
  for (let k = 1; k <= r; k++) {
    const q = (k < last ? k : last) * width;
    for (let x = 0; x < width; x++) sum[x] = sum[x]! + tmp[q + x]!;
  }
  for (let y = 0; y < height; y++) {
    const o = y * width;
    const add = (y + r + 1 < last ? y + r + 1 : last) * width;
    const sub = (y - r > 0 ? y - r : 0) * width;
    for (let x = 0; x < width; x++) {
      const s = sum[x]!;
      const b = (s * inv + 0.5) | 0;
      const a = alpha[o + x]!;
      out[o + x] = b < a ? b : a;
      sum[x] = s + tmp[add + x]! - tmp[sub + x]!;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Main pass

function checkKey(key: Rgb): Rgb {
  for (const v of [key.r, key.g, key.b]) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 255) {
      throw new RangeError(`chroma key: key channels must be 0..255, got ${JSON.stringify(key)}`);
    }
  }
  return { r: Math.round(key.r), g: Math.round(key.g), b: Math.round(key.b) };
}

function checkNonNegative(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`chroma key: ${name} must be a finite number >= 0, got ${String(v)}`);
  }
  return v;
}

interface PassCounts {
  transparent: number;
  partial: number;
  /** Byte offsets of opaque pixels that carry a key cast (only the first candCount are valid). */
  cand: Int32Array;
  candCount: number;
}

/**
 * The alpha pass: one loop over the bytes of `out` (a copy of the input), writing alpha and
 * despilling every non-opaque pixel in place.
 */
function alphaPass(
  out: Uint8Array,
  key: Rgb,
  t0: number,
  t1: number,
  ds: Despill,
  ramp: Uint8Array | undefined,
): PassCounts {
  const len = out.length;
  const lut = buildRamp(t0, t1);
  const kr = key.r;
  const kg = key.g;
  const kb = key.b;
  const mode = ds.mode;
  const ca = ds.a;
  const cb2 = ds.b;
  const cc = ds.c;
  let cand = new Int32Array(4096);
  let candCount = 0;
  let transparent = 0;
  let partial = 0;

  const lutLast = lut.length - 1;
  const push = (p: number): void => {
    if (candCount === cand.length) {
      const grown = new Int32Array(cand.length * 2);
      grown.set(cand);
      cand = grown;
    }
    cand[candCount++] = p;
  };

  // Branches are kept to the spatially coherent ones (key vs subject), so that a noisy
  // background, where pixels flip between transparent and partial, does not stall the loop.
  for (let p = 0, i = 0; p < len; p += 4, i++) {
    const dr = out[p]! - kr;
    const dg = out[p + 1]! - kg;
    const db = out[p + 2]! - kb;
    const y = Y_R * dr + Y_G * dg + Y_B * db;
    const cb = CB_R * dr + CB_G * dg + CB_B * db;
    const cr = CR_R * dr + CR_G * dg + CR_B * db;
    const d2 = y * y + cb * cb + cr * cr;

    let a = lut[d2 < lutLast ? d2 | 0 : lutLast]!;
    // Keep any transparency the input already has.
    const a0 = out[p + 3]!;
    if (a0 < a) a = a0;
    out[p + 3] = a;
    if (ramp !== undefined) ramp[i] = a;
    transparent += a === 0 ? 1 : 0;
    partial += a !== 0 && a !== 255 ? 1 : 0;

    if (mode === 1) {
      const o1 = out[p + cb2]!;
      const o2 = out[p + cc]!;
      const m = o1 > o2 ? o1 : o2;
      if (out[p + ca]! > m) {
        // key cast: despill now if not opaque, else decide later whether it is near the edge
        if (a !== 255) out[p + ca] = m;
        else push(p);
      }
    } else if (mode === 2) {
      const h1 = out[p + ca]!;
      const h2 = out[p + cb2]!;
      const sp = (h1 < h2 ? h1 : h2) - out[p + cc]!;
      if (sp > 0) {
        if (a !== 255) {
          out[p + ca] = h1 - sp;
          out[p + cb2] = h2 - sp;
        } else push(p);
      }
    }
  }
  return { transparent, partial, cand, candCount };
}

/** Colour distance (RGB) within which a pixel counts as a blend of the key and a candidate. */
const UNMIX_TOLERANCE = 32;
/** Under this alpha the unmixed colour is too noisy: take the subject pixel's colour instead. */
const MIN_UNMIX_ALPHA = 0.25;
/** Window radius searched for opaque subject pixels to unmix against. */
const UNMIX_RADIUS = 2;

/**
 * Edge unmixing. The ramp alone mis-estimates coverage: a pixel that is a blend
 * C = a*F + (1-a)*K sits at distance a*d(F), so for a subject far from the key (red, blue)
 * a 50 % edge pixel is already past opaqueAbove and would stay opaque with a dull fringe
 * colour, while subjects close to the key come out too transparent. For silhouette pixels
 * (partial by the ramp, or opaque next to a non-opaque pixel) we look for opaque pixels F
 * within UNMIX_RADIUS such that C lies on the segment K..F (perpendicular residual under
 * UNMIX_TOLERANCE), take the one farthest from the key (the purest subject colour; a black
 * outline pixel next to a red fill keeps alpha 1 because red does not explain it), and set
 * alpha = projection of C-K on F-K and colour = K + (C-K)/alpha (with despill on).
 * Reads the untouched input and the ramp alpha, so the result does not depend on scan order.
 */
function unmixEdges(
  input: Uint8Array,
  out: Uint8Array,
  ramp: Uint8Array,
  width: number,
  height: number,
  key: Rgb,
  ds: Despill,
  recolour: boolean,
  counts: PassCounts,
): void {
  const kr = key.r;
  const kg = key.g;
  const kb = key.b;
  const tol2 = UNMIX_TOLERANCE * UNMIX_TOLERANCE;
  const R = UNMIX_RADIUS;
  let transparent = counts.transparent;
  let partial = counts.partial;
  const w = width;
  for (let y = 0; y < height; y++) {
    const inner = y > 0 && y < height - 1;
    const yA = y > 0 ? y - 1 : 0;
    const yB = y < height - 1 ? y + 1 : height - 1;
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const ra = ramp[i]!;
      if (ra === 0) continue;
      if (ra === 255) {
        // opaque: only silhouette pixels (a non-opaque 8-neighbour) are looked at
        let edge = false;
        if (inner && x > 0 && x < width - 1) {
          edge =
            ramp[i - 1] !== 255 ||
            ramp[i + 1] !== 255 ||
            ramp[i - w] !== 255 ||
            ramp[i + w] !== 255 ||
            ramp[i - w - 1] !== 255 ||
            ramp[i - w + 1] !== 255 ||
            ramp[i + w - 1] !== 255 ||
            ramp[i + w + 1] !== 255;
        } else {
          const xA = x > 0 ? x - 1 : 0;
          const xB = x < width - 1 ? x + 1 : width - 1;
          for (let yy = yA; yy <= yB && !edge; yy++) {
            for (let xx = xA; xx <= xB; xx++) {
              if (ramp[yy * width + xx] !== 255) {
                edge = true;
                break;
              }
            }
          }
        }
        if (!edge) continue;
      }

      const p = i * 4;
      const cR = input[p]! - kr;
      const cG = input[p + 1]! - kg;
      const cB = input[p + 2]! - kb;
      let bestFF = -1;
      let bestAlpha = 0;
      let bestQ = -1;
      const y0 = y - R > 0 ? y - R : 0;
      const y1 = y + R < height - 1 ? y + R : height - 1;
      const x0 = x - R > 0 ? x - R : 0;
      const x1 = x + R < width - 1 ? x + R : width - 1;
      for (let yy = y0; yy <= y1; yy++) {
        for (let xx = x0; xx <= x1; xx++) {
          const j = yy * width + xx;
          if (j === i || ramp[j] !== 255) continue;
          const q = j * 4;
          const fR = input[q]! - kr;
          const fG = input[q + 1]! - kg;
          const fB = input[q + 2]! - kb;
          const ff = fR * fR + fG * fG + fB * fB;
          if (ff <= bestFF) continue; // only a purer candidate can win
          let al = (cR * fR + cG * fG + cB * fB) / ff;
          al = al < 0 ? 0 : al > 1 ? 1 : al;
          const eR = cR - al * fR;
          const eG = cG - al * fG;
          const eB = cB - al * fB;
          if (eR * eR + eG * eG + eB * eB > tol2) continue;
          bestFF = ff;
          bestAlpha = al;
          bestQ = q;
        }
      }
      if (bestQ < 0) continue;

      let a = Math.round(bestAlpha * 255);
      const a0 = input[p + 3]!;
      if (a0 < a) a = a0;
      const old = out[p + 3]!;
      if (old === 0) transparent--;
      else if (old < 255) partial--;
      if (a === 0) transparent++;
      else if (a < 255) partial++;
      out[p + 3] = a;

      if (recolour && a > 0) {
        if (bestAlpha >= MIN_UNMIX_ALPHA) {
          const inv = 1 / bestAlpha;
          out[p] = clampByte(kr + cR * inv);
          out[p + 1] = clampByte(kg + cG * inv);
          out[p + 2] = clampByte(kb + cB * inv);
        } else {
          out[p] = input[bestQ]!;
          out[p + 1] = input[bestQ + 1]!;
          out[p + 2] = input[bestQ + 2]!;
        }
        despillAt(out, p, ds);
      }
    }
  }
  counts.transparent = transparent;
  counts.partial = partial;
}

/** Contract / feather on the alpha channel; returns the new transparent / partial counts. */
function refineAlpha(
  out: Uint8Array,
  width: number,
  height: number,
  contract: number,
  feather: number,
): { transparent: number; partial: number } {
  const n = width * height;
  let alpha: Uint8Array = new Uint8Array(n);
  for (let i = 0, p = 3; i < n; i++, p += 4) alpha[i] = out[p]!;
  if (contract > 0) alpha = erode(alpha, width, height, contract);
  if (feather > 0) alpha = featherInward(alpha, width, height, feather);
  // Alpha only goes down here. Pixels that were non-opaque are despilled already; newly
  // non-opaque ones with a cast are among the candidates of the near-edge despill.
  let transparent = 0;
  let partial = 0;
  for (let i = 0, p = 3; i < n; i++, p += 4) {
    const a = alpha[i]!;
    out[p] = a;
    if (a === 0) transparent++;
    else if (a < 255) partial++;
  }
  return { transparent, partial };
}

/** Despills the candidates that are non-opaque or within DESPILL_EDGE_RADIUS of a non-opaque pixel. */
function despillNearEdge(
  out: Uint8Array,
  width: number,
  height: number,
  cand: Int32Array,
  candCount: number,
  ds: Despill,
): void {
  const R = DESPILL_EDGE_RADIUS;
  for (let k = 0; k < candCount; k++) {
    const p = cand[k]!;
    const i = p >> 2;
    const x = i % width;
    const y = (i - x) / width;
    let near = out[p + 3]! < 255;
    if (!near) {
      const x0 = x - R > 0 ? x - R : 0;
      const x1 = x + R < width - 1 ? x + R : width - 1;
      const y0 = y - R > 0 ? y - R : 0;
      const y1 = y + R < height - 1 ? y + R : height - 1;
      for (let yy = y0; yy <= y1 && !near; yy++) {
        let q = (yy * width + x0) * 4 + 3;
        for (let xx = x0; xx <= x1; xx++, q += 4) {
          if (out[q]! < 255) {
            near = true;
            break;
          }
        }
      }
    }
    if (near) despillAt(out, p, ds);
  }
}

export function chromaKey(
  rgba: Uint8Array,
  width: number,
  height: number,
  options: ChromaKeyOptions = {},
): ChromaKeyResult {
  checkImage(rgba, width, height);
  const keyGiven = options.key !== undefined;
  const key = checkKey(options.key ?? estimateBorderKey(rgba, width, height));
  const t0 = checkNonNegative('transparentBelow', options.transparentBelow, DEFAULT_TRANSPARENT_BELOW);
  const t1 = checkNonNegative('opaqueAbove', options.opaqueAbove, DEFAULT_OPAQUE_ABOVE);
  if (t1 < t0) {
    throw new RangeError(`chroma key: opaqueAbove (${t1}) must be >= transparentBelow (${t0})`);
  }
  const contract = Math.round(checkNonNegative('contract', options.contract, 0));
  const feather = Math.round(checkNonNegative('feather', options.feather, 0));
  const ds: Despill = options.despill === false ? { mode: 0, a: 0, b: 1, c: 2 } : despillFor(key);

  const n = width * height;
  const out = new Uint8Array(rgba); // a copy: the input stays untouched
  const unmix = options.unmixEdges !== false;
  const ramp = unmix ? new Uint8Array(n) : undefined;
  const pass = alphaPass(out, key, t0, t1, ds, ramp);
  if (ramp !== undefined) unmixEdges(rgba, out, ramp, width, height, key, ds, options.despill !== false, pass);
  let { transparent, partial } = pass;
  if (contract > 0 || feather > 0) {
    ({ transparent, partial } = refineAlpha(out, width, height, contract, feather));
  }
  if (pass.candCount > 0) despillNearEdge(out, width, height, pass.cand, pass.candCount, ds);

  let borderTotal = 0;
  let borderClear = 0;
  forEachBorderPixel(width, height, (i) => {
    borderTotal++;
    if (out[i * 4 + 3] === 0) borderClear++;
  });

  const transparentShare = transparent / n;
  const partialShare = partial / n;
  const borderTransparentShare = borderTotal > 0 ? borderClear / borderTotal : 0;
  return {
    rgba: out,
    key,
    transparentShare,
    partialShare,
    borderTransparentShare,
    keyed:
      transparentShare >= MIN_KEYED_SHARE &&
      borderTransparentShare >= MIN_BORDER_KEYED_SHARE &&
      (keyGiven || keyChroma(key) >= MIN_ESTIMATED_KEY_CHROMA),
  };
}
