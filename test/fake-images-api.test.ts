import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import sharp from 'sharp';
import { startFakeImagesApi } from './fake-images-api.js';
import type { FakeImagesApi } from './fake-images-api.js';

let fake: FakeImagesApi;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeImagesApi({ today: '2026-11-24' }); // gpt-image-1.5 and gpt-image-1-mini still answer
  client = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 0 });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

async function png(width: number, height: number, alpha = false): Promise<Buffer> {
  return sharp({
    create: { width, height, channels: alpha ? 4 : 3, background: { r: 200, g: 10, b: 10, alpha: alpha ? 0.5 : 1 } },
  })
    .png()
    .toBuffer();
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}

function decode(b64: string | undefined): Buffer {
  expect(b64).toBeTypeOf('string');
  return Buffer.from(b64 ?? '', 'base64');
}

describe('generations', () => {
  it('returns decodable bytes of the requested size and format, with usage', async () => {
    const res = await client.images.generate({
      model: 'gpt-image-1.5',
      prompt: 'a red fox',
      size: '1024x1536',
      output_format: 'jpeg',
      n: 2,
    });
    expect(res.data).toHaveLength(2);
    const meta = await sharp(decode(res.data?.[0]?.b64_json)).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 1024, height: 1536 });
    expect(res).toMatchObject({ output_format: 'jpeg', size: '1024x1536', quality: 'medium', background: 'opaque' });
    expect(res.usage).toEqual({
      input_tokens: 3,
      input_tokens_details: { text_tokens: 3, image_tokens: 0 },
      output_tokens: 2 * 1584,
      total_tokens: 3 + 2 * 1584,
    });
    expect(typeof res.created).toBe('number');
  });

  it('makes flexible gpt-image-2 sizes (auto -> 1024x1024) and webp', async () => {
    const res = await client.images.generate({ model: 'gpt-image-2', prompt: 'x', size: '1024x640', output_format: 'webp', quality: 'high' });
    const meta = await sharp(decode(res.data?.[0]?.b64_json)).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 1024, height: 640, hasAlpha: false });
    expect(res.usage?.output_tokens).toBe(Math.round(((1024 * 640) / 1024) * (7024 / 1024)));

    const auto = await client.images.generate({ model: 'gpt-image-2', prompt: 'x' });
    expect(await sharp(decode(auto.data?.[0]?.b64_json)).metadata()).toMatchObject({ format: 'png', width: 1024, height: 1024 });
    expect(auto.size).toBe('1024x1024');
  });

  it('transparent on gpt-image-1.5 returns a PNG with alpha and transparent pixels', async () => {
    const res = await client.images.generate({ model: 'gpt-image-1.5', prompt: 'sticker', size: '1024x1024', background: 'transparent' });
    expect(res.background).toBe('transparent');
    const bytes = decode(res.data?.[0]?.b64_json);
    const meta = await sharp(bytes).metadata();
    expect(meta).toMatchObject({ format: 'png', hasAlpha: true, width: 1024, height: 1024 });
    const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(4);
    expect(data[3]).toBe(0); // corner transparent
    expect(data[(512 * 1024 + 512) * 4 + 3]).toBe(255); // centre opaque
  });

  it('refuses transparent on gpt-image-2 with the real message', async () => {
    const err = await caught(client.images.generate({ model: 'gpt-image-2', prompt: 'x', background: 'transparent' }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.param).toBe('background');
    expect(e.code).toBe('invalid_value');
    expect((e.error as { message?: string }).message).toBe('Transparent background is not supported for this model.');
  });

  it('applies the gpt-image-2 size rules', async () => {
    const refusals: Array<[string, RegExp]> = [
      ['3840x2160', /longest edge.*3840/],
      ['1000x1000', /multiples of 16/],
      ['3072x1008', /3:1/],
      ['512x512', /655,360/],
      ['2896x2896', /8,294,400/],
      ['big', /WIDTHxHEIGHT/],
    ];
    for (const [size, pattern] of refusals) {
      const err = await caught(client.images.generate({ model: 'gpt-image-2', prompt: 'x', size: size as '1024x1024' }));
      expect(err, size).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as Error).message, size).toMatch(pattern);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('size');
    }
    // Legacy models take the fixed set only; gpt-image-2.5-* follows the flexible rules.
    const legacy = await caught(client.images.generate({ model: 'gpt-image-1-mini', prompt: 'x', size: '2048x2048' as '1024x1024' }));
    expect((legacy as Error).message).toMatch(/'1024x1024', '1024x1536', '1536x1024', and 'auto'/);
    const r25 = await client.images.generate({ model: 'gpt-image-2.5-flare', prompt: 'x', size: '1280x512' as '1024x1024', quality: 'max' as 'high' });
    expect(r25.size).toBe('1280x512');
  });

  it('validates the other parameters like the real API', async () => {
    const cases: Array<[Record<string, unknown>, string | null, string]> = [
      [{ prompt: 'x' }, 'model', 'missing_required_parameter'],
      [{ model: 'gpt-image-2' }, 'prompt', 'missing_required_parameter'],
      [{ model: 'gpt-image-2', prompt: '' }, 'prompt', 'empty_string'],
      [{ model: 'gpt-image-2', prompt: 'x'.repeat(32_001) }, 'prompt', 'string_above_max_length'],
      [{ model: 'gpt-image-2', prompt: 'x', n: 0 }, 'n', 'integer_below_min_value'],
      [{ model: 'gpt-image-2', prompt: 'x', n: 11 }, 'n', 'integer_above_max_value'],
      [{ model: 'gpt-image-2', prompt: 'x', n: '2' }, 'n', 'invalid_type'],
      [{ model: 'gpt-image-2', prompt: 'x', quality: 'xhigh' }, 'quality', 'invalid_value'],
      [{ model: 'gpt-image-2', prompt: 'x', output_format: 'jpg' }, 'output_format', 'invalid_value'],
      [{ model: 'gpt-image-2', prompt: 'x', output_compression: 50 }, 'output_compression', 'invalid_value'],
      [{ model: 'gpt-image-2', prompt: 'x', output_format: 'jpeg', output_compression: 101 }, 'output_compression', 'integer_above_max_value'],
      [{ model: 'gpt-image-1.5', prompt: 'x', background: 'transparent', output_format: 'jpeg' }, 'background', 'invalid_value'],
      [{ model: 'gpt-image-2', prompt: 'x', moderation: 'high' }, 'moderation', 'invalid_value'],
      [{ model: 'gpt-image-2', prompt: 'x', style: 'vivid' }, 'style', 'unknown_parameter'],
      [{ model: 'gpt-image-2', prompt: 'x', input_fidelity: 'high' }, 'input_fidelity', 'unknown_parameter'],
      [{ model: 'gpt-image-2', prompt: 'x', response_format: 'url' }, 'response_format', 'unknown_parameter'],
    ];
    for (const [body, param, code] of cases) {
      const err = await caught(client.images.generate(body as never));
      expect(err, JSON.stringify(body).slice(0, 80)).toBeInstanceOf(OpenAI.BadRequestError);
      const e = err as InstanceType<typeof OpenAI.BadRequestError>;
      expect({ param: e.param, code: e.code }, JSON.stringify(body).slice(0, 80)).toEqual({ param, code });
    }
    // Accepted: compression with jpeg, prompt of exactly 32,000 characters.
    await client.images.generate({ model: 'gpt-image-2', prompt: 'x'.repeat(32_000), output_format: 'jpeg', output_compression: 50 });
  });

  it('answers 404 model_not_found for retired and unknown models', async () => {
    for (const model of ['gpt-image-1', 'dall-e-3', 'gpt-image-9']) {
      const err = await caught(client.images.generate({ model, prompt: 'x' }));
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
      expect((err as Error).message).toContain(`The model \`${model}\` does not exist or you do not have access to it.`);
    }
  });

  it('refuses a wrong or missing key with 401, and bad JSON with 400', async () => {
    const wrong = new OpenAI({ apiKey: 'sk-wrong-key-123456', baseURL: fake.url, maxRetries: 0 });
    const err = await caught(wrong.images.generate({ model: 'gpt-image-2', prompt: 'x' }));
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
    expect((err as Error).message).not.toContain('sk-wrong-key-123456');

    const missing = await fetch(`${fake.url}/images/generations`, { method: 'POST', body: '{}' });
    expect(missing.status).toBe(401);
    const badJson = await fetch(`${fake.url}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: '{"model": ',
    });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: { message: string } }).error.message).toMatch(/could not parse the JSON/);
    const unknownPath = await fetch(`${fake.url}/models`, { headers: { authorization: `Bearer ${fake.apiKey}` } });
    expect(unknownPath.status).toBe(404);
    expect(fake.requests.map((r) => r.status)).toEqual([401, 401, 400, 404]);
  });

  it('records requests', async () => {
    await client.images.generate({ model: 'gpt-image-2', prompt: 'hello', n: 1, size: '1024x1024' });
    expect(fake.requests).toHaveLength(1);
    const r = fake.requests[0]!;
    expect(r).toMatchObject({ method: 'POST', path: '/v1/images/generations', status: 200, files: [] });
    expect(r.body).toEqual({ model: 'gpt-image-2', prompt: 'hello', n: 1, size: '1024x1024' });
    expect(r.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(Math.abs(r.at - Date.now())).toBeLessThan(5000);
  });

  it('streams partial and completed events', async () => {
    const stream = await client.images.generate({ model: 'gpt-image-1.5', prompt: 'x', stream: true, partial_images: 2 });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    expect(types).toEqual(['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
  });

  it('draws the subject on the flat #rrggbb background a prompt asks for, unless told to ignore it', async () => {
    const prompt = 'a frog\n\nBackground: a perfectly flat, solid #ff00ff background.';
    const corner = async (b64: string | undefined) => {
      const { data } = await sharp(decode(b64)).raw().toBuffer({ resolveWithObject: true });
      return Array.from(data.subarray(0, 3));
    };
    const keyed = await client.images.generate({ model: 'gpt-image-2', prompt, size: '1024x1024', background: 'opaque' });
    expect(await corner(keyed.data?.[0]?.b64_json)).toEqual([255, 0, 255]);
    const plain = await client.images.generate({ model: 'gpt-image-2', prompt: 'a frog on #ff00ff paper', size: '1024x1024' });
    expect(await corner(plain.data?.[0]?.b64_json)).not.toEqual([255, 0, 255]);
    fake.inject({ fault: { kind: 'ignore_key_color' } });
    const ignored = await client.images.generate({ model: 'gpt-image-2', prompt, size: '1024x1024' });
    expect(await corner(ignored.data?.[0]?.b64_json)).not.toEqual([255, 0, 255]);
  });

  it("makes high-entropy images with imageStyle 'noise'", async () => {
    const noisy = await startFakeImagesApi({ imageStyle: 'noise', apiKey: 'sk-other', today: '2026-11-24' });
    try {
      const c = new OpenAI({ apiKey: 'sk-other', baseURL: noisy.url, maxRetries: 0 });
      const res = await c.images.generate({ model: 'gpt-image-1.5', prompt: 'x', size: '1024x1024' });
      const bytes = decode(res.data?.[0]?.b64_json);
      expect(bytes.length).toBeGreaterThan(500_000);
      expect(await sharp(bytes).metadata()).toMatchObject({ format: 'png', width: 1024, height: 1024 });
    } finally {
      await noisy.close();
    }
  });
});

describe('edits', () => {
  it('records files in order with their content types and fields', async () => {
    const a = await png(64, 48);
    const b = await sharp(a).jpeg().toBuffer();
    const c = await sharp(a).webp().toBuffer();
    const res = await client.images.edit({
      model: 'gpt-image-1.5',
      prompt: 'combine',
      image: [
        await toFile(a, 'a.png', { type: 'image/png' }),
        await toFile(b, 'b.jpg', { type: 'image/jpeg' }),
        await toFile(c, 'c.webp', { type: 'image/webp' }),
      ],
      n: 2,
      input_fidelity: 'high',
    });
    expect(res.data).toHaveLength(2);
    expect(await sharp(decode(res.data?.[0]?.b64_json)).metadata()).toMatchObject({ format: 'png', width: 1024, height: 1024 });
    expect(res.usage?.input_tokens_details).toEqual({ text_tokens: 2, image_tokens: 3 * 194 });

    const r = fake.requests[0]!;
    expect(r.path).toBe('/v1/images/edits');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ model: 'gpt-image-1.5', prompt: 'combine', n: '2', input_fidelity: 'high' });
    expect(r.files.map((f) => [f.field, f.filename, f.contentType])).toEqual([
      ['image[]', 'a.png', 'image/png'],
      ['image[]', 'b.jpg', 'image/jpeg'],
      ['image[]', 'c.webp', 'image/webp'],
    ]);
    expect(r.files[1]!.bytes.equals(b)).toBe(true);
  });

  it('takes a single image as field "image" with a valid mask', async () => {
    const res = await client.images.edit({
      model: 'gpt-image-1.5',
      prompt: 'x',
      image: await toFile(await png(64, 64), 'a.png', { type: 'image/png' }),
      mask: await toFile(await png(64, 64, true), 'm.png', { type: 'image/png' }),
      size: '1536x1024',
    });
    expect(res.size).toBe('1536x1024');
    expect(fake.requests[0]!.files.map((f) => f.field)).toEqual(['image', 'mask']);
  });

  it('refuses application/octet-stream parts', async () => {
    const err = await caught(
      client.images.edit({
        model: 'gpt-image-2',
        prompt: 'x',
        image: await toFile(await png(32, 32), 'a.png', { type: 'application/octet-stream' }),
      }),
    );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('unsupported_file_mimetype');
  });

  it('refuses a mask of the wrong size, without alpha, or undecodable images', async () => {
    const image = await toFile(await png(64, 64), 'a.png', { type: 'image/png' });
    const wrongSize = await caught(
      client.images.edit({ model: 'gpt-image-2', prompt: 'x', image, mask: await toFile(await png(32, 32, true), 'm.png', { type: 'image/png' }) }),
    );
    expect(wrongSize).toBeInstanceOf(OpenAI.BadRequestError);
    expect((wrongSize as Error).message).toContain('mask is 32x32, image 1 is 64x64');
    expect((wrongSize as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('mask');

    const noAlpha = await caught(
      client.images.edit({ model: 'gpt-image-2', prompt: 'x', image, mask: await toFile(await png(64, 64), 'm.png', { type: 'image/png' }) }),
    );
    expect((noAlpha as Error).message).toMatch(/alpha/);

    const garbage = await caught(
      client.images.edit({ model: 'gpt-image-2', prompt: 'x', image: await toFile(Buffer.from('not an image'), 'a.png', { type: 'image/png' }) }),
    );
    expect((garbage as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('invalid_image_file');
  });

  it('applies input_fidelity and image-count rules per model', async () => {
    const image = await toFile(await png(32, 32), 'a.png', { type: 'image/png' });
    const onTwo = await caught(client.images.edit({ model: 'gpt-image-2', prompt: 'x', image, input_fidelity: 'low' }));
    expect((onTwo as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input_fidelity');
    const miniHigh = await caught(client.images.edit({ model: 'gpt-image-1-mini', prompt: 'x', image, input_fidelity: 'high' }));
    expect((miniHigh as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('invalid_value');
    await client.images.edit({ model: 'gpt-image-1-mini', prompt: 'x', image, input_fidelity: 'low' });

    const seventeen = await caught(client.images.edit({ model: 'gpt-image-2', prompt: 'x', image: Array.from({ length: 17 }, () => image) }));
    expect((seventeen as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('array_above_max_length');
    const none = await caught(client.images.edit({ model: 'gpt-image-2', prompt: 'x', image: [] }));
    expect((none as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('image');
  });
});

describe('faults', () => {
  const gen = (model = 'gpt-image-1.5'): Promise<unknown> => client.images.generate({ model, prompt: 'x', size: '1024x1024' });

  it('rate_limit: 429 with retry headers visible on the error', async () => {
    fake.inject({ fault: { kind: 'rate_limit', retryAfter: '7', retryAfterMs: '7000' } });
    const err = await caught(gen());
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.headers?.get('retry-after')).toBe('7');
    expect(e.headers?.get('retry-after-ms')).toBe('7000');
    expect(e.code).toBe('rate_limit_exceeded');
    await gen(); // the fault was used up
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('server_error: 500 by default, or the given status', async () => {
    fake.inject({ fault: { kind: 'server_error' } });
    fake.inject({ fault: { kind: 'server_error', status: 503 } });
    const a = await caught(gen());
    const b = await caught(gen());
    expect(a).toBeInstanceOf(OpenAI.InternalServerError);
    expect((a as InstanceType<typeof OpenAI.InternalServerError>).status).toBe(500);
    expect((b as InstanceType<typeof OpenAI.InternalServerError>).status).toBe(503);
  });

  it('drop: the client sees a connection error, the record has status 0', async () => {
    fake.inject({ fault: { kind: 'drop' } });
    const err = await caught(gen());
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(fake.requests[0]!.status).toBe(0);
    await gen(); // the server is still fine
  });

  it('slow: answers normally after the delay, and stops if the client goes away', async () => {
    fake.inject({ fault: { kind: 'slow', delayMs: 200 } });
    const t0 = Date.now();
    await gen();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(fake.requests[0]!.status).toBe(200);

    fake.inject({ fault: { kind: 'slow', delayMs: 10_000 } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const t1 = Date.now();
    const err = await caught(client.images.generate({ model: 'gpt-image-2', prompt: 'x' }, { signal: ac.signal }));
    expect(err).toBeInstanceOf(OpenAI.APIUserAbortError);
    expect(Date.now() - t1).toBeLessThan(2000);
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.requests[1]!.status).toBe(0);
  });

  it('moderation, forbidden, model_not_found, malformed, status', async () => {
    fake.inject({ fault: { kind: 'moderation' } });
    const mod = await caught(gen());
    expect(mod).toBeInstanceOf(OpenAI.BadRequestError);
    expect((mod as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('moderation_blocked');
    expect((mod as InstanceType<typeof OpenAI.BadRequestError>).type).toBe('image_generation_user_error');
    expect((mod as Error).message).toContain('Your request was rejected by the safety system.');

    fake.inject({ fault: { kind: 'forbidden' } });
    const forbidden = await caught(gen());
    expect(forbidden).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((forbidden as Error).message).toMatch(/organization must be verified/);

    fake.inject({ fault: { kind: 'model_not_found' } });
    const nf = await caught(gen('gpt-image-2'));
    expect(nf).toBeInstanceOf(OpenAI.NotFoundError);
    expect((nf as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    expect((nf as Error).message).toContain('The model `gpt-image-2` does not exist');

    fake.inject({ fault: { kind: 'malformed' } });
    const malformed = await caught(gen());
    expect(malformed).toBeInstanceOf(Error);

    fake.inject({ fault: { kind: 'status', status: 418, body: { error: { message: 'teapot' } }, headers: { 'x-extra': 'yes' } } });
    const teapot = await caught(gen());
    expect(teapot).toBeInstanceOf(OpenAI.APIError);
    expect((teapot as InstanceType<typeof OpenAI.APIError>).status).toBe(418);
    expect((teapot as InstanceType<typeof OpenAI.APIError>).headers?.get('x-extra')).toBe('yes');

    expect(fake.requests.map((r) => r.status)).toEqual([400, 403, 404, 200, 418]);
  });

  it('rules match by path and model, queue up, and come after auth', async () => {
    fake.inject({ fault: { kind: 'server_error' }, path: 'edits', times: 2 });
    fake.inject({ fault: { kind: 'forbidden' }, model: 'gpt-image-2', times: Infinity });
    await gen(); // generations, gpt-image-1.5: no rule matches
    expect(await caught(gen('gpt-image-2'))).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(await caught(gen('gpt-image-2'))).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const image = await toFile(await png(16, 16), 'a.png', { type: 'image/png' });
    expect(await caught(client.images.edit({ model: 'gpt-image-2', prompt: 'x', image }))).toBeInstanceOf(OpenAI.InternalServerError);

    const wrong = new OpenAI({ apiKey: 'sk-nope', baseURL: fake.url, maxRetries: 0 });
    expect(await caught(wrong.images.edit({ model: 'gpt-image-2', prompt: 'x', image }))).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(await caught(client.images.edit({ model: 'gpt-image-2', prompt: 'x', image }))).toBeInstanceOf(OpenAI.InternalServerError);
    expect(await caught(client.images.edit({ model: 'gpt-image-2', prompt: 'x', image }))).toBeInstanceOf(OpenAI.PermissionDeniedError);

    fake.reset();
    expect(fake.requests).toHaveLength(0);
    await gen('gpt-image-2');
  });
});

describe('server', () => {
  it('answers latencyMs after a request arrives and closes promptly with open requests', async () => {
    const slow = await startFakeImagesApi({ latencyMs: 100, today: '2026-11-24' });
    const c = new OpenAI({ apiKey: slow.apiKey, baseURL: slow.url, maxRetries: 0 });
    const t0 = Date.now();
    await c.images.generate({ model: 'gpt-image-2', prompt: 'x' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);

    slow.inject({ fault: { kind: 'slow', delayMs: 30_000 } });
    const pending = caught(c.images.generate({ model: 'gpt-image-2', prompt: 'x' }));
    await new Promise((r) => setTimeout(r, 50));
    const t1 = Date.now();
    await slow.close();
    expect(Date.now() - t1).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});

describe("today's models (2026-12-02)", () => {
  let today: FakeImagesApi;
  let c: OpenAI;
  beforeAll(async () => {
    today = await startFakeImagesApi({ today: '2026-12-02' });
    c = new OpenAI({ apiKey: today.apiKey, baseURL: today.url, maxRetries: 0 });
  });
  afterAll(async () => {
    await today.close();
  });
  beforeEach(() => today.reset());

  const gen = (body: Record<string, unknown>) => c.images.generate({ prompt: 'x', ...body } as never) as Promise<OpenAI.Images.ImagesResponse>;
  const code = async (body: Record<string, unknown>) => {
    const e = (await caught(gen(body))) as InstanceType<typeof OpenAI.APIError>;
    return { status: e.status, param: e.param, code: e.code, message: (e.error as { message?: string } | undefined)?.message };
  };

  it('serves 2.5 and 2.6 (and snapshots) with gpt-image-2 size rules, xhigh and max, and native alpha', async () => {
    for (const model of ['gpt-image-2.5-sunburst', 'gpt-image-2.5-flare-2026-09-08', 'gpt-image-2.6-sunburst', 'gpt-image-2.6-flare']) {
      const res = await gen({ model, size: '2048x2048', quality: 'xhigh', background: 'transparent' });
      expect(res.size, model).toBe('2048x2048');
      const bytes = decode(res.data?.[0]?.b64_json);
      expect((await sharp(bytes).metadata()).hasAlpha, model).toBe(true);
      // As reported of native transparent images: alpha peaks at 254 inside the subject, 0 around it.
      const alpha = await sharp(bytes).extractChannel('alpha').raw().toBuffer();
      expect([alpha.reduce((a, b) => Math.min(a, b), 255), alpha.reduce((a, b) => Math.max(a, b), 0)], model).toEqual([0, 254]);
      expect((await code({ model, size: '3840x2160' })).param, model).toBe('size');
      expect((await gen({ model, quality: 'max' })).quality).toBe('max');
    }
    await gen({ model: 'gpt-image-2-2026-04-21', size: '1536x1024' });
  });

  it('refuses transparency where not supported, and complexity outside 2.6', async () => {
    expect(await code({ model: 'gpt-image-2', background: 'transparent' })).toEqual({
      status: 400,
      param: 'background',
      code: 'invalid_value',
      message: 'Transparent background is not supported for this model.',
    });
    for (const model of ['gpt-image-2', 'gpt-image-2.5-sunburst']) {
      expect(await code({ model, complexity: 'low' })).toMatchObject({ status: 400, param: 'complexity', code: 'unsupported_parameter' });
    }
    expect(await code({ model: 'gpt-image-2.6-flare', complexity: 'extreme' })).toMatchObject({ status: 400, param: 'complexity', code: 'invalid_value' });
    await gen({ model: 'gpt-image-2.6-flare', complexity: 'low' });
    expect(today.requests.at(-1)!.body).toMatchObject({ model: 'gpt-image-2.6-flare', complexity: 'low' });
  });

  it('answers 404 model_not_found for models from their shut-down date, by its today', async () => {
    for (const model of ['gpt-image-1.5', 'gpt-image-1.5-2025-12-16', 'gpt-image-1-mini', 'chatgpt-image-latest', 'gpt-image-1']) {
      expect(await code({ model }), model).toMatchObject({ status: 404, code: 'model_not_found' });
    }
    today.today = '2026-11-30';
    try {
      await gen({ model: 'gpt-image-1.5', size: '1024x1024' });
      expect((await code({ model: 'gpt-image-1' })).status).toBe(404);
    } finally {
      today.today = '2026-12-02';
    }
  });

  it('publishes shutdown_date on GET /v1/models/{id}, settable per model, and records the GETs', async () => {
    const m = (await c.models.retrieve('gpt-image-2.6-sunburst')) as unknown as Record<string, unknown>;
    expect(m).toMatchObject({ id: 'gpt-image-2.6-sunburst', object: 'model', owned_by: 'system', shutdown_date: null });
    expect(typeof m.created).toBe('number');
    today.setShutdownDate('gpt-image-2.5-flare', '2026-12-20');
    expect(((await c.models.retrieve('gpt-image-2.5-flare')) as unknown as Record<string, unknown>).shutdown_date).toBe('2026-12-20');
    // A date that has come: the model is gone, from both endpoints.
    today.setShutdownDate('gpt-image-2.5-flare', '2026-12-01');
    expect(await caught(c.models.retrieve('gpt-image-2.5-flare'))).toBeInstanceOf(OpenAI.NotFoundError);
    expect((await code({ model: 'gpt-image-2.5-flare' })).status).toBe(404);
    expect(await caught(c.models.retrieve('gpt-image-1.5'))).toBeInstanceOf(OpenAI.NotFoundError);
    expect(today.requests.filter((r) => r.method === 'GET').map((r) => [r.path, r.status])).toEqual([
      ['/v1/models/gpt-image-2.6-sunburst', 200],
      ['/v1/models/gpt-image-2.5-flare', 200],
      ['/v1/models/gpt-image-2.5-flare', 404],
      ['/v1/models/gpt-image-1.5', 404],
    ]);
  });

  it('fails the lookup only with a rule that names path "models"', async () => {
    today.inject({ fault: { kind: 'server_error' } }); // for the image endpoints
    today.inject({ fault: { kind: 'server_error', status: 503 }, path: 'models' });
    expect(await caught(c.models.retrieve('gpt-image-2'))).toBeInstanceOf(OpenAI.InternalServerError);
    expect(((await c.models.retrieve('gpt-image-2')) as unknown as Record<string, unknown>).shutdown_date).toBeNull();
    expect(await caught(gen({ model: 'gpt-image-2' }))).toBeInstanceOf(OpenAI.InternalServerError);
    expect(today.requests.map((r) => r.status)).toEqual([503, 200, 500]);
  });
});

describe('svg and gif (gpt-image-2.6)', () => {
  it('answers svg with a real SVG document and svg_usage, a hostile variant when a fault asks', async () => {
    const res = (await client.images.generate({ model: 'gpt-image-2.6-flare', prompt: 'a check icon', output_format: 'svg', svg: { model: 'gpt-5.2-codex-mini', reasoning: { effort: 'low' } } } as never)) as unknown as Record<string, unknown> & { data: Array<{ b64_json: string }> };
    const svg = decode(res.data[0]?.b64_json).toString('utf8');
    expect(svg).toContain('<svg');
    expect((await sharp(Buffer.from(svg)).metadata()).format).toBe('svg');
    expect(res.svg_usage).toMatchObject({ model: 'gpt-5.2-codex-mini', output_tokens: 2400 });
    expect(fake.requests[0]?.body.svg).toEqual({ model: 'gpt-5.2-codex-mini', reasoning: { effort: 'low' } });
    for (const [variant, mark] of [['script', '<script'], ['onload', 'onload='], ['external_href', 'https://']] as const) {
      fake.inject({ fault: { kind: 'svg_variant', variant } });
      const hostile = await client.images.generate({ model: 'gpt-image-2.6-sunburst', prompt: 'x', output_format: 'svg' } as never);
      expect(decode(hostile.data?.[0]?.b64_json).toString('utf8')).toContain(mark);
    }
  });

  it('answers gif with a real animated GIF of frame_count frames', async () => {
    const res = await client.images.generate({ model: 'gpt-image-2.6-flare', prompt: 'a spinner', output_format: 'gif', size: '720x720', frame_count: 16, frame_duration_ms: 80 } as never);
    const meta = await sharp(decode(res.data?.[0]?.b64_json), { animated: true }).metadata();
    expect(meta).toMatchObject({ format: 'gif', width: 720, pages: 16, pageHeight: 720 });
    expect(meta.delay?.[0]).toBe(80);
  });

  it('refuses svg and gif where the API does', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ model: 'gpt-image-2', output_format: 'svg' }, 'output_format', 'invalid_value'],
      [{ model: 'gpt-image-2.5-sunburst', output_format: 'gif' }, 'output_format', 'invalid_value'],
      [{ model: 'gpt-image-2.6-flare', output_format: 'svg', n: 2 }, 'n', 'invalid_value'],
      [{ model: 'gpt-image-2.6-flare', output_format: 'svg', output_compression: 50 }, 'output_compression', 'invalid_value'],
      [{ model: 'gpt-image-2.6-flare', output_format: 'gif', output_compression: 50 }, 'output_compression', 'invalid_value'],
      [{ model: 'gpt-image-2.6-flare', output_format: 'gif', frame_count: 17 }, 'frame_count', 'integer_above_max_value'],
      [{ model: 'gpt-image-2.6-flare', output_format: 'gif', frame_count: 16, size: '960x960' }, 'size', 'invalid_value'],
      [{ model: 'gpt-image-2.6-flare', output_format: 'png', frame_count: 4 }, 'frame_count', 'invalid_value'],
      [{ model: 'gpt-image-2.6-flare', output_format: 'png', svg: { model: 'x' } }, 'svg', 'invalid_value'],
    ];
    for (const [body, param, code] of cases) {
      const err = await caught(client.images.generate({ prompt: 'x', ...body } as never));
      const e = err as InstanceType<typeof OpenAI.BadRequestError>;
      expect({ status: e.status, param: e.param, code: e.code }, JSON.stringify(body)).toEqual({ status: 400, param, code });
    }
  });
});
