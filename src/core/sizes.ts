/**
 * Output sizes: parsing, gpt-image-2's flexible-size rules, and a valid size near a refused one.
 */

export const FLEXIBLE_RULES = {
  maxEdgeExclusive: 3840,
  multiple: 16,
  maxRatio: 3,
  minPixels: 655_360,
  maxPixels: 8_294_400,
} as const;

export const POPULAR_SIZES = [
  '1024x1024',
  '1536x1024',
  '1024x1536',
  '2048x2048',
  '2048x1152',
  '3824x2160',
  '2160x3824',
  'auto',
] as const;

export interface Dimensions {
  width: number;
  height: number;
}

export type ParsedSize = { kind: 'auto' } | ({ kind: 'dimensions' } & Dimensions) | { kind: 'invalid' };

const SIZE_PATTERN = /^\s*([1-9]\d{0,5})\s*[xX×]\s*([1-9]\d{0,5})\s*$/;

export function parseSize(text: string): ParsedSize {
  if (text.trim().toLowerCase() === 'auto') return { kind: 'auto' };
  const match = SIZE_PATTERN.exec(text);
  if (!match) return { kind: 'invalid' };
  return { kind: 'dimensions', width: Number(match[1]), height: Number(match[2]) };
}

export function formatSize({ width, height }: Dimensions): string {
  return `${width}x${height}`;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** Every flexible-size rule the dimensions break, each as a sentence naming the rule. */
export function flexibleSizeViolations({ width, height }: Dimensions): string[] {
  const r = FLEXIBLE_RULES;
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  const pixels = width * height;
  const broken: string[] = [];
  if (long >= r.maxEdgeExclusive) {
    broken.push(`the longest edge must be less than ${r.maxEdgeExclusive} px (it is ${long})`);
  }
  if (width % r.multiple !== 0 || height % r.multiple !== 0) {
    broken.push(`both edges must be multiples of ${r.multiple} px`);
  }
  if (long > r.maxRatio * short) {
    broken.push(`the long edge may be at most ${r.maxRatio} times the short edge (it is ${(long / short).toFixed(2)}:1)`);
  }
  if (pixels < r.minPixels) {
    broken.push(`the image must have at least ${fmt(r.minPixels)} pixels (it has ${fmt(pixels)})`);
  } else if (pixels > r.maxPixels) {
    broken.push(`the image may have at most ${fmt(r.maxPixels)} pixels, e.g. 2880x2880 (it has ${fmt(pixels)})`);
  }
  return broken;
}

export function isValidFlexibleSize(size: Dimensions): boolean {
  return flexibleSizeViolations(size).length === 0;
}

/**
 * A valid flexible size close to the request: clamp the aspect ratio to 3:1, scale into the pixel
 * range under the edge cap, then pick the grid point (multiples of 16) around that ideal which
 * best keeps the shape (aspect error, weighted double) while changing the requested edges least.
 * The edge-change term keeps an edge that was already fine (3840x2160 becomes 3824x2160, not
 * 3824x2144); the aspect term keeps small requests from drifting (256x256 becomes a square).
 */
export function suggestFlexibleSize(requested: Dimensions): Dimensions {
  if (isValidFlexibleSize(requested)) return requested;
  const r = FLEXIBLE_RULES;
  const maxEdge = r.maxEdgeExclusive - r.multiple;
  const ratio = Math.min(r.maxRatio, Math.max(1 / r.maxRatio, requested.width / requested.height));
  const pixels = Math.min(r.maxPixels, Math.max(r.minPixels, requested.width * requested.height));
  let idealW = Math.sqrt(pixels * ratio);
  let idealH = Math.sqrt(pixels / ratio);
  const over = Math.max(idealW, idealH) / maxEdge;
  if (over > 1) {
    idealW /= over;
    idealH /= over;
  }

  const steps = 4;
  const around = (ideal: number) => {
    const base = Math.round(ideal / r.multiple) * r.multiple;
    const values: number[] = [];
    for (let k = -steps; k <= steps; k++) {
      const v = base + k * r.multiple;
      if (v >= r.multiple && v <= maxEdge) values.push(v);
    }
    return values;
  };

  const aspectError = (w: number, h: number) => Math.abs(Math.log(w / h / ratio));
  const cost = (w: number, h: number) =>
    Math.abs(Math.log(w / requested.width)) + Math.abs(Math.log(h / requested.height)) + 2 * aspectError(w, h);

  let best: Dimensions | undefined;
  let bestCost = Infinity;
  let bestAspect = Infinity;
  for (const w of around(idealW)) {
    for (const h of around(idealH)) {
      const candidate = { width: w, height: h };
      if (!isValidFlexibleSize(candidate)) continue;
      const c = cost(w, h);
      const a = aspectError(w, h);
      // Ties go to the candidate with the truer aspect ratio.
      if (c < bestCost - 1e-9 || (Math.abs(c - bestCost) <= 1e-9 && a < bestAspect)) {
        best = candidate;
        bestCost = c;
        bestAspect = a;
      }
    }
  }
  // The grid around any clamped ideal always holds a valid size; this is a guard, not a path.
  return best ?? { width: 1024, height: 1024 };
}
