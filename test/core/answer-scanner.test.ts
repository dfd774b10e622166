import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ImagesAnswerScanner,
  MAX_SKELETON_BYTES,
  MalformedAnswerError,
  decodeBase64Into,
  decodedLength,
  type ScanEvent,
} from '../../src/core/answer-scanner.js';

interface Scanned {
  images: Buffer[];
  usage?: Record<string, unknown>;
}

function decode(base64: Uint8Array): Buffer {
  const bytes = Buffer.alloc(decodedLength(base64));
  expect(decodeBase64Into(base64, bytes, 0)).toBe(bytes.length);
  return bytes;
}

/** Feeds `body` in pieces of `size` bytes and collects the decoded images. */
function scan(body: Buffer | string, size = Infinity): Scanned {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const scanner = new ImagesAnswerScanner();
  const parts: Buffer[][] = [];
  let open = -1;
  const take = (events: ScanEvent[]) => {
    for (const e of events) {
      if (e.kind === 'image-start') {
        expect(e.index).toBe(parts.length);
        parts.push([]);
        open = e.index;
      } else if (e.kind === 'image-data') {
        expect(e.index).toBe(open);
        parts[e.index]!.push(decode(e.base64)); // now: the piece is a view of this chunk
      } else {
        expect(e.index).toBe(open);
        open = -1;
      }
    }
  };
  const step = Number.isFinite(size) ? size : bytes.length;
  for (let at = 0; at < bytes.length; at += step) take(scanner.push(bytes.subarray(at, at + step)));
  const answer = scanner.finish();
  expect(answer.images).toBe(parts.length);
  expect(open).toBe(-1);
  return { images: parts.map((p) => Buffer.concat(p)), ...(answer.usage ? { usage: answer.usage } : {}) };
}

const usage = { input_tokens: 12, output_tokens: 1056, total_tokens: 1068, input_tokens_details: { text_tokens: 12, image_tokens: 0 } };

function answer(images: Buffer[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ created: 1, background: 'opaque', data: images.map((i) => ({ b64_json: i.toString('base64') })), ...extra, usage });
}

const malformed = (body: string | Buffer, size?: number) => {
  let error: unknown;
  try {
    scan(body, size);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(MalformedAnswerError);
  return (error as Error).message;
};

describe('ImagesAnswerScanner', () => {
  const image = randomBytes(10_000);

  it('decodes an image and keeps the usage, whatever the chunk boundaries', () => {
    const body = answer([image]);
    for (const size of [1, 2, 3, 4, 5, 7, 13, 64, 1000, 4096, Infinity]) {
      const out = scan(body, size);
      expect(out.images).toHaveLength(1);
      expect(out.images[0]!.equals(image), `chunks of ${size}`).toBe(true);
      expect(out.usage).toEqual(usage);
    }
  });

  it('decodes every length of image (no, one or two padding characters)', () => {
    for (const length of [1, 2, 3, 4, 5, 6, 100, 101, 102]) {
      const bytes = randomBytes(length);
      expect(scan(answer([bytes]), 5).images[0]!.equals(bytes)).toBe(true);
    }
  });

  it('decodes several images in order', () => {
    const images = [randomBytes(3000), randomBytes(4001), randomBytes(5002)];
    const out = scan(answer(images), 777);
    expect(out.images.map((i) => i.toString('hex'))).toEqual(images.map((i) => i.toString('hex')));
  });

  it('accepts whitespace around the key and escaped slashes in the base64', () => {
    const b64 = image.toString('base64');
    const body = `{\n  "data" : [ { "b64_json" :\n "${b64.replaceAll('/', '\\/')}" } ],\n  "usage": {"total_tokens": 5}\n}`;
    for (const size of [1, 2, 3, 1024, Infinity]) {
      const out = scan(body, size);
      expect(out.images[0]!.equals(image)).toBe(true);
      expect(out.usage).toEqual({ total_tokens: 5 });
    }
  });

  it('is not fooled by "b64_json" inside another string, or by other keys', () => {
    const body = JSON.stringify({
      revised_prompt: 'say "b64_json":"AAAA" please',
      b64: 'x',
      data: [{ revised_prompt: '\\"b64_json\\"', b64_json: image.toString('base64') }],
      usage,
    });
    const out = scan(body, 3);
    expect(out.images).toHaveLength(1);
    expect(out.images[0]!.equals(image)).toBe(true);
  });

  it('keeps multi-byte characters around the images intact', () => {
    const body = JSON.stringify({ note: 'café ☕ naïve', data: [{ b64_json: image.toString('base64') }], usage });
    expect(scan(body, 1).usage).toEqual(usage);
  });

  it('works without usage', () => {
    const body = JSON.stringify({ data: [{ b64_json: image.toString('base64') }] });
    expect(scan(body).usage).toBeUndefined();
  });

  it('refuses an answer cut short inside an image', () => {
    expect(malformed('{"created": 1700000000, "data": [{"b64_json": "iVBORw0KGgo')).toMatch(/ended in the middle/);
  });

  it('refuses an answer cut short after an image', () => {
    const body = answer([image]);
    expect(malformed(body.slice(0, body.length - 5))).toMatch(/not valid JSON/);
  });

  it('refuses a body that is not JSON, or has no images', () => {
    expect(malformed('<html>Bad gateway</html>')).toMatch(/not valid JSON/);
    expect(malformed('{"data": []}')).toMatch(/no base64 images/);
    expect(malformed('{"data": [{"url": "https://x"}]}')).toMatch(/no base64 images/);
    expect(malformed('{"data": [{"b64_json": null}]}')).toMatch(/no base64 images/);
  });

  it('refuses an image string outside data[].b64_json', () => {
    expect(malformed(JSON.stringify({ b64_json: 'AAAA', data: [{ b64_json: 'QUJD' }] }))).toMatch(/not where/);
    expect(malformed(JSON.stringify({ data: [{ b64_json: 'AAAA' }, { b64_json: 5 }] }))).toMatch(/not where/);
  });

  it('refuses base64 with characters outside the alphabet, wherever the chunk boundaries fall', () => {
    for (const size of [1, 3, 4, Infinity]) {
      expect(malformed('{"data":[{"b64_json":"QUJD!UJD"}]}', size)).toMatch(/not valid base64/);
    }
    expect(malformed('{"data":[{"b64_json":"QQ==QUJD"}]}', 4)).toMatch(/padding|base64/);
    expect(malformed('{"data":[{"b64_json":"QUJDQ"}]}')).toMatch(/cut short/);
    expect(malformed('{"data":[{"b64_json":"QU\\nJD"}]}')).toMatch(/not plain base64/);
  });

  it('refuses an answer whose other fields are implausibly large', () => {
    const body = JSON.stringify({ filler: 'x'.repeat(MAX_SKELETON_BYTES), data: [{ b64_json: 'QUJD' }] });
    expect(malformed(body, 65536)).toMatch(/more than images/);
  });

  it('hands out the base64 piece by piece in whole groups of four, never the whole image at once', () => {
    const big = randomBytes(300_001);
    const body = Buffer.from(answer([big]));
    const scanner = new ImagesAnswerScanner();
    const pieces: Buffer[] = [];
    let largest = 0;
    let unaligned = 0;
    for (let at = 0; at < body.length; at += 16_381) {
      for (const e of scanner.push(body.subarray(at, at + 16_381))) {
        if (e.kind !== 'image-data') continue;
        largest = Math.max(largest, e.base64.length);
        if (e.base64.length % 4 !== 0) unaligned++;
        pieces.push(decode(e.base64));
      }
    }
    scanner.finish();
    expect(largest).toBeLessThanOrEqual(16_384);
    expect(unaligned).toBeLessThanOrEqual(1); // only an unpadded last piece
    expect(Buffer.concat(pieces).equals(big)).toBe(true);
  });

  it('refuses, at decoding, characters outside the base64 alphabet and misplaced padding', () => {
    const target = Buffer.alloc(16);
    const b = (text: string) => Buffer.from(text, 'latin1');
    expect(() => decodeBase64Into(b('QUJD!UJD'), target, 0)).toThrow(MalformedAnswerError);
    expect(() => decodeBase64Into(b('QQ==QUJD'), target, 0)).toThrow(MalformedAnswerError);
    expect(() => decodeBase64Into(b('QUJDR'), target, 0)).toThrow(MalformedAnswerError);
    expect(() => decodeBase64Into(b('QUJ='), target, 0)).not.toThrow();
    expect(() => decodeBase64Into(b('QU='), target, 0)).toThrow(MalformedAnswerError);
    expect(decodeBase64Into(b('QUJDRA=='), target, 4)).toBe(4);
    expect(target.subarray(4, 8).toString()).toBe('ABCD');
    expect(decodeBase64Into(b('QUJDRA'), target, 0)).toBe(4); // unpadded
    expect(() => decodeBase64Into(b('QUJDRA=='), target, 14)).toThrow(RangeError);
    // What Node's own decoder would let through: base64url, white space, bytes past ASCII, padding inside.
    for (const bad of ['QUJD-UJD', 'QUJD_UJD', 'QUJD UJD', 'QUJD\nUJD', 'QUJD\u00ffUJD', 'QUJDRA=A', 'QUJ=QUJD']) {
      expect(() => decodeBase64Into(b(bad), target, 0), bad).toThrow(MalformedAnswerError);
    }
  });
});
