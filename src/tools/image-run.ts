/**
 * The path every single-request tool takes once its request is resolved and its files planned:
 * dry run or API call, atomic saves, header checks, downscaled copies, and the result.
 */
import { promises as fs } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { headerMismatch, maxImageBytes } from '../core/answer-limits.js';
import { checkSpendingCap, costFromUsage, estimateCost, formatUsd, projectSpend, roundUsd, spendingCap, type Estimate } from '../core/cost.js';
import { mimeTypeOf } from '../core/formats.js';
import { downscaledPath } from '../core/paths.js';
import { apiParameters, type ResolvedRequest } from '../core/request.js';
import { DEFAULT_MAX_ATTEMPTS } from '../core/retry.js';
import { appendHistory, type HistoryEntry } from '../io/history.js';
import { inspectImage } from '../io/images.js';
import { ImageApiError, type Endpoint, type ImageApi, type SvgUsage, type UploadFile, type Usage } from '../io/openai.js';
import { lifecycleOf } from '../io/lifecycle.js';
import { LocalWriteError } from '../io/receive.js';
import { describePreview, previewBlock, previewFiles } from '../io/preview.js';
import type { Workspace } from '../io/workspace.js';
import { cleanUsage, failed, refused, type DryRunPayload, ResultBuilder, type ImageFactsOut, type ImageResult } from '../results.js';
import type { ToolContext } from './context.js';
import { fileLine, PROMPT_KEPT_IN_HISTORY, reportText } from './report.js';
import { saveImage } from './save-image.js';
import { inspectSvgAnswer, reportGif, reportSvg, svgUsageLine } from './vector-motion.js';
import {
  describeAlpha,
  nativeRefusalHint,
  RouteRefusal,
  runThroughRoute,
  strategyLine,
  transparencyFacts,
} from './transparency.js';

export interface InputImage extends UploadFile {
  /** Workspace-relative path (or a label for data: URLs), for dry runs and results. */
  label: string;
  width: number;
  height: number;
  /** The input's own format, when it was converted to png for upload. */
  convertedFrom?: string;
  /** The mask check's verdict, shown in dry runs. */
  check?: string;
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
  /** The `preview` argument: false leaves the picture out (default true). */
  preview?: boolean | undefined;
  /** The `sanitize` argument: an SVG with active or external content gets a `-clean.svg` copy without it. */
  sanitize?: boolean | undefined;
  /** The `max_cost_usd` argument: the spending cap for this call, instead of IMAGEGEN_MAX_COST_USD. */
  maxCostUsd?: number | undefined;
}

export const ENDPOINT_PATHS: Record<Endpoint, string> = {
  generations: '/v1/images/generations',
  edits: '/v1/images/edits',
};

const TOOL_OF: Record<Endpoint, string> = { generations: 'generate', edits: 'edit' };

/** The cost of the run before it is sent, where a published figure exists. */
export function estimateRun(run: ImageRun): Estimate {
  const { model, size, quality, n } = run.request.options;
  return estimateCost({ model, size, quality, n, prompt: run.request.prompt, inputImages: run.images?.length ?? 0 });
}

/** The spending guard for one run: the refusal text, or undefined when the call may go ahead. */
export function spendingRefusal(run: ImageRun, ctx: ToolContext, estimate: Estimate = estimateRun(run)): string | undefined {
  const projection = projectSpend([{ estimate, images: run.request.options.n }]);
  return checkSpendingCap(projection, spendingCap(ctx.config.costCap ?? {}, run.maxCostUsd));
}

function describeUpload(image: InputImage) {
  return {
    path: image.label,
    width: image.width,
    height: image.height,
    type: image.type,
    bytes: image.bytes.length,
    ...(image.convertedFrom ? { converted_from: image.convertedFrom } : {}),
    ...(image.check ? { check: image.check } : {}),
  };
}

export function dryRunPayload(run: ImageRun): DryRunPayload {
  const { svg, ...params } = apiParameters(run.request.options);
  const payload: DryRunPayload = { ...(params as Record<string, string | number>), prompt: run.request.prompt };
  // The svg object, as the JSON it is sent as (payload values are flat).
  if (svg !== undefined) payload.svg = JSON.stringify(svg);
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
  const transparency = transparencyFacts(run.request.options);
  if (transparency) result.transparency = transparency;
  return result;
}

function dryRunResult(run: ImageRun, workspace: Workspace, ctx: ToolContext): CallToolResult {
  const images = plannedFacts(run, workspace);
  const payload = dryRunPayload(run);
  const structured: ImageResult = {
    ...baseResult(run, true),
    images,
    request: { endpoint: ENDPOINT_PATHS[run.endpoint], payload },
  };
  const estimate = estimateRun(run);
  if (estimate.usd !== undefined) {
    structured.estimated_cost_usd = estimate.usd;
    structured.cost_note = estimate.note ? `${estimate.basis}; ${estimate.note}` : estimate.basis;
  } else {
    structured.cost_note = `No estimate: ${estimate.reason}. The real cost is reported from the API's usage after the call.`;
  }
  const refusal = spendingRefusal(run, ctx, estimate);
  const head = [
    `Dry run: nothing was sent or saved. It would POST ${ENDPOINT_PATHS[run.endpoint]} to ${run.request.options.model} and save ${images
      .map((i) => i.path + (i.web_path ? ` (+ ${i.web_path})` : ''))
      .join(', ')}.`,
    ...whyLines(run.request.options),
    ...(run.notes ?? []),
    `Parameters: ${JSON.stringify(apiParameters(run.request.options))}`,
  ];
  const tail = [
    estimate.usd !== undefined
      ? `Estimated cost: ${formatUsd(estimate.usd)} (${structured.cost_note}).`
      : `Estimated cost: none (${estimate.reason}); the real cost is reported from the API's usage after the call.`,
  ];
  const text = reportText({
    head,
    prompt: run.request.prompt,
    promptKeptIn: 'the prompt and fields you gave',
    tail,
    warnings: run.warnings,
    next: refusal ? `without dry_run this call would be refused: ${refusal}` : 'call again without dry_run to make it.',
  });
  return new ResultBuilder().line(text).build(structured);
}

/** The sentences saying why this model (or this way of making alpha) was used, when it differs from what was asked. */
function whyLines(options: ResolvedRequest['options']): string[] {
  const lines: string[] = [];
  if (options.routingNote) lines.push(options.routingNote);
  const strategy = strategyLine(options);
  if (strategy) lines.push(strategy);
  return lines;
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
  svgUsage?: SvgUsage;
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
 * into a temp file beside its target (refused past what the requested size can weigh), every one
 * is checked from its header (format and dimensions against the request, before any pixel is
 * decoded) before any is placed, then each is linked into place (no overwrite without force) and
 * its derived files made. Failures before an image is saved throw (ImageApiError for the API's,
 * LocalWriteError for the disk's) and leave no temp file and no partial file behind; once an image
 * is saved, later problems (keying, the downscaled copy, the alpha check) are warnings.
 */
export async function performImageRun(run: ImageRun, api: ImageApi, workspace: Workspace, options: PerformOptions): Promise<ImageRunOutcome> {
  const resolved = run.request.options;
  const answer = await api.call(
    {
      endpoint: run.endpoint,
      prompt: run.request.prompt,
      params: apiParameters(resolved),
      ...(run.images ? { images: run.images } : {}),
      ...(run.mask ? { mask: run.mask } : {}),
    },
    {
      signal: options.signal,
      maxAttempts: run.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      maxImageBytes: maxImageBytes(resolved.size, resolved.outputFormat),
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
    run.warnings.push(...(answer.warnings ?? []));
    if (answer.count !== run.targets.length) {
      run.warnings.push(`The API returned ${answer.count} image(s) for ${run.targets.length} requested.`);
    }
    // Checked before placing, from the header only: a body that is not the image asked for (not an
    // image, another format, a 16000x16000 "pixel bomb") must not land on disk or be decoded.
    const facts = [];
    for (const image of answer.images) {
      const refuse = (why: string) =>
        new ImageApiError(
          `The Images API returned an image that does not match the request: image ${image.index + 1} ${why}. Nothing was saved (the image was not decoded); try again.`,
          { kind: 'malformed', message: `image ${image.index + 1} ${why}` },
          answer.attempts,
        );
      // An SVG is parsed by the check, never handed to librsvg by path.
      const header = await (resolved.outputFormat === 'svg' ? inspectSvgAnswer(image.file) : inspectImage(image.file)).catch(() => {
        throw new ImageApiError(NOT_AN_IMAGE, { kind: 'malformed' }, answer.attempts);
      });
      const mismatch = headerMismatch(header, { size: resolved.size, outputFormat: resolved.outputFormat });
      if (mismatch) throw refuse(mismatch);
      facts.push(header);
    }
    const saved: SavedImage[] = [];
    const unsaved: unknown[] = [];
    for (const [i, image] of answer.images.entries()) {
      try {
        saved.push(await saveImage(run, workspace, image, facts[i]!, placed));
      } catch (error) {
        unsaved.push(error);
      }
    }
    // Nothing saved: the call failed. Something saved: the rest is said, and the call succeeds.
    if (saved.length === 0 && unsaved.length > 0) throw unsaved[0];
    for (const error of unsaved) run.warnings.push(`One image of the answer could not be saved: ${messageOf(error)}`);
    const outcome: ImageRunOutcome = { saved, attempts: answer.attempts, durationMs: answer.durationMs };
    if (answer.usage) outcome.usage = answer.usage;
    if (answer.svgUsage) outcome.svgUsage = answer.svgUsage;
    return outcome;
  } finally {
    // After a failure: the temp files not yet placed.
    await Promise.all(answer.images.filter((image) => !placed.has(image.file)).map((image) => fs.rm(image.file, { force: true })));
  }
}

export async function executeImageRun(run: ImageRun, ctx: ToolContext): Promise<CallToolResult> {
  const workspace = await ctx.workspace();
  if (run.dryRun) return dryRunResult(run, workspace, ctx);
  if (!ctx.config.api.apiKey) {
    return refused(
      'OPENAI_API_KEY is not set, so no image can be made. Add it to the env of this server in your MCP client config (Codex also needs env_vars = ["OPENAI_API_KEY"]), or use dry_run to check the request without a key.',
    );
  }
  const refusal = spendingRefusal(run, ctx);
  if (refusal) return refused(refusal);
  let options = run.request.options;
  const stopHeartbeat = startHeartbeat(ctx, options.model);
  const perform = (current: ImageRun) =>
    performImageRun(current, ctx.api, workspace, {
      signal: ctx.signal,
      onRetry: ({ attempt, delayMs, reason }) =>
        ctx.log('warning', `${current.endpoint} attempt ${attempt} failed; retrying in ${delayMs} ms: ${reason}`),
    });
  let answer: ImageRunOutcome;
  try {
    // The transparent route (when the request is routed) and the lifecycle lookup, as a batch job takes them.
    const routed = await runThroughRoute(run, perform, {
      spendingRefusal: (next) => spendingRefusal(next, ctx),
      log: ctx.log,
      lifecycle: lifecycleOf(ctx.api),
      now: ctx.config.now(),
    });
    run = routed.run;
    answer = routed.outcome;
    options = run.request.options;
  } catch (error) {
    if (error instanceof RouteRefusal) return refused(error.message);
    if (error instanceof ImageApiError) {
      ctx.log('error', `${run.endpoint} ${options.model} failed after ${error.attempts} attempt(s): ${error.failure.kind} ${error.failure.status ?? ''}`);
      return failed(error.message + nativeRefusalHint(options, error.failure));
    }
    if (error instanceof LocalWriteError) return failed(`${error.message}. Check the disk and the output folder's permissions, then try again.`);
    throw error;
  } finally {
    stopHeartbeat();
  }
  const cost = costFromUsage(options.model, answer.usage);
  ctx.log(
    'info',
    `${run.endpoint} model=${options.model} size=${options.size} quality=${options.quality} n=${options.n} duration_ms=${answer.durationMs} attempts=${answer.attempts}` +
      (cost.usd !== undefined ? ` cost_usd=${cost.usd}` : ''),
  );

  const { saved } = answer;
  const formatLines = await vectorMotionLines(run, saved, workspace);

  const images = saved.map((s) => s.facts);
  const structured: ImageResult = { ...baseResult(run, false), images, attempts: answer.attempts };
  const usage = cleanUsage(answer.usage);
  if (usage) structured.usage = usage;
  if (cost.usd !== undefined) {
    structured.cost_usd = cost.usd;
    structured.cost_note = cost.basis;
  } else {
    structured.cost_note = `No cost: ${cost.reason}.`;
  }

  const [, preview] = await Promise.all([
    recordHistory(run, answer, saved, cost.usd, workspace).catch((error: unknown) => {
      run.warnings.push(`The image was saved, but its line in the history could not be written: ${messageOf(error)}`);
    }),
    run.preview === false
      ? undefined
      : previewFiles(saved.map((s) => s.files[0]!)).catch((error: unknown) => {
          run.warnings.push(`No preview could be made (the saved files are fine): ${messageOf(error)}`);
          return undefined;
        }),
  ]);

  const saidPaths = images.map((image) => image.path);
  const head =
    images.length === 1
      ? [`Saved ${fileLine(images[0]!, images[0]!.alpha ? describeAlpha(images[0]!.alpha) : undefined)} with ${options.model}.`]
      : [
          `Saved ${images.length} images with ${options.model}:`,
          ...images.map((image, i) => `${i + 1}. ${fileLine(image, image.alpha ? describeAlpha(image.alpha) : undefined)}`),
        ];
  head.push(...formatLines, ...whyLines(options), ...(run.notes ?? []));
  const tail = [cost.usd !== undefined ? `Cost: ${formatUsd(cost.usd)} (${cost.basis}).` : `Cost: unknown (${cost.reason}).`];
  if (answer.svgUsage) {
    const authoring = svgUsageLine(answer.svgUsage);
    tail.push(authoring);
    structured.cost_note = `${structured.cost_note ?? ''} ${authoring}`.trim();
  }
  if (preview) tail.push(describePreview(preview));
  const text = reportText({ head, prompt: run.request.prompt, promptKeptIn: PROMPT_KEPT_IN_HISTORY, tail, warnings: run.warnings, next: nextStep(saidPaths, preview !== undefined) });
  const out = new ResultBuilder().line(text);
  if (preview) out.block(previewBlock(preview));
  for (const { facts, files } of saved) {
    for (const file of files) {
      out.block({
        type: 'resource_link',
        uri: pathToFileURL(file).href,
        name: workspace.relative(file),
        mimeType: mimeTypeOf(facts.format),
      });
    }
  }
  return out.build(structured);
}

/** An SVG's check (and clean copy) or a GIF's frames, per saved file; a clean copy joins its file's links. */
async function vectorMotionLines(run: ImageRun, saved: SavedImage[], workspace: Workspace): Promise<string[]> {
  const lines: string[] = [];
  if (run.sanitize && run.request.options.outputFormat !== 'svg') {
    run.warnings.push('sanitize cleans SVG output only (set output_format to svg); nothing was cleaned.');
  }
  for (const [i, image] of saved.entries()) {
    const label = saved.length > 1 ? `${i + 1}. ` : '';
    const file = image.files[0]!;
    try {
      if (image.facts.format === 'svg') {
        const report = await reportSvg(file, workspace, { sanitize: run.sanitize ?? false, force: run.force });
        lines.push(...report.lines.map((line, k) => (k === 0 ? label + line : line)));
        image.files.push(...report.files);
      } else if (image.facts.format === 'gif') {
        lines.push(label + (await reportGif(file)));
      }
    } catch (error) {
      run.warnings.push(`${image.facts.path} was saved, but it could not be checked: ${messageOf(error)}`);
    }
  }
  return lines;
}

/** What an agent does after an image is made: look at it, then change it or keep it. */
function nextStep(paths: readonly string[], previewShown: boolean): string {
  const look = previewShown ? (paths.length === 1 ? 'check the preview' : 'compare the numbered previews') : `open ${paths.length === 1 ? 'the file' : 'the files'} to check ${paths.length === 1 ? 'it' : 'them'}`;
  // The edit tool takes raster inputs only.
  if (paths[0]?.toLowerCase().endsWith('.svg')) return `${look}; to change it, call generate (or edit the raster source) again with output_format svg and a changed prompt: an SVG is not an edit input.`;
  return `${look}; to change one, call edit with images ["${paths[0]}"] and say what to change (files are never overwritten).`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One history line per saved image; each line carries its share of the call's cost. */
export async function recordHistory(
  run: ImageRun,
  answer: ImageRunOutcome,
  saved: readonly SavedImage[],
  costUsd: number | undefined,
  workspace: Workspace,
): Promise<void> {
  const time = new Date().toISOString();
  const { request } = run;
  const entries = saved.map(({ facts }): HistoryEntry => {
    const entry: HistoryEntry = {
      time,
      tool: TOOL_OF[run.endpoint],
      path: facts.path,
      model: request.options.model,
      prompt: request.prompt,
      params: apiParameters(request.options),
      width: facts.width,
      height: facts.height,
      format: facts.format,
      bytes: facts.bytes,
    };
    if (facts.web_path) entry.web_path = facts.web_path;
    if (request.userPrompt !== request.prompt) entry.user_prompt = request.userPrompt;
    if (run.images) entry.inputs = run.images.map((i) => i.label);
    if (answer.usage) entry.call_usage = answer.usage as Record<string, unknown>;
    if (costUsd !== undefined) entry.cost_usd = roundUsd(costUsd / saved.length);
    if (request.options.routingNote) entry.routing_note = request.options.routingNote;
    return entry;
  });
  await appendHistory(workspace, entries);
}
