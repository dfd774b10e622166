import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeFetch } from '../src/io/http.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('nodeFetch (the SDK transport)', () => {
  it('sends method, headers and a JSON body as fetch would, and returns status, headers and body', async () => {
    handler = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1', 'set-cookie': ['a=1', 'b=2'] });
      res.end('{"error":{"message":"slow down"}}');
    };
    const response = await nodeFetch(`${base}/v1/images/generations?x=1`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'café' }),
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual({ error: { message: 'slow down' } });
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', url: '/v1/images/generations?x=1' });
    expect(request.headers.authorization).toBe('Bearer k');
    expect(request.headers['content-length']).toBe(String(Buffer.byteLength('{"prompt":"café"}')));
    expect(JSON.parse(request.body.toString())).toEqual({ prompt: 'café' });
  });

  it('sends a multipart body with its boundary', async () => {
    handler = (_req, res) => res.end('{}');
    const form = new FormData();
    form.append('prompt', 'edit');
    form.append('image[]', new Blob([Buffer.from('PNGDATA')], { type: 'image/png' }), 'a.png');
    await nodeFetch(`${base}/v1/images/edits`, { method: 'POST', body: form });
    const request = seen.at(-1)!;
    expect(request.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    const parsed = await new Request('http://x/', { method: 'POST', headers: { 'content-type': request.headers['content-type']! }, body: request.body }).formData();
    expect(parsed.get('prompt')).toBe('edit');
    const file = parsed.get('image[]') as File;
    expect(file.type).toBe('image/png');
    expect(Buffer.from(await file.arrayBuffer()).toString()).toBe('PNGDATA');
  });

  it('streams the body, decompressing it when the server compressed it', async () => {
    const text = JSON.stringify({ data: [{ b64_json: 'x'.repeat(200_000) }] });
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(text));
    };
    const response = await nodeFetch(`${base}/gz`);
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(await response.text()).toBe(text);
  });

  it('gives no body for 204', async () => {
    handler = (_req, res) => {
      res.writeHead(204);
      res.end();
    };
    const response = await nodeFetch(`${base}/empty`, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it('rejects with an AbortError when the signal fires, and with an error when the connection drops', async () => {
    handler = () => {}; // never answers
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const aborted = await nodeFetch(`${base}/hang`, { signal: controller.signal }).catch((e: unknown) => e);
    expect((aborted as Error).name).toBe('AbortError');

    handler = (req) => req.socket.destroy();
    const dropped = await nodeFetch(`${base}/drop`).catch((e: unknown) => e);
    expect(dropped).toBeInstanceOf(Error);
    expect((dropped as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });

  it('ends the body with an error when the connection drops mid-answer', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000000' });
      res.write('{"data":[{"b64_json":"AAAA');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const response = await nodeFetch(`${base}/cut`);
    const error = await response.text().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
  });
});
