import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MODEL,
  LEGACY_SIZES,
  MODELS,
  REGISTRY_CHECKED,
  TRANSPARENT_ROUTE,
  currentModels,
  daysUntil,
  isRetired,
  isoDay,
  knownModelIds,
  lookupModel,
  routeModels,
  shutdownWarning,
} from '../../src/core/models.js';

const BEFORE = new Date('2026-11-24T12:00:00Z');
const TODAY = new Date('2026-12-02T12:00:00Z');
const CURRENT = ['gpt-image-2.5-sunburst', 'gpt-image-2.5-flare', 'gpt-image-2.6-sunburst', 'gpt-image-2.6-flare'];

describe('the registry as of 2026-12-02', () => {
  it('is dated 2026-12-02', () => {
    expect(REGISTRY_CHECKED).toBe('2026-12-02');
  });

  it('knows gpt-image-2, the default: flexible sizes, base qualities, transparency only as a preview, no complexity', () => {
    expect(DEFAULT_MODEL).toBe('gpt-image-2');
    for (const id of ['gpt-image-2', 'gpt-image-2-2026-04-21']) {
      const found = lookupModel(id, TODAY);
      expect(found.kind).toBe('known');
      if (found.kind !== 'known') return;
      expect(found.info).toMatchObject({ id: 'gpt-image-2', sizes: { kind: 'flexible' }, transparency: 'preview', complexity: false, inputFidelity: [] });
      expect(found.info.qualities).toEqual(['low', 'medium', 'high', 'auto']);
      expect(found.info.shutDown).toBeUndefined();
    }
  });

  it.each(CURRENT.flatMap((id) => (id.startsWith('gpt-image-2.5') ? [id, `${id}-2026-09-08`] : [id])))(
    'knows %s: gpt-image-2 size rules, xhigh and max, native transparency',
    (id) => {
      const found = lookupModel(id, TODAY);
      expect(found.kind).toBe('known');
      if (found.kind !== 'known') return;
      expect(found.info.sizes).toEqual({ kind: 'flexible' });
      expect(found.info.qualities).toEqual(['low', 'medium', 'high', 'xhigh', 'max', 'auto']);
      expect(found.info.transparency).toBe('native');
      expect(found.info.inputFidelity).toEqual([]);
      expect(found.info.complexity).toBe(id.startsWith('gpt-image-2.6'));
      expect(found.info.shutDown).toBeUndefined();
    },
  );

  it('takes complexity on gpt-image-2.6 only', () => {
    expect(currentModels(TODAY, (m) => m.complexity)).toEqual(['gpt-image-2.6-sunburst', 'gpt-image-2.6-flare']);
  });

  it('says what flare and sunburst are for', () => {
    for (const id of CURRENT) {
      const info = MODELS.find((m) => m.id === id)!;
      expect(info.use).toMatch(id.endsWith('flare') ? /fast drafts/ : /detail/);
    }
  });

  it.each(['gpt-image-1.5', 'gpt-image-1.5-2025-12-16', 'gpt-image-1-mini', 'chatgpt-image-latest'])(
    'knows %s until 2026-11-30 and retires it from 2026-12-01 (UTC), with gpt-image-2.6-sunburst as its replacement',
    (id) => {
      for (const now of [BEFORE, new Date('2026-11-30T23:59:59.999Z')]) expect(lookupModel(id, now).kind).toBe('known');
      for (const now of [new Date('2026-12-01T00:00:00Z'), TODAY, new Date('2027-06-01T00:00:00Z')]) {
        const found = lookupModel(id, now);
        expect(found.kind).toBe('retired');
        if (found.kind !== 'retired') return;
        expect(found.shutDown).toBe('2026-12-01');
        expect(found.info.replacement).toBe('gpt-image-2.6-sunburst');
      }
    },
  );

  it('keeps the legacy rules of gpt-image-1.5 and gpt-image-1-mini for the days they still answered', () => {
    const found = lookupModel('gpt-image-1.5', BEFORE);
    if (found.kind !== 'known') throw new Error('expected known');
    expect(found.info).toMatchObject({ sizes: { kind: 'fixed', sizes: LEGACY_SIZES }, transparency: 'native', inputFidelity: ['low', 'high'] });
    const mini = lookupModel('gpt-image-1-mini', BEFORE);
    if (mini.kind !== 'known') throw new Error('expected known');
    expect(mini.info.inputFidelity).toEqual(['low']);
  });

  it('reports gpt-image-1 as retired on 2026-10-23 with gpt-image-2 as replacement, snapshots too', () => {
    for (const id of ['gpt-image-1', 'gpt-image-1-2025-04-15']) {
      const found = lookupModel(id, BEFORE);
      expect(found.kind).toBe('retired');
      if (found.kind !== 'retired') return;
      expect(found).toMatchObject({ shutDown: '2026-10-23', info: { id: 'gpt-image-1', replacement: 'gpt-image-2' } });
    }
    expect(lookupModel('gpt-image-1', new Date('2026-10-22T23:59:59Z')).kind).toBe('known');
  });

  it('does not confuse 2.5 or 2.6 with gpt-image-2, nor gpt-image-2 with gpt-image-20', () => {
    expect(lookupModel('gpt-image-20', TODAY)).toEqual({ kind: 'unknown', id: 'gpt-image-20' });
    expect(lookupModel('gpt-image-2.5', TODAY)).toEqual({ kind: 'unknown', id: 'gpt-image-2.5' });
    const found = lookupModel('gpt-image-2.6-flare', TODAY);
    expect(found.kind === 'known' && found.info.id).toBe('gpt-image-2.6-flare');
  });

  it.each(['gpt-image-9', 'gpt-image-3', 'gpt-image-2-turbo'])('calls %s unknown (a GPT Image name without rules here)', (id) => {
    expect(lookupModel(id, TODAY)).toEqual({ kind: 'unknown', id });
  });

  it.each(['dall-e-3', 'dall-e-2', 'gpt-4o', '', 'image-2'])('calls %j invalid', (id) => {
    expect(lookupModel(id, TODAY)).toEqual({ kind: 'invalid', id });
  });

  it('lists only the models still running as known ids', () => {
    expect(knownModelIds(TODAY)).toEqual(['gpt-image-2', ...CURRENT]);
    expect(knownModelIds(BEFORE)).toContain('gpt-image-1.5');
  });
});

describe('lifecycle dates read from the API', () => {
  it('win over the registry: a date that has passed retires, null lifts the registry date', () => {
    const api = new Map<string, string | null>([
      ['gpt-image-2.5-flare', '2026-12-01'],
      ['gpt-image-1.5', null],
    ]);
    expect(lookupModel('gpt-image-2.5-flare', TODAY, api)).toMatchObject({ kind: 'retired', shutDown: '2026-12-01' });
    expect(lookupModel('gpt-image-2.5-flare-2026-09-08', TODAY, api).kind).toBe('retired'); // the base model's date
    expect(lookupModel('gpt-image-1.5', TODAY, api).kind).toBe('known');
    expect(lookupModel('gpt-image-2.5-flare', TODAY).kind).toBe('known'); // without them, the registry decides
  });

  it('warn within 30 days of a shut-down, not before and not after', () => {
    const info = MODELS.find((m) => m.id === 'gpt-image-2')!;
    expect(shutdownWarning('gpt-image-2', '2027-01-01', info, TODAY)).toBe(
      'gpt-image-2 is announced to shut down on 2027-01-01 (in 30 days); move to gpt-image-2.6-sunburst before then.',
    );
    expect(shutdownWarning('gpt-image-2', '2026-12-03', info, TODAY)).toContain('(in 1 day)');
    expect(shutdownWarning('gpt-image-2', '2027-01-02', info, TODAY)).toBeUndefined();
    expect(shutdownWarning('gpt-image-2', '2026-12-02', info, TODAY)).toBeUndefined();
    expect(shutdownWarning('gpt-image-2', undefined, info, TODAY)).toBeUndefined();
    expect(daysUntil('2026-12-01', TODAY)).toBe(-1);
  });
});

describe('the transparent route', () => {
  it('is an ordered, dated list: gpt-image-1.5 until 2026-11-30, then 2.5-sunburst and 2.6-sunburst', () => {
    expect(TRANSPARENT_ROUTE).toEqual([
      { model: 'gpt-image-1.5', until: '2026-11-30' },
      { model: 'gpt-image-2.5-sunburst', from: '2026-12-01' },
      { model: 'gpt-image-2.6-sunburst', from: '2026-12-01' },
    ]);
    expect(routeModels(new Date('2026-11-30T23:59:59Z'))).toEqual(['gpt-image-1.5']);
    expect(routeModels(new Date('2026-12-01T00:00:00Z'))).toEqual(['gpt-image-2.5-sunburst', 'gpt-image-2.6-sunburst']);
    expect(routeModels(TODAY)).toEqual(['gpt-image-2.5-sunburst', 'gpt-image-2.6-sunburst']);
  });

  it('is replaced whole by an override list', () => {
    expect(routeModels(TODAY, ['gpt-image-2.6-flare', 'gpt-image-2.5-flare'])).toEqual(['gpt-image-2.6-flare', 'gpt-image-2.5-flare']);
    expect(routeModels(TODAY, [])).toEqual(['gpt-image-2.5-sunburst', 'gpt-image-2.6-sunburst']);
  });

  it('has only targets that make native alpha', () => {
    for (const { model } of TRANSPARENT_ROUTE) expect(MODELS.find((m) => m.id === model)!.transparency).toBe('native');
  });
});

describe('registry helpers', () => {
  it('isoDay is the UTC day', () => {
    expect(isoDay(new Date('2026-11-30T23:59:59Z'))).toBe('2026-11-30');
    expect(isoDay(new Date('2026-12-01T00:00:00+02:00'))).toBe('2026-11-30');
  });

  it('isRetired is false for a model without a date, true once an API date has passed', () => {
    const two = MODELS.find((m) => m.id === 'gpt-image-2')!;
    expect(isRetired(two, new Date('2099-01-01T00:00:00Z'))).toBe(false);
    expect(isRetired(two, TODAY, new Map([['gpt-image-2', '2026-12-02']]))).toBe(true);
  });
});
