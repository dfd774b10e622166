import { describe, expect, it } from 'vitest';
import { formatProblems, type Problem } from '../../src/core/problems.js';
import { apiParameters, resolveRequest, type RawRequest, type ResolveContext, type ResolvedRequest } from '../../src/core/request.js';
import {
  DEFAULT_KEY_COLOR,
  cutoutPath,
  keyColorInstruction,
  keyedSourcePath,
  normaliseKeyColor,
  parseTransparency,
  percent,
} from '../../src/core/transparency.js';

const BEFORE = new Date('2026-11-24T12:00:00Z');
const AFTER = new Date('2026-12-01T00:00:00Z');
const gen: ResolveContext = { tool: 'generate', now: BEFORE };
const genAfter: ResolveContext = { tool: 'generate', now: AFTER };

function ok(raw: RawRequest, ctx: ResolveContext = gen): { value: ResolvedRequest; warnings: string[] } {
  const out = resolveRequest(raw, ctx);
  if (!out.ok) throw new Error(`expected success, got: ${formatProblems(out.problems)}`);
  return { value: out.value, warnings: out.warnings };
}

function refused(raw: RawRequest, ctx: ResolveContext = gen): Problem[] {
  const out = resolveRequest(raw, ctx);
  if (out.ok) throw new Error(`expected a refusal, got ${JSON.stringify(out.value.options)}`);
  return out.problems;
}

const messageFor = (problems: Problem[], field: string): string => {
  const found = problems.find((p) => p.field === field);
  if (!found) throw new Error(`no problem for ${field}; got ${JSON.stringify(problems)}`);
  return found.message;
};

describe('route (the default strategy), before 2026-12-01', () => {
  it('routes to gpt-image-1.5 with native alpha and keeps a chroma_key fallback for a 404', () => {
    const { value } = ok({ prompt: 'a sprite', background: 'transparent' });
    expect(value.options).toMatchObject({ model: 'gpt-image-1.5', background: 'transparent', transparency: 'route' });
    expect(value.options.routingNote).toMatch(/not supported by gpt-image-2.*gpt-image-1\.5 was used/);
    expect(value.options.keyColor).toBeUndefined();
    expect(value.prompt).toBe('a sprite');
    expect(value.fallbacks).toHaveLength(1);
    const fallback = value.fallbacks![0]!.request;
    expect(fallback.options).toMatchObject({ model: 'gpt-image-2', background: 'opaque', transparency: 'chroma_key', keyColor: DEFAULT_KEY_COLOR });
    expect(fallback.prompt).toBe(`a sprite\n\n${keyColorInstruction(DEFAULT_KEY_COLOR)}`);
  });

  it('refuses an explicit gpt-image-2, offering the route target, chroma_key and the preview as fixes', () => {
    const message = messageFor(refused({ prompt: 'x', model: 'gpt-image-2', background: 'transparent' }), 'background');
    expect(message).toContain('gpt-image-2 does not support transparent backgrounds (its support is only a preview)');
    expect(message).toContain('set model to gpt-image-1.5, with png or webp output');
    expect(message).toContain('transparency "chroma_key"');
    expect(message).toContain('transparency "native"');
  });

  it('sends transparent as is to a named model that supports it, with no fallback', () => {
    const { value } = ok({ prompt: 'x', model: 'gpt-image-1-mini', background: 'transparent' });
    expect(value.options).toMatchObject({ model: 'gpt-image-1-mini', background: 'transparent', transparency: 'route' });
    expect(value.options.routingNote).toBeUndefined();
    expect(value.fallbacks).toBeUndefined();
  });

  it('drops input_fidelity from the chroma_key fallback of an edit, saying so', () => {
    const { value } = ok({ prompt: 'x', background: 'transparent', input_fidelity: 'high' }, { tool: 'edit', now: BEFORE });
    expect(value.options.inputFidelity).toBe('high');
    const fallback = value.fallbacks![0]!;
    expect(fallback.request.options.inputFidelity).toBeUndefined();
    expect(fallback.warnings.join(' ')).toMatch(/input_fidelity was not sent to gpt-image-2/);
  });
});

describe('route (the default strategy), from 2026-12-01', () => {
  it('goes to gpt-image-2.5-sunburst, then 2.6-sunburst, then chroma_key on gpt-image-2', () => {
    const { value, warnings } = ok({ prompt: 'a sprite', background: 'transparent', key_color: '#F0F' }, genAfter);
    expect(value.options).toMatchObject({ model: 'gpt-image-2.5-sunburst', background: 'transparent', transparency: 'route' });
    expect(value.options.routingNote).toBe(
      'Transparent backgrounds are not supported by gpt-image-2, the default model, so gpt-image-2.5-sunburst was used (it makes the alpha itself).',
    );
    expect(value.prompt).toBe('a sprite');
    expect(value.skipped).toBeUndefined();
    const [second, last] = value.fallbacks!;
    expect(second!.request.options).toMatchObject({ model: 'gpt-image-2.6-sunburst', background: 'transparent', transparency: 'route' });
    expect(second!.request.prompt).toBe('a sprite');
    // key_color is kept for the last resort, without a warning.
    expect(last!.request.options).toMatchObject({ model: 'gpt-image-2', background: 'opaque', transparency: 'chroma_key', keyColor: '#ff00ff' });
    expect(last!.request.prompt).toContain('#ff00ff');
    expect(warnings).toEqual([]);
    expect(apiParameters(value.options)).toEqual({ model: 'gpt-image-2.5-sunburst', n: 1, size: 'auto', quality: 'medium', output_format: 'png', background: 'transparent' });
  });

  it("checks the size against the target's rules: a 2048x2048 transparent request is made", () => {
    const { value } = ok({ prompt: 'x', background: 'transparent', size: '2048x2048' }, genAfter);
    expect(value.options).toMatchObject({ model: 'gpt-image-2.5-sunburst', size: '2048x2048' });
    const message = messageFor(refused({ prompt: 'x', background: 'transparent', size: '3840x2160' }, genAfter), 'size');
    expect(message).toContain('not valid for gpt-image-2.5-sunburst (transparent requests without a model go to gpt-image-2.5-sunburst)');
    expect(message).toContain('Try 3824x2160');
  });

  it('passes over a target whose shut-down date (from the API) has passed, and says so in the one sentence', () => {
    const ctx: ResolveContext = { ...genAfter, shutdownDates: new Map([['gpt-image-2.5-sunburst', '2026-12-01']]) };
    const { value } = ok({ prompt: 'x', background: 'transparent' }, ctx);
    expect(value.options.model).toBe('gpt-image-2.6-sunburst');
    expect(value.options.routingNote).toBe('gpt-image-2.5-sunburst was shut down on 2026-12-01, so gpt-image-2.6-sunburst was used (it makes the alpha itself).');
    expect(value.skipped).toEqual([{ model: 'gpt-image-2.5-sunburst', why: 'retired', shutDown: '2026-12-01' }]);
    expect(value.fallbacks!.map((f) => f.request.options.model)).toEqual(['gpt-image-2']);
  });

  it('ends in chroma_key on gpt-image-2 when every target is gone, naming each', () => {
    const ctx: ResolveContext = { ...genAfter, shutdownDates: new Map([['gpt-image-2.5-sunburst', '2026-12-01'], ['gpt-image-2.6-sunburst', '2026-12-01']]) };
    const { value } = ok({ prompt: 'x', background: 'transparent' }, ctx);
    expect(value.options).toMatchObject({ model: 'gpt-image-2', transparency: 'chroma_key', background: 'opaque' });
    expect(value.options.routingNote).toMatch(/^gpt-image-2\.5-sunburst was shut down on 2026-12-01 and gpt-image-2\.6-sunburst was shut down on 2026-12-01, so gpt-image-2 drew the image on a flat #00ff00 background.*chroma_key/);
    expect(value.fallbacks).toBeUndefined();
  });

  it('follows an override list (IMAGEGEN_TRANSPARENT_MODELS) instead of the dated one', () => {
    const { value } = ok({ prompt: 'x', background: 'transparent' }, { ...genAfter, transparentModels: ['gpt-image-2.6-flare'] });
    expect(value.options.model).toBe('gpt-image-2.6-flare');
    expect(value.fallbacks!.map((f) => f.request.options.model)).toEqual(['gpt-image-2']);
  });

  it('refuses an explicit gpt-image-2 with the fixes that work today, naming no retired model', () => {
    const message = messageFor(refused({ prompt: 'x', model: 'gpt-image-2', background: 'transparent' }, genAfter), 'background');
    expect(message).toBe(
      'gpt-image-2 does not support transparent backgrounds (its support is only a preview). To get one: leave model unset (transparent requests go to gpt-image-2.5-sunburst, which makes the alpha itself), or set model to gpt-image-2.5-sunburst, with png or webp output; keep gpt-image-2 with transparency "chroma_key" (it draws on a flat key colour that the server turns into alpha); or set transparency "native" to try gpt-image-2\'s transparency preview.',
    );
  });

  it('refuses a retired model named with a transparent background, with its replacement', () => {
    const message = messageFor(refused({ prompt: 'x', model: 'gpt-image-1.5', background: 'transparent' }, genAfter), 'model');
    expect(message).toMatch(/gpt-image-1\.5 was shut down on 2026-12-01\. Use gpt-image-2\.6-sunburst instead.*leave model unset/);
  });

  it('names 2.5 and 2.6 models as they are: native alpha, sent as is, no fallback', () => {
    for (const model of ['gpt-image-2.5-flare', 'gpt-image-2.6-sunburst', 'gpt-image-2.6-flare']) {
      const { value, warnings } = ok({ prompt: 'x', model, background: 'transparent' }, genAfter);
      expect(value.options).toMatchObject({ model, background: 'transparent', transparency: 'route' });
      expect(value.fallbacks).toBeUndefined();
      expect(warnings).toEqual([]);
    }
  });

  it('says native was not used by key_color on a native request', () => {
    expect(ok({ prompt: 'x', transparency: 'native', key_color: '#ff00ff' }, genAfter).warnings.join(' ')).toMatch(/with "native" it was not used/);
  });
});

describe('chroma_key', () => {
  it('keeps the chosen model, asks for an opaque image and adds one key colour instruction', () => {
    const { value } = ok({ prompt: 'a frog', transparency: 'chroma_key', key_color: 'ff00ff', size: '2048x1152' });
    expect(value.options).toMatchObject({ model: 'gpt-image-2', background: 'opaque', transparency: 'chroma_key', keyColor: '#ff00ff', size: '2048x1152' });
    expect(value.options.routingNote).toBeUndefined();
    expect(value.prompt.startsWith('a frog\n\n')).toBe(true);
    expect(value.prompt.match(/#ff00ff/g)).toHaveLength(2);
    expect(value.userPrompt).toBe('a frog');
  });

  it('defaults the key colour to #00ff00 and adds the instruction after the labelled spec', () => {
    const { value } = ok({ prompt: 'a knight', background: 'transparent', transparency: 'chroma_key', style: 'pixel art' });
    expect(value.options.keyColor).toBe('#00ff00');
    expect(value.prompt).toBe(`Primary request: a knight\nStyle/medium: pixel art\n\n${keyColorInstruction('#00ff00')}`);
  });

  it('is honoured on a model that could make alpha itself', () => {
    const { value } = ok({ prompt: 'x', model: 'gpt-image-2.6-flare', transparency: 'chroma_key' }, genAfter);
    expect(value.options).toMatchObject({ model: 'gpt-image-2.6-flare', background: 'opaque', transparency: 'chroma_key' });
  });

  it('is refused with jpeg output, naming png or webp', () => {
    const message = messageFor(refused({ prompt: 'x', transparency: 'chroma_key', output_format: 'jpg' }), 'output_format');
    expect(message).toContain('chroma_key');
    expect(message).toMatch(/png or webp/);
  });

  it('is refused when the key instruction pushes the prompt over 32,000 characters', () => {
    const message = messageFor(refused({ prompt: 'x'.repeat(31_990), transparency: 'chroma_key' }), 'prompt');
    expect(message).toMatch(/key colour instruction/);
  });

  it('refuses a key_color that is not a colour, and warns about a grey one', () => {
    expect(messageFor(refused({ prompt: 'x', transparency: 'chroma_key', key_color: 'green' }), 'key_color')).toMatch(/#00ff00/);
    expect(ok({ prompt: 'x', transparency: 'chroma_key', key_color: '#ffffff' }).warnings.join(' ')).toMatch(/close to grey/);
  });
});

describe('native', () => {
  it('sends background transparent to the chosen model as it is, with a warning when its support is a preview', () => {
    const { value, warnings } = ok({ prompt: 'x', transparency: 'native' });
    expect(value.options).toMatchObject({ model: 'gpt-image-2', background: 'transparent', transparency: 'native' });
    expect(value.prompt).toBe('x');
    expect(value.fallbacks).toBeUndefined();
    expect(warnings.join(' ')).toMatch(/Transparent backgrounds on gpt-image-2 are a preview.*the API may refuse it/);
    expect(ok({ prompt: 'x', model: 'gpt-image-2.5-flare', transparency: 'native' }, genAfter).warnings).toEqual([]);
  });
});

describe('the transparency argument and the server default', () => {
  it('uses the server default when the call gives none', () => {
    const { value } = ok({ prompt: 'x', background: 'transparent' }, { ...gen, transparency: 'chroma_key' });
    expect(value.options).toMatchObject({ model: 'gpt-image-2', transparency: 'chroma_key' });
  });

  it('lets the call override the server default', () => {
    const { value } = ok({ prompt: 'x', background: 'transparent', transparency: 'route' }, { ...genAfter, transparency: 'chroma_key' });
    expect(value.options.model).toBe('gpt-image-2.5-sunburst');
  });

  it('a server default alone does not make an opaque request transparent', () => {
    const { value } = ok({ prompt: 'x' }, { ...gen, transparency: 'chroma_key' });
    expect(value.options.transparency).toBeUndefined();
    expect(value.options.background).toBeUndefined();
    expect(value.prompt).toBe('x');
  });

  it('refuses a transparency that contradicts an opaque background', () => {
    expect(messageFor(refused({ prompt: 'x', background: 'opaque', transparency: 'chroma_key' }), 'transparency')).toMatch(/background is "opaque"/);
  });

  it('warns that key_color is unused on an opaque request', () => {
    expect(ok({ prompt: 'x', key_color: '#ff00ff' }).warnings.join(' ')).toMatch(/key_color .*not used/);
  });
});

describe('names and values', () => {
  it('parses strategies and key colours', () => {
    expect(parseTransparency(' Chroma_Key ')).toBe('chroma_key');
    expect(parseTransparency('alpha')).toBeUndefined();
    expect(normaliseKeyColor('#0F0')).toBe('#00ff00');
    expect(normaliseKeyColor('lime')).toBeUndefined();
  });

  it('names the keyed source and the cutout beside their images', () => {
    expect(keyedSourcePath('/w/out/hero-v2.png')).toBe('/w/out/hero-v2-keyed-source.png');
    expect(cutoutPath('/w/art/logo.jpg', 'png')).toBe('/w/art/logo-cutout.png');
    expect(cutoutPath('/w/art.d/logo', 'webp')).toBe('/w/art.d/logo-cutout.webp');
  });

  it('writes shares of pixels as percentages, a tiny one not as none', () => {
    expect(percent(0)).toBe('0.0%');
    expect(percent(0.25)).toBe('25.0%');
    expect(percent(1)).toBe('100.0%');
    expect(percent(0.0123)).toBe('1.2%');
    expect(percent(0.0004)).toBe('0.04%');
    expect(percent(0.001)).toBe('0.1%');
  });
});
