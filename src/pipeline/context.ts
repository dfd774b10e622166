/** What the pipeline gets from the server for one call: the edges it may use, the call's signal, progress and log. */
import type { ServerConfig } from '../config.js';
import type { ImageApi } from '../io/openai.js';
import type { Workspace } from '../io/workspace.js';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';

export interface RunContext {
  config: ServerConfig;
  api: ImageApi;
  workspace(): Promise<Workspace>;
  signal: AbortSignal;
  /** Present only when the client asked for progress (sent a progressToken). */
  progress?: (progress: number, total?: number, message?: string) => Promise<void>;
  log(level: LogLevel, message: string): void;
}

/** One progress notification: what `beat` returns each interval (undefined: none this time). */
export interface Beat {
  progress: number;
  total?: number;
  message: string;
}

/**
 * Sends a heartbeat every heartbeatMs while waiting, so clients that reset their timeout on
 * progress keep the call alive; `beat` says what each one reports. Returns the stop function.
 */
export function startHeartbeat(ctx: RunContext, beat: () => Beat | undefined): () => void {
  const progress = ctx.progress;
  if (!progress) return () => {};
  const timer = setInterval(() => {
    const next = beat();
    if (next) progress(next.progress, next.total, next.message).catch(() => {});
  }, ctx.config.heartbeatMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A single call's beat: the seconds spent waiting for `what`. */
export function waitingFor(what: string): () => Beat {
  const started = performance.now();
  return () => {
    const seconds = (performance.now() - started) / 1000;
    return { progress: seconds, message: `waiting for ${what} (${Math.round(seconds)} s)` };
  };
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
