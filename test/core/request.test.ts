import { describe, expect, it } from 'vitest';
import { formatProblems, type Outcome, type Problem } from '../../src/core/problems.js';
import { DEFAULTS, apiParameters, resolveRequest, type RawRequest, type ResolveContext, type ResolvedRequest } from '../../src/core/request.js';

const NOW = new Date('2026-11-24T12:00:00Z');
const AFTER_1_5 = new Date('2026-12-01T00:00:00Z');
const gen: ResolveContext = { tool: 'generate', now: NOW };
const edit: ResolveContext = { tool: 'edit', now: NOW };

function ok(raw: RawRequest, ctx: ResolveContext = gen): { value: ResolvedRequest; warnings: string[] } {
  const out = resolveRequest(raw, ctx);
  if (!out.ok) throw new Error(`expected success, got: ${formatProblems(out.problems)}`);
  return { value: out.value, warnings: out.warnings };
}

function refused(raw: RawRequest, ctx: ResolveContext = gen): Problem[] {
  const out: Outcome<ResolvedRequest> = resolveRequest(raw, ctx);
  if (out.ok) throw new Error(`expected a refusal, got ${JSON.stringify(out.value.options)}`);
  expect(out.problems.length).toBeGreaterThan(0);
  return out.problems;
}

function problemFor(problems: Problem[], field: string): string {
  const found = problems.find((p) => p.field === field);
  if (!found) throw new Error(`no problem for ${field}; got ${JSON.stringify(problems)}`);
  return found.message;
}

describe('defaults', () => {
  it('applies gpt-image-2, auto, medium, png, n 1 and nothing else', () => {
    const { value, warnings } = ok({ prompt: 'A red fox' });
    expect(value.options).toEqual({ model: 'gpt-image-2', n: 1, size: 'auto', quality: 'medium', outputFormat: 'png' });
    expect(value.prompt).toBe('A red fox');
    expect(warnings).toEqual([]);
    expect(DEFAULTS).toMatchObject({ model: 'gpt-image-2', size: 'auto', quality: 'medium', outputFormat: 'png', n: 1 });
  });

  it('sends model, n, size, quality and output_format only, when nothing else is set', () => {
    expect(apiParameters(ok({ prompt: 'x' }).value.options)).toEqual({
      model: 'gpt-image-2',
      n: 1,
      size: 'auto',
      quality: 'medium',
      output_format: 'png',
    });
  });
});

describe('formats', () => {
  // Other spellings (" PNG", "JPG") and unknown formats are the schema's: test/tools/arguments.test.ts.
  it.each([
    ['jpg', 'jpeg'],
    ['jpeg', 'jpeg'],
    ['webp', 'webp'],
    ['png', 'png'],
  ] as const)('sends %j as %s', (given, expected) => {
    expect(ok({ prompt: 'x', output_format: given }).value.options.outputFormat).toBe(expected);
  });
});

describe('sizes', () => {
  it('accepts a valid flexible size on gpt-image-2 and normalises its spelling', () => {
    expect(ok({ prompt: 'x', size: ' 3824 X 2160 ' }).value.options.size).toBe('3824x2160');
  });

  it('reads AUTO as auto', () => {
    expect(ok({ prompt: 'x', size: 'AUTO' }).value.options.size).toBe('auto');
  });

  it('refuses 3840x2160 on gpt-image-2, naming the rule and suggesting 3824x2160', () => {
    const message = problemFor(refused({ prompt: 'x', size: '3840x2160' }), 'size');
    expect(message).toContain('3840x2160');
    expect(message).toContain('less than 3840');
    expect(message).toContain('Try 3824x2160');
  });

  it('refuses text that is not a size, with the expected form', () => {
    const message = problemFor(refused({ prompt: 'x', size: 'large' }), 'size');
    expect(message).toContain('"large"');
    expect(message).toContain('WIDTHxHEIGHT');
  });

  it('refuses a flexible size on a legacy model, listing its sizes', () => {
    const message = problemFor(refused({ prompt: 'x', model: 'gpt-image-1.5', size: '2048x2048' }), 'size');
    expect(message).toContain('1024x1024, 1536x1024, 1024x1536');
    expect(message).toContain('auto');
  });

  it('accepts a legacy size on gpt-image-1.5 (warning about its shut-down date)', () => {
    const { value, warnings } = ok({ prompt: 'x', model: 'gpt-image-1.5', size: '1536x1024' });
    expect(value.options.size).toBe('1536x1024');
    expect(warnings.join(' ')).toContain('2026-12-01');
  });

  it.each(['gpt-image-2.5-sunburst', 'gpt-image-2.5-flare-2026-09-08', 'gpt-image-2.6-sunburst', 'gpt-image-2.6-flare'])(
    'checks %s against the gpt-image-2 rules at the same boundaries, with the same suggestion',
    (model) => {
      const size = (s: string) => ok({ prompt: 'x', model, size: s }).value.options.size;
      expect(size('2880x2880')).toBe('2880x2880'); // exactly the most pixels
      expect(size('3824x2160')).toBe('3824x2160');
      expect(size('1024x640')).toBe('1024x640'); // exactly the fewest pixels
      expect(size('2304x768')).toBe('2304x768'); // exactly 3:1
      const refusal = (s: string) => problemFor(refused({ prompt: 'x', model, size: s }), 'size');
      expect(refusal('3840x2160')).toContain(`not valid for ${model}`);
      expect(refusal('3840x2160')).toContain('Try 3824x2160');
      expect(refusal('2160x3840')).toContain('Try 2160x3824');
      expect(refusal('2896x2896')).toContain('at most 8,294,400 pixels');
      expect(refusal('1008x640')).toContain('at least 655,360 pixels');
      expect(refusal('2320x768')).toContain('at most 3 times');
      expect(refusal('1000x1000')).toContain('multiples of 16');
    },
  );
});

describe('transparent backgrounds', () => {
  it('routes a transparent request without a model to gpt-image-1.5, saying why in one sentence', () => {
    const { value } = ok({ prompt: 'A sticker', background: 'transparent' });
    expect(value.options.model).toBe('gpt-image-1.5');
    expect(value.options.background).toBe('transparent');
    const note = value.options.routingNote ?? '';
    expect(note).toContain('gpt-image-2');
    expect(note).toContain('gpt-image-1.5');
    expect(note).toMatch(/not supported/);
    expect(note.match(/\.\s/g) ?? []).toHaveLength(0); // one sentence
    expect(apiParameters(value.options)).toMatchObject({ model: 'gpt-image-1.5', background: 'transparent' });
  });

  it('also routes with webp output', () => {
    expect(ok({ prompt: 'x', background: 'transparent', output_format: 'webp' }).value.options.model).toBe('gpt-image-1.5');
  });

  it('refuses transparent with an explicit gpt-image-2, with the fix (gpt-image-1.5, png or webp); never switches', () => {
    const problems = refused({ prompt: 'x', model: 'gpt-image-2', background: 'transparent' });
    const message = problemFor(problems, 'background');
    expect(message).toContain('gpt-image-2 does not support transparent');
    expect(message).toContain('gpt-image-1.5');
    expect(message).toMatch(/png or webp/);
  });

  it('refuses transparent with jpeg output, saying it needs png or webp', () => {
    const message = problemFor(refused({ prompt: 'x', background: 'transparent', output_format: 'jpg' }), 'output_format');
    expect(message).toMatch(/png or webp/);
    expect(message).toContain('jpeg');
  });

  it('refuses a routed request whose flexible size the target cannot make, listing the legacy sizes', () => {
    const message = problemFor(refused({ prompt: 'x', background: 'transparent', size: '2048x2048' }), 'size');
    expect(message).toContain('2048x2048');
    expect(message).toContain('gpt-image-1.5');
    expect(message).toContain('transparent');
    expect(message).toContain('1024x1024, 1536x1024, 1024x1536');
  });

  it('routes with a legacy size', () => {
    const { value } = ok({ prompt: 'x', background: 'transparent', size: '1024x1536' });
    expect(value.options).toMatchObject({ model: 'gpt-image-1.5', size: '1024x1536' });
  });

  it('routes to gpt-image-2.5-sunburst from 2026-12-01 (2.6-sunburst, then chroma_key, behind it), saying why', () => {
    const { value, warnings } = ok({ prompt: 'x', background: 'transparent', size: '2048x2048' }, { tool: 'generate', now: AFTER_1_5 });
    expect(value.options).toMatchObject({ model: 'gpt-image-2.5-sunburst', transparency: 'route', background: 'transparent', size: '2048x2048' });
    expect(value.options.routingNote).toBe(
      'Transparent backgrounds are not supported by gpt-image-2, the default model, so gpt-image-2.5-sunburst was used (it makes the alpha itself).',
    );
    expect(value.fallbacks!.map((f) => [f.request.options.model, f.request.options.transparency, f.request.options.background])).toEqual([
      ['gpt-image-2.6-sunburst', 'route', 'transparent'],
      ['gpt-image-2', 'chroma_key', 'opaque'],
    ]);
    expect(warnings).toEqual([]);
  });

  it('still routes on 2026-11-30', () => {
    const out = ok({ prompt: 'x', background: 'transparent' }, { tool: 'generate', now: new Date('2026-11-30T23:59:59Z') });
    expect(out.value.options.model).toBe('gpt-image-1.5');
  });

  it('accepts opaque and auto backgrounds on gpt-image-2 and sends them', () => {
    for (const background of ['opaque', 'auto'] as const) {
      const { value } = ok({ prompt: 'x', background });
      expect(value.options.model).toBe('gpt-image-2');
      expect(apiParameters(value.options).background).toBe(background);
    }
  });
});

describe('models', () => {
  it('refuses gpt-image-1 with its shut-down date and replacement', () => {
    const message = problemFor(refused({ prompt: 'x', model: 'gpt-image-1' }), 'model');
    expect(message).toContain('gpt-image-1 was shut down on 2026-10-23');
    expect(message).toContain('gpt-image-2');
  });

  it('refuses gpt-image-1.5 after its shut-down', () => {
    const message = problemFor(refused({ prompt: 'x', model: 'gpt-image-1.5' }, { tool: 'generate', now: AFTER_1_5 }), 'model');
    expect(message).toContain('2026-12-01');
    expect(message).toContain('gpt-image-2');
  });

  it('passes an unknown gpt-image-* model with a warning, and checks no size', () => {
    const { value, warnings } = ok({ prompt: 'x', model: 'gpt-image-9', size: '5000x17', quality: 'max' });
    expect(value.options).toMatchObject({ model: 'gpt-image-9', size: '5000x17', quality: 'max' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('gpt-image-9');
    expect(warnings[0]).toMatch(/does not know/);
  });

  it('still applies the generic checks to an unknown model', () => {
    const problems = refused({ prompt: 'x', model: 'gpt-image-9', size: 'big', background: 'transparent', output_format: 'jpeg' });
    expect(problems.map((p) => p.field).sort()).toEqual(['output_format', 'size']);
  });

  it.each(['dall-e-3', 'midjourney'])('refuses the non-GPT-Image model %s, listing known ones', (model) => {
    const message = problemFor(refused({ prompt: 'x', model }), 'model');
    expect(message).toContain(`"${model}" is not a GPT Image model`);
    expect(message).toContain('gpt-image-2');
    expect(problemFor(refused({ prompt: 'x', model }, { tool: 'generate', now: AFTER_1_5 }), 'model')).not.toMatch(/gpt-image-1\.5|gpt-image-1-mini/);
  });

  it.each(['gpt-image-1.5', 'gpt-image-1.5-2025-12-16', 'gpt-image-1-mini', 'chatgpt-image-latest'])(
    'refuses %s from 2026-12-01 with its date and gpt-image-2.6-sunburst as the replacement',
    (model) => {
      const message = problemFor(refused({ prompt: 'x', model }, { tool: 'generate', now: AFTER_1_5 }), 'model');
      expect(message).toContain(`${model} was shut down on 2026-12-01`);
      expect(message).toContain('Use gpt-image-2.6-sunburst instead');
    },
  );

  it('refuses a model whose shut-down date read from the API has passed, and warns within 30 days of one', () => {
    const now = new Date('2026-12-02T12:00:00Z');
    const api = new Map<string, string | null>([['gpt-image-2.5-flare', '2026-12-02'], ['gpt-image-2.6-flare', '2026-12-20']]);
    const ctx: ResolveContext = { tool: 'generate', now, shutdownDates: api };
    expect(problemFor(refused({ prompt: 'x', model: 'gpt-image-2.5-flare' }, ctx), 'model')).toMatch(/gpt-image-2\.5-flare was shut down on 2026-12-02\. Use gpt-image-2 instead/);
    expect(ok({ prompt: 'x', model: 'gpt-image-2.6-flare' }, ctx).warnings).toEqual([
      'gpt-image-2.6-flare is announced to shut down on 2026-12-20 (in 18 days); move to gpt-image-2 before then.',
    ]);
    expect(ok({ prompt: 'x', model: 'gpt-image-2.6-flare' }, { tool: 'generate', now }).warnings).toEqual([]);
  });

  it('says which model to name when the API retires the default itself', () => {
    const ctx: ResolveContext = { tool: 'generate', now: new Date('2027-03-02T12:00:00Z'), shutdownDates: new Map([['gpt-image-2', '2027-03-01']]) };
    expect(problemFor(refused({ prompt: 'x' }, ctx), 'model')).toBe(
      'gpt-image-2 was shut down on 2027-03-01. Use gpt-image-2.6-sunburst instead; set model to it (the default, gpt-image-2, is gone too).',
    );
    // A transparent request still finds its route, without the chroma_key last resort.
    const { value } = ok({ prompt: 'x', background: 'transparent' }, ctx);
    expect(value.options.model).toBe('gpt-image-2.5-sunburst');
    expect(value.fallbacks!.map((f) => f.request.options.model)).toEqual(['gpt-image-2.6-sunburst']);
  });

  it('treats a blank model as unset', () => {
    expect(ok({ prompt: 'x', model: '  ' }).value.options.model).toBe('gpt-image-2');
  });

  it('accepts a dated snapshot with its base rules', () => {
    expect(ok({ prompt: 'x', model: 'gpt-image-2-2026-04-21', size: '2048x1152' }).value.options.model).toBe('gpt-image-2-2026-04-21');
    expect(problemFor(refused({ prompt: 'x', model: 'gpt-image-2-2026-04-21', size: '1000x1000' }), 'size')).toContain('multiples of 16');
  });
});

describe('n', () => {
  // n outside 1-10 is the schema's to refuse: test/tools/arguments.test.ts.
  it.each([1, 5, 10])('accepts n %d', (n) => {
    expect(ok({ prompt: 'x', n }).value.options.n).toBe(n);
  });
});

describe('complexity', () => {
  const now = new Date('2026-12-02T12:00:00Z');
  const today: ResolveContext = { tool: 'generate', now };

  it.each(['low', 'medium', 'high'] as const)('sends complexity %s to gpt-image-2.6 models', (complexity) => {
    for (const model of ['gpt-image-2.6-sunburst', 'gpt-image-2.6-flare']) {
      expect(apiParameters(ok({ prompt: 'x', model, complexity }, today).value.options)).toMatchObject({ model, complexity });
    }
  });

  it.each(['gpt-image-2', 'gpt-image-2.5-sunburst', 'gpt-image-2.5-flare'])('refuses complexity on %s, naming the models that take it', (model) => {
    const message = problemFor(refused({ prompt: 'x', model: model === 'gpt-image-2' ? undefined : model, complexity: 'low' }, today), 'complexity');
    expect(message).toContain(`${model} does not accept complexity`);
    expect(message).toContain('gpt-image-2.6-sunburst, gpt-image-2.6-flare do. Set model to one of them, or drop complexity');
  });

  it('is not sent when not given', () => {
    expect(apiParameters(ok({ prompt: 'x', model: 'gpt-image-2.6-flare' }, today).value.options)).not.toHaveProperty('complexity');
  });

  it('says why when a routed transparent request lands on a model without complexity', () => {
    const message = problemFor(refused({ prompt: 'x', background: 'transparent', complexity: 'low' }, today), 'complexity');
    expect(message).toContain('gpt-image-2.5-sunburst (transparent requests without a model go to gpt-image-2.5-sunburst) does not accept complexity');
  });
});

describe('quality', () => {
  it('refuses xhigh on gpt-image-2, listing what it takes', () => {
    const message = problemFor(refused({ prompt: 'x', quality: 'xhigh' }), 'quality');
    expect(message).toContain('"xhigh"');
    expect(message).toContain('gpt-image-2');
    expect(message).toContain('low, medium, high, auto');
  });

  it.each(['xhigh', 'max'] as const)('accepts %s on 2.5 and 2.6 models, and names them when gpt-image-2 refuses it', (quality) => {
    for (const model of ['gpt-image-2.5-flare', 'gpt-image-2.5-sunburst', 'gpt-image-2.6-flare', 'gpt-image-2.6-sunburst']) {
      expect(ok({ prompt: 'x', model, quality }).value.options.quality).toBe(quality);
    }
    const message = problemFor(refused({ prompt: 'x', quality }, { tool: 'generate', now: AFTER_1_5 }), 'quality');
    expect(message).toContain(`${quality} is available on gpt-image-2.5-sunburst, gpt-image-2.5-flare, gpt-image-2.6-sunburst, gpt-image-2.6-flare`);
  });
});

describe('output_compression', () => {
  it('is warned about and not sent for png', () => {
    const { value, warnings } = ok({ prompt: 'x', output_compression: 80 });
    expect(value.options.outputCompression).toBeUndefined();
    expect(apiParameters(value.options)).not.toHaveProperty('output_compression');
    expect(warnings.join(' ')).toContain('output_compression');
    expect(warnings.join(' ')).toContain('png');
  });

  it.each(['jpeg', 'jpg', 'webp'] as const)('is kept for %s', (output_format) => {
    const { value, warnings } = ok({ prompt: 'x', output_format, output_compression: 80 });
    expect(apiParameters(value.options).output_compression).toBe(80);
    expect(warnings).toEqual([]);
  });

  it.each([0, 100])('accepts the boundary %d', (c) => {
    expect(ok({ prompt: 'x', output_format: 'webp', output_compression: c }).value.options.outputCompression).toBe(c);
  });
});

describe('moderation', () => {
  it('sends low', () => {
    expect(apiParameters(ok({ prompt: 'x', moderation: 'low' }).value.options).moderation).toBe('low');
  });
});

describe('input_fidelity', () => {
  it('is refused on generate, naming the edit tool', () => {
    const message = problemFor(refused({ prompt: 'x', model: 'gpt-image-1.5', input_fidelity: 'high' }), 'input_fidelity');
    expect(message).toContain('edit tool');
  });

  it('is refused on edit with gpt-image-2, which always uses high fidelity', () => {
    const message = problemFor(refused({ prompt: 'x', input_fidelity: 'high' }, edit), 'input_fidelity');
    expect(message).toContain('gpt-image-2');
    expect(message).toContain('always uses high input fidelity');
    expect(message).toContain('Drop input_fidelity');
  });

  it('is refused on the gpt-image-2.5 family', () => {
    expect(problemFor(refused({ prompt: 'x', model: 'gpt-image-2.5-flare', input_fidelity: 'low' }, edit), 'input_fidelity')).toContain(
      'gpt-image-2.5-flare',
    );
  });

  it("refuses 'high' on gpt-image-1-mini, which takes low only", () => {
    const message = problemFor(refused({ prompt: 'x', model: 'gpt-image-1-mini', input_fidelity: 'high' }, edit), 'input_fidelity');
    expect(message).toContain('gpt-image-1-mini');
    expect(message).toContain('low');
  });

  it("accepts 'low' on gpt-image-1-mini", () => {
    const { value } = ok({ prompt: 'x', model: 'gpt-image-1-mini', input_fidelity: 'low' }, edit);
    expect(apiParameters(value.options).input_fidelity).toBe('low');
  });

  it("accepts 'high' on gpt-image-1.5 and sends it", () => {
    const { value } = ok({ prompt: 'x', model: 'gpt-image-1.5', input_fidelity: 'high' }, edit);
    expect(value.options.inputFidelity).toBe('high');
    expect(apiParameters(value.options).input_fidelity).toBe('high');
  });

  it('is not sent on an edit that does not set it', () => {
    expect(apiParameters(ok({ prompt: 'x' }, edit).value.options)).not.toHaveProperty('input_fidelity');
  });
});

describe('prompt', () => {
  it.each(['', '   ', '\n\t'])('refuses the empty prompt %j', (prompt) => {
    expect(problemFor(refused({ prompt }), 'prompt')).toContain('prompt is empty');
  });

  it('refuses a missing prompt', () => {
    expect(problemFor(refused({}), 'prompt')).toContain('prompt is empty');
  });

  it('accepts exactly 32,000 characters', () => {
    expect(ok({ prompt: 'a'.repeat(32_000) }).value.prompt).toHaveLength(32_000);
  });

  it('refuses 32,001 characters, naming the limit', () => {
    const message = problemFor(refused({ prompt: 'a'.repeat(32_001) }), 'prompt');
    expect(message).toContain('32,000');
    expect(message).toContain('32,001');
  });

  it('counts the augmentation: a prompt under the limit plus fields over it is refused', () => {
    const message = problemFor(refused({ prompt: 'a'.repeat(31_990), subject: 'a red fox' }), 'prompt');
    expect(message).toContain('32,000');
    expect(message).toContain('with its fields');
  });

  it('does not count fields ignored with augment false', () => {
    const { value } = ok({ prompt: 'a'.repeat(31_990), subject: 'a red fox', augment: false });
    expect(value.prompt).toHaveLength(31_990);
  });
});

describe('several problems', () => {
  it('reports every problem at once, each with its field', () => {
    const problems = refused({
      prompt: '',
      model: 'gpt-image-2',
      size: '1000x1000',
      quality: 'xhigh',
      output_format: 'jpeg',
      background: 'transparent',
      input_fidelity: 'high',
    });
    const fields = problems.map((p) => p.field);
    for (const field of ['prompt', 'size', 'quality', 'output_format', 'background', 'input_fidelity']) {
      expect(fields).toContain(field);
    }
    const text = formatProblems(problems);
    expect(text.split('\n').every((l) => l.startsWith('- '))).toBe(true);
  });
});

describe('apiParameters', () => {
  it('includes exactly the fields that were set', () => {
    const { value } = ok({
      prompt: 'x',
      model: 'gpt-image-1.5',
      n: 3,
      size: '1024x1536',
      quality: 'high',
      background: 'opaque',
      output_format: 'webp',
      output_compression: 70,
      moderation: 'low',
      input_fidelity: 'low',
    }, edit);
    expect(apiParameters(value.options)).toEqual({
      model: 'gpt-image-1.5',
      n: 3,
      size: '1024x1536',
      quality: 'high',
      background: 'opaque',
      output_format: 'webp',
      output_compression: 70,
      moderation: 'low',
      input_fidelity: 'low',
    });
  });

  it('never includes the prompt or a routing note', () => {
    const params = apiParameters(ok({ prompt: 'secret plan', background: 'transparent' }).value.options);
    expect(Object.keys(params).sort()).toEqual(['background', 'model', 'n', 'output_format', 'quality', 'size']);
    expect(JSON.stringify(params)).not.toContain('secret plan');
  });
});
