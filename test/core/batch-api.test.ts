import { describe, expect, it } from 'vitest';
import { LineSplitter, batchApiAccepts, batchApiModelProblem, batchPrice, customId, jobNumberOf, parseResultLine, requestLine } from '../../src/core/batch-api.js';

describe('Batch API rules', () => {
  it('accepts gpt-image-2 and 2.5 (with snapshots), refuses 2.6 by name with the fix', () => {
    expect(batchApiAccepts('gpt-image-2')).toBe(true);
    expect(batchApiAccepts('gpt-image-2-2026-04-21')).toBe(true);
    expect(batchApiAccepts('gpt-image-2.5-flare-2026-09-08')).toBe(true);
    expect(batchApiAccepts('gpt-image-2.6-sunburst')).toBe(false);
    expect(batchApiModelProblem('gpt-image-2.6-sunburst')).toMatch(/gpt-image-2\.6-sunburst is not accepted.*gpt-image-2,.*engine "direct"/);
  });

  it('names a request line by job number and file, and reads the number back', () => {
    const line = JSON.parse(requestLine(7, '007-a fox.png', { model: 'gpt-image-2', prompt: 'a fox' })) as Record<string, unknown>;
    expect(line).toEqual({ custom_id: 'job-7-007-a-fox.png', method: 'POST', url: '/v1/images/generations', body: { model: 'gpt-image-2', prompt: 'a fox' } });
    expect(jobNumberOf(line.custom_id)).toBe(7);
    expect(jobNumberOf('job-70')).toBe(70);
    expect(jobNumberOf('other-7')).toBeUndefined();
    expect(customId(1, 'x'.repeat(200)).length).toBeLessThanOrEqual(64);
  });

  it('reads output lines, API errors and line errors', () => {
    const ok = { custom_id: 'job-2-b.png', response: { status_code: 200, body: { data: [{ b64_json: 'AAA' }, { b64_json: 'BBB' }], usage: { output_tokens: 9 } } }, error: null };
    expect(parseResultLine(JSON.stringify(ok))).toEqual({ kind: 'images', job: 2, images: ['AAA', 'BBB'], usage: { output_tokens: 9 } });
    const refused = { custom_id: 'job-3', response: { status_code: 400, body: { error: { message: 'Invalid size', code: 'invalid_value' } } }, error: null };
    expect(parseResultLine(JSON.stringify(refused))).toEqual({ kind: 'error', job: 3, message: 'the API answered 400: Invalid size (invalid_value)' });
    const expired = { custom_id: 'job-4', response: null, error: { code: 'batch_expired', message: 'Not run in time.' } };
    expect(parseResultLine(JSON.stringify(expired))).toEqual({ kind: 'error', job: 4, message: 'Not run in time. (batch_expired)' });
    expect(parseResultLine('{not json').kind).toBe('unreadable');
    expect(parseResultLine('{"custom_id":"someone-else"}').kind).toBe('unreadable');
    expect(parseResultLine('{"custom_id":"job-5","response":{"status_code":200,"body":{"data":[]}}}')).toEqual({ kind: 'error', job: 5, message: 'the answer carried no image' });
  });

  it('halves the price', () => {
    expect(batchPrice(0.042)).toBeCloseTo(0.021, 6);
  });

  it('splits lines across chunks, keeping only the open line', () => {
    const splitter = new LineSplitter();
    const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();
    const enc = (s: string) => new TextEncoder().encode(s);
    expect([...splitter.push(enc('ab'))].map(text)).toEqual([]);
    expect([...splitter.push(enc('c\nde\nf'))].map(text)).toEqual(['abc', 'de']);
    expect([...splitter.push(enc('g\n'))].map(text)).toEqual(['fg']);
    expect(splitter.end()).toBeUndefined();
    expect([...splitter.push(enc('tail'))].map(text)).toEqual([]);
    expect(text(splitter.end()!)).toBe('tail');
  });
});

describe('LineSplitter limits', () => {
  it('refuses a line longer than its limit instead of holding it', () => {
    const splitter = new LineSplitter(10);
    expect([...splitter.push(new TextEncoder().encode('short\n12345'))].length).toBe(1);
    expect(() => [...splitter.push(new TextEncoder().encode('678901'))]).toThrow(/over 0 MB; it was not read/);
  });
});
