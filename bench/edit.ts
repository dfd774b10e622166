/**
 * One edit call against the fake API (no latency) next to the floor: read the same input files,
 * one plain multipart fetch, JSON parse, base64 decode and one file write. Inputs are
 * high-entropy PNGs (realistic sizes), so reading, checking and uploading them is what is
 * measured. Prints medians and their ratio for 1 image + mask and for 16 images (target <= 2x,
 * with `preview: false`: the floor makes no preview), then what the default preview adds.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { startFakeImagesApi } from '../test/fake-images-api.js';
import { spawnServer, tempWorkspace } from '../test/helpers.js';
import { median, ms, verdict } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const fake = await startFakeImagesApi({ imageStyle: 'noise' });
const ws = await tempWorkspace('imagegen-bench-');
const server = await spawnServer({ cwd: ws.dir, env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url } });

const W = 1024;
const H = 1024;
async function noisePng(file: string): Promise<void> {
  await sharp(randomBytes(W * H * 3), { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(ws.dir, file));
}
await mkdir(path.join(ws.dir, 'in'), { recursive: true });
const inputs = Array.from({ length: 16 }, (_, i) => `in/${i + 1}.png`);
for (const file of inputs) await noisePng(file);
const mask = await sharp({ create: { width: W, height: H, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
await writeFile(path.join(ws.dir, 'in/mask.png'), mask);

async function floor(files: string[], withMask: boolean, out: string): Promise<number> {
  const started = performance.now();
  const form = new FormData();
  for (const [k, v] of Object.entries({ model: 'gpt-image-2', prompt: 'bench', size: '1024x1024', quality: 'medium', output_format: 'png', n: '1' })) {
    form.append(k, v);
  }
  for (const file of files) {
    form.append(files.length === 1 ? 'image' : 'image[]', new Blob([await readFile(path.join(ws.dir, file))], { type: 'image/png' }), path.basename(file));
  }
  if (withMask) form.append('mask', new Blob([await readFile(path.join(ws.dir, 'in/mask.png'))], { type: 'image/png' }), 'mask.png');
  const response = await fetch(`${fake.url}/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${fake.apiKey}` }, body: form });
  const body = (await response.json()) as { data: Array<{ b64_json: string }> };
  await writeFile(out, Buffer.from(body.data[0]!.b64_json, 'base64'));
  return performance.now() - started;
}

async function edit(files: string[], withMask: boolean, preview = false): Promise<number> {
  const started = performance.now();
  const result = await server.call('edit', {
    preview,
    prompt: 'bench',
    images: files,
    size: '1024x1024',
    out: 'bench/edit.png',
    force: true,
    ...(withMask ? { mask: 'in/mask.png' } : {}),
  });
  if (result.isError) throw new Error(JSON.stringify(result.content));
  return performance.now() - started;
}

try {
  for (const [label, files, withMask] of [
    ['1 image + mask', inputs.slice(0, 1), true],
    ['16 images', inputs, false],
  ] as const) {
    await floor([...files], withMask, path.join(ws.dir, 'warm.png'));
    await edit([...files], withMask);
    const ours: number[] = [];
    const withPreview: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      base.push(await floor([...files], withMask, path.join(ws.dir, `floor-${i}.png`)));
      ours.push(await edit([...files], withMask));
      withPreview.push(await edit([...files], withMask, true));
    }
    const ratio = median(ours) / median(base);
    console.log(`edit ${label}, 1024x1024 noise PNG inputs, preview: false (median of ${RUNS}): ${ms(median(ours))}; floor ${ms(median(base))}; ratio ${ratio.toFixed(2)}x: ${verdict(ratio, 2)}`);
    // The preview decodes the saved PNG (the floor never does), so it is reported apart.
    console.log(`  with the preview (default): ${ms(median(withPreview))}; the preview adds ${ms(median(withPreview) - median(ours))}`);
  }
} finally {
  await server.close();
  await fake.close();
  await ws.cleanup();
}
