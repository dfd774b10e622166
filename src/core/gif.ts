/**
 * Animated GIF output (gpt-image-2.6, `output_format: "gif"`): the rules as dated data, and one
 * pure check of a request against them. The frame sizes come from measurement (relay providers,
 * November 2026), not from OpenAI's API reference, which states none: when they change, this
 * table and its date change.
 */
import type { Outcome, Problem } from './problems.js';
import type { Dimensions } from './sizes.js';

export const GIF_RULES = {
  /** When the limits below were measured, and by whom. */
  measured: '2026-11',
  source: "relay providers' measurements; OpenAI's API reference gives no frame size limits",
  frameCount: { min: 2, max: 16, default: 9 },
  /**
   * The API rounds a frame's duration to 10 ms (GIF stores hundredths of a second, in 16 bits:
   * at most 655.35 s). The minimum is the format's smallest step.
   */
  frameDurationMs: { default: 200, step: 10, min: 10, max: 655_350 },
  /** The largest square frame accepted, by frame count (more frames, smaller frames). */
  frameEdge: [
    { maxFrames: 9, edge: 960 },
    { maxFrames: 12, edge: 816 },
    { maxFrames: 16, edge: 720 },
  ],
} as const;

/** Sizes are multiples of this, like gpt-image-2's (the measured edges are too). */
const SIZE_MULTIPLE = 16;

/**
 * The longest frame edge for `frameCount` frames. Only square frames were measured, so a
 * rectangle is held to the square's edge: it then fits inside a frame known to work.
 */
export function maxFrameEdge(frameCount: number): number {
  const rows = GIF_RULES.frameEdge;
  return (rows.find((r) => frameCount <= r.maxFrames) ?? rows[rows.length - 1]!).edge;
}

/** The most frames allowed at a given longest edge (0 if none: the edge is too large). */
export function maxFramesAt(edge: number): number {
  let most = 0;
  for (const r of GIF_RULES.frameEdge) if (edge <= r.edge) most = r.maxFrames;
  return most;
}

export interface GifArguments {
  /** The parsed size; 'auto' or absent lets the API choose. */
  size?: Dimensions | 'auto' | undefined;
  frame_count?: number | undefined;
  frame_duration_ms?: number | undefined;
  /** True when the call has a mask (edit). */
  mask?: boolean | undefined;
  output_compression?: number | undefined;
  background?: string | undefined;
}

export interface GifPlan {
  frameCount: number;
  /** As it will be sent: rounded to 10 ms. */
  frameDurationMs: number;
  /** The longest frame edge allowed for this frame count. */
  maxEdge: number;
}

/** A size within `edge` on both sides, same shape, in multiples of 16, rounded down. */
export function fitFrame({ width, height }: Dimensions, edge: number): Dimensions {
  const scale = Math.min(1, edge / Math.max(width, height));
  const down = (v: number) => Math.max(SIZE_MULTIPLE, Math.floor((v * scale) / SIZE_MULTIPLE) * SIZE_MULTIPLE);
  return { width: down(width), height: down(height) };
}

const isWhole = (v: number) => Number.isFinite(v) && Number.isInteger(v);

/**
 * Checks a GIF request before anything is spent: frame count, frame duration, the measured frame
 * size for that many frames, and what GIF output does not take (a mask, output_compression).
 */
export function checkGifRequest(args: GifArguments): Outcome<GifPlan> {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const { frameCount: fc, frameDurationMs: fd } = GIF_RULES;

  const frameCount = args.frame_count ?? fc.default;
  if (!isWhole(frameCount) || frameCount < fc.min || frameCount > fc.max) {
    problems.push({ field: 'frame_count', message: `frame_count must be a whole number from ${fc.min} to ${fc.max} (it is ${frameCount}); leave it out for ${fc.default} frames.` });
  }

  let frameDurationMs = args.frame_duration_ms ?? fd.default;
  if (!Number.isFinite(frameDurationMs) || frameDurationMs < fd.min || frameDurationMs > fd.max) {
    problems.push({
      field: 'frame_duration_ms',
      message: `frame_duration_ms must be from ${fd.min} to ${fd.max} ms (it is ${frameDurationMs}); leave it out for ${fd.default} ms a frame.`,
    });
  } else {
    const rounded = Math.max(fd.min, Math.round(frameDurationMs / fd.step) * fd.step);
    if (rounded !== frameDurationMs) warnings.push(`frame_duration_ms ${frameDurationMs} is sent as ${rounded}: GIF frames last in steps of ${fd.step} ms.`);
    if (rounded <= 10) warnings.push('Most browsers play frames of 10 ms or less at 100 ms; use 20 ms or more for a fast animation.');
    frameDurationMs = rounded;
  }

  const maxEdge = maxFrameEdge(isWhole(frameCount) ? Math.min(Math.max(frameCount, fc.min), fc.max) : fc.default);
  const size = args.size;
  if (size && size !== 'auto' && problems.every((p) => p.field !== 'frame_count')) {
    const longest = Math.max(size.width, size.height);
    if (longest > maxEdge) {
      const fit = fitFrame(size, maxEdge);
      const fewer = maxFramesAt(longest);
      const orFewer = fewer >= fc.min ? `, or ask for at most ${fewer} frames at this size` : '';
      problems.push({
        field: 'size',
        message:
          `size ${size.width}x${size.height} is over the largest GIF frame for ${frameCount} frames: each edge at most ${maxEdge} px ` +
          `(measured ${GIF_RULES.measured}; ${limitsText()}). Use size ${fit.width}x${fit.height}${orFewer}.`,
      });
    }
  }

  if (args.mask) {
    problems.push({ field: 'mask', message: 'GIF output takes no mask: leave out mask (the prompt alone says what to change), or ask for png or webp to edit with a mask.' });
  }
  if (args.output_compression !== undefined) {
    problems.push({ field: 'output_compression', message: 'output_compression does not apply to GIF output: leave it out.' });
  }
  if (args.background === 'transparent') {
    warnings.push('GIF transparency is 1-bit: each pixel is fully transparent or fully opaque, so soft edges and shadows get hard outlines. Use png or webp for soft transparency.');
  }

  if (problems.length) return { ok: false, problems };
  return { ok: true, value: { frameCount, frameDurationMs, maxEdge }, warnings };
}

/** The measured limits in one phrase: "960 px for 2-9 frames, 816 px for 10-12, 720 px for 13-16". */
export function limitsText(): string {
  let from: number = GIF_RULES.frameCount.min;
  return GIF_RULES.frameEdge
    .map((r, i) => {
      const text = `${r.edge} px for ${from}-${r.maxFrames}${i === 0 ? ' frames' : ''}`;
      from = r.maxFrames + 1;
      return text;
    })
    .join(', ');
}

/** A saved GIF in one phrase for a result: "9 frames of 200 ms (1.8 s a loop), 960x960". */
export function describeGif(facts: { frames: number; delaysMs?: readonly number[]; width: number; height: number }): string {
  let text = `${facts.frames} frame${facts.frames === 1 ? '' : 's'}`;
  const delays = facts.delaysMs ?? [];
  if (delays.length) {
    if (delays.every((d) => d === delays[0])) text += ` of ${delays[0]} ms`;
    const total = delays.reduce((a, b) => a + b, 0);
    text += ` (${Number((total / 1000).toFixed(2))} s a loop)`;
  }
  return `${text}, ${facts.width}x${facts.height}`;
}

/** Frames a GIF's preview shows. */
export const GIF_PREVIEW_FRAMES = 4;

/** Which frames a preview shows (0-based): evenly spaced, the first and the last included. */
export function previewFrames(total: number, max = GIF_PREVIEW_FRAMES): number[] {
  const count = Math.max(0, Math.floor(total));
  if (count <= max) return Array.from({ length: count }, (_, i) => i);
  if (max <= 1) return [0];
  return Array.from({ length: max }, (_, i) => Math.round((i * (count - 1)) / (max - 1)));
}
