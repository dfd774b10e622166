import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeImagesApi, type FakeImagesApi } from '../fake-images-api.js';
import { spawnServer, structured, tempWorkspace, textOf, type ServerHandle } from '../helpers.js';

interface Alpha {
  has_alpha: boolean;
  transparent_share: number;
  key_color?: string;
  keyed?: boolean;
  partial_share?: number;
  source_path?: string;
}

let fake: FakeImagesApi;
let ws: { dir: string; cleanup: () => Promise<void> };
/** Today is 2026-11-24: gpt-image-1.5 still answers. */
let before: ServerHandle;
/** Today is 2026-12-02: gpt-image-1.5 is shut down; the route goes to gpt-image-2.5-sunburst. */
let after: ServerHandle;
/** No API key, IMAGEGEN_TRANSPARENCY=chroma_key. */
let local: ServerHandle;

const generations = () => fake.requests.filter((r) => r.path === '/v1/images/generations');
const alphaOf = (result: Parameters<typeof structured>[0], i = 0) => (structured(result).images[i] as unknown as { alpha?: Alpha }).alpha;

/** Alpha of the pixel at (x, y) of a saved file (255 when it has no alpha channel). */
async function alphaAt(file: string, x: number, y: number): Promise<number> {
  const { data, info } = await sharp(path.join(ws.dir, file)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return data[(y * info.width + x) * 4 + 3]!;
}

async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(path.join(ws.dir, dir))).sort();
  } catch {
    return [];
  }
}

/** A transparent file: alpha channel, clear corners, solid centre. */
async function expectCutout(file: string, width: number, height: number) {
  const meta = await sharp(path.join(ws.dir, file)).metadata();
  expect(meta).toMatchObject({ width, height, hasAlpha: true });
  expect(await alphaAt(file, 2, 2)).toBe(0);
  expect(await alphaAt(file, width - 3, height - 3)).toBe(0);
  expect(await alphaAt(file, width >> 1, height >> 1)).toBe(255);
}

beforeAll(async () => {
  fake = await startFakeImagesApi({ today: '2026-11-24' }); // gpt-image-1.5 still answers the `before` server
  ws = await tempWorkspace();
  const api = { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url };
  [before, after, local] = await Promise.all([
    spawnServer({ structured: true, cwd: ws.dir, env: { ...api, IMAGEGEN_TODAY: '2026-11-24' } }),
    spawnServer({ structured: true, cwd: ws.dir, env: { ...api, IMAGEGEN_TODAY: '2026-12-02' } }),
    spawnServer({ structured: true, cwd: ws.dir, env: { OPENAI_BASE_URL: fake.url, IMAGEGEN_TRANSPARENCY: 'chroma_key' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([before?.close(), after?.close(), local?.close()]);
  await fake?.close();
  await ws?.cleanup();
});

beforeEach(() => {
  fake.reset();
});

describe('tools/list', () => {
  it('offers transparency and key_color on generate, and remove_background with honest annotations', async () => {
    const { tools } = await before.client.listTools();
    const generate = tools.find((t) => t.name === 'generate')!;
    expect(Object.keys(generate.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['transparency', 'key_color']));
    const remove = tools.find((t) => t.name === 'remove_background');
    expect(remove).toBeDefined();
    expect(remove!.inputSchema.type).toBe('object');
    for (const key of ['oneOf', 'anyOf', 'allOf']) expect(remove!.inputSchema).not.toHaveProperty(key);
    expect(remove!.inputSchema.required).toEqual(['image']);
    expect(remove!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, openWorldHint: false });
  });
});

describe('route', () => {
  it('goes to gpt-image-1.5 before 2026-12-01, says why, and checks the saved file has transparent pixels', async () => {
    const result = await before.call('generate', { prompt: 'a knight sprite', background: 'transparent', size: '1024x1024', out: 'route/knight.png' });
    expect(result.isError).toBeFalsy();
    const s = structured(result);
    expect(s.model).toBe('gpt-image-1.5');
    expect(s.routing_note).toMatch(/not supported by gpt-image-2.*gpt-image-1\.5 was used/);
    expect((s as unknown as { transparency: unknown }).transparency).toEqual({ strategy: 'route' });
    expect(generations()).toHaveLength(1);
    expect(generations()[0]!.body).toMatchObject({ model: 'gpt-image-1.5', background: 'transparent', prompt: 'a knight sprite' });
    expect(alphaOf(result)).toMatchObject({ has_alpha: true });
    expect(alphaOf(result)!.transparent_share).toBeGreaterThan(0.2);
    expect(await alphaAt('route/knight.png', 0, 0)).toBe(0);
  });

  it('falls back to chroma_key on gpt-image-2 when gpt-image-1.5 answers 404 model_not_found, saying why', async () => {
    fake.inject({ fault: { kind: 'model_not_found' }, model: 'gpt-image-1.5' });
    const result = await before.call('generate', { prompt: 'a knight sprite', background: 'transparent', size: '1024x1536', out: 'fallback/knight.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    const [first, second] = generations();
    expect(generations()).toHaveLength(2);
    expect(first!.body).toMatchObject({ model: 'gpt-image-1.5', background: 'transparent' });
    expect(first!.status).toBe(404);
    expect(second!.body).toMatchObject({ model: 'gpt-image-2', background: 'opaque', size: '1024x1536' });
    expect(second!.body.prompt).toMatch(/^a knight sprite\n\n.*flat, solid #00ff00 background/);
    const s = structured(result);
    expect(s.model).toBe('gpt-image-2');
    expect(s.routing_note).toBe(
      'gpt-image-1.5 is not available to this key (the API answered 404, model not found), so gpt-image-2 drew the image on a flat #00ff00 background and the server turned that colour into alpha (transparency "chroma_key").',
    );
    expect(textOf(result)).toContain(s.routing_note!);
    expect(alphaOf(result)).toMatchObject({ has_alpha: true, keyed: true, key_color: '#00ff00', source_path: 'fallback/knight-keyed-source.png' });
    await expectCutout('fallback/knight.png', 1024, 1536);
    // The API's opaque original is kept as it came.
    expect((await sharp(path.join(ws.dir, 'fallback/knight-keyed-source.png')).metadata()).hasAlpha).toBe(false);
  });

  it('holds the fallback to the spending cap too', async () => {
    fake.inject({ fault: { kind: 'model_not_found' }, model: 'gpt-image-1.5' });
    // gpt-image-1.5 at 1024x1024 medium is estimated at a few cents; gpt-image-2 has no estimate and counts $0.50 an image.
    const result = await before.call('generate', { prompt: 'a coin', background: 'transparent', size: '1024x1024', max_cost_usd: 0.1, out: 'fallback/coin.png' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/gpt-image-1\.5 is not available.*404.*so the request would be redone with transparency "chroma_key" on gpt-image-2, but: .*max_cost_usd/s);
    expect(generations()).toHaveLength(1);
    expect(await filesUnder('fallback')).not.toContain('coin.png');
  });

  it('weighs a routed batch job at its dearest step against the spending cap', async () => {
    const jobs = [{ prompt: 'a coin', background: 'transparent', size: '1024x1024' }];
    const refused = await before.call('generate_batch', { out_dir: 'fallback/capped', jobs, max_cost_usd: 0.1 });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/This batch would cost about \$0\.50.*max_cost_usd/s);
    expect(fake.requests).toHaveLength(0);
  });

  it('says both failures when the chroma_key fallback fails too', async () => {
    fake.inject({ fault: { kind: 'model_not_found' }, times: 2 });
    const result = await before.call('generate', { prompt: 'x', background: 'transparent', out: 'fallback/none.png' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/gpt-image-1\.5 is not available.*404.*and the next step of the transparent route, transparency "chroma_key" on gpt-image-2, failed too: .*gpt-image-2/);
    expect(generations()).toHaveLength(2);
    expect(await filesUnder('fallback')).not.toContain('none.png');
  });

  it('refuses gpt-image-2 with a transparent background, offering chroma_key, and sends nothing', async () => {
    const result = await before.call('generate', { prompt: 'x', model: 'gpt-image-2', background: 'transparent' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/gpt-image-2 does not support transparent backgrounds/);
    expect(textOf(result)).toContain('transparency "chroma_key"');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('route from 2026-12-01', () => {
  const STICKER = { prompt: 'a glass potion bottle sticker', background: 'transparent' };

  it('goes to gpt-image-2.5-sunburst with background transparent, saves its alpha as it came, and says why', async () => {
    const result = await after.call('generate', { ...STICKER, out: 'after/potion.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(generations()).toHaveLength(1);
    expect(generations()[0]!.body).toMatchObject({ model: 'gpt-image-2.5-sunburst', background: 'transparent', prompt: STICKER.prompt });
    const s = structured(result);
    expect(s.model).toBe('gpt-image-2.5-sunburst');
    expect(s.routing_note).toBe(
      'Transparent backgrounds are not supported by gpt-image-2, the default model, so gpt-image-2.5-sunburst was used (it makes the alpha itself).',
    );
    expect(textOf(result).split('\n')[0]).toMatch(/^Saved after\/potion\.png \(1024x1024 png, .*\) with gpt-image-2\.5-sunburst\.$/);
    expect(textOf(result).split('\n')[1]).toBe(s.routing_note);
    expect((s as unknown as { transparency: unknown }).transparency).toEqual({ strategy: 'route' });
    expect(alphaOf(result)).toMatchObject({ has_alpha: true });
    expect(alphaOf(result)!.transparent_share).toBeGreaterThan(0.2);
    expect(textOf(result)).not.toMatch(/NOT transparent/);
    // The API's bytes, not re-encoded: the subject's alpha still peaks at 254, the corners are clear.
    expect(await alphaAt('after/potion.png', 0, 0)).toBe(0);
    expect(await alphaAt('after/potion.png', 512, 512)).toBe(254);
    expect(await filesUnder('after')).toEqual(['potion.png']);
  });

  it('makes a 2048x2048 transparent request', async () => {
    const result = await after.call('generate', { ...STICKER, size: '2048x2048', out: 'after/big.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(generations()[0]!.body).toMatchObject({ model: 'gpt-image-2.5-sunburst', size: '2048x2048', background: 'transparent' });
    expect(structured(result).images[0]).toMatchObject({ width: 2048, height: 2048 });
  });

  it('moves to gpt-image-2.6-sunburst when 2.5-sunburst answers 404, naming the step', async () => {
    fake.inject({ fault: { kind: 'model_not_found' }, model: 'gpt-image-2.5-sunburst' });
    const result = await after.call('generate', { ...STICKER, out: 'after/step2.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(generations().map((r) => [r.body.model, r.body.background, r.status])).toEqual([
      ['gpt-image-2.5-sunburst', 'transparent', 404],
      ['gpt-image-2.6-sunburst', 'transparent', 200],
    ]);
    const s = structured(result);
    expect(s.model).toBe('gpt-image-2.6-sunburst');
    expect(s.routing_note).toBe(
      'gpt-image-2.5-sunburst is not available to this key (the API answered 404, model not found), so gpt-image-2.6-sunburst was used (it makes the alpha itself).',
    );
    expect(alphaOf(result)).toMatchObject({ has_alpha: true });
  });

  it('moves on when a target answers 400 "Transparent background is not supported"', async () => {
    const body = { error: { message: 'Transparent background is not supported for this model.', type: 'invalid_request_error', param: 'background', code: 'invalid_value' } };
    fake.inject({ fault: { kind: 'status', status: 400, body }, model: 'gpt-image-2.5-sunburst' });
    const result = await after.call('generate', { ...STICKER, out: 'after/unsupported.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(structured(result).model).toBe('gpt-image-2.6-sunburst');
    expect(structured(result).routing_note).toMatch(/^gpt-image-2\.5-sunburst answered that it does not support transparent backgrounds \(400\), so gpt-image-2\.6-sunburst was used/);
  });

  it('ends in chroma_key on gpt-image-2 when both answer 404, each step named', async () => {
    fake.inject({ fault: { kind: 'model_not_found' }, model: 'gpt-image-2.5-sunburst' });
    fake.inject({ fault: { kind: 'model_not_found' }, model: 'gpt-image-2.6-sunburst' });
    const result = await after.call('generate', { ...STICKER, size: '2048x1152', out: 'after/keyed.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(generations().map((r) => [r.body.model, r.body.background, r.status])).toEqual([
      ['gpt-image-2.5-sunburst', 'transparent', 404],
      ['gpt-image-2.6-sunburst', 'transparent', 404],
      ['gpt-image-2', 'opaque', 200],
    ]);
    expect(generations()[2]!.body.prompt).toContain('#00ff00');
    const s = structured(result);
    expect(s.model).toBe('gpt-image-2');
    expect(s.routing_note).toBe(
      'gpt-image-2.5-sunburst is not available to this key (the API answered 404, model not found) and gpt-image-2.6-sunburst is not available to this key (the API answered 404, model not found), so gpt-image-2 drew the image on a flat #00ff00 background and the server turned that colour into alpha (transparency "chroma_key").',
    );
    expect(alphaOf(result)).toMatchObject({ has_alpha: true, keyed: true });
    await expectCutout('after/keyed.png', 2048, 1152);
  });

  it('names every step when the last one fails too, and writes nothing', async () => {
    fake.inject({ fault: { kind: 'model_not_found' }, model: 'gpt-image-2.5-sunburst' });
    fake.inject({ fault: { kind: 'model_not_found' }, model: 'gpt-image-2.6-sunburst' });
    fake.inject({ fault: { kind: 'moderation' }, model: 'gpt-image-2' });
    const result = await after.call('generate', { ...STICKER, out: 'after/none.png' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /gpt-image-2\.5-sunburst is not available.*and gpt-image-2\.6-sunburst is not available.*the next step of the transparent route, transparency "chroma_key" on gpt-image-2, failed too: .*safety system/s,
    );
    expect(generations()).toHaveLength(3);
    expect(await filesUnder('after')).not.toContain('none.png');
  });

  it('takes the same route for a batch job: 404, 404, chroma_key, each step named', async () => {
    fake.inject({ fault: { kind: 'model_not_found' }, model: 'gpt-image-2.5-sunburst', times: 2 });
    fake.inject({ fault: { kind: 'model_not_found' }, model: 'gpt-image-2.6-sunburst', times: 1 });
    const result = await after.call('generate_batch', {
      out_dir: 'after/batch',
      concurrency: 1,
      jobs: [
        { prompt: 'a glass sticker', background: 'transparent', out: 'keyed.png' },
        { prompt: 'a smoke sticker', background: 'transparent', out: 'second.png' },
        { prompt: 'a hair sticker', background: 'transparent', out: 'first.png' },
      ],
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const jobs = (result.structuredContent as { jobs: Array<{ model: string; routing_note?: string; status: string; images: Array<{ alpha?: Alpha }> }> }).jobs;
    expect(jobs.map((j) => [j.status, j.model])).toEqual([
      ['done', 'gpt-image-2'],
      ['done', 'gpt-image-2.6-sunburst'],
      ['done', 'gpt-image-2.5-sunburst'],
    ]);
    expect(jobs[0]!.routing_note).toMatch(/^gpt-image-2\.5-sunburst is not available.*and gpt-image-2\.6-sunburst is not available.*so gpt-image-2 drew the image on a flat #00ff00 background.*chroma_key/);
    expect(jobs[1]!.routing_note).toMatch(/^gpt-image-2\.5-sunburst is not available.*so gpt-image-2\.6-sunburst was used/);
    expect(jobs[2]!.routing_note).toMatch(/^Transparent backgrounds are not supported by gpt-image-2.*gpt-image-2\.5-sunburst was used/);
    expect(jobs.map((j) => j.images[0]!.alpha!.has_alpha)).toEqual([true, true, true]);
    await expectCutout('after/batch/keyed.png', 1024, 1024);
    expect(generations().map((r) => r.body.model)).toEqual([
      'gpt-image-2.5-sunburst',
      'gpt-image-2.6-sunburst',
      'gpt-image-2',
      'gpt-image-2.5-sunburst',
      'gpt-image-2.6-sunburst',
      'gpt-image-2.5-sunburst',
    ]);
    const manifest = JSON.parse(await readFile(path.join(ws.dir, 'after/batch/manifest.json'), 'utf8')) as { jobs: Array<{ model: string }> };
    expect(manifest.jobs.map((j) => j.model)).toEqual(['gpt-image-2', 'gpt-image-2.6-sunburst', 'gpt-image-2.5-sunburst']);
  });

  it('refuses an explicit gpt-image-2 with the fixes that work today, and sends nothing', async () => {
    const result = await after.call('generate', { prompt: 'x', model: 'gpt-image-2', background: 'transparent' });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toContain('leave model unset (transparent requests go to gpt-image-2.5-sunburst');
    expect(text).toContain('transparency "chroma_key"');
    expect(text).toContain('transparency "native"');
    expect(text).not.toMatch(/gpt-image-1\.5|gpt-image-1-mini/);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('chroma_key', () => {
  it('keys a magenta background out of a webp on the chosen model, its web copy too', async () => {
    const result = await before.call('generate', {
      prompt: 'a green frog',
      transparency: 'chroma_key',
      key_color: '#ff00ff',
      size: '1536x1024',
      output_format: 'webp',
      out: 'magenta/frog.webp',
      downscale_max_dim: 256,
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const body = generations()[0]!.body;
    expect(body).toMatchObject({ model: 'gpt-image-2', background: 'opaque', output_format: 'webp' });
    expect(body.prompt).toMatch(/#ff00ff background/);
    expect(alphaOf(result)).toMatchObject({ keyed: true, key_color: '#ff00ff', has_alpha: true });
    expect(textOf(result)).toMatch(/Transparency by chroma key: gpt-image-2 drew the image on a flat #ff00ff background/);
    await expectCutout('magenta/frog.webp', 1536, 1024);
    const web = await sharp(path.join(ws.dir, 'magenta/frog-web.webp')).metadata();
    expect(web).toMatchObject({ width: 256, hasAlpha: true });
  });

  it('says so and keeps the opaque original when the model ignored the key colour', async () => {
    fake.inject({ fault: { kind: 'ignore_key_color' } });
    const result = await before.call('generate', { prompt: 'a frog', transparency: 'chroma_key', size: '1024x1024', out: 'ignored/frog.png' });
    expect(result.isError).toBeFalsy();
    expect(alphaOf(result)).toMatchObject({ keyed: false, has_alpha: false, transparent_share: 0 });
    expect(textOf(result)).toMatch(/ignored\/frog\.png is NOT transparent: almost nothing in it matched the key colour #00ff00/);
    expect((await sharp(path.join(ws.dir, 'ignored/frog.png')).metadata()).hasAlpha).toBe(false);
    expect(await filesUnder('ignored')).toEqual(['frog.png']);
  });

  it('is refused with jpeg output before anything is sent', async () => {
    const result = await before.call('generate', { prompt: 'x', transparency: 'chroma_key', output_format: 'jpeg' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/chroma_key.*png or webp/);
    expect(fake.requests).toHaveLength(0);
  });

  it('is the strategy IMAGEGEN_TRANSPARENCY names, shown by a dry run without a key', async () => {
    const result = await local.call('generate', { prompt: 'a gem', background: 'transparent', dry_run: true });
    expect(result.isError, textOf(result)).toBeFalsy();
    const s = structured(result);
    expect(s.model).toBe('gpt-image-2');
    expect((s as unknown as { transparency: unknown }).transparency).toEqual({ strategy: 'chroma_key', key_color: '#00ff00' });
    expect(s.request!.payload).toMatchObject({ model: 'gpt-image-2', background: 'opaque' });
    expect(String(s.request!.payload.prompt)).toContain('#00ff00');
    expect(fake.requests).toHaveLength(0);
  });

  it('applies IMAGEGEN_TRANSPARENCY to batch jobs too', async () => {
    const result = await local.call('generate_batch', { out_dir: 'local/batch', dry_run: true, jobs: [{ prompt: 'a gem', background: 'transparent' }] });
    expect(result.isError, textOf(result)).toBeFalsy();
    const [job] = (result.structuredContent as { jobs: Array<{ model: string }> }).jobs;
    expect(job!.model).toBe('gpt-image-2');
    const plan = JSON.parse(await readFile(path.join(ws.dir, 'tmp/imagegen/batch-plan-local-batch.json'), 'utf8')) as { jobs: Array<{ request: { payload: Record<string, unknown> } }> };
    expect(plan.jobs[0]!.request.payload).toMatchObject({ model: 'gpt-image-2', background: 'opaque' });
    expect(String(plan.jobs[0]!.request.payload.prompt)).toContain('#00ff00');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('native', () => {
  it('sends transparent to gpt-image-2 as it is and reports the API 400 clearly, with the fix', async () => {
    const result = await before.call('generate', { prompt: 'a logo', transparency: 'native', out: 'native/logo.png' });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toContain('refused the request in "background" (400)');
    expect(text).toContain('Transparent background is not supported for this model.');
    expect(text).toContain('transparency "chroma_key"');
    expect(generations()).toHaveLength(1); // a 400 is not retried
    expect(generations()[0]!.body).toMatchObject({ model: 'gpt-image-2', background: 'transparent' });
    expect(await filesUnder('native')).toEqual([]);
  });
});

describe('remove_background (no API key)', () => {
  const svg = (background: string, w = 640, h = 480) =>
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="${background}"/>` +
        `<circle cx="${w / 2}" cy="${h / 2}" r="${Math.min(w, h) / 3}" fill="#c04020"/></svg>`,
    );

  beforeAll(async () => {
    await mkdir(path.join(ws.dir, 'art'), { recursive: true });
    await sharp(svg('#00ff00')).png().toFile(path.join(ws.dir, 'art/logo.png'));
    await sharp(svg('#ff00ff')).jpeg({ quality: 92 }).toFile(path.join(ws.dir, 'art/badge.jpg'));
    const noise = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
      .png()
      .toBuffer();
    await writeFile(path.join(ws.dir, 'art/photo.png'), noise);
    await writeFile(path.join(ws.dir, 'art/notes.png'), 'not an image');
  });

  it('writes <stem>-cutout.png beside the input, with the border key and the shares', async () => {
    const result = await local.call('remove_background', { image: 'art/logo.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    const s = result.structuredContent as Record<string, unknown>;
    expect(s).toMatchObject({ input: 'art/logo.png', path: 'art/logo-cutout.png', width: 640, height: 480, format: 'png', key_color: '#00ff00', key_source: 'border', has_alpha: true });
    expect(s.transparent_share as number).toBeGreaterThan(0.5);
    expect(s.partial_share as number).toBeGreaterThan(0);
    expect(textOf(result)).toMatch(/Key #00ff00 \(median of the border\): \d+\.\d% transparent/);
    await expectCutout('art/logo-cutout.png', 640, 480);
    expect(result.content.some((b) => b.type === 'resource_link' && b.uri.endsWith('/art/logo-cutout.png'))).toBe(true);
    expect(fake.requests).toHaveLength(0);
  });

  it('never overwrites: a second call writes a versioned sibling, force replaces', async () => {
    const second = await local.call('remove_background', { image: 'art/logo.png' });
    expect(second.structuredContent).toMatchObject({ path: 'art/logo-cutout-v2.png', versioned_from: 'art/logo-cutout.png' });
    const forced = await local.call('remove_background', { image: 'art/logo.png', force: true });
    expect(forced.structuredContent).toMatchObject({ path: 'art/logo-cutout.png' });
    expect(forced.structuredContent).not.toHaveProperty('versioned_from');
  });

  it('takes a jpeg, a given key_color and an out in webp', async () => {
    const result = await local.call('remove_background', { image: 'art/badge.jpg', key_color: 'f0f', out: 'cut/badge.webp' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ path: 'cut/badge.webp', format: 'webp', key_color: '#ff00ff', key_source: 'given' });
    await expectCutout('cut/badge.webp', 640, 480);
  });

  it('refuses an image with no flat background, saying its border is too grey to be a key, and writes nothing', async () => {
    const result = await local.call('remove_background', { image: 'art/photo.png' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^Refused: Nothing was written: the border of art\/photo\.png is #[0-9a-f]{6}, too grey to be a key colour.*give key_color/);
    expect(textOf(result)).not.toMatch(/almost nothing matches/);
    expect(await filesUnder('art')).not.toContain('photo-cutout.png');
  });

  it('refuses inputs that are outside the workspace, missing or not images, and bad key colours', async () => {
    expect(textOf(await local.call('remove_background', { image: '../x.png' }))).toMatch(/outside the workspace/);
    expect(textOf(await local.call('remove_background', { image: 'art/missing.png' }))).toMatch(/does not exist/);
    expect(textOf(await local.call('remove_background', { image: 'art/notes.png' }))).toMatch(/not an image/);
    expect(textOf(await local.call('remove_background', { image: 'art/logo.png', key_color: 'lime' }))).toMatch(/key_color "lime" is not a colour/);
  });
});
