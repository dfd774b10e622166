/**
 * The path every single-request tool takes once its request is resolved and its files planned:
 * dry run or API call, atomic saves, header checks, downscaled copies, and the result.
 */
import { promises as fs } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { downscaledPath, DEFAULT_DOWNSCALE_SUFFIX } from '../core/paths.js';
import { apiParameters, type ResolvedRequest } from '../core/request.js';
import { DEFAULT_MAX_ATTEMPTS } from '../core/retry.js';
import { downscale, inspectImage } from '../io/images.js';
import { ImageApiError, type Endpoint, type ImageApi, type UploadFile, type Usage } from '../io/openai.js';
import { LocalWriteError } from '../io/receive.js';
import type { Workspace } from '../io/workspace.js';
import { errorResult, formatBytes, ResultBuilder, type ImageFactsOut, type ImageResult } from '../results.js';
import type { ToolContext } from './context.js';

export const MIME_TYPES: Record<string, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
};

export interface InputImage extends UploadFile {
  /** Workspace-relative path (or a label for data: URLs), for dry runs and results. */
  label: string;
  width: number;
  height: number;
}

export interface ImageRun {
  endpoint: Endpoint;
  request: ResolvedRequest;
  warnings: string[];
  /** Absolute, confined paths, one per image to save. */
  targets: string[];
  force: boolean;
  downscaleMaxDim?: number | undefined;
  downscaleSuffix?: string | undefined;
  maxAttempts?: number | undefined;
  dryRun: boolean;
  images?: InputImage[];
  mask?: InputImage;
  /** Extra lines for the text result (e.g. input roles). */
  notes?: string[];
}

export const ENDPOINT_PATHS: Record<Endpoint, string> = {
  generations: '/v1/images/generations',
  edits: '/v1/images/edits',
};

function describeUpload(image: InputImage) {
  return { path: image.label, width: image.width, height: image.height, type: image.type, bytes: image.bytes.length };
}

export function dryRunPayload(run: ImageRun): Record<string, unknown> {
  const payload: Record<string, unknown> = { ...apiParameters(run.request.options), prompt: run.request.prompt };
  if (run.images) payload.image = run.images.map(describeUpload);
  if (run.mask) payload.mask = describeUpload(run.mask);
  return payload;
}

/** Sends a heartbeat while waiting, so clients that reset their timeout on progress keep the call alive. */
export function startHeartbeat(ctx: ToolContext, what: string): () => void {
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

/** The files a run would write, for dry runs (sizes known only when not auto). */
export function plannedFacts(run: ImageRun, workspace: Workspace): ImageFactsOut[] {
  const size = run.request.options.size;
  const [w, h] = size === 'auto' ? [] : size.split('x').map(Number);
  return run.targets.map((target) => {
    const facts: ImageFactsOut = { path: workspace.relative(target), format: run.request.options.outputFormat };
    if (w && h) Object.assign(facts, { width: w, height: h });
    if (run.downscaleMaxDim) facts.web_path = workspace.relative(downscaledPath(target, run.downscaleSuffix));
    return facts;
  });
}

function baseResult(run: ImageRun, dryRun: boolean): Omit<ImageResult, 'images'> {
  const result: Omit<ImageResult, 'images'> = {
    dry_run: dryRun,
    model: run.request.options.model,
    prompt: run.request.prompt,
    warnings: run.warnings,
  };
  if (run.request.options.routingNote) result.routing_note = run.request.options.routingNote;
  return result;
}

function dryRunResult(run: ImageRun, workspace: Workspace): CallToolResult {
  const images = plannedFacts(run, workspace);
  const payload = dryRunPayload(run);
  const structured: ImageResult = {
    ...baseResult(run, true),
    images,
    request: { endpoint: ENDPOINT_PATHS[run.endpoint], payload },
  };
  const out = new ResultBuilder();
  if (run.request.options.routingNote) out.line(run.request.options.routingNote);
  out.line(`Dry run: nothing was sent. POST ${ENDPOINT_PATHS[run.endpoint]} with model ${run.request.options.model}.`);
  out.line(`Would save: ${images.map((i) => i.path + (i.web_path ? ` (+ ${i.web_path})` : '')).join(', ')}`);
  for (const note of run.notes ?? []) out.line(note);
  out.line(`Payload: ${JSON.stringify(payload)}`);
  for (const w of run.warnings) out.line(`Warning: ${w}`);
  return out.build(structured);
}

export interface SavedImage {
  facts: ImageFactsOut;
  /** Absolute paths of the image and its downscaled copy, for resource links. */
  files: string[];
}

export interface ImageRunOutcome {
  saved: SavedImage[];
  attempts: number;
  durationMs: number;
  usage?: Usage;
}

export interface PerformOptions {
  signal: AbortSignal;
  /** Told once the answer's body is in (before its images are checked and placed): the request is over. */
  onAnswered?: () => void;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

const NOT_AN_IMAGE = 'The Images API returned data that is not an image; nothing was saved. Try again.';

/**
 * One API call and its saved images, for every tool and every batch job: each image is streamed
 * into a temp file beside its target, every one is checked from its header before any is placed,
 * then each is linked into place (no overwrite without force) and its downscaled copy made.
 * Failures throw (ImageApiError for the API's, LocalWriteError for the disk's) and leave no temp
 * file and no partial file behind.
 */
export async function performImageRun(run: ImageRun, api: ImageApi, workspace: Workspace, options: PerformOptions): Promise<ImageRunOutcome> {
  const answer = await api.call(
    {
      endpoint: run.endpoint,
      prompt: run.request.prompt,
      params: apiParameters(run.request.options),
      ...(run.images ? { images: run.images } : {}),
      ...(run.mask ? { mask: run.mask } : {}),
    },
    {
      signal: options.signal,
      maxAttempts: run.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      destination: async (index) => {
        const target = run.targets[index];
        return target === undefined ? undefined : workspace.tempFileFor(target);
      },
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      ...(options.onAnswered ? { onReceived: options.onAnswered } : {}),
    },
  );
  const placed = new Set<string>();
  try {
    if (answer.count !== run.targets.length) {
      run.warnings.push(`The API returned ${answer.count} image(s) for ${run.targets.length} requested.`);
    }
    // Checked before placing: a body that is not an image must not land on disk.
    const facts = [];
    for (const image of answer.images) {
      facts.push(
        await inspectImage(image.file).catch(() => {
          throw new ImageApiError(NOT_AN_IMAGE, { kind: 'malformed' }, answer.attempts);
        }),
      );
    }
    const saved: SavedImage[] = [];
    for (const [i, image] of answer.images.entries()) {
      placed.add(image.file); // placeFile consumes the temp file, whatever happens
      const file = await workspace.placeFile(image.file, run.targets[image.index]!, { force: run.force });
      const entry: ImageFactsOut = {
        path: workspace.relative(file.path),
        width: facts[i]!.width,
        height: facts[i]!.height,
        format: facts[i]!.format,
        bytes: image.bytes,
      };
      if (file.versionedFrom) {
        entry.versioned_from = workspace.relative(file.versionedFrom);
        run.warnings.push(`${entry.versioned_from} already existed, so ${entry.path} was written instead (set force to overwrite).`);
      }
      const files = [file.path];
      if (run.downscaleMaxDim) {
        const small = await downscale(file.path, run.downscaleMaxDim, run.request.options.outputFormat);
        const web = await workspace.saveFile(downscaledPath(file.path, run.downscaleSuffix ?? DEFAULT_DOWNSCALE_SUFFIX), small, {
          force: run.force,
        });
        entry.web_path = workspace.relative(web.path);
        files.push(web.path);
      }
      saved.push({ facts: entry, files });
    }
    const outcome: ImageRunOutcome = { saved, attempts: answer.attempts, durationMs: answer.durationMs };
    if (answer.usage) outcome.usage = answer.usage;
    return outcome;
  } finally {
    // After a failure: the temp files not yet placed.
    await Promise.all(answer.images.filter((image) => !placed.has(image.file)).map((image) => fs.rm(image.file, { force: true })));
  }
}

export async function executeImageRun(run: ImageRun, ctx: ToolContext): Promise<CallToolResult> {
  const workspace = await ctx.workspace();
  if (run.dryRun) return dryRunResult(run, workspace);
  if (!ctx.config.api.apiKey) {
    return errorResult(
      'OPENAI_API_KEY is not set, so no image can be made. Add it to the env of this server in your MCP client config (Codex also needs env_vars = ["OPENAI_API_KEY"]), or use dry_run to check the request without a key.',
    );
  }
  const options = run.request.options;
  const stopHeartbeat = startHeartbeat(ctx, options.model);
  let outcome: ImageRunOutcome;
  try {
    outcome = await performImageRun(run, ctx.api, workspace, {
      signal: ctx.signal,
      onRetry: ({ attempt, delayMs, reason }) =>
        ctx.log('warning', `${run.endpoint} attempt ${attempt} failed; retrying in ${delayMs} ms: ${reason}`),
    });
  } catch (error) {
    if (error instanceof ImageApiError) {
      ctx.log('error', `${run.endpoint} ${options.model} failed after ${error.attempts} attempt(s): ${error.failure.kind} ${error.failure.status ?? ''}`);
      return errorResult(error.message);
    }
    if (error instanceof LocalWriteError) return errorResult(`${error.message}. Check the disk and the output folder's permissions, then try again.`);
    throw error;
  } finally {
    stopHeartbeat();
  }
  ctx.log(
    'info',
    `${run.endpoint} model=${options.model} size=${options.size} quality=${options.quality} n=${options.n} duration_ms=${outcome.durationMs} attempts=${outcome.attempts}`,
  );
  const { saved } = outcome;

  const images = saved.map((s) => s.facts);
  const structured: ImageResult = { ...baseResult(run, false), images, attempts: outcome.attempts };
  if (outcome.usage) structured.usage = outcome.usage as Record<string, unknown>;

  const out = new ResultBuilder();
  if (options.routingNote) out.line(options.routingNote);
  out.line(`Saved ${images.length} image${images.length === 1 ? '' : 's'} with ${options.model}:`);
  for (const image of images) {
    out.line(
      `- ${image.path} (${image.width}x${image.height} ${image.format}, ${formatBytes(image.bytes ?? 0)})${image.web_path ? `, web copy ${image.web_path}` : ''}`,
    );
  }
  for (const note of run.notes ?? []) out.line(note);
  out.line(`Prompt: ${run.request.prompt}`);
  for (const w of run.warnings) out.line(`Warning: ${w}`);
  for (const { facts, files } of saved) {
    for (const file of files) {
      out.block({
        type: 'resource_link',
        uri: pathToFileURL(file).href,
        name: workspace.relative(file),
        mimeType: MIME_TYPES[facts.format] ?? 'application/octet-stream',
      });
    }
  }
  return out.build(structured);
}
