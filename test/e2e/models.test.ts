/**
 * Today's models end to end: lifecycle read from GET /v1/models/{id} (refusal past the date,
 * warning within 30 days, silence when the lookup fails, no lookup on dry runs or without a key),
 * complexity on gpt-image-2.6 only, retired models refused, and the route's override list.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnServer, startHarness, structured, textOf, type Harness } from '../helpers.js';

let h: Harness;
const gets = () => h.fake.requests.filter((r) => r.method === 'GET');
const posts = () => h.fake.requests.filter((r) => r.method === 'POST');

beforeAll(async () => {
  // The server lives on 2026-12-20; the fake still serves models whose published dates are before that.
  h = await startHarness({
    structured: true,
    env: { IMAGEGEN_TODAY: '2026-12-20', IMAGEGEN_TRANSPARENT_MODELS: 'gpt-image-2.6-flare, dall-e-3' },
    fake: { today: '2026-12-02', transparentPreview: true },
  });
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => {
  h.fake.reset();
});

describe('lifecycle read from the API', () => {
  it('keeps the image of a first call to a model the API says is shut down, with a warning, and refuses later calls before spending', async () => {
    h.fake.setShutdownDate('gpt-image-2.5-flare', '2026-12-10');
    // The image answer waits a little, so the lookup (sent alongside it) has answered by then.
    h.fake.inject({ fault: { kind: 'slow', delayMs: 300 }, model: 'gpt-image-2.5-flare' });
    const first = await h.server.call('generate', { prompt: 'a draft', model: 'gpt-image-2.5-flare', out: 'life/draft.png' });
    expect(first.isError, textOf(first)).toBeFalsy();
    expect(gets().map((r) => [r.path, r.status])).toEqual([['/v1/models/gpt-image-2.5-flare', 200]]);
    expect(structured(first).images[0]!.path).toBe('life/draft.png');
    expect(structured(first).warnings).toContain(
      'The API says gpt-image-2.5-flare was shut down on 2026-12-10: this image was made and kept, but later calls naming gpt-image-2.5-flare will be refused. Use gpt-image-2 instead.',
    );

    h.fake.reset();
    const second = await h.server.call('generate', { prompt: 'a draft', model: 'gpt-image-2.5-flare', out: 'life/draft2.png' });
    expect(second.isError).toBe(true);
    expect(textOf(second)).toMatch(/gpt-image-2\.5-flare was shut down on 2026-12-10\. Use gpt-image-2 instead/);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('warns within 30 days of a published date, and looks a model up once', async () => {
    h.fake.setShutdownDate('gpt-image-2.6-sunburst', '2027-01-05');
    h.fake.inject({ fault: { kind: 'slow', delayMs: 300 }, model: 'gpt-image-2.6-sunburst' });
    const warning = 'gpt-image-2.6-sunburst is announced to shut down on 2027-01-05 (in 16 days); move to gpt-image-2 before then.';
    const first = await h.server.call('generate', { prompt: 'a map', model: 'gpt-image-2.6-sunburst', out: 'life/map.png' });
    expect(first.isError, textOf(first)).toBeFalsy();
    expect(structured(first).warnings).toEqual([warning]);
    const second = await h.server.call('generate', { prompt: 'a map', model: 'gpt-image-2.6-sunburst', out: 'life/map2.png' });
    expect(second.isError, textOf(second)).toBeFalsy();
    expect(structured(second).warnings).toEqual([warning]);
    expect(textOf(second)).toContain(`Warning: ${warning}`);
    expect(gets()).toHaveLength(1);
    expect(posts()).toHaveLength(2);
  });

  it('changes nothing when the lookup fails', async () => {
    h.fake.setShutdownDate('gpt-image-2.5-sunburst', '2026-12-10'); // would refuse it, if it could be read
    h.fake.inject({ fault: { kind: 'server_error' }, path: 'models', times: Infinity });
    for (const out of ['life/fail1.png', 'life/fail2.png']) {
      const result = await h.server.call('generate', { prompt: 'a lamp', model: 'gpt-image-2.5-sunburst', out });
      expect(result.isError, textOf(result)).toBeFalsy();
      expect(structured(result).warnings).toEqual([]);
    }
    expect(gets().map((r) => r.status)).toEqual([500]); // not asked again at every call
    expect(posts()).toHaveLength(2);
  });

  it('never holds the image back for a stalled or malformed lookup', async () => {
    h.fake.inject({ fault: { kind: 'slow', delayMs: 20_000 }, path: 'models', model: 'gpt-image-2-2026-04-21' });
    const started = Date.now();
    const result = await h.server.call('generate', { prompt: 'x', model: 'gpt-image-2-2026-04-21', size: '1024x1024', out: 'life/stalled.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(structured(result).warnings).toEqual([]);
    h.fake.inject({ fault: { kind: 'malformed' }, path: 'models', model: 'gpt-image-2.6-flare' });
    const malformed = await h.server.call('generate', { prompt: 'x', model: 'gpt-image-2.6-flare', size: '1024x1024', out: 'life/malformed.png' });
    expect(malformed.isError, textOf(malformed)).toBeFalsy();
  });

  it('makes no lookup on a dry run, nor without a key', async () => {
    const dry = await h.server.call('generate', { prompt: 'x', model: 'gpt-image-2.6-flare', dry_run: true });
    expect(dry.isError, textOf(dry)).toBeFalsy();
    const noKey = await spawnServer({ structured: true, cwd: h.ws.dir, env: { OPENAI_BASE_URL: h.fake.url } });
    try {
      const refused = await noKey.call('generate', { prompt: 'x', model: 'gpt-image-2.6-flare' });
      expect(textOf(refused)).toMatch(/OPENAI_API_KEY is not set/);
    } finally {
      await noKey.close();
    }
    expect(h.fake.requests).toHaveLength(0);
  });
});

describe('complexity', () => {
  it('is an argument of every image tool', async () => {
    const { tools } = await h.server.client.listTools();
    for (const name of ['generate', 'edit', 'generate_batch']) {
      const complexity = tools.find((t) => t.name === name)!.inputSchema.properties!.complexity as { enum?: string[] };
      expect(complexity.enum, name).toEqual(['low', 'medium', 'high']);
    }
  });

  it('reaches the API for gpt-image-2.6, from generate and from a batch job', async () => {
    const result = await h.server.call('generate', { prompt: 'a city map', model: 'gpt-image-2.6-flare', complexity: 'low', out: 'cx/map.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(posts()[0]!.body).toMatchObject({ model: 'gpt-image-2.6-flare', complexity: 'low' });
    const batch = await h.server.call('generate_batch', {
      out_dir: 'cx/batch',
      model: 'gpt-image-2.6-sunburst',
      jobs: [{ prompt: 'a board', complexity: 'high' }, 'a plain one'],
    });
    expect(batch.isError, textOf(batch)).toBeFalsy();
    const sent = posts().slice(1).map((r) => [r.body.prompt, r.body.complexity]);
    expect(sent.sort()).toEqual([['a board', 'high'], ['a plain one', undefined]]);
  });

  it('is refused for gpt-image-2 with the fix, before anything is sent', async () => {
    const result = await h.server.call('generate', { prompt: 'x', complexity: 'high' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('gpt-image-2 does not accept complexity (planning effort); gpt-image-2.6-sunburst, gpt-image-2.6-flare do. Set model to one of them, or drop complexity.');
    expect(h.fake.requests).toHaveLength(0);
  });
});

describe('models by name', () => {
  it.each(['gpt-image-1.5', 'gpt-image-1-mini', 'chatgpt-image-latest'])('refuses %s with its shut-down date and replacement, sending nothing', async (model) => {
    const result = await h.server.call('generate', { prompt: 'x', model });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(`${model} was shut down on 2026-12-01. Use gpt-image-2.6-sunburst instead`);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('sends xhigh and max to 2.5 and 2.6 models', async () => {
    const result = await h.server.call('generate', { prompt: 'x', model: 'gpt-image-2.5-sunburst', quality: 'max', size: '1024x1024', out: 'q/max.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(posts()[0]!.body).toMatchObject({ model: 'gpt-image-2.5-sunburst', quality: 'max' });
    expect(structured(result).cost_usd).toBeGreaterThan(0); // priced from usage
  });
});

describe('gpt-image-2 and its transparency preview', () => {
  it('is tried only with transparency "native", with a warning, and the saved alpha is checked', async () => {
    const result = await h.server.call('generate', { prompt: 'a sticker', model: 'gpt-image-2', transparency: 'native', size: '1024x1024', out: 'preview/sticker.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(posts()[0]!.body).toMatchObject({ model: 'gpt-image-2', background: 'transparent' });
    expect(structured(result).warnings.join(' ')).toMatch(/Transparent backgrounds on gpt-image-2 are a preview/);
    expect((structured(result).images[0] as unknown as { alpha: { has_alpha: boolean; transparent_share: number } }).alpha).toMatchObject({ has_alpha: true });
  });
});

describe('IMAGEGEN_TRANSPARENT_MODELS', () => {
  it('replaces the route (a name that is no GPT Image model left out, with a warning at start-up)', async () => {
    expect(h.server.stderr()).toContain('IMAGEGEN_TRANSPARENT_MODELS: "dall-e-3" is not a GPT Image model; it was left out.');
    const result = await h.server.call('generate', { prompt: 'a sticker', background: 'transparent', out: 'route/sticker.png' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(posts()[0]!.body).toMatchObject({ model: 'gpt-image-2.6-flare', background: 'transparent' });
    expect(structured(result).routing_note).toMatch(/gpt-image-2\.6-flare was used \(it makes the alpha itself\)/);
  });
});
