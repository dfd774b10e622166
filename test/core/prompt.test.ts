import { describe, expect, it } from 'vitest';
import {
  AUGMENTATION_FIELDS,
  EDIT_USE_CASES,
  GENERATE_USE_CASES,
  MAX_PROMPT_CHARS,
  USE_CASES,
  buildPrompt,
  givenFields,
  isUseCase,
  type AugmentationFields,
} from '../../src/core/prompt.js';
import { resolveRequest } from '../../src/core/request.js';

const ctx = { tool: 'generate' as const, now: new Date('2026-11-24T12:00:00Z') };

const ALL_FIELDS: Required<AugmentationFields> = {
  use_case: 'product-mockup',
  asset_type: 'landing page hero',
  input_images: 'Image 1: product photo',
  scene: 'marble countertop',
  subject: 'a ceramic mug',
  style: 'studio photography',
  composition: 'centered, wide margins',
  lighting: 'soft morning light',
  palette: 'cream and sage',
  materials: 'glazed ceramic',
  text: 'MORNING RITUAL',
  constraints: 'no logos',
  negative: 'clutter, people',
};

const EXPECTED_LABEL_ORDER = [
  'Use case',
  'Asset type',
  'Primary request',
  'Input images',
  'Scene/backdrop',
  'Subject',
  'Style/medium',
  'Composition/framing',
  'Lighting/mood',
  'Color palette',
  'Materials/textures',
  'Text (verbatim)',
  'Constraints',
  'Avoid',
];

describe('buildPrompt', () => {
  it.each(['A red fox in snow', '  padded prompt \n', 'line one\nline two', 'quote "this"'])(
    'returns %j byte for byte when no field is given',
    (prompt) => {
      expect(buildPrompt(prompt, {})).toBe(prompt);
    },
  );

  it('treats empty and whitespace-only fields as not given (prompt unchanged)', () => {
    expect(buildPrompt(' as written ', { subject: '', style: '   ', text: '\n\t' })).toBe(' as written ');
  });

  it('writes every field in the fixed order, with the prompt as the Primary request', () => {
    const out = buildPrompt('A mug on a counter', ALL_FIELDS);
    const lines = out.split('\n');
    expect(lines.map((l) => l.slice(0, l.indexOf(':')))).toEqual(EXPECTED_LABEL_ORDER);
    expect(lines[0]).toBe('Use case: product-mockup');
    expect(lines[2]).toBe('Primary request: A mug on a counter');
    expect(lines[11]).toBe('Text (verbatim): "MORNING RITUAL"');
    expect(lines[13]).toBe('Avoid: clutter, people');
  });

  it('uses the same order whatever order the fields are given in', () => {
    const reversed = Object.fromEntries(Object.entries(ALL_FIELDS).reverse()) as AugmentationFields;
    expect(Object.keys(reversed)[0]).toBe('negative');
    expect(buildPrompt('A mug', reversed)).toBe(buildPrompt('A mug', ALL_FIELDS));
  });

  it('writes only the fields given, trimmed, and invents nothing', () => {
    const out = buildPrompt('  A lighthouse  ', { negative: ' fog ', style: 'watercolor', subject: '' });
    expect(out).toBe('Primary request: A lighthouse\nStyle/medium: watercolor\nAvoid: fog');
  });

  it('wraps text in double quotes', () => {
    expect(buildPrompt('Poster', { text: 'Grand Opening' })).toBe('Primary request: Poster\nText (verbatim): "Grand Opening"');
  });

  it('keeps text as given when it already contains a double quote (a list of quoted strings)', () => {
    const text = '"SALE" and "50% OFF"';
    expect(buildPrompt('Poster', { text })).toBe(`Primary request: Poster\nText (verbatim): ${text}`);
  });

  it('has a label for every augmentation field', () => {
    const out = buildPrompt('p', ALL_FIELDS);
    expect(out.split('\n')).toHaveLength(AUGMENTATION_FIELDS.length + 1);
  });
});

describe('givenFields', () => {
  it('keeps trimmed non-empty fields and ignores unrelated keys', () => {
    const raw = { subject: ' fox ', style: '', prompt: 'not a field', model: 'gpt-image-2' } as AugmentationFields;
    expect(givenFields(raw)).toEqual({ subject: 'fox' });
  });
});

describe('use cases', () => {
  it('has exactly the 11 generate slugs', () => {
    expect([...GENERATE_USE_CASES]).toEqual([
      'photorealistic-natural',
      'product-mockup',
      'ui-mockup',
      'infographic-diagram',
      'scientific-educational',
      'ads-marketing',
      'productivity-visual',
      'logo-brand',
      'illustration-story',
      'stylized-concept',
      'historical-scene',
    ]);
  });

  it('has exactly the 8 edit slugs', () => {
    expect([...EDIT_USE_CASES]).toEqual([
      'text-localization',
      'identity-preserve',
      'precise-object-edit',
      'lighting-weather',
      'background-extraction',
      'style-transfer',
      'compositing',
      'sketch-to-render',
    ]);
  });

  it('accepts all 19 slugs and nothing else', () => {
    expect(USE_CASES).toHaveLength(19);
    expect(new Set(USE_CASES).size).toBe(19);
    for (const slug of USE_CASES) expect(isUseCase(slug)).toBe(true);
    for (const bad of ['Product-Mockup', 'product mockup', 'mockup', '', 'logo']) expect(isUseCase(bad)).toBe(false);
  });

  it.each([...USE_CASES])('either tool may use %s', (slug) => {
    for (const tool of ['generate', 'edit'] as const) {
      const out = resolveRequest({ prompt: 'x', use_case: slug }, { ...ctx, tool });
      expect(out.ok).toBe(true);
      if (out.ok) expect(out.value.prompt).toBe(`Use case: ${slug}\nPrimary request: x`);
    }
  });

  it('refuses an unknown use_case via resolveRequest, naming it and giving valid slugs', () => {
    const out = resolveRequest({ prompt: 'A logo', use_case: 'logos' }, ctx);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    const problem = out.problems.find((p) => p.field === 'use_case');
    expect(problem?.message).toContain('"logos"');
    expect(problem?.message).toContain('logo-brand');
  });
});

describe('augmentation through resolveRequest', () => {
  it('sends the prompt as written when augment is false, warning which fields were ignored', () => {
    const out = resolveRequest({ prompt: ' A fox ', augment: false, subject: 'fox', palette: 'orange', style: ' ' }, ctx);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.value.prompt).toBe(' A fox ');
    expect(out.value.userPrompt).toBe(' A fox ');
    const warning = out.warnings.find((w) => w.includes('augment is false'));
    expect(warning).toBeDefined();
    expect(warning).toContain('subject');
    expect(warning).toContain('palette');
    expect(warning).not.toContain('style');
  });

  it('does not warn when augment is false and no field is given', () => {
    const out = resolveRequest({ prompt: 'A fox', augment: false }, ctx);
    expect(out.ok && out.warnings).toEqual([]);
  });

  it('returns the augmented prompt and keeps the user prompt apart', () => {
    const out = resolveRequest({ prompt: 'A fox', subject: 'red fox' }, ctx);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.value.userPrompt).toBe('A fox');
    expect(out.value.prompt).toBe('Primary request: A fox\nSubject: red fox');
  });

  it('caps prompts at 32,000 characters', () => {
    expect(MAX_PROMPT_CHARS).toBe(32_000);
  });
});
