/**
 * The built server against hostile and unusual networks on 127.0.0.1: proxies, TLS it must refuse,
 * answers that stall, inflate, lie about their image or their usage, or are not HTTP at all.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeImagesApi, type FakeImagesApi } from '../fake-images-api.js';
import { filesUnder, spawnServer, structured, tempWorkspace, textOf, type ServerHandle } from '../helpers.js';
import { connectProxy, hostileServer, rawServer, TEST_CERT, tlsFront, writeWithBackpressure } from '../hostile-http.js';

const OUT = 'output/imagegen/picture.png';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A workspace and the built server in it, pointed at `baseUrl`; both cleaned up after the test. */
async function serverFor(baseUrl: string, env: Record<string, string> = {}): Promise<{ server: ServerHandle; dir: string }> {
  const ws = await tempWorkspace('imagegen-net-');
  cleanups.push(ws.cleanup);
  const server = await spawnServer({
    cwd: ws.dir,
    env: { OPENAI_API_KEY: 'sk-test-fake', OPENAI_BASE_URL: baseUrl, IMAGEGEN_TODAY: '2026-11-24', ...env },
    structured: true,
  });
  cleanups.push(() => server.close());
  return { server, dir: ws.dir };
}

/** The server process's peak resident memory (VmHWM), in MB. */
async function peakRssMb(server: ServerHandle): Promise<number> {
  const pid = (server.client.transport as StdioClientTransport).pid;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function expectStillServing(server: ServerHandle): Promise<void> {
  const { tools } = await server.client.listTools();
  expect(tools.map((t) => t.name)).toContain('generate');
}

const generate = (server: ServerHandle, args: Record<string, unknown> = {}) =>
  server.call('generate', { prompt: 'a red square', size: '1024x1024', out: OUT, preview: false, ...args });

const answerJson = (b64: string, usage = '{"input_tokens":10,"output_tokens":100,"total_tokens":110}') =>
  `{"created":1,"data":[{"b64_json":"${b64}"}],"usage":${usage}}`;

let png1024: string;

beforeAll(async () => {
  png1024 = (await sharp({ create: { width: 1024, height: 1024, channels: 3, background: '#cc2222' } }).png().toBuffer()).toString('base64');
});

describe('proxies (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)', () => {
  let fake: FakeImagesApi;
  beforeAll(async () => {
    fake = await startFakeImagesApi();
    return () => fake.close();
  });

  async function httpsFakeBehindProxy() {
    fake.reset();
    const front = await tlsFront(Number(new URL(fake.url).port));
    const proxy = await connectProxy();
    cleanups.push(front.close, proxy.close);
    return { front, proxy };
  }

  it('sends a generate through the HTTPS_PROXY tunnel to an HTTPS endpoint (CA from NODE_EXTRA_CA_CERTS)', async () => {
    const { front, proxy } = await httpsFakeBehindProxy();
    const { server, dir } = await serverFor(front.url, { HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: TEST_CERT });
    const result = await generate(server);
    expect(result.isError, textOf(result)).toBeFalsy();
    expect([...new Set(proxy.tunnels)]).toEqual([`127.0.0.1:${front.port}`]); // the image request (and the model's lookup beside it)
    expect(fake.requests.filter((r) => r.path === '/v1/images/generations')).toHaveLength(1);
    expect(await sharp(path.join(dir, OUT)).metadata()).toMatchObject({ width: 1024, height: 1024, format: 'png' });
  });

  it('sends an edit (a multipart upload through the SDK) through the same tunnel', async () => {
    const { front, proxy } = await httpsFakeBehindProxy();
    const { server, dir } = await serverFor(front.url, { HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: TEST_CERT });
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } }).png().toFile(path.join(dir, 'in.png'));
    const result = await server.call('edit', { prompt: 'make it red', images: ['in.png'], size: '1024x1024', out: OUT });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect([...new Set(proxy.tunnels)]).toEqual([`127.0.0.1:${front.port}`]);
    expect(fake.requests.filter((r) => r.path === '/v1/images/edits')).toHaveLength(1);
    expect(await sharp(path.join(dir, OUT)).metadata()).toMatchObject({ width: 1024, height: 1024, format: 'png' });
  });

  it('honours lower-case http_proxy for a plain-http base URL', async () => {
    const { proxy } = await httpsFakeBehindProxy();
    const { server } = await serverFor(fake.url, { OPENAI_API_KEY: fake.apiKey, http_proxy: proxy.url });
    const result = await generate(server);
    expect(result.isError, textOf(result)).toBeFalsy();
    expect([...new Set(proxy.tunnels)]).toEqual([new URL(fake.url).host]);
  });

  it('goes direct when NO_PROXY names the host, proxy set or not', async () => {
    const { front, proxy } = await httpsFakeBehindProxy();
    const { server } = await serverFor(front.url, { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1', NODE_EXTRA_CA_CERTS: TEST_CERT });
    const result = await generate(server);
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(proxy.tunnels).toEqual([]);
    expect(proxy.connections).toBe(0);
    expect(front.connections).toBeGreaterThan(0); // straight to the endpoint (the image request and the model's lookup)
  });
});

describe('TLS', () => {
  it('refuses a self-signed certificate once, says "certificate" and why, and does not retry', async () => {
    const fake = await startFakeImagesApi();
    cleanups.push(() => fake.close());
    const front = await tlsFront(Number(new URL(fake.url).port));
    cleanups.push(front.close);
    const { server, dir } = await serverFor(front.url, { OPENAI_API_KEY: fake.apiKey });
    const result = await generate(server, { max_attempts: 3 });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(/certificate/);
    expect(text).toMatch(/self-signed/);
    expect(text).toMatch(/not retried/);
    expect(text).toContain('NODE_EXTRA_CA_CERTS');
    // One handshake for the image request (not retried) and one for the model's lifecycle lookup beside it.
    expect(front.connections).toBe(2);
    expect(fake.requests).toHaveLength(0);
    expect(await filesUnder(dir)).toEqual([]);
  });
});

describe('compressed answers', () => {
  const encoders: Record<string, (b: Buffer) => Buffer> = { gzip: zlib.gzipSync, deflate: zlib.deflateSync, br: zlib.brotliCompressSync };
  it.each(Object.keys(encoders))('decodes a %s answer as fetch would, and saves its image', async (encoding) => {
    let asked = '';
    const api = await hostileServer((req, res) => {
      asked = String(req.headers['accept-encoding'] ?? '');
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding });
      res.end(encoders[encoding]!(Buffer.from(answerJson(png1024))));
    });
    cleanups.push(api.close);
    const { server, dir } = await serverFor(api.url);
    const result = await generate(server);
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(asked).toContain(encoding);
    expect(await sharp(path.join(dir, OUT)).metadata()).toMatchObject({ width: 1024, height: 1024, format: 'png' });
  });
});

describe('answers that stall, inflate or flood', () => {
  it('ends a body that stalls after its head within IMAGEGEN_TIMEOUT_MS per attempt, retried, no file', async () => {
    const api = await hostileServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"created":1,"data":[{"b64_json":"iVBORw0KGgoAAAANSUhEUgAA'); // then nothing
    });
    cleanups.push(api.close);
    const { server, dir } = await serverFor(api.url, { IMAGEGEN_TIMEOUT_MS: '800' });
    const started = Date.now();
    const result = await generate(server, { max_attempts: 2 });
    const elapsed = Date.now() - started;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/did not answer in time \(2 attempts; the answer stopped arriving midway\)/);
    expect(textOf(result)).toContain('IMAGEGEN_TIMEOUT_MS');
    expect(api.requests).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(1600);
    expect(elapsed).toBeLessThan(1600 + 4000); // two timeouts, not the 2-minute default
    expect(await filesUnder(dir)).toEqual([]);
    await expectStillServing(server);
  });

  it('stops a gzip bomb (19 MB on the wire, 14 GB of image) near its cap and leaves no file', async () => {
    const member = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024, 'A')); // 48 MB of zeros once decoded
    const members = 300;
    let sent = 0;
    const api = await hostileServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      if (!(await writeWithBackpressure(res, zlib.gzipSync('{"created":1,"data":[{"b64_json":"')))) return;
      for (let i = 0; i < members; i++) {
        if (!(await writeWithBackpressure(res, member))) return;
        sent++;
      }
      res.end(zlib.gzipSync('"}]}'));
    });
    cleanups.push(api.close);
    const { server, dir } = await serverFor(api.url);
    const result = await generate(server);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/image 1 passed 5\.0 MB, more than an image of the requested size can weigh/);
    expect(api.requests).toHaveLength(1); // not retried: the same answer would come again
    expect(sent).toBeLessThan(members / 2);
    expect(await filesUnder(dir)).toEqual([]);
    expect(await peakRssMb(server)).toBeLessThan(250);
    await expectStillServing(server);
  });

  // generate reads its answer on undici's request API, edit through the SDK's fetch: both cut the body short.
  it.each(['generate', 'edit'])('answers a 300 MB error body to %s with a short message, memory bounded, still serving', async (tool) => {
    let sentBytes = 0;
    const api = await hostileServer(async (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      await writeWithBackpressure(res, '{"error":{"message":"');
      const mb = Buffer.alloc(1024 * 1024, 'x');
      for (let i = 0; i < 300; i++) {
        if (!(await writeWithBackpressure(res, mb))) return;
        sentBytes += mb.length;
      }
      res.end('","type":"invalid_request_error","param":null,"code":null}}');
    });
    cleanups.push(api.close);
    const { server, dir } = await serverFor(api.url);
    let result;
    if (tool === 'edit') {
      await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } }).png().toFile(path.join(dir, 'in.png'));
      result = await server.call('edit', { prompt: 'make it red', images: ['in.png'], size: '1024x1024', out: OUT });
    } else {
      result = await generate(server);
    }
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(/refused the request \(400\)/);
    expect(text).toContain('xxxxxxxx');
    expect(text.length).toBeLessThan(1000);
    expect(sentBytes).toBeLessThan(50 * 1024 * 1024);
    expect((await filesUnder(dir)).filter((f) => f !== 'in.png')).toEqual([]);
    expect(await peakRssMb(server)).toBeLessThan(250);
    await expectStillServing(server);
  });
});

/** A real 16000x16000 1-bit PNG (all black): 31 KB on the wire, 1 GB as RGBA once decoded. */
function pixelBomb(): Buffer {
  const side = 16000;
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // greyscale
  const rows = zlib.deflateSync(Buffer.alloc(side * (1 + side / 8)));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
}

describe('answers that are not the image asked for', () => {
  const answering = async (body: string) => {
    const api = await hostileServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    cleanups.push(api.close);
    return api;
  };

  it('refuses a 16000x16000 PNG for a 1024x1024 request from its header, before decoding it', async () => {
    const api = await answering(answerJson(pixelBomb().toString('base64')));
    const { server, dir } = await serverFor(api.url);
    const result = await generate(server, { transparency: 'chroma_key' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/it is 16000x16000, not the 1024x1024 that was requested/);
    expect(textOf(result)).toMatch(/not decoded/);
    expect(await filesUnder(dir)).toEqual([]);
    expect(await peakRssMb(server)).toBeLessThan(250); // decoding it would take over 1 GB
    await expectStillServing(server);
  });

  it('saves a JPEG whose frame header comes after 60 KB of metadata, its size read from the file', async () => {
    const jpeg = await sharp({ create: { width: 1024, height: 1024, channels: 3, background: '#2266cc' } }).jpeg().toBuffer();
    // Comment segments (FF FE, at most 65,533 bytes each) between the start marker and the frame.
    const comment = (bytes: number) => Buffer.concat([Buffer.from([0xff, 0xfe, (bytes + 2) >> 8, (bytes + 2) & 0xff]), Buffer.alloc(bytes, 0x20)]);
    const padded = Buffer.concat([jpeg.subarray(0, 2), comment(30_000), comment(30_000), jpeg.subarray(2)]);
    const api = await answering(answerJson(padded.toString('base64')));
    const { server, dir } = await serverFor(api.url);
    const result = await generate(server, { output_format: 'jpeg', out: 'output/imagegen/late-header.jpg' });
    expect(result.isError, textOf(result)).toBeFalsy();
    const saved = path.join(dir, 'output/imagegen/late-header.jpg');
    expect(await sharp(saved).metadata()).toMatchObject({ format: 'jpeg', width: 1024, height: 1024 });
    expect((await readFile(saved)).length).toBe(padded.length);
  });

  it('refuses a JPEG whose frame header, past 60 KB of metadata, says 2048x2048 for a 1024x1024 request', async () => {
    const jpeg = await sharp({ create: { width: 2048, height: 2048, channels: 3, background: '#2266cc' } }).jpeg().toBuffer();
    const comment = Buffer.concat([Buffer.from([0xff, 0xfe, 0xea, 0x62]), Buffer.alloc(60_000, 0x20)]);
    const api = await answering(answerJson(Buffer.concat([jpeg.subarray(0, 2), comment, jpeg.subarray(2)]).toString('base64')));
    const { server, dir } = await serverFor(api.url);
    const result = await generate(server, { output_format: 'jpeg', out: 'output/imagegen/late-header.jpg' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/it is 2048x2048, not the 1024x1024 that was requested/);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it('refuses an SVG answered for a PNG request', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="1024" height="1024"><rect width="1024" height="1024" fill="red"/></svg>';
    const api = await answering(answerJson(Buffer.from(svg).toString('base64')));
    const { server, dir } = await serverFor(api.url);
    const result = await generate(server);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/it is SVG, not the PNG that was requested/);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it('saves the image and succeeds when usage says Infinity or a negative count, said once', async () => {
    const api = await answering(answerJson(png1024, '{"input_tokens":1e999,"output_tokens":-5,"total_tokens":1e999}'));
    const { server, dir } = await serverFor(api.url);
    const result = await generate(server);
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(await sharp(path.join(dir, OUT)).metadata()).toMatchObject({ width: 1024, height: 1024, format: 'png' });
    const warnings = structured(result).warnings.filter((w) => /usage that is not a token count/.test(w));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('input_tokens');
    expect(structured(result).usage).toBeUndefined();
    expect(structured(result).cost_usd).toBeUndefined();
    expect(textOf(result)).toMatch(/Cost: unknown/);
    expect(textOf(result)).not.toMatch(/-\$|Infinity/);
  });

  it('names why an answer is malformed: bad base64, not "connection failed"', async () => {
    const api = await answering(answerJson('!!!!'));
    const { server, dir } = await serverFor(api.url);
    const result = await generate(server, { max_attempts: 3 });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/not valid base64/);
    expect(textOf(result)).not.toMatch(/connection/i);
    expect(api.requests).toHaveLength(1);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it('names why an answer is not HTTP (a parse error), not retried', async () => {
    const api = await rawServer('HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n{}');
    cleanups.push(api.close);
    const { server, dir } = await serverFor(api.url);
    const result = await generate(server, { max_attempts: 3 });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/could not be parsed: .*Content-Length/);
    expect(textOf(result)).not.toMatch(/connection to the Images API failed/);
    expect(api.requests).toHaveLength(1);
    expect(await filesUnder(dir)).toEqual([]);
  });
});

describe('once an image is saved', () => {
  it('turns a failed downscaled copy into a warning: the call succeeds with the image', async () => {
    // A PNG cut short: its header (all the checks before saving read) is whole, its pixels are not.
    const whole = Buffer.from(png1024, 'base64');
    const truncated = whole.subarray(0, Math.floor(whole.length / 2)).toString('base64');
    const api = await hostileServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(answerJson(truncated));
    });
    cleanups.push(api.close);
    const { server, dir } = await serverFor(api.url);
    const result = await generate(server, { downscale_max_dim: 256, force: true });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(await sharp(path.join(dir, OUT)).metadata()).toMatchObject({ width: 1024, height: 1024 });
    expect(structured(result).warnings.join('\n')).toMatch(/picture\.png was saved, but its downscaled copy could not be made/);
    expect(structured(result).images[0]!.web_path).toBeUndefined();
  });
});
