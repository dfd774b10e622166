import { describe, expect, it } from 'vitest';
import { headerMismatch, IMAGE_BYTES_ALLOWANCE, maxImageBytes } from '../../src/core/answer-limits.js';

describe('maxImageBytes', () => {
  it('is 4 bytes a requested pixel plus a fixed allowance', () => {
    expect(maxImageBytes('1024x1024')).toBe(1024 * 1024 * 4 + IMAGE_BYTES_ALLOWANCE);
    expect(maxImageBytes('3824x2160')).toBe(3824 * 2160 * 4 + IMAGE_BYTES_ALLOWANCE);
  });

  it('takes the largest size any model makes for auto', () => {
    expect(maxImageBytes('auto')).toBe(8_294_400 * 4 + IMAGE_BYTES_ALLOWANCE);
    expect(maxImageBytes('1024x1024', 'gif')).toBe(8_294_400 * 4 + IMAGE_BYTES_ALLOWANCE); // frames add up
  });
});

describe('headerMismatch', () => {
  const png1024 = { size: '1024x1024', outputFormat: 'png' };

  it('accepts the requested format and size', () => {
    expect(headerMismatch({ format: 'png', width: 1024, height: 1024 }, png1024)).toBeUndefined();
    expect(headerMismatch({ format: 'webp', width: 3824, height: 2160 }, { size: 'auto', outputFormat: 'webp' })).toBeUndefined();
  });

  it('refuses other dimensions, naming both', () => {
    expect(headerMismatch({ format: 'png', width: 16000, height: 16000 }, png1024)).toBe('it is 16000x16000, not the 1024x1024 that was requested');
    expect(headerMismatch({ format: 'png', width: 1024, height: 1536 }, { size: '1536x1024', outputFormat: 'png' })).toMatch(/1024x1536/);
  });

  it('refuses another format (an SVG or a GIF under .png), before looking at the size', () => {
    expect(headerMismatch({ format: 'svg', width: 1024, height: 1024 }, png1024)).toBe('it is SVG, not the PNG that was requested');
    expect(headerMismatch({ format: 'jpeg', width: 1024, height: 1024 }, png1024)).toMatch(/JPEG/);
  });

  it('for auto, refuses only what no model makes', () => {
    const auto = { size: 'auto', outputFormat: 'png' };
    expect(headerMismatch({ format: 'png', width: 16000, height: 16000 }, auto)).toMatch(/larger than any size/);
    expect(headerMismatch({ format: 'png', width: 3840, height: 1024 }, auto)).toMatch(/larger than any size/);
    expect(headerMismatch({ format: 'png', width: 2880, height: 2880 }, auto)).toBeUndefined();
  });

  it('holds an animation or a vector to the range alone (their frames or nominal size may differ)', () => {
    expect(headerMismatch({ format: 'gif', width: 960, height: 960 }, { size: '1024x1024', outputFormat: 'gif' })).toBeUndefined();
    expect(headerMismatch({ format: 'svg', width: 16000, height: 16000 }, { size: '1024x1024', outputFormat: 'svg' })).toMatch(/larger than any size/);
  });
});
