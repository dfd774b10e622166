/**
 * The server's retry policy (the only one: the SDK's own retries are off, so attempts never
 * multiply). Pure: the caller supplies the status, the headers and the random source.
 */

export const DEFAULT_MAX_ATTEMPTS = 3;
export const MAX_DELAY_MS = 60_000;
export const DEFAULT_BASE_DELAY_MS = 1_000;

export interface RetryPolicy {
  maxAttempts: number;
  /** First backoff wait; doubles each attempt up to MAX_DELAY_MS. */
  baseDelayMs: number;
}

/** Statuses worth another try: timeouts, conflicts, rate limits and server faults. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

const SECONDS = /^\d+(\.\d+)?$/;
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

export type HeaderLookup = (name: string) => string | null | undefined;

/** The wait the server asked for, in ms (capped), or undefined when it said nothing usable. */
export function serverRequestedDelayMs(header: HeaderLookup, nowMs: number): number | undefined {
  const ms = header('retry-after-ms')?.trim();
  if (ms && SECONDS.test(ms)) return Math.min(Number(ms), MAX_DELAY_MS);
  const after = header('retry-after')?.trim();
  if (after) {
    if (SECONDS.test(after)) return Math.min(Number(after) * 1000, MAX_DELAY_MS);
    // Only a real HTTP date: Date.parse alone takes junk like "-1" for a date long past.
    if (HTTP_DATE.test(after)) {
      const date = Date.parse(after);
      if (!Number.isNaN(date)) return Math.min(Math.max(0, date - nowMs), MAX_DELAY_MS);
    }
  }
  return undefined;
}

/**
 * Exponential backoff with jitter after the given failed attempt (1-based): base, 2×base, 4×base …
 * capped at a minute, each drawn from its upper half so waits stay spread but never collapse to 0.
 */
export function backoffDelayMs(failedAttempt: number, baseDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, baseDelayMs * 2 ** Math.max(0, failedAttempt - 1));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

export function retryDelayMs(
  failedAttempt: number,
  policy: RetryPolicy,
  header: HeaderLookup = () => undefined,
  nowMs: number = Date.now(),
  random: () => number = Math.random,
): number {
  return serverRequestedDelayMs(header, nowMs) ?? backoffDelayMs(failedAttempt, policy.baseDelayMs, random);
}
