/**
 * Test helpers: temp workspaces, and the built server spawned over stdio behind the SDK's Client,
 * as an MCP client would run it.
 */
import { mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startFakeImagesApi, type FakeImagesApi, type FakeImagesApiOptions } from './fake-images-api.js';
import {
  CallToolResultSchema,
  LoggingMessageNotificationSchema,
  type CallToolResult,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SERVER_ENTRY = path.join(PROJECT_ROOT, 'dist', 'index.js');

export async function tempWorkspace(prefix = 'imagegen-ws-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), prefix)));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Every entry under `dir` but folders (files, links, FIFOs, dot files too), relative and sorted; none when it is missing. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => !e.isDirectory()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

export interface SpawnOptions {
  cwd: string;
  env?: Record<string, string>;
  args?: string[];
  /** Start with --structured-output (results carry structuredContent; tools declare outputSchema). */
  structured?: boolean;
}

export interface ServerHandle {
  client: Client;
  logs: string[];
  stderr: () => string;
  call(name: string, args: Record<string, unknown>, options?: { onprogress?: (p: Progress) => void; signal?: AbortSignal }): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** Spawns `node dist/index.js` with only the variables a client would pass (plus the given ones). */
export async function spawnServer(options: SpawnOptions): Promise<ServerHandle> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? os.tmpdir(),
    IMAGEGEN_RETRY_BASE_MS: '10',
    ...options.env,
  };
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [SERVER_ENTRY, ...(options.structured ? ['--structured-output'] : []), ...(options.args ?? [])],
    cwd: options.cwd,
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'imagegen-e2e', version: '1.0.0' });
  const logs: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(String(n.params.data));
  });
  await client.connect(transport);
  return {
    client,
    logs,
    stderr: () => stderr,
    async call(name, args, callOptions = {}) {
      const result = await client.callTool({ name, arguments: args }, CallToolResultSchema, {
        timeout: 60_000,
        ...(callOptions.onprogress ? { onprogress: callOptions.onprogress, resetTimeoutOnProgress: true } : {}),
        ...(callOptions.signal ? { signal: callOptions.signal } : {}),
      });
      return result as CallToolResult;
    },
    close: () => client.close(),
  };
}

export function textOf(result: CallToolResult): string {
  return result.content
    .filter((b): b is { type: 'text'; text: string } => b.type === 'text')
    .map((b) => b.text)
    .join('\n');
}

export interface StructuredImage {
  path: string;
  width?: number;
  height?: number;
  format: string;
  bytes?: number;
  web_path?: string;
  versioned_from?: string;
}

export interface StructuredImageResult {
  dry_run: boolean;
  model: string;
  routing_note?: string;
  prompt: string;
  images: StructuredImage[];
  warnings: string[];
  attempts?: number;
  usage?: Record<string, unknown>;
  cost_usd?: number;
  estimated_cost_usd?: number;
  cost_note?: string;
  request?: { endpoint: string; payload: Record<string, unknown> };
}

export function structured(result: CallToolResult): StructuredImageResult {
  return result.structuredContent as unknown as StructuredImageResult;
}

/** What a client passes the server so that it reaches the fake API. */
export function fakeApiEnv(fake: FakeImagesApi): Record<string, string> {
  return { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url };
}

export interface Harness {
  fake: FakeImagesApi;
  ws: { dir: string; cleanup: () => Promise<void> };
  server: ServerHandle;
  close(): Promise<void>;
}

export interface HarnessOptions {
  fake?: FakeImagesApiOptions;
  /** Added to the fake API's variables. */
  env?: Record<string, string>;
  /** Runs in the new workspace before the server starts (fixtures). */
  prepare?: (dir: string) => Promise<void>;
  /** Results carry structuredContent (--structured-output). */
  structured?: boolean;
}

/** A fake API, a temp workspace and the built server spawned in it, reaching the fake. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  // A server pinned to a day talks to a fake living on that day (models shut down by then answer 404).
  const today = options.env?.IMAGEGEN_TODAY;
  const fake = await startFakeImagesApi({ ...(today ? { today } : {}), ...options.fake });
  const ws = await tempWorkspace();
  await options.prepare?.(ws.dir);
  const server = await spawnServer({ cwd: ws.dir, env: { ...fakeApiEnv(fake), ...options.env }, structured: options.structured ?? false });
  return {
    fake,
    ws,
    server,
    async close() {
      await server.close();
      await fake.close();
      await ws.cleanup();
    },
  };
}
