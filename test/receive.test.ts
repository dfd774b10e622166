import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MalformedAnswerError } from '../src/core/answer-scanner.js';
import { BodyReadError, HEAD_BYTES, LocalWriteError, receiveImages } from '../src/io/receive.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'imagegen-receive-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const to = (name: string) => async () => path.join(dir, name);
const files = async () => (await readdir(dir)).sort();

/** A body that delivers `parts`, then either ends or fails. */
function body(parts: Buffer[], end: 'end' | Error = 'end'): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < parts.length) controller.enqueue(new Uint8Array(parts[i++]!));
      else if (end === 'end') controller.close();
      else controller.error(end);
    },
  });
}

function chunks(text: string, size: number): Buffer[] {
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

const image = randomBytes(2_000_000);
const answer = (images: Buffer[]) =>
  JSON.stringify({ data: images.map((i) => ({ b64_json: i.toString('base64') })), usage: { total_tokens: 3 } });

describe('receiveImages', () => {
  it('writes each image to its destination, byte for byte, and returns the usage', async () => {
    const second = randomBytes(1000);
    const received = await receiveImages(body(chunks(answer([image, second]), 65_536)), async (i) => path.join(dir, `img-${i}.png`));
    expect(received.count).toBe(2);
    expect(received.usage).toEqual({ total_tokens: 3 });
    expect(received.images.map((i) => ({ ...i, file: path.basename(i.file), head: Buffer.from(i.head) }))).toEqual([
      { index: 0, file: 'img-0.png', bytes: image.length, head: image.subarray(0, HEAD_BYTES) },
      { index: 1, file: 'img-1.png', bytes: second.length, head: second.subarray(0, HEAD_BYTES) },
    ]);
    expect((await readFile(path.join(dir, 'img-0.png'))).equals(image)).toBe(true);
    expect((await readFile(path.join(dir, 'img-1.png'))).equals(second)).toBe(true);
  });

  it('reads a byte stream into one buffer of its own (BYOB), whatever the sizes of the pieces', async () => {
    // Like the transport's bodies: no chunk is handed out unless the reader brought a buffer.
    const bytes = Buffer.from(answer([image]));
    const viewSizes = new Set<number>();
    let at = 0;
    let piece = 1;
    const stream = new ReadableStream({
      type: 'bytes',
      pull(controller) {
        const request = controller.byobRequest;
        if (!request?.view) throw new Error('the reader brought no buffer');
        viewSizes.add(request.view.buffer.byteLength);
        const view = new Uint8Array(request.view.buffer, request.view.byteOffset, request.view.byteLength);
        const take = Math.min(view.length, bytes.length - at, (piece = (piece * 7 + 3) % 70_001) + 1);
        view.set(bytes.subarray(at, at + take));
        at += take;
        request.respond(take);
        if (at === bytes.length) {
          controller.close();
          controller.byobRequest?.respond(0);
        }
      },
    });
    const received = await receiveImages(stream, to('byob.png'));
    expect(received.images.map((i) => ({ ...i, head: Buffer.from(i.head) }))).toEqual([
      { index: 0, file: path.join(dir, 'byob.png'), bytes: image.length, head: image.subarray(0, HEAD_BYTES) },
    ]);
    expect((await readFile(path.join(dir, 'byob.png'))).equals(image)).toBe(true);
    expect(at).toBe(bytes.length);
    expect(viewSizes).toEqual(new Set([64 * 1024])); // every read into the reader's 64 KB buffer
  });

  it('drops images the destination declines', async () => {
    const received = await receiveImages(body(chunks(answer([image, image]), 65_536)), async (i) => (i === 0 ? path.join(dir, 'one.png') : undefined));
    expect(received.count).toBe(2);
    expect(received.images).toHaveLength(1);
    expect(await files()).toEqual(['one.png']);
  });

  it('removes what it wrote when the connection is cut mid-image', async () => {
    const parts = chunks(answer([image]), 65_536);
    const error = await receiveImages(body(parts.slice(0, 10), new TypeError('terminated')), to('cut.png')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyReadError);
    expect(await files()).toEqual([]);
  });

  it('removes what it wrote when the answer is malformed', async () => {
    const text = answer([image]);
    const error = await receiveImages(body(chunks(text.slice(0, text.length - 3), 65_536)), to('bad.png')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedAnswerError);
    expect(await files()).toEqual([]);
  });

  it('stops an image that decodes past its cap near the cap, reads no further, and removes what it wrote', async () => {
    const parts = chunks(answer([image]), 65_536); // a 2 MB image against a 1 MB cap
    let delivered = 0;
    let i = 0;
    const counted = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i >= parts.length) return controller.close();
        delivered++;
        controller.enqueue(new Uint8Array(parts[i++]!));
      },
    });
    const error = await receiveImages(counted, to('bomb.png'), undefined, undefined, 1_000_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedAnswerError);
    expect((error as Error).message).toMatch(/image 1 passed 1\.0 MB, more than an image of the requested size can weigh/);
    expect(delivered * 65_536 * 0.75).toBeLessThan(1_000_000 + 2 * 65_536);
    expect(await files()).toEqual([]);
  });

  it('takes an image of exactly its cap', async () => {
    const received = await receiveImages(body(chunks(answer([image]), 65_536)), to('exact.png'), undefined, undefined, image.length);
    expect(received.images[0]!.bytes).toBe(image.length);
  });

  it('refuses base64 that is not base64, removing what it wrote', async () => {
    const text = answer([image]);
    const at = text.indexOf('"b64_json":"') + 400_000;
    const bad = `${text.slice(0, at)}!!!!${text.slice(at + 4)}`;
    const error = await receiveImages(body(chunks(bad, 65_536)), to('bad64.png')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedAnswerError);
    expect(await files()).toEqual([]);
  });

  it('stops reading and removes what it wrote when cancelled mid-image', async () => {
    const controller = new AbortController();
    const parts = chunks(answer([image]), 65_536);
    let served = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (served === 5) controller.abort(new Error('cancelled'));
        if (served < parts.length) c.enqueue(new Uint8Array(parts[served++]!));
        else c.close();
        await new Promise((r) => setTimeout(r, 1));
      },
    });
    const error = await receiveImages(slow, to('cancelled.png'), controller.signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(served).toBeLessThan(parts.length);
    expect(await files()).toEqual([]);
  });

  it('reports a file it cannot create as a local write problem, not the API', async () => {
    const error = await receiveImages(body(chunks(answer([image]), 65_536)), async () => path.join(dir, 'missing-folder', 'x.png')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalWriteError);
    expect((error as Error).message).toMatch(/Could not write the image: ENOENT/);
  });
});
