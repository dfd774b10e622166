/**
 * Model shut-down dates as the API publishes them (GET /v1/models/{id}), read once per model per
 * process on its first real call, in parallel with the image request so the image never waits
 * for it, and time-boxed. What was read wins over the registry's dates in later calls; a lookup
 * that fails leaves the registry to decide, silently (it is tried again after a while).
 */
import type { ApiShutdownDates } from '../core/models.js';
import type { ImageApi } from './openai.js';

export const LOOKUP_TIMEOUT_MS = 3_000;
/** A failed lookup is not repeated on every call: at most once per this interval and model. */
const RETRY_FAILED_AFTER_MS = 10 * 60_000;

export class ModelLifecycle {
  private readonly dates = new Map<string, string | null>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly api: ImageApi,
    private readonly timeoutMs = LOOKUP_TIMEOUT_MS,
  ) {}

  /** The dates read so far, for the normaliser. */
  get known(): ApiShutdownDates {
    return this.dates;
  }

  /**
   * Starts the lookup of a model about to be called, unless its date is known, being read, or
   * failed recently. The promise settles when the lookup does (never rejects); nobody has to wait.
   */
  observe(model: string): Promise<void> {
    const lookup = this.api.shutdownDate?.bind(this.api);
    if (!lookup || this.dates.has(model)) return Promise.resolve();
    const running = this.pending.get(model);
    if (running) return running;
    const failed = this.failedAt.get(model);
    if (failed !== undefined && Date.now() - failed < RETRY_FAILED_AFTER_MS) return Promise.resolve();
    const done = lookup(model, AbortSignal.timeout(this.timeoutMs))
      .then(
        (date) => {
          this.dates.set(model, date);
          this.failedAt.delete(model);
        },
        () => {
          this.failedAt.set(model, Date.now());
        },
      )
      .finally(() => this.pending.delete(model));
    this.pending.set(model, done);
    return done;
  }
}

const byApi = new WeakMap<ImageApi, ModelLifecycle>();

/** One lifecycle cache per API edge (one per server). */
export function lifecycleOf(api: ImageApi): ModelLifecycle {
  let lifecycle = byApi.get(api);
  if (!lifecycle) {
    lifecycle = new ModelLifecycle(api);
    byApi.set(api, lifecycle);
  }
  return lifecycle;
}
