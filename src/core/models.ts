/**
 * The GPT Image model registry: what each model accepts, whether it makes transparent
 * backgrounds, and when it stops working. Data, not code paths: the normaliser reads this table,
 * so a new model or a changed lifecycle date is a one-line edit here. The API's own shut-down
 * dates (GET /v1/models/{id}), when the server has read them, win over the dates typed in here.
 */

export const REGISTRY_CHECKED = '2026-12-02';

export const DEFAULT_MODEL = 'gpt-image-2';

export const LEGACY_SIZES = ['1024x1024', '1536x1024', '1024x1536'] as const;
export const BASE_QUALITIES = ['low', 'medium', 'high', 'auto'] as const;
export const ALL_QUALITIES = ['low', 'medium', 'high', 'xhigh', 'max', 'auto'] as const;
export type Quality = (typeof ALL_QUALITIES)[number];
export type InputFidelity = 'low' | 'high';
export const COMPLEXITIES = ['low', 'medium', 'high'] as const;
export type Complexity = (typeof COMPLEXITIES)[number];

export type SizeRule =
  | { kind: 'flexible' } // gpt-image-2 rules, see sizes.ts
  | { kind: 'fixed'; sizes: readonly string[] } // plus 'auto'
  | { kind: 'unchecked' }; // the API judges

/**
 * `native`: `background: "transparent"` gives real alpha (documented, or measured);
 * `preview`: documented as a preview and not to be relied on (refused by the skill's rule unless
 * transparency "native" asks for it); `none`: the API refuses it.
 */
export type TransparencySupport = 'native' | 'preview' | 'none';

export interface ModelInfo {
  /** Exact id; a dated snapshot (`<id>-YYYY-MM-DD`) follows the same entry. */
  id: string;
  sizes: SizeRule;
  qualities: readonly Quality[];
  transparency: TransparencySupport;
  /** Values of input_fidelity the model takes on edits; empty means the parameter is refused. */
  inputFidelity: readonly InputFidelity[];
  /** `complexity` (planning effort) is accepted. */
  complexity: boolean;
  /** First day (UTC, YYYY-MM-DD) the model no longer answers. */
  shutDown?: string;
  /** The model OpenAI names instead once this one is shut down. */
  replacement?: string;
  /** What the model is for, in a few words. */
  use?: string;
  note?: string;
}

const FLEXIBLE = { kind: 'flexible' } as const;
const LEGACY = { kind: 'fixed', sizes: LEGACY_SIZES } as const;
const RETIRED_2026_12_01 = { shutDown: '2026-12-01', replacement: 'gpt-image-2.6-sunburst' } as const;
const CURRENT = { sizes: FLEXIBLE, qualities: ALL_QUALITIES, transparency: 'native', inputFidelity: [] } as const;

export const MODELS: readonly ModelInfo[] = [
  {
    id: 'gpt-image-2',
    sizes: FLEXIBLE,
    qualities: BASE_QUALITIES,
    transparency: 'preview',
    inputFidelity: [],
    complexity: false,
    use: 'the default',
    note: 'always uses high input fidelity',
  },
  { id: 'gpt-image-2.5-sunburst', ...CURRENT, complexity: false, use: 'detail; transparent backgrounds (documented)' },
  { id: 'gpt-image-2.5-flare', ...CURRENT, complexity: false, use: 'fast drafts; transparent backgrounds (documented)' },
  { id: 'gpt-image-2.6-sunburst', ...CURRENT, complexity: true, use: 'detail, ~50% faster (released 2026-11-04); transparent backgrounds (measured)' },
  { id: 'gpt-image-2.6-flare', ...CURRENT, complexity: true, use: 'fast drafts; transparent backgrounds (measured)' },
  { id: 'gpt-image-1.5', sizes: LEGACY, qualities: BASE_QUALITIES, transparency: 'native', inputFidelity: ['low', 'high'], complexity: false, ...RETIRED_2026_12_01 },
  { id: 'gpt-image-1-mini', sizes: LEGACY, qualities: BASE_QUALITIES, transparency: 'native', inputFidelity: ['low'], complexity: false, ...RETIRED_2026_12_01 },
  { id: 'chatgpt-image-latest', sizes: LEGACY, qualities: BASE_QUALITIES, transparency: 'native', inputFidelity: [], complexity: false, ...RETIRED_2026_12_01 },
  {
    id: 'gpt-image-1',
    sizes: LEGACY,
    qualities: BASE_QUALITIES,
    transparency: 'native',
    inputFidelity: ['low', 'high'],
    complexity: false,
    shutDown: '2026-10-23',
    replacement: 'gpt-image-2',
  },
];

/**
 * Where a transparent request with no model goes (the `route` strategy), in order, each target
 * for the days it is on the route; a target that answers 404 or "transparent background is not
 * supported" passes the request to the next, and chroma_key on the default model ends the chain.
 */
export interface RouteTarget {
  model: string;
  /** First day on the route (YYYY-MM-DD, UTC). */
  from?: string;
  /** Last day on the route. */
  until?: string;
}

export const TRANSPARENT_ROUTE: readonly RouteTarget[] = [
  { model: 'gpt-image-1.5', until: '2026-11-30' }, // the skill's rule, while the model lived
  { model: 'gpt-image-2.5-sunburst', from: '2026-12-01' }, // documented native transparency (GA)
  { model: 'gpt-image-2.6-sunburst', from: '2026-12-01' }, // measured native transparency; OpenAI's named replacement
];

/** The route's models for a day, in order (an override list, e.g. IMAGEGEN_TRANSPARENT_MODELS, replaces the dated one). */
export function routeModels(now: Date, override?: readonly string[]): string[] {
  if (override && override.length > 0) return [...override];
  const day = isoDay(now);
  return TRANSPARENT_ROUTE.filter((t) => (t.from === undefined || day >= t.from) && (t.until === undefined || day <= t.until)).map((t) => t.model);
}

/** Shut-down dates read from the API (`shutdown_date`; null: none announced), by model id. */
export type ApiShutdownDates = ReadonlyMap<string, string | null>;

export type ModelLookup =
  | { kind: 'known'; info: ModelInfo; shutDown?: string }
  | { kind: 'retired'; info: ModelInfo; shutDown: string }
  | { kind: 'unknown'; id: string; shutDown?: string } // a gpt-image-* name this registry has no rules for
  | { kind: 'invalid'; id: string }; // not a GPT Image model at all

const SNAPSHOT_SUFFIX = /-\d{4}-\d{2}-\d{2}$/;

function findModel(id: string): ModelInfo | undefined {
  const exact = MODELS.find((m) => m.id === id);
  if (exact) return exact;
  // A dated snapshot (gpt-image-2-2026-04-21) follows its base model's rules.
  const base = id.replace(SNAPSHOT_SUFFIX, '');
  return base !== id ? findModel(base) : undefined;
}

/** Today's date as YYYY-MM-DD in UTC, the form lifecycle dates are kept in. */
export function isoDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** Whole days from `now`'s day to `day` (negative once passed). */
export function daysUntil(day: string, now: Date): number {
  return Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${isoDay(now)}T00:00:00Z`)) / 86_400_000);
}

/** The shut-down date that applies: the API's (for the id, else its base model), else the registry's. */
export function shutDownOf(id: string, info: ModelInfo | undefined, api?: ApiShutdownDates): string | undefined {
  for (const key of [id, id.replace(SNAPSHOT_SUFFIX, '')]) {
    if (api?.has(key)) return api.get(key) ?? undefined;
  }
  return info?.shutDown;
}

export function isRetired(info: ModelInfo, now: Date, api?: ApiShutdownDates): boolean {
  const day = shutDownOf(info.id, info, api);
  return day !== undefined && isoDay(now) >= day;
}

export function lookupModel(id: string, now: Date, api?: ApiShutdownDates): ModelLookup {
  const info = findModel(id);
  const shutDown = shutDownOf(id, info, api);
  const passed = shutDown !== undefined && isoDay(now) >= shutDown;
  if (info) {
    if (passed) return { kind: 'retired', info, shutDown };
    return shutDown ? { kind: 'known', info, shutDown } : { kind: 'known', info };
  }
  if (id.startsWith('gpt-image-')) return shutDown && !passed ? { kind: 'unknown', id, shutDown } : { kind: 'unknown', id };
  return { kind: 'invalid', id };
}

/** What to use instead of a model that is gone or going. */
export function replacementOf(id: string, info: ModelInfo | undefined): string {
  if (info?.replacement) return info.replacement;
  return id === DEFAULT_MODEL ? 'gpt-image-2.6-sunburst' : DEFAULT_MODEL;
}

/** A warning is given this many days before a shut-down date. */
export const SHUTDOWN_WARNING_DAYS = 30;

/** The warning for a model shutting down soon (within 30 days), else undefined. */
export function shutdownWarning(id: string, shutDown: string | undefined, info: ModelInfo | undefined, now: Date): string | undefined {
  if (shutDown === undefined) return undefined;
  const days = daysUntil(shutDown, now);
  if (days <= 0 || days > SHUTDOWN_WARNING_DAYS) return undefined;
  return `${id} is announced to shut down on ${shutDown} (in ${days} day${days === 1 ? '' : 's'}); move to ${replacementOf(id, info)} before then.`;
}

/** The refusal of a model past its shut-down date, with its replacement. */
export function retiredMessage(id: string, shutDown: string, info: ModelInfo | undefined): string {
  // When the default itself is gone, leaving model unset is no fix: say which model to name.
  const unset = info?.id === DEFAULT_MODEL ? `; set model to it (the default, ${DEFAULT_MODEL}, is gone too)` : ` (or leave model unset for the default, ${DEFAULT_MODEL})`;
  return `${id} was shut down on ${shutDown}. Use ${replacementOf(id, info)} instead${unset}`;
}

/** Current models (not shut down on `now`) that satisfy a test, for fixes that name what works. */
export function currentModels(now: Date, test: (info: ModelInfo) => boolean, api?: ApiShutdownDates): string[] {
  return MODELS.filter((m) => !isRetired(m, now, api) && test(m)).map((m) => m.id);
}

export function knownModelIds(now?: Date): string[] {
  return (now ? MODELS.filter((m) => !isRetired(m, now)) : MODELS).map((m) => m.id);
}
