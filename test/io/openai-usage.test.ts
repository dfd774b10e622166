import { describe, expect, it } from 'vitest';
import { checkedUsage, parseTimeoutMs } from '../../src/io/openai.js';

describe('checkedUsage', () => {
  it('keeps usage whose counts are finite non-negative numbers', () => {
    const raw = { input_tokens: 10, output_tokens: 0, total_tokens: 10, input_tokens_details: { text_tokens: 10, image_tokens: 0 } };
    expect(checkedUsage(raw)).toEqual({ usage: raw });
    expect(checkedUsage(undefined)).toEqual({});
  });

  it.each([
    ['Infinity', { input_tokens: Number.POSITIVE_INFINITY, output_tokens: 5 }, 'input_tokens'],
    ['a negative count', { output_tokens: -5 }, 'output_tokens'],
    ['NaN in details', { input_tokens: 1, input_tokens_details: { image_tokens: Number.NaN } }, 'input_tokens_details.image_tokens'],
    ['a string', { total_tokens: '12' }, 'total_tokens'],
    ['details that are not an object', { output_tokens_details: 7 }, 'output_tokens_details'],
  ])('drops usage with %s, saying which field, once', (_what, raw, field) => {
    const checked = checkedUsage(raw as Record<string, unknown>);
    expect(checked.usage).toBeUndefined();
    expect(checked.problem).toContain(field);
    expect(checked.problem).toMatch(/usage and cost are unknown/);
  });
});

describe('parseTimeoutMs', () => {
  it('takes a positive number of milliseconds and nothing else', () => {
    expect(parseTimeoutMs('800')).toBe(800);
    expect(parseTimeoutMs(undefined)).toBeUndefined();
    for (const bad of ['', ' ', '0', '-5', 'soon', 'Infinity', '1e20']) expect(parseTimeoutMs(bad)).toBeUndefined();
  });
});
