import { symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeImagesApi } from '../fake-images-api.js';
import { spawnServer, structured, tempWorkspace, textOf, type ServerHandle, startHarness, type Harness, filesUnder } from '../helpers.js';

let fake: FakeImagesApi;
let server: ServerHandle;
let harness: Harness;
let ws: { dir: string; cleanup: () => Promise<void> };

const OUTPUT = 'output/imagegen';

const generationRequests = () => fake.requests.filter((r) => r.path === '/v1/images/generations');

beforeAll(async () => {
  harness = await startHarness({ structured: true, env: { IMAGEGEN_TODAY: '2026-11-24', IMAGEGEN_HEARTBEAT_MS: '100' } });
  ({ fake, ws, server } = harness);
});

afterAll(async () => {
  await harness?.close();
});

beforeEach(() => {
  fake.reset();
});

describe('tools/list', () => {
  it('lists generate with a flat object schema, an output schema and honest annotations', async () => {
    const { tools } = await server.client.listTools();
    const generate = tools.find((t) => t.name === 'generate');
    expect(generate).toBeDefined();
    expect(generate!.inputSchema.type).toBe('object');
    for (const key of ['oneOf', 'anyOf', 'allOf']) expect(generate!.inputSchema).not.toHaveProperty(key);
    expect(Object.keys(generate!.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['prompt', 'prompt_file', 'model', 'n', 'size', 'quality', 'background', 'output_format', 'out', 'out_dir', 'force', 'dry_run', 'max_attempts', 'augment', 'use_case', 'negative', 'downscale_max_dim']),
    );
    expect(generate!.outputSchema?.type).toBe('object');
    expect(generate!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, openWorldHint: true });
  });
});

describe('generate against the fake API', () => {
  it('writes a PNG of the requested size under output/imagegen/ and reports it', async () => {
    const result = await server.call('generate', { prompt: 'a lighthouse at dusk', size: '1536x1024', out: `${OUTPUT}/lighthouse.png` });
    expect(result.isError).toBeFalsy();
    const file = path.join(ws.dir, OUTPUT, 'lighthouse.png');
    const meta = await sharp(file).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 1536, height: 1024 });
    const s = structured(result);
    expect(s.model).toBe('gpt-image-2');
    expect(s.images).toEqual([expect.objectContaining({ path: `${OUTPUT}/lighthouse.png`, width: 1536, height: 1024, format: 'png' })]);
    expect(s.prompt).toBe('a lighthouse at dusk');
    expect(textOf(result)).toContain(`${OUTPUT}/lighthouse.png`);
    expect(result.content.some((b) => b.type === 'resource_link' && b.uri === `file://${file}`)).toBe(true);
    const [request] = generationRequests();
    expect(request!.body).toMatchObject({ model: 'gpt-image-2', size: '1536x1024', quality: 'medium', output_format: 'png', n: 1 });
    expect(request!.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
  });

  it('uses output/imagegen/output.<ext> by default, and jpeg files end in .jpg', async () => {
    const result = await server.call('generate', { prompt: 'a red apple', output_format: 'jpg', size: '1024x1024', force: true });
    expect(result.isError).toBeFalsy();
    const meta = await sharp(path.join(ws.dir, OUTPUT, 'output.jpg')).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 1024, height: 1024 });
    expect(generationRequests()[0]!.body.output_format).toBe('jpeg');
  });

  it('numbers n variants and writes a downscaled copy of each', async () => {
    const result = await server.call('generate', {
      prompt: 'a cat icon',
      n: 2,
      size: '1024x1024',
      out: 'icons/cat.webp',
      output_format: 'webp',
      downscale_max_dim: 256,
    });
    expect(result.isError).toBeFalsy();
    for (const i of [1, 2]) {
      expect(await sharp(path.join(ws.dir, `icons/cat-${i}.webp`)).metadata()).toMatchObject({ format: 'webp', width: 1024 });
      expect(await sharp(path.join(ws.dir, `icons/cat-${i}-web.webp`)).metadata()).toMatchObject({ format: 'webp', width: 256, height: 256 });
    }
    expect(structured(result).images.map((i) => i.web_path)).toEqual(['icons/cat-1-web.webp', 'icons/cat-2-web.webp']);
  });

  it('routes a transparent request without a model to gpt-image-1.5 and says why', async () => {
    const result = await server.call('generate', { prompt: 'a game sprite of a knight', background: 'transparent', out: 'sprites/knight.png' });
    expect(result.isError).toBeFalsy();
    const s = structured(result);
    expect(s.model).toBe('gpt-image-1.5');
    expect(s.routing_note).toMatch(/not supported by gpt-image-2.*gpt-image-1\.5 was used/);
    expect(textOf(result)).toContain(s.routing_note!);
    expect(generationRequests()[0]!.body).toMatchObject({ model: 'gpt-image-1.5', background: 'transparent' });
    const meta = await sharp(path.join(ws.dir, 'sprites/knight.png')).metadata();
    expect(meta.hasAlpha).toBe(true);
  });

  it('refuses gpt-image-2 with a transparent background, with the fix, and sends nothing', async () => {
    const result = await server.call('generate', { prompt: 'a logo', model: 'gpt-image-2', background: 'transparent' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/gpt-image-2 does not support transparent backgrounds/);
    expect(textOf(result)).toMatch(/gpt-image-1\.5/);
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses 3840x2160 and offers 3824x2160', async () => {
    const result = await server.call('generate', { prompt: 'a 4k wallpaper', size: '3840x2160' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('less than 3840');
    expect(textOf(result)).toContain('Try 3824x2160');
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses arguments that belong to edit, naming the edit tool', async () => {
    const result = await server.call('generate', { prompt: 'x', mask: 'm.png' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/mask belongs to the edit tool/);
  });

  it('builds a labelled spec from augmentation fields and returns the final prompt', async () => {
    const result = await server.call('generate', {
      prompt: 'hero image for a coffee brand',
      use_case: 'ads-marketing',
      text: 'Wake up',
      negative: 'watermarks',
      size: '1024x1024',
      force: true,
    });
    expect(result.isError).toBeFalsy();
    const expected = 'Use case: ads-marketing\nPrimary request: hero image for a coffee brand\nText (verbatim): "Wake up"\nAvoid: watermarks';
    expect(structured(result).prompt).toBe(expected);
    expect(generationRequests()[0]!.body.prompt).toBe(expected);
  });

  it('reads the prompt from a prompt_file inside the workspace', async () => {
    await writeFile(path.join(ws.dir, 'prompt.txt'), 'a watercolor fox\n');
    const result = await server.call('generate', { prompt_file: 'prompt.txt', dry_run: true });
    expect(result.isError).toBeFalsy();
    expect(structured(result).prompt).toBe('a watercolor fox');
  });

  it('writes a versioned sibling instead of overwriting, and overwrites only with force', async () => {
    const out = 'versions/hero.png';
    const first = await server.call('generate', { prompt: 'hero', size: '1024x1024', out });
    const second = await server.call('generate', { prompt: 'hero', size: '1024x1024', out });
    expect(first.isError).toBeFalsy();
    expect(second.isError).toBeFalsy();
    expect(structured(second).images[0]).toMatchObject({ path: 'versions/hero-v2.png', versioned_from: out });
    expect(textOf(second)).toMatch(/versions\/hero\.png already existed, so versions\/hero-v2\.png was written instead/);
    const forced = await server.call('generate', { prompt: 'hero', size: '1536x1024', out, force: true });
    expect(structured(forced).images[0]!.path).toBe(out);
    expect(await sharp(path.join(ws.dir, out)).metadata()).toMatchObject({ width: 1536 });
    expect(await filesUnder(path.join(ws.dir, 'versions'))).toEqual(['hero-v2.png', 'hero.png']);
  });

  it('refuses output paths outside the workspace', async () => {
    const outside = await tempWorkspace('imagegen-outside-');
    try {
      await symlink(outside.dir, path.join(ws.dir, 'escape'));
      for (const out of ['../evil.png', path.join(outside.dir, 'evil.png'), 'escape/evil.png', `${ws.dir}-evil/x.png`]) {
        const result = await server.call('generate', { prompt: 'x', out });
        expect(result.isError, out).toBe(true);
        expect(textOf(result)).toMatch(/outside the workspace/);
      }
      expect(fake.requests).toHaveLength(0);
      expect(await filesUnder(outside.dir)).toEqual([]);
    } finally {
      await outside.cleanup();
    }
  });

  it('sends a heartbeat while waiting when the client asks for progress', async () => {
    fake.inject({ fault: { kind: 'slow', delayMs: 700 } });
    const progress: number[] = [];
    const result = await server.call('generate', { prompt: 'slow', size: '1024x1024', force: true }, { onprogress: (p) => progress.push(p.progress) });
    expect(result.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]!);
  });

  it('logs one line per API call through MCP logging', async () => {
    await server.call('generate', { prompt: 'log me', size: '1024x1024', force: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(server.logs.some((l) => /generations model=gpt-image-2 size=1024x1024 quality=medium .*attempts=1/.test(l))).toBe(true);
  });
});

describe('faults end in an explained error, no partial file, and the server keeps serving', () => {
  const dir = 'faults';
  const call = (args: Record<string, unknown> = {}, signal?: AbortSignal) =>
    server.call('generate', { prompt: 'fault test', size: '1024x1024', out: `${dir}/f.png`, ...args }, signal ? { signal } : {});

  async function expectNoFileAndStillServing() {
    expect(await filesUnder(path.join(ws.dir, dir))).toEqual([]);
    const list = await server.client.listTools();
    expect(list.tools.length).toBeGreaterThan(0);
  }

  it('retries a 429 after the stated retry-after and succeeds', async () => {
    fake.inject({ fault: { kind: 'rate_limit', retryAfter: '1' } });
    const result = await call({ out: 'retry/ok.png' });
    expect(result.isError).toBeFalsy();
    const [first, second] = generationRequests();
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expect(structured(result).attempts).toBe(2);
  });

  it('honours retry-after-ms', async () => {
    fake.inject({ fault: { kind: 'rate_limit', retryAfterMs: '300' } });
    const result = await call({ out: 'retry/ms.png' });
    expect(result.isError).toBeFalsy();
    const [first, second] = generationRequests();
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(280);
  });

  it('gives up on a lasting 429 after max_attempts and says how many', async () => {
    fake.inject({ fault: { kind: 'rate_limit', retryAfterMs: '10' }, times: Infinity });
    const result = await call({ max_attempts: 2 });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/rate-limiting.*2 attempts/);
    expect(generationRequests()).toHaveLength(2);
    await expectNoFileAndStillServing();
  });

  it('retries 500s and reports the attempts when they last', async () => {
    fake.inject({ fault: { kind: 'server_error' }, times: 3 });
    const result = await call();
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/server error \(500\) on each of 3 attempts/);
    await expectNoFileAndStillServing();
  });

  it('retries a dropped connection', async () => {
    fake.inject({ fault: { kind: 'drop' }, times: 3 });
    const result = await call();
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/connection to the Images API failed \(3 attempts\)/);
    expect(generationRequests()).toHaveLength(3);
    await expectNoFileAndStillServing();
  });

  it('does not retry a moderation block and suggests rewording', async () => {
    fake.inject({ fault: { kind: 'moderation' } });
    const result = await call();
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/safety system/);
    expect(textOf(result)).toMatch(/Reword/);
    expect(generationRequests()).toHaveLength(1);
    await expectNoFileAndStillServing();
  });

  it('explains a 403 as organisation verification', async () => {
    fake.inject({ fault: { kind: 'forbidden' } });
    const result = await call();
    expect(textOf(result)).toMatch(/403.*verif/s);
    expect(generationRequests()).toHaveLength(1);
    await expectNoFileAndStillServing();
  });

  it('explains a 404 as the model being unavailable', async () => {
    fake.inject({ fault: { kind: 'model_not_found' } });
    const result = await call();
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/gpt-image-2 is not available.*404/);
    await expectNoFileAndStillServing();
  });

  it('reports a malformed answer without writing anything', async () => {
    fake.inject({ fault: { kind: 'malformed' } });
    const result = await call();
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/not a valid image response/);
    await expectNoFileAndStillServing();
  });

  it('answers a cancelled call by aborting the HTTP request and writing nothing', async () => {
    fake.inject({ fault: { kind: 'slow', delayMs: 5_000 } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    // The SDK client sends notifications/cancelled when its signal fires.
    const outcome = await call({ out: `${dir}/cancelled.png` }, controller.signal).catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(Error);
    await new Promise((r) => setTimeout(r, 300));
    const [request] = generationRequests();
    expect(request!.status).toBe(0); // the server went away before the fake answered
    await expectNoFileAndStillServing();
  });
});

describe('keys, dry runs and the workspace root', () => {
  it('runs a dry run with no API key and shows the exact request', async () => {
    const dryWs = await tempWorkspace();
    const noKey = await spawnServer({ structured: true, cwd: dryWs.dir, env: { OPENAI_BASE_URL: fake.url } });
    try {
      const result = await noKey.call('generate', { prompt: 'a blue bird', size: '2048x1152', quality: 'high', downscale_max_dim: 512, dry_run: true });
      expect(result.isError).toBeFalsy();
      const s = structured(result);
      expect(s.dry_run).toBe(true);
      expect(s.request).toEqual({
        endpoint: '/v1/images/generations',
        payload: { model: 'gpt-image-2', n: 1, size: '2048x1152', quality: 'high', output_format: 'png', prompt: 'a blue bird' },
      });
      expect(s.images).toEqual([{ path: `${OUTPUT}/output.png`, format: 'png', width: 2048, height: 1152, web_path: `${OUTPUT}/output-web.png` }]);
      expect(fake.requests).toHaveLength(0);
      expect(await filesUnder(dryWs.dir)).toEqual([]);

      const real = await noKey.call('generate', { prompt: 'a blue bird' });
      expect(real.isError).toBe(true);
      expect(textOf(real)).toMatch(/OPENAI_API_KEY is not set/);
      expect(textOf(real)).toMatch(/dry_run/);
    } finally {
      await noKey.close();
      await dryWs.cleanup();
    }
  });

  it('never shows the API key, even when the API refuses it', async () => {
    const secret = 'sk-test-this-key-is-secret-1234567890';
    const keyWs = await tempWorkspace();
    const wrongKey = await spawnServer({ structured: true, cwd: keyWs.dir, env: { OPENAI_API_KEY: secret, OPENAI_BASE_URL: fake.url } });
    try {
      const result = await wrongKey.call('generate', { prompt: 'x', size: '1024x1024' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/401/);
      expect(textOf(result)).toMatch(/OPENAI_API_KEY/);
      await new Promise((r) => setTimeout(r, 50));
      const everything = JSON.stringify(result) + wrongKey.logs.join('\n') + wrongKey.stderr();
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(secret.slice(3, 20));
    } finally {
      await wrongKey.close();
      await keyWs.cleanup();
    }
  });

  it('refuses to write when the root is / and says how to set it', async () => {
    const rootless = await spawnServer({ structured: true, cwd: '/', env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url } });
    try {
      const result = await rootless.call('generate', { prompt: 'x', dry_run: true });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/--root/);
      expect(textOf(result)).toMatch(/IMAGEGEN_ROOT/);
    } finally {
      await rootless.close();
    }
  });

  it('takes the root from --root before IMAGEGEN_ROOT before the working directory', async () => {
    const a = await tempWorkspace();
    const b = await tempWorkspace();
    const c = await tempWorkspace();
    try {
      const flagged = await spawnServer({ structured: true, cwd: c.dir, args: ['--root', a.dir], env: { IMAGEGEN_ROOT: b.dir, OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url } });
      await flagged.call('generate', { prompt: 'x', size: '1024x1024' });
      await flagged.close();
      const envOnly = await spawnServer({ structured: true, cwd: c.dir, env: { IMAGEGEN_ROOT: b.dir, OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url } });
      await envOnly.call('generate', { prompt: 'x', size: '1024x1024' });
      await envOnly.close();
      expect(await filesUnder(a.dir)).toEqual([`${OUTPUT}/history.jsonl`, `${OUTPUT}/output.png`]);
      expect(await filesUnder(b.dir)).toEqual([`${OUTPUT}/history.jsonl`, `${OUTPUT}/output.png`]);
      expect(await filesUnder(c.dir)).toEqual([]);
    } finally {
      await Promise.all([a.cleanup(), b.cleanup(), c.cleanup()]);
    }
  });
});
