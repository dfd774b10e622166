import { describe, expect, it } from 'vitest';
import { ModelLifecycle } from '../../src/io/lifecycle.js';
import { createImageApi, type ImageApi } from '../../src/io/openai.js';
import { startFakeImagesApi } from '../fake-images-api.js';

/** An API edge whose lookups the test answers by hand. */
function stubApi() {
  const calls: Array<{ model: string; signal: AbortSignal; resolve: (date: string | null) => void; reject: (e: Error) => void }> = [];
  const api: ImageApi = {
    call: () => Promise.reject(new Error('not used')),
    shutdownDate: (model, signal) => new Promise((resolve, reject) => calls.push({ model, signal, resolve, reject })),
  };
  return { api, calls };
}

describe('ModelLifecycle', () => {
  it('looks a model up once, however many calls start while it is read, and keeps the answer', async () => {
    const { api, calls } = stubApi();
    const lifecycle = new ModelLifecycle(api);
    const first = lifecycle.observe('gpt-image-2.6-flare');
    const second = lifecycle.observe('gpt-image-2.6-flare');
    expect(calls).toHaveLength(1);
    expect(lifecycle.known.has('gpt-image-2.6-flare')).toBe(false);
    calls[0]!.resolve('2027-01-05');
    await Promise.all([first, second]);
    expect(lifecycle.known.get('gpt-image-2.6-flare')).toBe('2027-01-05');
    await lifecycle.observe('gpt-image-2.6-flare');
    expect(calls).toHaveLength(1);
  });

  it('never rejects: a failed lookup leaves nothing known and is not repeated at once', async () => {
    const { api, calls } = stubApi();
    const lifecycle = new ModelLifecycle(api);
    const lookup = lifecycle.observe('gpt-image-2');
    calls[0]!.reject(new Error('503'));
    await expect(lookup).resolves.toBeUndefined();
    expect(lifecycle.known.has('gpt-image-2')).toBe(false);
    await lifecycle.observe('gpt-image-2');
    expect(calls).toHaveLength(1);
  });

  it('gives each lookup a time box', async () => {
    const { api, calls } = stubApi();
    const lifecycle = new ModelLifecycle(api, 20);
    void lifecycle.observe('gpt-image-2');
    expect(calls[0]!.signal.aborted).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls[0]!.signal.aborted).toBe(true);
  });

  it('does nothing for an API edge without lookups', async () => {
    const lifecycle = new ModelLifecycle({ call: () => Promise.reject(new Error('not used')) });
    await lifecycle.observe('gpt-image-2');
    expect(lifecycle.known.size).toBe(0);
  });
});

describe('the API edge reads shutdown_date', () => {
  it('as a day, null when none is announced, and refuses anything else', async () => {
    const fake = await startFakeImagesApi({ today: '2026-12-02' });
    try {
      const api = createImageApi({ apiKey: fake.apiKey, baseURL: fake.url }, { baseDelayMs: 1 });
      const signal = AbortSignal.timeout(5_000);
      fake.setShutdownDate('gpt-image-2.6-flare', '2027-01-05');
      expect(await api.shutdownDate!('gpt-image-2.6-flare', signal)).toBe('2027-01-05');
      expect(await api.shutdownDate!('gpt-image-2', signal)).toBeNull();
      for (const bad of ['2027-02-30', 'soon']) {
        fake.setShutdownDate('gpt-image-2.5-flare', bad);
        await expect(api.shutdownDate!('gpt-image-2.5-flare', signal)).rejects.toThrow(/shutdown_date/);
      }
      await expect(api.shutdownDate!('dall-e-3', signal)).rejects.toThrow();
      expect(fake.requests.map((r) => [r.method, r.path])).toContainEqual(['GET', '/v1/models/gpt-image-2.6-flare']);
    } finally {
      await fake.close();
    }
  });
});
