import { describe, expect, it } from 'vitest';
import {
  FLEXIBLE_RULES,
  POPULAR_SIZES,
  flexibleSizeViolations,
  formatSize,
  isValidFlexibleSize,
  parseSize,
  suggestFlexibleSize,
  type Dimensions,
} from '../../src/core/sizes.js';

const d = (width: number, height: number): Dimensions => ({ width, height });

describe('parseSize', () => {
  it.each(['auto', 'AUTO', 'Auto', '  auto  ', 'aUtO'])('reads %j as auto', (text) => {
    expect(parseSize(text)).toEqual({ kind: 'auto' });
  });

  it.each([
    ['1024x1024', 1024, 1024],
    ['1536x1024', 1536, 1024],
    ['1024X1536', 1024, 1536],
    ['2048×1152', 2048, 1152],
    [' 3824 x 2160 ', 3824, 2160],
    ['16x16', 16, 16],
    ['999999x1', 999999, 1],
  ])('reads %j as %i by %i', (text, width, height) => {
    expect(parseSize(text)).toEqual({ kind: 'dimensions', width, height });
  });

  it.each([
    '',
    '   ',
    'big',
    '1024',
    '1024x',
    'x1024',
    '1024*1024',
    '1024 by 1024',
    '1024x1024x3',
    '0x1024',
    '1024x0',
    '0x0',
    '01024x1024',
    '1024x01024',
    '-1024x1024',
    '1024.5x1024',
    '1e3x1024',
    '1234567x16',
    'autox',
    'auto 1024x1024',
  ])('refuses %j', (text) => {
    expect(parseSize(text)).toEqual({ kind: 'invalid' });
  });

  it('formats dimensions as WxH', () => {
    expect(formatSize(d(3824, 2160))).toBe('3824x2160');
  });
});

describe('flexibleSizeViolations', () => {
  it.each(POPULAR_SIZES.filter((s) => s !== 'auto'))('accepts the popular size %s', (s) => {
    const parsed = parseSize(s);
    if (parsed.kind !== 'dimensions') throw new Error(`${s} did not parse`);
    expect(flexibleSizeViolations(parsed)).toEqual([]);
    expect(isValidFlexibleSize(parsed)).toBe(true);
  });

  describe('longest edge < 3840', () => {
    it('accepts 3824 on either edge', () => {
      expect(flexibleSizeViolations(d(3824, 2160))).toEqual([]);
      expect(flexibleSizeViolations(d(2160, 3824))).toEqual([]);
    });

    it('refuses exactly 3840 (and only for the edge), naming "less than 3840"', () => {
      for (const size of [d(3840, 2160), d(2160, 3840)]) {
        const broken = flexibleSizeViolations(size);
        expect(broken).toHaveLength(1);
        expect(broken[0]).toContain('less than 3840');
        expect(broken[0]).toContain('3840');
      }
    });

    it('refuses 3856 too', () => {
      expect(flexibleSizeViolations(d(3856, 1296)).join(' ')).toContain('less than 3840');
    });
  });

  describe('multiples of 16', () => {
    it('refuses 1000x1000 (fine otherwise) naming the rule', () => {
      const broken = flexibleSizeViolations(d(1000, 1000));
      expect(broken).toHaveLength(1);
      expect(broken[0]).toContain('multiples of 16');
    });

    it.each([
      [1024, 1000],
      [1000, 1024],
      [1032, 1024],
      [3832, 2160],
      [3839, 2160],
    ])('refuses %ix%i', (w, h) => {
      expect(flexibleSizeViolations(d(w, h)).some((m) => m.includes('multiples of 16'))).toBe(true);
    });

    it('accepts 1008x1008 (a multiple of 16 next to 1000)', () => {
      expect(flexibleSizeViolations(d(1008, 1008))).toEqual([]);
    });
  });

  describe('aspect ratio at most 3:1', () => {
    it('accepts exactly 3:1 either way (2448x816, 816x2448)', () => {
      expect(flexibleSizeViolations(d(2448, 816))).toEqual([]);
      expect(flexibleSizeViolations(d(816, 2448))).toEqual([]);
    });

    it('refuses just over 3:1 (2464x816) for the ratio only, naming the rule and the ratio', () => {
      for (const size of [d(2464, 816), d(816, 2464)]) {
        const broken = flexibleSizeViolations(size);
        expect(broken).toHaveLength(1);
        expect(broken[0]).toContain('at most 3 times');
        expect(broken[0]).toContain('3.02:1');
      }
    });
  });

  describe('pixel count', () => {
    it('accepts exactly 655,360 pixels (1024x640, 640x1024)', () => {
      expect(1024 * 640).toBe(FLEXIBLE_RULES.minPixels);
      expect(flexibleSizeViolations(d(1024, 640))).toEqual([]);
      expect(flexibleSizeViolations(d(640, 1024))).toEqual([]);
    });

    it('refuses one step under (1024x624) for the pixel count only', () => {
      const broken = flexibleSizeViolations(d(1024, 624));
      expect(broken).toHaveLength(1);
      expect(broken[0]).toContain('at least 655,360 pixels');
      expect(broken[0]).toContain('638,976');
    });

    it('accepts exactly 8,294,400 pixels (2880x2880)', () => {
      expect(2880 * 2880).toBe(FLEXIBLE_RULES.maxPixels);
      expect(flexibleSizeViolations(d(2880, 2880))).toEqual([]);
    });

    it('refuses one step over (2880x2896) for the pixel count only, naming 2880x2880', () => {
      const broken = flexibleSizeViolations(d(2880, 2896));
      expect(broken).toHaveLength(1);
      expect(broken[0]).toContain('at most 8,294,400 pixels');
      expect(broken[0]).toContain('2880x2880');
      expect(broken[0]).toContain('8,340,480');
    });
  });

  it('lists every broken rule at once', () => {
    // 5000x100: edge, multiple (100), ratio, pixels under the minimum.
    const broken = flexibleSizeViolations(d(5000, 100));
    expect(broken).toHaveLength(4);
    expect(broken.join('\n')).toMatch(/less than 3840[\s\S]*multiples of 16[\s\S]*at most 3 times[\s\S]*at least 655,360/);
  });
});

describe('suggestFlexibleSize', () => {
  it('turns 3840x2160 into exactly 3824x2160', () => {
    expect(suggestFlexibleSize(d(3840, 2160))).toEqual(d(3824, 2160));
  });

  it('turns 2160x3840 into exactly 2160x3824', () => {
    expect(suggestFlexibleSize(d(2160, 3840))).toEqual(d(2160, 3824));
  });

  it.each([
    [1024, 1024],
    [3824, 2160],
    [2448, 816],
    [1024, 640],
    [2880, 2880],
  ])('returns the valid size %ix%i unchanged', (w, h) => {
    expect(suggestFlexibleSize(d(w, h))).toEqual(d(w, h));
  });

  const { maxRatio, minPixels, maxPixels, maxEdgeExclusive, multiple } = FLEXIBLE_RULES;

  /** The aspect ratio the rules allow nearest to the request's. */
  const clampedRatio = ({ width, height }: Dimensions) => Math.min(maxRatio, Math.max(1 / maxRatio, width / height));

  /** The pixel count the rules allow nearest to the request's, given the clamped ratio and the edge cap. */
  const reachablePixels = (size: Dimensions) => {
    const ratio = clampedRatio(size);
    const pixels = Math.min(maxPixels, Math.max(minPixels, size.width * size.height));
    const longest = Math.max(Math.sqrt(pixels * ratio), Math.sqrt(pixels / ratio));
    const cap = maxEdgeExclusive - multiple;
    return longest > cap ? pixels * (cap / longest) ** 2 : pixels;
  };

  function expectValidAndNear(requested: Dimensions): void {
    const s = suggestFlexibleSize(requested);
    const label = `${formatSize(requested)} -> ${formatSize(s)}`;
    expect(flexibleSizeViolations(s), label).toEqual([]);
    expect(s.width * s.height, label).toBeGreaterThanOrEqual(minPixels);
    expect(s.width * s.height, label).toBeLessThanOrEqual(maxPixels);
    const aspectError = Math.abs(Math.log(s.width / s.height / clampedRatio(requested)));
    expect(aspectError, `${label}: aspect ratio drifted`).toBeLessThan(0.1);
    const scaleError = Math.abs(Math.log((s.width * s.height) / reachablePixels(requested)));
    expect(scaleError, `${label}: pixel count drifted`).toBeLessThan(0.25);
  }

  it.each([
    [5000, 100],
    [100, 5000],
    [6000, 2000],
    [2000, 6000],
    [10000, 10000],
    [4000, 4000],
    [3840, 3840],
    [1000, 1000],
    [1000, 3000],
    [2464, 816],
    [1024, 624],
    [2880, 2896],
    [999999, 1],
    [1, 999999],
  ])('suggests a valid size near %ix%i', (w, h) => {
    expectValidAndNear(d(w, h));
  });

  // Tiny requests must grow into the pixel range while keeping their shape: 816x816 (665,856 px)
  // is valid, so a square request has a square-ish answer within reach.
  it.each([
    [256, 256],
    [512, 512],
    [700, 500],
  ])('suggests a valid size of the same shape for the tiny %ix%i', (w, h) => {
    expectValidAndNear(d(w, h));
  });

  it('suggests a valid, near size across a sweep of 100..6000 in both edges', () => {
    const failures: string[] = [];
    for (let w = 100; w <= 6000; w += 100) {
      for (let h = 100; h <= 6000; h += 100) {
        const requested = d(w, h);
        const s = suggestFlexibleSize(requested);
        const aspectError = Math.abs(Math.log(s.width / s.height / clampedRatio(requested)));
        const scaleError = Math.abs(Math.log((s.width * s.height) / reachablePixels(requested)));
        if (!isValidFlexibleSize(s)) failures.push(`${w}x${h} -> ${formatSize(s)} is invalid`);
        else if (aspectError >= 0.1) failures.push(`${w}x${h} -> ${formatSize(s)} aspect off by ${aspectError.toFixed(3)}`);
        else if (scaleError >= 0.25) failures.push(`${w}x${h} -> ${formatSize(s)} pixels off by ${scaleError.toFixed(3)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
