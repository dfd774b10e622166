import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BASE_DELAY_MS,
  DEFAULT_MAX_ATTEMPTS,
  MAX_DELAY_MS,
  backoffDelayMs,
  isRetryableStatus,
  retryDelayMs,
  serverRequestedDelayMs,
  type HeaderLookup,
} from '../../src/core/retry.js';

const headers =
  (values: Record<string, string>): HeaderLookup =>
  (name) =>
    values[name.toLowerCase()];

const NOW_MS = Date.parse('2026-11-24T12:00:00Z');

describe('isRetryableStatus', () => {
  it.each([408, 409, 429, 500, 502, 503, 504])('retries %d', (status) => {
    expect(isRetryableStatus(status)).toBe(true);
  });

  it.each([400, 401, 403, 404, 413, 422, 200])('never retries %d', (status) => {
    expect(isRetryableStatus(status)).toBe(false);
  });
});

describe('serverRequestedDelayMs', () => {
  it('uses retry-after-ms first', () => {
    expect(serverRequestedDelayMs(headers({ 'retry-after-ms': '1500', 'retry-after': '9' }), NOW_MS)).toBe(1500);
  });

  it('reads retry-after as seconds', () => {
    expect(serverRequestedDelayMs(headers({ 'retry-after': '2' }), NOW_MS)).toBe(2000);
    expect(serverRequestedDelayMs(headers({ 'retry-after': '0.5' }), NOW_MS)).toBe(500);
    expect(serverRequestedDelayMs(headers({ 'retry-after': '0' }), NOW_MS)).toBe(0);
  });

  it('reads retry-after as an HTTP date', () => {
    const date = new Date(NOW_MS + 10_000).toUTCString();
    expect(serverRequestedDelayMs(headers({ 'retry-after': date }), NOW_MS)).toBe(10_000);
  });

  it('treats a date in the past as no wait', () => {
    const date = new Date(NOW_MS - 10_000).toUTCString();
    expect(serverRequestedDelayMs(headers({ 'retry-after': date }), NOW_MS)).toBe(0);
  });

  it('falls back to retry-after when retry-after-ms is garbage', () => {
    expect(serverRequestedDelayMs(headers({ 'retry-after-ms': 'soon', 'retry-after': '3' }), NOW_MS)).toBe(3000);
  });

  // Garbage must fall back to backoff (undefined), never become "retry now" (0 ms).
  it.each([
    {},
    { 'retry-after': 'soon' },
    { 'retry-after': '' },
    { 'retry-after-ms': '-5' },
    { 'retry-after-ms': '  ' },
    { 'retry-after': '-1' },
    { 'retry-after': 'soon 2' },
  ] as Record<string, string>[])(
    'says nothing for %j',
    (values) => {
      expect(serverRequestedDelayMs(headers(values), NOW_MS)).toBeUndefined();
    },
  );

  it('caps every form at 60 s', () => {
    expect(MAX_DELAY_MS).toBe(60_000);
    expect(serverRequestedDelayMs(headers({ 'retry-after-ms': '120000' }), NOW_MS)).toBe(60_000);
    expect(serverRequestedDelayMs(headers({ 'retry-after': '3600' }), NOW_MS)).toBe(60_000);
    expect(serverRequestedDelayMs(headers({ 'retry-after': new Date(NOW_MS + 3_600_000).toUTCString() }), NOW_MS)).toBe(60_000);
    expect(serverRequestedDelayMs(headers({ 'retry-after': '60' }), NOW_MS)).toBe(60_000);
    expect(serverRequestedDelayMs(headers({ 'retry-after': '59' }), NOW_MS)).toBe(59_000);
  });

  it('tolerates a lookup that returns null', () => {
    expect(serverRequestedDelayMs(() => null, NOW_MS)).toBeUndefined();
  });
});

describe('backoffDelayMs', () => {
  it('starts at the base and doubles, drawn from the upper half', () => {
    const base = 1000;
    for (const [attempt, ceiling] of [
      [1, 1000],
      [2, 2000],
      [3, 4000],
      [4, 8000],
      [6, 32_000],
    ] as const) {
      expect(backoffDelayMs(attempt, base, () => 0)).toBe(ceiling / 2);
      expect(backoffDelayMs(attempt, base, () => 0.5)).toBe(ceiling * 0.75);
      expect(backoffDelayMs(attempt, base, () => 0.999999)).toBe(ceiling);
    }
  });

  it('stays within [half, full] for any random value', () => {
    for (let i = 0; i <= 100; i++) {
      const r = Math.min(i / 100, 0.9999999);
      const delay = backoffDelayMs(3, 100, () => r);
      expect(delay).toBeGreaterThanOrEqual(200);
      expect(delay).toBeLessThanOrEqual(400);
    }
  });

  it('caps at 60 s', () => {
    expect(backoffDelayMs(7, 1000, () => 0.999999)).toBe(60_000);
    expect(backoffDelayMs(7, 1000, () => 0)).toBe(30_000);
    expect(backoffDelayMs(50, 1000, () => 0.999999)).toBe(60_000);
  });

  it('uses the configurable base (small in tests)', () => {
    expect(backoffDelayMs(1, 10, () => 0)).toBe(5);
    expect(backoffDelayMs(3, 10, () => 0.999999)).toBe(40);
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_BASE_DELAY_MS).toBe(1000);
    expect(DEFAULT_MAX_ATTEMPTS).toBe(3);
  });
});

describe('retryDelayMs', () => {
  const policy = { maxAttempts: 3, baseDelayMs: 1000 };

  it("prefers the server's wait", () => {
    expect(retryDelayMs(2, policy, headers({ 'retry-after': '7' }), NOW_MS, () => 0)).toBe(7000);
  });

  it('falls back to backoff when the server said nothing usable', () => {
    expect(retryDelayMs(2, policy, headers({ 'retry-after': 'later' }), NOW_MS, () => 0)).toBe(1000);
    expect(retryDelayMs(1, policy, undefined, NOW_MS, () => 0.999999)).toBe(1000);
  });
});
