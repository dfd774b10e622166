import { describe, expect, it } from 'vitest';
import { GIF_RULES, checkGifRequest, describeGif, fitFrame, limitsText, maxFrameEdge, maxFramesAt, previewFrames, type GifArguments, type GifPlan } from '../../src/core/gif.js';

const square = (edge: number) => ({ width: edge, height: edge });

function plan(args: GifArguments): { value: GifPlan; warnings: string[] } {
  const outcome = checkGifRequest(args);
  if (!outcome.ok) throw new Error(outcome.problems.map((p) => p.message).join('\n'));
  return outcome;
}

function refusal(args: GifArguments): { fields: string[]; text: string } {
  const outcome = checkGifRequest(args);
  if (outcome.ok) throw new Error('expected a refusal');
  return { fields: outcome.problems.map((p) => p.field), text: outcome.problems.map((p) => p.message).join('\n') };
}

describe('GIF rules', () => {
  it('are dated, and say they were measured', () => {
    expect(GIF_RULES.measured).toBe('2026-11');
    expect(GIF_RULES.source).toMatch(/measure/);
    expect(limitsText()).toBe('960 px for 2-9 frames, 816 px for 10-12, 720 px for 13-16');
  });

  it('give the measured frame edge at each boundary of the frame count', () => {
    expect([2, 9, 10, 12, 13, 16].map(maxFrameEdge)).toEqual([960, 960, 816, 816, 720, 720]);
    expect([720, 721, 816, 817, 960, 961].map(maxFramesAt)).toEqual([16, 12, 12, 9, 9, 0]);
  });

  it('default to 9 frames of 200 ms, with the edge for 9 frames', () => {
    expect(plan({})).toEqual({ ok: true, value: { frameCount: 9, frameDurationMs: 200, maxEdge: 960 }, warnings: [] });
  });
});

describe('checkGifRequest', () => {
  it('takes 2 to 16 frames and refuses 1 and 17, naming the range and the default', () => {
    expect(plan({ frame_count: 2 }).value.frameCount).toBe(2);
    expect(plan({ frame_count: 16 }).value.frameCount).toBe(16);
    for (const frame_count of [1, 17, 0, 2.5, Number.NaN]) {
      const { fields, text } = refusal({ frame_count });
      expect(fields).toEqual(['frame_count']);
      expect(text).toContain('frame_count must be a whole number from 2 to 16');
      expect(text).toContain('leave it out for 9 frames');
    }
  });

  it('takes the largest measured frame for each frame count, and refuses one step more', () => {
    for (const [frames, edge] of [[9, 960], [10, 816], [12, 816], [13, 720], [16, 720]] as const) {
      expect(plan({ frame_count: frames, size: square(edge) }).value.maxEdge).toBe(edge);
      const { fields, text } = refusal({ frame_count: frames, size: square(edge + 16) });
      expect(fields).toEqual(['size']);
      expect(text).toContain(`over the largest GIF frame for ${frames} frames: each edge at most ${edge} px`);
      expect(text).toContain(`Use size ${edge}x${edge}`);
    }
  });

  it('names both ways out of a size too large: a smaller size, or fewer frames', () => {
    const { text } = refusal({ frame_count: 16, size: square(960) });
    expect(text).toContain('Use size 720x720, or ask for at most 9 frames at this size');
    expect(text).toContain('measured 2026-11');
    // Too large for any frame count: only a smaller size helps.
    expect(refusal({ size: { width: 1536, height: 1024 } }).text).toContain('Use size 960x640.');
  });

  it('holds a rectangle to the measured square edge, and lets the API choose with auto', () => {
    expect(plan({ size: { width: 960, height: 544 } }).value.maxEdge).toBe(960);
    expect(refusal({ frame_count: 13, size: { width: 736, height: 400 } }).text).toContain('Use size 720x384');
    expect(plan({ frame_count: 16, size: 'auto' }).value.frameCount).toBe(16);
  });

  it('rounds the frame duration to 10 ms and says so', () => {
    expect(plan({ frame_duration_ms: 120 })).toEqual({ ok: true, value: { frameCount: 9, frameDurationMs: 120, maxEdge: 960 }, warnings: [] });
    const rounded = plan({ frame_duration_ms: 125 });
    expect(rounded.value.frameDurationMs).toBe(130);
    expect(rounded.warnings).toEqual(['frame_duration_ms 125 is sent as 130: GIF frames last in steps of 10 ms.']);
    expect(plan({ frame_duration_ms: 124.9 }).value.frameDurationMs).toBe(120);
    expect(plan({ frame_duration_ms: 655_350 }).value.frameDurationMs).toBe(655_350);
  });

  it('warns that browsers slow down 10 ms frames', () => {
    const fast = plan({ frame_duration_ms: 10 });
    expect(fast.value.frameDurationMs).toBe(10);
    expect(fast.warnings.join('\n')).toContain('use 20 ms or more');
    expect(plan({ frame_duration_ms: 20 }).warnings).toEqual([]);
  });

  it('refuses a frame duration below 10 ms or above what GIF can store', () => {
    for (const frame_duration_ms of [9, 0, -200, 655_351, Number.POSITIVE_INFINITY]) {
      const { fields, text } = refusal({ frame_duration_ms });
      expect(fields).toEqual(['frame_duration_ms']);
      expect(text).toContain('frame_duration_ms must be from 10 to 655350 ms');
      expect(text).toContain('leave it out for 200 ms a frame');
    }
  });

  it('refuses a mask and output_compression, each with the fix', () => {
    const { fields, text } = refusal({ mask: true, output_compression: 80 });
    expect(fields).toEqual(['mask', 'output_compression']);
    expect(text).toContain('leave out mask');
    expect(text).toContain('output_compression does not apply to GIF output: leave it out.');
    expect(refusal({ output_compression: 0 }).fields).toEqual(['output_compression']);
    expect(plan({ mask: false }).warnings).toEqual([]);
  });

  it('says a transparent GIF has 1-bit alpha', () => {
    expect(plan({ background: 'transparent' }).warnings).toEqual([expect.stringContaining('GIF transparency is 1-bit')]);
    expect(plan({ background: 'opaque' }).warnings).toEqual([]);
  });

  it('lists every problem at once', () => {
    expect(refusal({ frame_count: 40, frame_duration_ms: 1, mask: true, output_compression: 5, size: square(2048) }).fields).toEqual([
      'frame_count',
      'frame_duration_ms',
      'mask',
      'output_compression',
    ]);
  });
});

describe('GIF helpers', () => {
  it('fit a frame within an edge in multiples of 16, keeping its shape and never enlarging', () => {
    expect(fitFrame({ width: 1024, height: 1024 }, 960)).toEqual({ width: 960, height: 960 });
    expect(fitFrame({ width: 1536, height: 1024 }, 816)).toEqual({ width: 816, height: 544 });
    expect(fitFrame({ width: 512, height: 256 }, 720)).toEqual({ width: 512, height: 256 });
    expect(fitFrame({ width: 3000, height: 16 }, 720)).toEqual({ width: 720, height: 16 });
  });

  it('describe a saved GIF', () => {
    expect(describeGif({ frames: 9, delaysMs: Array(9).fill(200), width: 960, height: 960 })).toBe('9 frames of 200 ms (1.8 s a loop), 960x960');
    expect(describeGif({ frames: 3, delaysMs: [100, 200, 150], width: 64, height: 32 })).toBe('3 frames (0.45 s a loop), 64x32');
    expect(describeGif({ frames: 1, width: 10, height: 10 })).toBe('1 frame, 10x10');
  });
});

describe('previewFrames', () => {
  it('shows every frame of a short GIF, and first, last and evenly spaced ones of a long one', () => {
    expect(previewFrames(2)).toEqual([0, 1]);
    expect(previewFrames(4)).toEqual([0, 1, 2, 3]);
    expect(previewFrames(9)).toEqual([0, 3, 5, 8]);
    expect(previewFrames(16)).toEqual([0, 5, 10, 15]);
    expect(previewFrames(16, 1)).toEqual([0]);
    expect(previewFrames(0)).toEqual([]);
  });
});
