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

/** Sends a heartbeat while waiting, so clients that reset their timeout on progress keep the call alive. */
export function startHeartbeat(ctx: RunContext, what: string): () => void {
  const progress = ctx.progress;
  if (!progress) return () => {};
  const started = performance.now();
  const timer = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    progress(seconds, undefined, `waiting for ${what} (${Math.round(seconds)} s)`).catch(() => {});
  }, ctx.config.heartbeatMs);
  timer.unref();
  return () => clearInterval(timer);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
