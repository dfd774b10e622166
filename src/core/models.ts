/**
 * The GPT Image model registry: what each model accepts and when it stops working.
 * Data, not code paths: the normaliser reads this table, so a new model or a changed
 * lifecycle date is a one-line edit here.
 */

export const REGISTRY_CHECKED = '2026-11-24';

export const DEFAULT_MODEL = 'gpt-image-2';
/** Where transparent requests go when no model is named (the `route` strategy). */
export const TRANSPARENT_TARGET = 'gpt-image-1.5';

export const LEGACY_SIZES = ['1024x1024', '1536x1024', '1024x1536'] as const;
export const BASE_QUALITIES = ['low', 'medium', 'high', 'auto'] as const;
export const ALL_QUALITIES = ['low', 'medium', 'high', 'xhigh', 'max', 'auto'] as const;
export type Quality = (typeof ALL_QUALITIES)[number];
export type InputFidelity = 'low' | 'high';

export type SizeRule =
  | { kind: 'flexible' } // gpt-image-2 rules, see sizes.ts
  | { kind: 'fixed'; sizes: readonly string[] } // plus 'auto'
  | { kind: 'unchecked' }; // the API judges

export interface ModelInfo {
  /** Exact id, or the family prefix when `family` is true. */
  id: string;
  family?: boolean;
  sizes: SizeRule;
  qualities: readonly Quality[];
  transparent: boolean;
  /** Values of input_fidelity the model takes on edits; empty means the parameter is refused. */
  inputFidelity: readonly InputFidelity[];
  /** First day (UTC, YYYY-MM-DD) the model no longer answers. */
  shutDown?: string;
  /** The model to use instead once this one is shut down. */
  replacement?: string;
  note?: string;
}

export const MODELS: readonly ModelInfo[] = [
  {
    id: 'gpt-image-2',
    sizes: { kind: 'flexible' },
    qualities: BASE_QUALITIES,
    transparent: false,
    inputFidelity: [],
    note: 'always uses high input fidelity',
  },
  {
    id: 'gpt-image-1.5',
    sizes: { kind: 'fixed', sizes: LEGACY_SIZES },
    qualities: BASE_QUALITIES,
    transparent: true,
    inputFidelity: ['low', 'high'],
    shutDown: '2026-12-01',
    replacement: 'gpt-image-2',
  },
  {
    id: 'gpt-image-1-mini',
    sizes: { kind: 'fixed', sizes: LEGACY_SIZES },
    qualities: BASE_QUALITIES,
    transparent: true,
    inputFidelity: ['low'],
    shutDown: '2026-12-01',
    replacement: 'gpt-image-2',
  },
  {
    id: 'gpt-image-1',
    sizes: { kind: 'fixed', sizes: LEGACY_SIZES },
    qualities: BASE_QUALITIES,
    transparent: true,
    inputFidelity: ['low', 'high'],
    shutDown: '2026-10-23',
    replacement: 'gpt-image-2',
  },
  {
    id: 'gpt-image-2.5',
    family: true,
    sizes: { kind: 'unchecked' },
    qualities: ALL_QUALITIES,
    transparent: true,
    inputFidelity: [],
  },
];

export type ModelLookup =
  | { kind: 'known'; info: ModelInfo }
  | { kind: 'retired'; info: ModelInfo }
  | { kind: 'unknown'; id: string } // a gpt-image-* name this registry has no rules for
  | { kind: 'invalid'; id: string }; // not a GPT Image model at all

const SNAPSHOT_SUFFIX = /-\d{4}-\d{2}-\d{2}$/;

function findModel(id: string): ModelInfo | undefined {
  const exact = MODELS.find((m) => !m.family && m.id === id);
  if (exact) return exact;
  const family = MODELS.find((m) => m.family && (id === m.id || id.startsWith(`${m.id}-`)));
  if (family) return family;
  // A dated snapshot (gpt-image-2-2026-04-21) follows its base model's rules.
  const base = id.replace(SNAPSHOT_SUFFIX, '');
  return base !== id ? findModel(base) : undefined;
}

/** Today's date as YYYY-MM-DD in UTC, the form lifecycle dates are kept in. */
export function isoDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

export function isRetired(info: ModelInfo, now: Date): boolean {
  return info.shutDown !== undefined && isoDay(now) >= info.shutDown;
}

export function lookupModel(id: string, now: Date): ModelLookup {
  const info = findModel(id);
  if (info) return isRetired(info, now) ? { kind: 'retired', info } : { kind: 'known', info };
  if (id.startsWith('gpt-image-')) return { kind: 'unknown', id };
  return { kind: 'invalid', id };
}

export function knownModelIds(): string[] {
  return MODELS.map((m) => (m.family ? `${m.id}-*` : m.id));
}
