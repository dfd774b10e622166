import { describe, expect, it, beforeAll } from 'vitest';
import sharp from 'sharp';
import {
  chromaKey,
  estimateBorderKey,
  formatHexColor,
  keyDistance,
  parseHexColor,
  DEFAULT_KEY_COLOR,
  DEFAULT_OPAQUE_ABOVE,
  DEFAULT_TRANSPARENT_BELOW,
} from '../../src/core/chroma-key.js';
import type { ChromaKeyResult, Rgb } from '../../src/core/chroma-key.js';

/** Largest key cast tolerated on any non-transparent pixel (e.g. g - max(r, b) for green). */
const MAX_KEY_CAST = 8;
/** Mean |alpha - true coverage| (0..255) tolerated over the anti-aliased ring of a circle. */
const MAX_EDGE_ALPHA_ERROR = 16;

const SIZE = 256;
const CX = 128;
const CY = 128;
const RADIUS = 80;

interface Raw {
  rgba: Uint8Array;
  width: number;
  height: number;
}

async function render(svg: string): Promise<Raw> {
  const { data, info } = await sharp(Buffer.from(svg))
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(4);
  return { rgba: new Uint8Array(data), width: info.width, height: info.height };
}

/** A circle of `fill` on a flat `background` (librsvg gives anti-aliased edges). */
function circleSvg(background: string, fill: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}">
  <rect width="100%" height="100%" fill="${background}"/>
  <circle cx="${CX}" cy="${CY}" r="${RADIUS}" fill="${fill}"/>
</svg>`;
}

const px = (raw: Uint8Array, width: number, x: number, y: number): number[] =>
  Array.from(raw.subarray((y * width + x) * 4, (y * width + x) * 4 + 4));

const dist = (x: number, y: number): number => Math.hypot(x + 0.5 - CX, y + 0.5 - CY);

type Cast = (r: number, g: number, b: number) => number;
/** Green cast: how far green exceeds the larger of red and blue. */
const GREEN_CAST: Cast = (r, g, b) => g - Math.max(r, b);
/** Magenta cast: how far both red and blue exceed green. */
const MAGENTA_CAST: Cast = (r, g, b) => Math.min(r, b) - g;

/** The largest key cast over all non-transparent pixels. */
function maxCast(res: ChromaKeyResult, cast: Cast): number {
  let worst = -Infinity;
  for (let p = 0; p < res.rgba.length; p += 4) {
    if (res.rgba[p + 3] === 0) continue;
    const c = cast(res.rgba[p]!, res.rgba[p + 1]!, res.rgba[p + 2]!);
    if (c > worst) worst = c;
  }
  return worst;
}

/** Mean |alpha - coverage| over pixels whose coverage (alpha of the same shape drawn on nothing) is fractional. */
function meanEdgeAlphaError(res: ChromaKeyResult, coverage: Uint8Array): number {
  let sum = 0;
  let n = 0;
  for (let i = 3; i < coverage.length; i += 4) {
    const c = coverage[i]!;
    if (c === 0 || c === 255) continue;
    sum += Math.abs(res.rgba[i]! - c);
    n++;
  }
  expect(n).toBeGreaterThan(300);
  return sum / n;
}

interface CircleStats {
  /** background pixels (beyond the anti-aliased ring) that are not fully transparent */
  bgNonZero: number;
  /** pixels well inside the circle */
  insideCount: number;
  /** ... of which not alpha 255 with the input colour */
  insideChanged: number;
  /** pixels in the edge ring with 0 < alpha < 255 */
  edgePartial: number;
}

function circleStats(res: ChromaKeyResult, input: Uint8Array, width: number, height: number): CircleStats {
  const s: CircleStats = { bgNonZero: 0, insideCount: 0, insideChanged: 0, edgePartial: 0 };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const d = dist(x, y);
      const p = (y * width + x) * 4;
      const a = res.rgba[p + 3]!;
      if (d > RADIUS + 2) {
        if (a !== 0) s.bgNonZero++;
      } else if (d < RADIUS - 4) {
        s.insideCount++;
        const same =
          a === 255 &&
          res.rgba[p] === input[p] &&
          res.rgba[p + 1] === input[p + 1] &&
          res.rgba[p + 2] === input[p + 2];
        if (!same) s.insideChanged++;
      } else if (a > 0 && a < 255) {
        s.edgePartial++;
      }
    }
  }
  return s;
}

describe('parseHexColor / formatHexColor', () => {
  it('accepts 6- and 3-digit hex with or without #, any case', () => {
    expect(parseHexColor('#00ff00')).toEqual({ r: 0, g: 255, b: 0 });
    expect(parseHexColor('00FF00')).toEqual({ r: 0, g: 255, b: 0 });
    expect(parseHexColor('#0f0')).toEqual({ r: 0, g: 255, b: 0 });
    expect(parseHexColor('F0a')).toEqual({ r: 255, g: 0, b: 170 });
    expect(parseHexColor('#12AbEf')).toEqual({ r: 0x12, g: 0xab, b: 0xef });
    expect(parseHexColor('  #ff00ff ')).toEqual({ r: 255, g: 0, b: 255 });
  });

  it('refuses everything else', () => {
    for (const bad of [
      '',
      '#',
      'green',
      '#00ff0',
      '#00ff000',
      '#00ff00ff',
      '##00ff00',
      '0x00ff00',
      '#gg0000',
      '#0f',
      'rgb(0,255,0)',
      '#00 ff00',
    ]) {
      expect(parseHexColor(bad), bad).toBeUndefined();
    }
  });

  it('formats lower-case #rrggbb and round-trips', () => {
    expect(formatHexColor({ r: 0, g: 255, b: 0 })).toBe('#00ff00');
    expect(formatHexColor({ r: 255, g: 0, b: 170 })).toBe('#ff00aa');
    expect(formatHexColor({ r: 300, g: -4, b: 15.6 })).toBe('#ff0010');
    expect(formatHexColor(parseHexColor('#1A2b3C')!)).toBe('#1a2b3c');
  });
});

describe('defaults', () => {
  it('separate the default key from neutral and common subject colours', () => {
    expect(DEFAULT_TRANSPARENT_BELOW).toBeLessThan(DEFAULT_OPAQUE_ABOVE);
    for (const c of ['#ffffff', '#000000', '#808080', '#ff0000', '#0000ff', '#ffff00', '#e0ac90']) {
      expect(keyDistance(parseHexColor(c)!, DEFAULT_KEY_COLOR), c).toBeGreaterThanOrEqual(
        DEFAULT_OPAQUE_ABOVE,
      );
    }
    // background drift stays under the transparent threshold
    for (const c of ['#14eb19', '#3cff3c', '#00e804']) {
      expect(keyDistance(parseHexColor(c)!, DEFAULT_KEY_COLOR), c).toBeLessThanOrEqual(
        DEFAULT_TRANSPARENT_BELOW,
      );
    }
  });
});

describe('chromaKey on a green key', () => {
  for (const fill of ['#d02020', '#2040d0', '#808080']) {
    describe(`${fill} circle on #00ff00`, () => {
      let raw: Raw;
      let res: ChromaKeyResult;
      beforeAll(async () => {
        raw = await render(circleSvg('#00ff00', fill));
        res = chromaKey(raw.rgba, raw.width, raw.height, { key: { r: 0, g: 255, b: 0 } });
      });

      it('makes the background transparent and leaves the inside untouched', () => {
        const s = circleStats(res, raw.rgba, raw.width, raw.height);
        expect(s.bgNonZero).toBe(0);
        expect(s.insideCount).toBeGreaterThan(10_000);
        expect(s.insideChanged).toBe(0);
        expect(px(res.rgba, raw.width, CX, CY)).toEqual([...px(raw.rgba, raw.width, CX, CY).slice(0, 3), 255]);
      });

      it('gives soft alpha on the anti-aliased edge', () => {
        const s = circleStats(res, raw.rgba, raw.width, raw.height);
        // the anti-aliased ring has ~600 pixels of fractional coverage; most stay soft
        expect(s.edgePartial).toBeGreaterThan(300);
        expect(res.partialShare).toBeGreaterThan(0);
        expect(res.partialShare).toBeLessThan(0.05);
      });

      it('reports shares and keyed', () => {
        const circle = (Math.PI * RADIUS * RADIUS) / (SIZE * SIZE);
        expect(res.transparentShare).toBeGreaterThan(1 - circle - 0.02);
        expect(res.transparentShare).toBeLessThan(1 - circle + 0.01);
        expect(res.borderTransparentShare).toBe(1);
        expect(res.keyed).toBe(true);
        expect(res.key).toEqual({ r: 0, g: 255, b: 0 });
      });

      it(`edge alpha follows the true coverage within ${MAX_EDGE_ALPHA_ERROR} on average`, async () => {
        const coverage = await render(circleSvg('none', fill));
        expect(meanEdgeAlphaError(res, coverage.rgba)).toBeLessThan(MAX_EDGE_ALPHA_ERROR);
        // the distance ramp alone hardens edges of subjects far from the key: the check can fail
        const rampOnly = chromaKey(raw.rgba, raw.width, raw.height, { unmixEdges: false });
        expect(meanEdgeAlphaError(rampOnly, coverage.rgba)).toBeGreaterThan(MAX_EDGE_ALPHA_ERROR);
      });

      it(`leaves no green cast beyond ${MAX_KEY_CAST} on non-transparent pixels`, () => {
        expect(maxCast(res, GREEN_CAST)).toBeLessThanOrEqual(MAX_KEY_CAST);
        // despill alone (no edge unmixing) does it too
        const noUnmix = chromaKey(raw.rgba, raw.width, raw.height, { unmixEdges: false });
        expect(maxCast(noUnmix, GREEN_CAST)).toBeLessThanOrEqual(MAX_KEY_CAST);
        // and the check can fail: without despill the edge keeps its green cast
        const raw2 = chromaKey(raw.rgba, raw.width, raw.height, { despill: false });
        expect(maxCast(raw2, GREEN_CAST)).toBeGreaterThan(MAX_KEY_CAST);
      });
    });
  }

  it('tracks coverage on soft (blurred) edges better than the distance ramp alone', async () => {
    const blurred = (background: string): string => `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}">
      <defs><filter id="b" x="-50%" y="-50%" width="200%" height="200%"><feGaussianBlur stdDeviation="1.5"/></filter></defs>
      <rect width="100%" height="100%" fill="${background}"/>
      <circle cx="${CX}" cy="${CY}" r="${RADIUS}" fill="#d02020" filter="url(#b)"/>
    </svg>`;
    const raw = await render(blurred('#00ff00'));
    const coverage = await render(blurred('none'));
    const unmixed = meanEdgeAlphaError(chromaKey(raw.rgba, raw.width, raw.height), coverage.rgba);
    const rampOnly = meanEdgeAlphaError(
      chromaKey(raw.rgba, raw.width, raw.height, { unmixEdges: false }),
      coverage.rgba,
    );
    expect(unmixed).toBeLessThan(MAX_EDGE_ALPHA_ERROR);
    expect(unmixed).toBeLessThan(rampOnly * 0.6);
  });

  it('keeps a dark outline opaque next to a bright fill (sticker style)', async () => {
    const raw = await render(`<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}">
      <rect width="100%" height="100%" fill="#00ff00"/>
      <circle cx="${CX}" cy="${CY}" r="${RADIUS}" fill="#e02020" stroke="#000000" stroke-width="6"/>
    </svg>`);
    const res = chromaKey(raw.rgba, raw.width, raw.height);
    // the stroke covers radius 77..83: its pixels stay opaque black, the fill stays opaque red
    for (const x of [CX + RADIUS - 1, CX + RADIUS + 1, CX - RADIUS - 2]) {
      expect(px(res.rgba, raw.width, x, CY), `x=${x}`).toEqual([0, 0, 0, 255]);
    }
    expect(px(res.rgba, raw.width, CX + RADIUS - 10, CY)).toEqual([224, 32, 32, 255]);
    expect(px(res.rgba, raw.width, CX + RADIUS + 6, CY)[3]).toBe(0);
    expect(maxCast(res, GREEN_CAST)).toBeLessThanOrEqual(MAX_KEY_CAST);
  });

  it('estimates the key from the border when none is given', async () => {
    const raw = await render(circleSvg('#10e020', '#d02020'));
    expect(estimateBorderKey(raw.rgba, raw.width, raw.height)).toEqual({ r: 0x10, g: 0xe0, b: 0x20 });
    const res = chromaKey(raw.rgba, raw.width, raw.height);
    expect(res.key).toEqual({ r: 0x10, g: 0xe0, b: 0x20 });
    expect(res.keyed).toBe(true);
    expect(px(res.rgba, raw.width, 3, 3)[3]).toBe(0);
    expect(px(res.rgba, raw.width, CX, CY)[3]).toBe(255);
  });

  it('the border estimate is a median: a subject touching the border does not move it', async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}">
      <rect width="100%" height="100%" fill="#00ff00"/>
      <rect x="0" y="180" width="${SIZE}" height="76" fill="#3050a0"/>
    </svg>`;
    const raw = await render(svg);
    expect(estimateBorderKey(raw.rgba, raw.width, raw.height)).toEqual({ r: 0, g: 255, b: 0 });
    const res = chromaKey(raw.rgba, raw.width, raw.height);
    expect(res.keyed).toBe(true);
    expect(px(res.rgba, raw.width, 128, 90)[3]).toBe(0);
    expect(px(res.rgba, raw.width, 128, 220)[3]).toBe(255);
  });
});

describe('chromaKey on a magenta key', () => {
  const magenta: Rgb = { r: 255, g: 0, b: 255 };
  let raw: Raw;
  beforeAll(async () => {
    raw = await render(circleSvg('#ff00ff', '#30a040'));
  });

  for (const given of [true, false]) {
    it(`keys a green subject out of magenta (key ${given ? 'given' : 'estimated'})`, () => {
      const res = chromaKey(raw.rgba, raw.width, raw.height, given ? { key: magenta } : {});
      expect(res.key).toEqual(magenta);
      const s = circleStats(res, raw.rgba, raw.width, raw.height);
      expect(s.bgNonZero).toBe(0);
      expect(s.insideChanged).toBe(0);
      expect(s.edgePartial).toBeGreaterThan(300);
      expect(res.keyed).toBe(true);
      expect(maxCast(res, MAGENTA_CAST)).toBeLessThanOrEqual(MAX_KEY_CAST);
      const noUnmix = chromaKey(raw.rgba, raw.width, raw.height, { key: magenta, unmixEdges: false });
      expect(maxCast(noUnmix, MAGENTA_CAST)).toBeLessThanOrEqual(MAX_KEY_CAST);
      const kept = chromaKey(raw.rgba, raw.width, raw.height, { key: magenta, despill: false });
      expect(maxCast(kept, MAGENTA_CAST)).toBeGreaterThan(MAX_KEY_CAST);
    });
  }
});

describe('images without the key colour', () => {
  let raw: Raw;
  beforeAll(async () => {
    // photo-like: a sunset sky gradient with a dark hill, no green anywhere
    raw = await render(`<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}">
      <defs>
        <linearGradient id="sky" x1="0" y1="0" x2="0.3" y2="1">
          <stop offset="0%" stop-color="#1b2a6b"/>
          <stop offset="55%" stop-color="#c4507a"/>
          <stop offset="100%" stop-color="#ffb347"/>
        </linearGradient>
      </defs>
      <rect width="100%" height="100%" fill="url(#sky)"/>
      <ellipse cx="90" cy="260" rx="160" ry="70" fill="#2b1d2e"/>
    </svg>`);
  });

  it('reports keyed: false with the default green key', () => {
    const res = chromaKey(raw.rgba, raw.width, raw.height, { key: DEFAULT_KEY_COLOR });
    expect(res.transparentShare).toBeLessThan(0.01);
    expect(res.keyed).toBe(false);
  });

  it('reports keyed: false when the key is estimated from a non-flat border', () => {
    const res = chromaKey(raw.rgba, raw.width, raw.height);
    expect(res.keyed).toBe(false);
  });
});

describe('contract and feather', () => {
  let raw: Raw;
  let base: ChromaKeyResult;
  beforeAll(async () => {
    raw = await render(circleSvg('#00ff00', '#d02020'));
    base = chromaKey(raw.rgba, raw.width, raw.height);
  });

  const alphaAt = (r: ChromaKeyResult, x: number, y: number): number => r.rgba[(y * SIZE + x) * 4 + 3]!;

  it('contract erodes the alpha edge inwards by about the given px', () => {
    const c = chromaKey(raw.rgba, raw.width, raw.height, { contract: 3 });
    expect(c.transparentShare).toBeGreaterThan(base.transparentShare);
    let raised = 0;
    for (let i = 3; i < c.rgba.length; i += 4) if (c.rgba[i]! > base.rgba[i]!) raised++;
    expect(raised).toBe(0);
    // the circle's radius shrinks by ~3 px: opaque before, transparent now
    expect(alphaAt(base, CX + RADIUS - 2, CY)).toBe(255);
    expect(alphaAt(c, CX + RADIUS - 2, CY)).toBe(0);
    expect(alphaAt(c, CX + RADIUS - 5, CY)).toBe(255);
    expect(alphaAt(c, CX, CY)).toBe(255);
    const area = (r: ChromaKeyResult): number => (1 - r.transparentShare) * SIZE * SIZE;
    const rEff = (r: ChromaKeyResult): number => Math.sqrt(area(r) / Math.PI);
    expect(rEff(base) - rEff(c)).toBeGreaterThan(2);
    expect(rEff(base) - rEff(c)).toBeLessThan(4.5);
  });

  it('contract equals a square min filter of the alpha map', () => {
    // Pixels far from the key keep their own alpha, so the pass result is the input alpha.
    const w = 37;
    const h = 23;
    const rgba = new Uint8Array(w * h * 4);
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    for (let i = 0; i < w * h; i++) rgba.set([200, 10, 10, rnd() > 40 ? 255 : rnd()], i * 4);
    for (const r of [1, 2, 5]) {
      const got = chromaKey(rgba, w, h, { key: DEFAULT_KEY_COLOR, contract: r, despill: false });
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let m = 255;
          for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
            for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) {
              m = Math.min(m, rgba[(yy * w + xx) * 4 + 3]!);
            }
          }
          expect(got.rgba[(y * w + x) * 4 + 3], `r=${r} at ${x},${y}`).toBe(m);
        }
      }
    }
  });

  it('feather softens the edge inwards only', () => {
    const f = chromaKey(raw.rgba, raw.width, raw.height, { feather: 4 });
    let raised = 0;
    let lowered = 0;
    for (let i = 3; i < f.rgba.length; i += 4) {
      if (f.rgba[i]! > base.rgba[i]!) raised++;
      if (f.rgba[i]! < base.rgba[i]!) lowered++;
    }
    expect(raised).toBe(0);
    expect(lowered).toBeGreaterThan(500);
    expect(f.partialShare).toBeGreaterThan(base.partialShare * 2);
    // a ramp inside the edge: increasing alpha towards the centre
    const ramp = [0, 1, 2, 3].map((k) => alphaAt(f, CX + RADIUS - 1 - k, CY));
    expect(ramp[0]!).toBeGreaterThan(0);
    expect(ramp[0]!).toBeLessThan(255);
    for (let k = 1; k < ramp.length; k++) expect(ramp[k]!).toBeGreaterThanOrEqual(ramp[k - 1]!);
    expect(alphaAt(f, CX + RADIUS - 8, CY)).toBe(255);
    expect(alphaAt(f, CX, CY)).toBe(255);
    expect(maxCast(f, GREEN_CAST)).toBeLessThanOrEqual(MAX_KEY_CAST);
  });
});

describe('input handling', () => {
  it('does not mutate the input buffer', async () => {
    const raw = await render(circleSvg('#00ff00', '#2040d0'));
    const copy = Uint8Array.from(raw.rgba);
    const res = chromaKey(raw.rgba, raw.width, raw.height, { contract: 1, feather: 2 });
    expect(res.rgba).not.toBe(raw.rgba);
    expect(res.rgba.buffer).not.toBe(raw.rgba.buffer);
    expect(Buffer.compare(Buffer.from(raw.rgba), Buffer.from(copy))).toBe(0);
    expect(res.rgba.length).toBe(raw.rgba.length);
  });

  it('works on a Buffer view at an odd offset', async () => {
    const raw = await render(circleSvg('#00ff00', '#2040d0'));
    const big = Buffer.alloc(raw.rgba.length + 3);
    big.set(raw.rgba, 3);
    const view = big.subarray(3);
    const a = chromaKey(view, raw.width, raw.height);
    const b = chromaKey(raw.rgba, raw.width, raw.height);
    expect(Buffer.compare(Buffer.from(a.rgba), Buffer.from(b.rgba))).toBe(0);
  });

  it('refuses bad sizes and options', () => {
    const rgba = new Uint8Array(4 * 4 * 4);
    expect(() => chromaKey(rgba, 4, 5)).toThrow(RangeError);
    expect(() => chromaKey(rgba, 0, 4)).toThrow(RangeError);
    expect(() => chromaKey(rgba, 4, 4, { transparentBelow: 50, opaqueAbove: 20 })).toThrow(RangeError);
    expect(() => chromaKey(rgba, 4, 4, { contract: -1 })).toThrow(RangeError);
    expect(() => chromaKey(rgba, 4, 4, { key: { r: 0, g: 256, b: 0 } })).toThrow(RangeError);
  });

  it('handles tiny images', () => {
    const one = new Uint8Array([0, 255, 0, 255]);
    const r = chromaKey(one, 1, 1, { contract: 2, feather: 2 });
    expect(r.rgba[3]).toBe(0);
    expect(r.transparentShare).toBe(1);
  });
});
