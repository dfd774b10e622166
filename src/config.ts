/**
 * What the server is started with: flags, environment, and the knobs tests turn (clock, backoff
 * base, heartbeat interval). Nothing here reads the API key beyond passing it to the OpenAI edge.
 */
import { parseCostCap } from './core/cost.js';
import { lookupModel } from './core/models.js';
import { DEFAULT_BASE_DELAY_MS } from './core/retry.js';
import { parseTransparency, TRANSPARENCY_STRATEGIES, type TransparencyStrategy } from './core/transparency.js';
import { apiEnvironment, parseTimeoutMs, type ApiEnvironment, type ImageApi } from './io/openai.js';

export interface ServerConfig {
  rootFlag?: string | undefined;
  rootEnv?: string | undefined;
  cwd: string;
  api: ApiEnvironment;
  /** The clock the model lifecycle is read against. */
  now: () => Date;
  retryBaseDelayMs: number;
  heartbeatMs: number;
  /** IMAGEGEN_MAX_COST_USD: the spending cap per call or batch; none when unset. */
  costCap?: { usd?: number; invalid?: string };
  /** Entries per resources/list page (IMAGEGEN_PAGE_SIZE). */
  resourcePageSize?: number;
  /** The transparency strategy when a call gives none (IMAGEGEN_TRANSPARENCY); undefined means route. */
  transparency?: TransparencyStrategy | undefined;
  /** IMAGEGEN_TRANSPARENT_MODELS: the transparent route's models, in order, instead of the registry's dated list. */
  transparentModels?: string[] | undefined;
  /** Problems with the environment, told on stderr at start-up (the server still starts). */
  configWarnings?: string[];
  /**
   * --structured-output / IMAGEGEN_STRUCTURED_OUTPUT: tools declare output schemas and results carry
   * structuredContent (with the readable text as `summary`). Off by default: Codex and Claude Code
   * show their model only the JSON of a result that has structuredContent.
   */
  structuredOutput?: boolean;
  /** Replaces the OpenAI edge (in-process tests). */
  imageApi?: ImageApi;
}

export const VERSION = '0.1.0';
export const DEFAULT_PAGE_SIZE = 50;

export const USAGE = `imagegen-mcp ${VERSION}: an MCP server (stdio) for image generation with OpenAI GPT Image models.

Usage: imagegen-mcp [--root <folder>] [--structured-output]

  --root <folder>        workspace root: images are written and read only inside it
                         (else IMAGEGEN_ROOT, else the client's roots, else the working directory)
  --structured-output    declare output schemas and send structuredContent (for scripts and
                         pipelines; also IMAGEGEN_STRUCTURED_OUTPUT=1)
  --help            this text
  --version         the version

Environment: OPENAI_API_KEY (needed for real calls, not for dry runs), OPENAI_BASE_URL,
OPENAI_ORG_ID, OPENAI_PROJECT_ID, IMAGEGEN_ROOT, IMAGEGEN_MAX_COST_USD (spending cap per call),
IMAGEGEN_TRANSPARENCY (route, chroma_key or native: how transparent backgrounds are made when a
call does not say), IMAGEGEN_TRANSPARENT_MODELS (comma-separated models a transparent request with
no model goes to, in order, before chroma_key on gpt-image-2), IMAGEGEN_STRUCTURED_OUTPUT,
IMAGEGEN_TIMEOUT_MS (longest wait for an answer, and for a pause inside one), HTTPS_PROXY /
HTTP_PROXY / NO_PROXY (either case).`;

export type ParsedArgs = { kind: 'run'; root?: string; structuredOutput?: boolean } | { kind: 'help' } | { kind: 'version' } | { kind: 'error'; message: string };

export function parseArgs(argv: readonly string[]): ParsedArgs {
  let root: string | undefined;
  let structuredOutput = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (arg === '--structured-output') {
      structuredOutput = true;
      continue;
    }
    if (arg === '--version' || arg === '-v') return { kind: 'version' };
    if (arg === '--root') {
      const value = argv[++i];
      if (!value) return { kind: 'error', message: '--root needs a folder, e.g. --root /path/to/project' };
      root = value;
    } else if (arg.startsWith('--root=')) {
      root = arg.slice('--root='.length);
      if (!root) return { kind: 'error', message: '--root needs a folder, e.g. --root=/path/to/project' };
    } else {
      return { kind: 'error', message: `unknown argument "${arg}" (see --help)` };
    }
  }
  return { kind: 'run', ...(root !== undefined ? { root } : {}), ...(structuredOutput ? { structuredOutput } : {}) };
}

/** IMAGEGEN_STRUCTURED_OUTPUT: 1, true, yes or on turn structured output on. */
export function structuredOutputFrom(env: NodeJS.ProcessEnv, flag = false): boolean {
  return flag || /^(1|true|yes|on)$/i.test(env.IMAGEGEN_STRUCTURED_OUTPUT?.trim() ?? '');
}

function positiveNumber(value: string | undefined, fallback: number): number {
  const n = value === undefined || value === '' ? NaN : Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** IMAGEGEN_TODAY (YYYY-MM-DD) pins the date the model lifecycle is judged on. */
function clockFrom(env: NodeJS.ProcessEnv): () => Date {
  const today = env.IMAGEGEN_TODAY;
  if (today && /^\d{4}-\d{2}-\d{2}$/.test(today)) {
    const fixed = new Date(`${today}T12:00:00Z`);
    if (!Number.isNaN(fixed.getTime())) return () => fixed;
  }
  return () => new Date();
}

export function configFromEnvironment(env: NodeJS.ProcessEnv, cwd: string, rootFlag?: string, structuredOutputFlag = false): ServerConfig {
  const configWarnings: string[] = [];
  const transparency = env.IMAGEGEN_TRANSPARENCY ? parseTransparency(env.IMAGEGEN_TRANSPARENCY) : undefined;
  if (env.IMAGEGEN_TRANSPARENCY && !transparency) {
    configWarnings.push(
      `IMAGEGEN_TRANSPARENCY="${env.IMAGEGEN_TRANSPARENCY}" is not one of ${TRANSPARENCY_STRATEGIES.join(', ')}; using route.`,
    );
  }
  const transparentModels = transparentModelsFrom(env.IMAGEGEN_TRANSPARENT_MODELS, configWarnings);
  if (env.IMAGEGEN_TIMEOUT_MS && parseTimeoutMs(env.IMAGEGEN_TIMEOUT_MS) === undefined) {
    configWarnings.push(`IMAGEGEN_TIMEOUT_MS="${env.IMAGEGEN_TIMEOUT_MS}" is not a number of milliseconds (1 or more); using the defaults.`);
  }
  return {
    transparency,
    transparentModels,
    configWarnings,
    structuredOutput: structuredOutputFrom(env, structuredOutputFlag),
    rootFlag,
    rootEnv: env.IMAGEGEN_ROOT || undefined,
    cwd,
    api: apiEnvironment(env),
    now: clockFrom(env),
    retryBaseDelayMs: positiveNumber(env.IMAGEGEN_RETRY_BASE_MS, DEFAULT_BASE_DELAY_MS),
    heartbeatMs: Math.max(10, positiveNumber(env.IMAGEGEN_HEARTBEAT_MS, 5_000)),
    costCap: parseCostCap(env.IMAGEGEN_MAX_COST_USD),
    resourcePageSize: Math.max(1, Math.floor(positiveNumber(env.IMAGEGEN_PAGE_SIZE, DEFAULT_PAGE_SIZE))),
  };
}

/** IMAGEGEN_TRANSPARENT_MODELS: GPT Image model ids, comma-separated; anything else is left out, with a warning. */
function transparentModelsFrom(value: string | undefined, warnings: string[]): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const models: string[] = [];
  for (const id of value.split(',').map((v) => v.trim()).filter(Boolean)) {
    const found = lookupModel(id, new Date(0)); // the lifecycle is judged per call, on its day
    if (found.kind === 'invalid') warnings.push(`IMAGEGEN_TRANSPARENT_MODELS: "${id}" is not a GPT Image model; it was left out.`);
    else if (found.kind !== 'unknown' && found.info.transparency === 'none') warnings.push(`IMAGEGEN_TRANSPARENT_MODELS: ${id} does not make transparent backgrounds; it was left out.`);
    else if (!models.includes(id)) models.push(id);
  }
  if (models.length === 0) warnings.push('IMAGEGEN_TRANSPARENT_MODELS names no usable model; using the built-in transparent route.');
  return models.length > 0 ? models : undefined;
}
