/**
 * One generate call against the fake API (cached images, no latency) next to the floor: one plain
 * fetch of the same answer, JSON parse, base64 decode and one file write. Prints the medians and
 * their ratio for 1024x1024 and 3824x2160 PNG (target <= 2x, without the preview), then what the
 * default preview adds. The fake serves high-entropy images so file sizes are realistic (a
 * 3824x2160 PNG is about 12 MB).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startFakeImagesApi } from '../test/fake-images-api.js';
import { spawnServer, tempWorkspace } from '../test/helpers.js';
import { median, ms, verdict } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const fake = await startFakeImagesApi({ imageStyle: 'noise' });
const ws = await tempWorkspace('imagegen-bench-');
const server = await spawnServer({ cwd: ws.dir, env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url } });

async function floor(size: string, file: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${fake.url}/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-image-2', prompt: 'bench', size, quality: 'medium', output_format: 'png', n: 1 }),
  });
  const body = (await response.json()) as { data: Array<{ b64_json: string }> };
  await writeFile(file, Buffer.from(body.data[0]!.b64_json, 'base64'));
  return performance.now() - started;
}

async function generate(size: string, preview: boolean): Promise<number> {
  const started = performance.now();
  const result = await server.call('generate', { prompt: 'bench', size, out: `bench/${size}.png`, force: true, preview });
  if (result.isError) throw new Error(JSON.stringify(result.content));
  return performance.now() - started;
}

try {
  for (const size of ['1024x1024', '3824x2160']) {
    await floor(size, path.join(ws.dir, 'warm.png')); // the fake encodes each image once
    await generate(size, true);
    const bare: number[] = [];
    const withPreview: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      base.push(await floor(size, path.join(ws.dir, `floor-${i}.png`)));
      bare.push(await generate(size, false));
      withPreview.push(await generate(size, true));
    }
    const ratio = median(bare) / median(base);
    console.log(`generate ${size} png, preview: false (median of ${RUNS}): ${ms(median(bare))}; floor ${ms(median(base))}; ratio ${ratio.toFixed(2)}x: ${verdict(ratio, 2)}`);
    // The preview decodes the saved PNG (the floor never does), so it is reported apart.
    console.log(`  with the preview (default): ${ms(median(withPreview))}, ${(median(withPreview) / median(base)).toFixed(2)}x the floor; the preview adds ${ms(median(withPreview) - median(bare))}`);
  }
} finally {
  await server.close();
  await fake.close();
  await ws.cleanup();
}
