/**
 * The transparent route's runner, with a stand-in for the API call: which failures pass a request
 * on, what each step is told, and how a failure after a fallback reads.
 */
import { describe, expect, it } from 'vitest';
import type { ApiFailure } from '../../src/core/api-errors.js';
import { resolveRequest } from '../../src/core/request.js';
import { ImageApiError } from '../../src/io/openai.js';
import type { ImagePlan } from '../../src/pipeline/plan.js';
import { RouteRefusal, passOn, runThroughRoute } from '../../src/pipeline/route.js';

const now = new Date('2026-12-02T12:00:00Z');
const http = (status: number, message?: string, code: string | null = null): ApiFailure => ({ kind: 'http', status, code, param: null, ...(message ? { message } : {}) });

function routedRun(): ImagePlan {
  const out = resolveRequest({ prompt: 'a sticker', background: 'transparent' }, { tool: 'generate', now });
  if (!out.ok) throw new Error('expected a request');
  return { endpoint: 'generations', request: out.value, warnings: [], targets: ['/w/a.png'], force: false, dryRun: false };
}

const done = { saved: [], attempts: 1 };
const hooks = { spendingRefusal: () => undefined, log: () => {}, now };

describe('passOn', () => {
  it('passes on a 404 and a model that refuses transparency, nothing else', () => {
    expect(passOn(http(404))).toBe('not_found');
    expect(passOn(http(400, 'x', 'model_not_found'))).toBe('not_found');
    expect(passOn(http(400, 'Transparent background is not supported for this model.'))).toBe('unsupported');
    expect(passOn(http(400, 'Transparent background is not supported for JPEG output format'))).toBeUndefined();
    expect(passOn(http(400, 'Your request was rejected by the safety system.'))).toBeUndefined();
    expect(passOn(http(500))).toBeUndefined();
    expect(passOn({ kind: 'timeout' })).toBeUndefined();
  });
});

describe('runThroughRoute', () => {
  it('performs each step once, in order, until one answers, and tells it why it runs', async () => {
    const seen: string[] = [];
    const result = await runThroughRoute(
      routedRun(),
      async (run: ImagePlan) => {
        seen.push(run.request.options.model);
        if (seen.length === 1) throw new ImageApiError('404', http(404), 1);
        if (seen.length === 2) throw new ImageApiError('400', http(400, 'Transparent background is not supported for this model.'), 1);
        return done;
      },
      hooks,
    );
    expect(seen).toEqual(['gpt-image-2.5-sunburst', 'gpt-image-2.6-sunburst', 'gpt-image-2']);
    expect(result.plan.request.options).toMatchObject({ model: 'gpt-image-2', transparency: 'chroma_key' });
    expect(result.plan.request.options.routingNote).toMatch(
      /^gpt-image-2\.5-sunburst is not available.*and gpt-image-2\.6-sunburst answered that it does not support transparent backgrounds \(400\), so gpt-image-2 drew/,
    );
  });

  it('does not pass on other failures, and names every step when the last fails', async () => {
    const run = routedRun();
    await expect(runThroughRoute(run, () => Promise.reject(new ImageApiError('boom', http(500), 3)), hooks)).rejects.toThrow(/^boom$/);
    const failing = runThroughRoute(routedRun(), () => Promise.reject(new ImageApiError('gone', http(404), 1)), hooks);
    await expect(failing).rejects.toThrow(
      /^gpt-image-2\.5-sunburst is not available.* and gpt-image-2\.6-sunburst is not available.*, and the next step of the transparent route, transparency "chroma_key" on gpt-image-2, failed too: gone$/,
    );
  });

  it('leaves the plan it was given as it was: the fallback step gets its own request and warnings', async () => {
    const plan = routedRun();
    const firstNote = plan.request.options.routingNote;
    const result = await runThroughRoute(plan, async (step: ImagePlan) => {
      if (step === plan) throw new ImageApiError('404', http(404), 1);
      return done;
    }, hooks);
    expect(result.plan).not.toBe(plan);
    expect(result.plan.request.options.routingNote).toMatch(/is not available/);
    expect(plan.request.options.routingNote).toBe(firstNote);
    expect(plan.request.fallbacks?.every((f) => f.request.options.routingNote === undefined)).toBe(true);
    expect(result.warnings).toEqual([]);
  });

  it('stops before a fallback the spending guard refuses', async () => {
    let calls = 0;
    const refusing = { ...hooks, spendingRefusal: () => 'over the cap' };
    const attempt = runThroughRoute(routedRun(), () => (calls++, Promise.reject(new ImageApiError('404', http(404), 1))), refusing);
    await expect(attempt).rejects.toBeInstanceOf(RouteRefusal);
    await expect(attempt).rejects.toThrow(/so the request would be redone with gpt-image-2\.6-sunburst, but: over the cap$/);
    expect(calls).toBe(1);
  });
});
