/**
 * Times what follows an SVG or GIF answer: the SVG check, the cleaned copy and the preview of a
 * 1 MB SVG, and the header read and preview of a 16-frame 720x720 GIF. Each must be well under
 * the API call it follows (seconds), so the target is 1 s and the figure should be far below it.
 * Run: npx tsx bench/svg-gif.ts. Prints figures; asserts nothing.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { checkGifRequest, describeGif } from '../src/core/gif.js';
import { checkSvg, sanitizeSvg } from '../src/core/svg.js';
import { singlePreview } from '../src/io/preview.js';
import { median, ms } from './stats.js';

const TARGET_MS = 1000;
console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.availableParallelism()} cores`);
const RUNS = 7;

/**
 * Median wall time and median CPU time of the process (all threads) per run. On a shared machine
 * the wall time grows with the load; the CPU time is the work itself.
 */
async function time(runs: number, fn: () => unknown): Promise<{ wall: number; cpu: number }> {
  await fn(); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    await fn();
    const used = process.cpuUsage(c);
    wall.push(performance.now() - t);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

const fmt = (t: { wall: number; cpu: number }) => `${ms(t.wall)} (CPU ${ms(t.cpu)})`;

/** About `bytes` of SVG as an illustration exports it: gradients, groups and many curved paths. */
function illustration(bytes: number, hostile: boolean): string {
  const head = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 1024 1024" width="1024" height="1024"${hostile ? ' onload="alert(1)"' : ''}>
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#9ad0ff"/><stop offset="1" stop-color="#fef6e4"/></linearGradient>
    <radialGradient id="sun"><stop offset="0" stop-color="#fff3b0"/><stop offset="1" stop-color="#ffb703"/></radialGradient>
  </defs>
  <rect width="1024" height="1024" fill="url(#sky)"/>
  <circle cx="780" cy="220" r="120" fill="url(#sun)"/>
`;
  const parts = [head];
  let size = head.length;
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 1024;
  for (let g = 0; size < bytes - 200; g++) {
    const paths: string[] = [];
    // Detail as an illustration has it: many small shapes (leaves, strokes, shading), each local.
    const cx = rand();
    const cy = rand();
    for (let i = 0; i < 20; i++) {
      const p = Array.from({ length: 8 }, (_, k) => ((k % 2 ? cy : cx) + rand() / 16 - 32).toFixed(2));
      const hue = Math.floor(rand() / 3);
      paths.push(`    <path d="M${p[0]} ${p[1]}C${p[2]} ${p[3]} ${p[4]} ${p[5]} ${p[6]} ${p[7]}Z" fill="hsl(${hue},55%,45%)" fill-opacity="0.6" stroke="#223" stroke-width="0.8"/>`);
    }
    const group = `  <g id="layer-${g}">\n${paths.join('\n')}\n  </g>\n`;
    if (hostile && g === 10) parts.push('  <script>alert(2)</script>\n  <image href="/etc/hostname" width="10" height="10"/>\n');
    parts.push(group);
    size += group.length;
  }
  parts.push('</svg>\n');
  return parts.join('');
}

/** A 720x720 GIF of 16 frames with gradients and grain (not flat colours: real frames cost more to decode). */
async function animation(file: string, edge: number, frames: number): Promise<void> {
  const strip = await sharp({ create: { width: edge, height: edge * frames, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 50 } } })
    .raw()
    .toBuffer();
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < edge; y++) {
      for (let x = 0; x < edge; x++) {
        const at = ((f * edge + y) * edge + x) * 3;
        strip[at] = (strip[at]! + x / 3 + f * 10) & 255;
        strip[at + 2] = (strip[at + 2]! + y / 3) & 255;
      }
    }
  }
  await sharp(strip, { raw: { width: edge, height: edge * frames, channels: 3, pageHeight: edge } })
    .gif({ delay: Array<number>(frames).fill(200), loop: 0, effort: 1 })
    .toFile(file);
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'imagegen-bench-svg-gif-'));
try {
  for (const hostile of [false, true]) {
    const svg = illustration(1024 * 1024, hostile);
    const file = path.join(dir, hostile ? 'hostile.svg' : 'clean.svg');
    await writeFile(file, svg);
    const verdict = checkSvg(svg);
    const findings = verdict.ok ? verdict.findings.length : -1;
    const elements = verdict.ok ? verdict.elements : 0;
    const check = await time(RUNS, async () => checkSvg(await readFile(file)));
    const clean = await time(RUNS, () => sanitizeSvg(svg));
    const preview = await time(RUNS, () => singlePreview(file));
    const made = await singlePreview(file);
    console.log(
      `svg ${(svg.length / 1024 / 1024).toFixed(2)} MB, ${elements} elements, ${findings} findings${hostile ? ' (the preview cleans it first)' : ''}:` +
        ` read + check ${fmt(check)} | cleaned copy ${fmt(clean)} | preview ${fmt(preview)} (${made.width}x${made.height}, ${(made.data.length / 1024).toFixed(1)} KB)` +
        ` | target each <= ${TARGET_MS} ms`,
    );
  }

  const gif = path.join(dir, 'animation.gif');
  await animation(gif, 720, 16);
  const plan = checkGifRequest({ frame_count: 16, size: { width: 720, height: 720 } });
  if (!plan.ok) throw new Error('the bench GIF request should be valid');
  const rules = await time(RUNS, () => checkGifRequest({ frame_count: 16, size: { width: 720, height: 720 } }));
  const header = await time(RUNS, () => sharp(gif).metadata());
  const preview = await time(RUNS, () => singlePreview(gif));
  const meta = await sharp(gif).metadata();
  const made = await singlePreview(gif);
  const bytes = (await readFile(gif)).length;
  console.log(
    `gif ${describeGif({ frames: meta.pages ?? 1, delaysMs: meta.delay ?? [], width: meta.width!, height: meta.pageHeight ?? meta.height! })}, ${(bytes / 1024 / 1024).toFixed(2)} MB:` +
      ` request check ${fmt(rules)} | header (frames, delays) ${fmt(header)} | preview of frames ${made.frames?.shown.join(', ')} ${fmt(preview)}` +
      ` (${made.width}x${made.height}, ${(made.data.length / 1024).toFixed(1)} KB) | target each <= ${TARGET_MS} ms`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
