/**
 * Times the chroma-key pixel pass alone (no decode/encode).
 * Run: npx tsx bench/chroma-key.ts
 * Prints figures next to the targets; asserts nothing.
 */
import sharp from 'sharp';
import { performance } from 'node:perf_hooks';
import { chromaKey, formatHexColor } from '../src/core/chroma-key.js';
import type { ChromaKeyOptions } from '../src/core/chroma-key.js';
import { median, ms } from './stats.js';

interface Case {
  width: number;
  height: number;
  targetMs: number;
  runs: number;
}

const CASES: Case[] = [
  { width: 1024, height: 1024, targetMs: 30, runs: 15 },
  { width: 3824, height: 2160, targetMs: 250, runs: 7 },
];
const WARMUP_RUNS = 3;

/**
 * A "generated on green" picture: a not-quite-flat green background (soft radial vignette plus
 * grain), a shaded subject with anti-aliased edges, thin strokes (hair-like detail), text and a
 * soft cast shadow.
 */
async function makeImage(width: number, height: number): Promise<Uint8Array> {
  const s = Math.min(width, height);
  const cx = width / 2;
  const cy = height / 2;
  const strokes: string[] = [];
  for (let i = 0; i < 40; i++) {
    const a = (i / 40) * Math.PI - Math.PI;
    const x1 = cx + Math.cos(a) * s * 0.28;
    const y1 = cy + Math.sin(a) * s * 0.28;
    const x2 = cx + Math.cos(a) * s * 0.4;
    const y2 = cy + Math.sin(a) * s * 0.4;
    strokes.push(
      `<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke="#5a3a22" stroke-width="${(s / 600).toFixed(2)}"/>`,
    );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <defs>
    <radialGradient id="bg" cx="50%" cy="45%" r="75%">
      <stop offset="0%" stop-color="#08ff10"/>
      <stop offset="100%" stop-color="#00e804"/>
    </radialGradient>
    <radialGradient id="body" cx="40%" cy="35%" r="70%">
      <stop offset="0%" stop-color="#f3d2b8"/>
      <stop offset="60%" stop-color="#c98d6a"/>
      <stop offset="100%" stop-color="#6e3f2a"/>
    </radialGradient>
    <filter id="blur"><feGaussianBlur stdDeviation="${(s / 80).toFixed(1)}"/></filter>
  </defs>
  <rect width="100%" height="100%" fill="url(#bg)"/>
  <ellipse cx="${cx}" cy="${cy + s * 0.36}" rx="${s * 0.25}" ry="${s * 0.04}" fill="#000" fill-opacity="0.35" filter="url(#blur)"/>
  <circle cx="${cx}" cy="${cy}" r="${s * 0.3}" fill="url(#body)"/>
  <rect x="${cx - s * 0.12}" y="${cy + s * 0.05}" width="${s * 0.24}" height="${s * 0.25}" rx="${s * 0.03}" fill="#2a4fb0"/>
  <circle cx="${cx - s * 0.09}" cy="${cy - s * 0.06}" r="${s * 0.03}" fill="#ffffff"/>
  <circle cx="${cx + s * 0.09}" cy="${cy - s * 0.06}" r="${s * 0.03}" fill="#ffffff"/>
  ${strokes.join('\n  ')}
  <text x="${width * 0.05}" y="${height * 0.95}" font-family="sans-serif" font-size="${(s / 16).toFixed(0)}" fill="#d01030">chroma key bench</text>
</svg>`;
  const grain = await sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 40 },
    },
  })
    .png()
    .toBuffer();
  const { data, info } = await sharp(Buffer.from(svg))
    .composite([{ input: grain, blend: 'soft-light' }])
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 4) {
    throw new Error(`unexpected raw image ${info.width}x${info.height}x${info.channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

function time(rgba: Uint8Array, c: Case, options: ChromaKeyOptions | undefined, runs: number): number {
  for (let i = 0; i < WARMUP_RUNS; i++) chromaKey(rgba, c.width, c.height, options);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    chromaKey(rgba, c.width, c.height, options);
    times.push(performance.now() - t);
  }
  return median(times);
}

for (const c of CASES) {
  const rgba = await makeImage(c.width, c.height);
  const size = `${c.width}x${c.height}`;
  const r = chromaKey(rgba, c.width, c.height);
  const pass = time(rgba, c, undefined, c.runs);
  const withKey = time(rgba, c, { key: r.key }, c.runs);
  const extras = time(rgba, c, { contract: 1, feather: 2 }, Math.max(3, c.runs >> 1));
  console.log(
    `chroma-key pass ${size}: ${ms(pass)} (target <= ${c.targetMs} ms)` +
      ` | key given: ${ms(withKey)}` +
      ` | with contract=1 feather=2: ${ms(extras)} (no target)`,
  );
  console.log(
    `  key ${formatHexColor(r.key)} (estimated), transparent ${(r.transparentShare * 100).toFixed(1)}%,` +
      ` partial ${(r.partialShare * 100).toFixed(2)}%, keyed ${r.keyed}`,
  );
}
