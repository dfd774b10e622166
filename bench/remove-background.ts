/**
 * The whole remove_background call through the built server over stdio (read, decode, pixel pass,
 * encode, atomic save, alpha read-back, result), for a 1024x1024 and a 3824x2160 PNG made on green.
 * Next to it, the same work in-process split into its parts, so the pixel pass's share is visible.
 * Prints figures; asserts nothing. Run: npm run build && npx tsx bench/remove-background.ts
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { alphaFacts, cutOut } from '../src/io/cutout.js';
import { spawnServer, tempWorkspace } from '../test/helpers.js';
import { median, ms } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const SIZES: Array<[number, number]> = [
  [1024, 1024],
  [3824, 2160],
];

/** A generated-looking picture on green: soft vignette, grain, a shaded subject, thin strokes, text. */
async function makeImage(width: number, height: number): Promise<Buffer> {
  const s = Math.min(width, height);
  const strokes = Array.from({ length: 30 }, (_, i) => {
    const a = (i / 30) * Math.PI - Math.PI;
    const [x1, y1] = [width / 2 + Math.cos(a) * s * 0.28, height / 2 + Math.sin(a) * s * 0.28];
    const [x2, y2] = [width / 2 + Math.cos(a) * s * 0.4, height / 2 + Math.sin(a) * s * 0.4];
    return `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#5a3a22" stroke-width="${s / 600}"/>`;
  }).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <defs>
    <radialGradient id="bg" cx="50%" cy="45%" r="75%"><stop offset="0%" stop-color="#08ff10"/><stop offset="100%" stop-color="#00e804"/></radialGradient>
    <radialGradient id="body" cx="40%" cy="35%" r="70%"><stop offset="0%" stop-color="#f3d2b8"/><stop offset="100%" stop-color="#6e3f2a"/></radialGradient>
  </defs>
  <rect width="100%" height="100%" fill="url(#bg)"/>
  <circle cx="${width / 2}" cy="${height / 2}" r="${s * 0.3}" fill="url(#body)"/>
  ${strokes}
  <text x="${width * 0.05}" y="${height * 0.95}" font-family="sans-serif" font-size="${Math.round(s / 16)}" fill="#d01030">remove_background</text>
</svg>`;
  const grain = await sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 30 } } })
    .png()
    .toBuffer();
  return sharp(Buffer.from(svg)).composite([{ input: grain, blend: 'soft-light' }]).removeAlpha().png().toBuffer();
}

const ws = await tempWorkspace('imagegen-bench-rb-');
const server = await spawnServer({ cwd: ws.dir, env: {} }); // no API key: this tool needs none
try {
  for (const [width, height] of SIZES) {
    const size = `${width}x${height}`;
    const input = `in-${size}.png`;
    await sharp(await makeImage(width, height)).toFile(path.join(ws.dir, input));
    const bytes = await readFile(path.join(ws.dir, input));

    const call = async (): Promise<number> => {
      const started = performance.now();
      const result = await server.call('remove_background', { image: input, out: `out-${size}.png`, force: true });
      if (result.isError) throw new Error(JSON.stringify(result.content));
      return performance.now() - started;
    };
    await call(); // warm-up
    const whole: number[] = [];
    for (let i = 0; i < RUNS; i++) whole.push(await call());

    // In-process parts: decode + pass + encode (cutOut), the pass alone, and the alpha read-back.
    const cut: number[] = [];
    const pass: number[] = [];
    const check: number[] = [];
    let share = 0;
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now();
      const c = await cutOut(bytes, { format: 'png' });
      cut.push(performance.now() - t);
      pass.push(c.passMs);
      t = performance.now();
      share = (await alphaFacts(c.bytes!)).transparentShare;
      check.push(performance.now() - t);
    }
    console.log(
      `remove_background ${size} png (median of ${RUNS}): whole call ${ms(median(whole))}` +
        ` | in-process: decode+pass+encode ${ms(median(cut))}, pass alone ${ms(median(pass))}, alpha read-back ${ms(median(check))}` +
        ` | ${(share * 100).toFixed(1)}% transparent`,
    );
  }
} finally {
  await server.close();
  await ws.cleanup();
}
