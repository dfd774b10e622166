import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MODEL,
  LEGACY_SIZES,
  MODELS,
  TRANSPARENT_TARGET,
  isRetired,
  isoDay,
  knownModelIds,
  lookupModel,
} from '../../src/core/models.js';

const TODAY = new Date('2026-11-24T12:00:00Z');

describe('lookupModel', () => {
  it('knows gpt-image-2, the default, with flexible sizes, no transparency and no input_fidelity', () => {
    expect(DEFAULT_MODEL).toBe('gpt-image-2');
    const found = lookupModel('gpt-image-2', TODAY);
    expect(found.kind).toBe('known');
    if (found.kind !== 'known') return;
    expect(found.info.id).toBe('gpt-image-2');
    expect(found.info.sizes).toEqual({ kind: 'flexible' });
    expect(found.info.transparent).toBe(false);
    expect(found.info.inputFidelity).toEqual([]);
    expect(found.info.qualities).toEqual(['low', 'medium', 'high', 'auto']);
    expect(found.info.shutDown).toBeUndefined();
  });

  it('knows gpt-image-1.5 on its last day (2026-11-30, even late UTC)', () => {
    for (const now of [new Date('2026-11-30T00:00:00Z'), new Date('2026-11-30T23:59:59.999Z')]) {
      const found = lookupModel('gpt-image-1.5', now);
      expect(found.kind).toBe('known');
      if (found.kind !== 'known') return;
      expect(found.info.transparent).toBe(true);
      expect(found.info.sizes).toEqual({ kind: 'fixed', sizes: LEGACY_SIZES });
      expect(found.info.inputFidelity).toEqual(['low', 'high']);
    }
  });

  it('retires gpt-image-1.5 from 2026-12-01 (UTC), naming gpt-image-2 as its replacement', () => {
    for (const now of [new Date('2026-12-01T00:00:00Z'), new Date('2027-06-01T00:00:00Z')]) {
      const found = lookupModel('gpt-image-1.5', now);
      expect(found.kind).toBe('retired');
      if (found.kind !== 'retired') return;
      expect(found.info.shutDown).toBe('2026-12-01');
      expect(found.info.replacement).toBe('gpt-image-2');
    }
  });

  it('knows gpt-image-1-mini until 2026-12-01, with input_fidelity low only', () => {
    const found = lookupModel('gpt-image-1-mini', TODAY);
    expect(found.kind).toBe('known');
    if (found.kind === 'known') expect(found.info.inputFidelity).toEqual(['low']);
    expect(lookupModel('gpt-image-1-mini', new Date('2026-12-01T00:00:00Z')).kind).toBe('retired');
  });

  it('reports gpt-image-1 as retired on 2026-10-23 with gpt-image-2 as replacement', () => {
    const found = lookupModel('gpt-image-1', TODAY);
    expect(found.kind).toBe('retired');
    if (found.kind !== 'retired') return;
    expect(found.info.id).toBe('gpt-image-1');
    expect(found.info.shutDown).toBe('2026-10-23');
    expect(found.info.replacement).toBe('gpt-image-2');
    expect(lookupModel('gpt-image-1', new Date('2026-10-22T23:59:59Z')).kind).toBe('known');
    expect(lookupModel('gpt-image-1', new Date('2026-10-23T00:00:00Z')).kind).toBe('retired');
  });

  it.each(['gpt-image-2.5-sunburst', 'gpt-image-2.5-flare', 'gpt-image-2.5-2026-09-01', 'gpt-image-2.5'])(
    'puts %s in the gpt-image-2.5 family (unchecked sizes, all qualities, transparent)',
    (id) => {
      const found = lookupModel(id, TODAY);
      expect(found.kind).toBe('known');
      if (found.kind !== 'known') return;
      expect(found.info.id).toBe('gpt-image-2.5');
      expect(found.info.family).toBe(true);
      expect(found.info.sizes).toEqual({ kind: 'unchecked' });
      expect(found.info.qualities).toContain('xhigh');
      expect(found.info.qualities).toContain('max');
      expect(found.info.transparent).toBe(true);
      expect(found.info.inputFidelity).toEqual([]);
    },
  );

  it('lets a dated snapshot follow its base model (gpt-image-2-2026-04-21 → gpt-image-2)', () => {
    const found = lookupModel('gpt-image-2-2026-04-21', TODAY);
    expect(found.kind).toBe('known');
    if (found.kind === 'known') expect(found.info.id).toBe('gpt-image-2');
  });

  it('lets a snapshot of a retired model be retired too (gpt-image-1-2025-04-15)', () => {
    const found = lookupModel('gpt-image-1-2025-04-15', TODAY);
    expect(found.kind).toBe('retired');
    if (found.kind === 'retired') expect(found.info.id).toBe('gpt-image-1');
  });

  it('does not confuse gpt-image-2.5 with gpt-image-2 or gpt-image-20', () => {
    expect(lookupModel('gpt-image-20', TODAY)).toEqual({ kind: 'unknown', id: 'gpt-image-20' });
    const found = lookupModel('gpt-image-2.5-flare', TODAY);
    expect(found.kind === 'known' && found.info.id).toBe('gpt-image-2.5');
  });

  it.each(['gpt-image-9', 'gpt-image-3', 'gpt-image-2-turbo'])('calls %s unknown (a GPT Image name without rules here)', (id) => {
    expect(lookupModel(id, TODAY)).toEqual({ kind: 'unknown', id });
  });

  it.each(['dall-e-3', 'dall-e-2', 'chatgpt-image-latest', 'gpt-4o', '', 'image-2'])('calls %j invalid', (id) => {
    expect(lookupModel(id, TODAY)).toEqual({ kind: 'invalid', id });
  });
});

describe('registry helpers', () => {
  it('routes transparency to gpt-image-1.5', () => {
    expect(TRANSPARENT_TARGET).toBe('gpt-image-1.5');
  });

  it('isoDay is the UTC day', () => {
    expect(isoDay(new Date('2026-11-30T23:59:59Z'))).toBe('2026-11-30');
    expect(isoDay(new Date('2026-12-01T00:00:00+02:00'))).toBe('2026-11-30');
  });

  it('isRetired is false for a model without a date', () => {
    const two = MODELS.find((m) => m.id === 'gpt-image-2')!;
    expect(isRetired(two, new Date('2099-01-01T00:00:00Z'))).toBe(false);
  });

  it('knownModelIds lists the exact ids and the family as a pattern', () => {
    expect(knownModelIds()).toEqual(['gpt-image-2', 'gpt-image-1.5', 'gpt-image-1-mini', 'gpt-image-1', 'gpt-image-2.5-*']);
  });
});
