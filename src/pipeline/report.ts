/**
 * The report step: what a call returns and leaves behind. A dry run says what would be sent and
 * saved; made images get their history lines, a preview and the text an agent reads first, with
 * links to every file. Problems here are warnings: the images are saved and paid for.
 */
import { pathToFileURL } from 'node:url';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { costFromUsage, formatUsd, roundUsd } from '../core/cost.js';
import { mimeTypeOf } from '../core/formats.js';
import { apiParameters, type ResolvedOptions } from '../core/request.js';
import { appendHistory, type HistoryEntry } from '../io/history.js';
import { describePreview, previewBlock, previewFiles } from '../io/preview.js';
import type { Workspace } from '../io/workspace.js';
import { cleanUsage, ResultBuilder, type ImageResult } from '../results.js';
import { describeAlpha, strategyLine, transparencyFacts } from './alpha.js';
import { messageOf, type RunContext } from './context.js';
import { dryRunPayload, ENDPOINT_PATHS, estimatePlan, plannedFacts, type ImagePlan } from './plan.js';
import type { Made } from './run.js';
import { spendingRefusal } from './spend.js';
import { fileLine, PROMPT_KEPT_IN_HISTORY, reportText } from './text.js';
import { svgUsageLine } from './vector-motion.js';

const TOOL_OF: Record<ImagePlan['endpoint'], string> = { generations: 'generate', edits: 'edit' };

function baseResult(plan: ImagePlan, dryRun: boolean, warnings: readonly string[]): Omit<ImageResult, 'images'> {
  const result: Omit<ImageResult, 'images'> = { dry_run: dryRun, model: plan.request.options.model, prompt: plan.request.prompt, warnings: [...warnings] };
  if (plan.request.options.routingNote) result.routing_note = plan.request.options.routingNote;
  const transparency = transparencyFacts(plan.request.options);
  if (transparency) result.transparency = transparency;
  return result;
}

/** The sentences saying why this model (or this way of making alpha) was used, when it differs from what was asked. */
function whyLines(options: ResolvedOptions): string[] {
  const lines: string[] = [];
  if (options.routingNote) lines.push(options.routingNote);
  const strategy = strategyLine(options);
  if (strategy) lines.push(strategy);
  return lines;
}

/** A dry run: the exact request, the files, the estimate, and whether the real call would be refused. */
export function dryRunResult(plan: ImagePlan, workspace: Workspace, ctx: RunContext): CallToolResult {
  const images = plannedFacts(plan, workspace);
  const structured: ImageResult = {
    ...baseResult(plan, true, plan.warnings),
    images,
    request: { endpoint: ENDPOINT_PATHS[plan.endpoint], payload: dryRunPayload(plan) },
  };
  const estimate = estimatePlan(plan);
  if (estimate.usd !== undefined) {
    structured.estimated_cost_usd = estimate.usd;
    structured.cost_note = estimate.note ? `${estimate.basis}; ${estimate.note}` : estimate.basis;
  } else {
    structured.cost_note = `No estimate: ${estimate.reason}. The real cost is reported from the API's usage after the call.`;
  }
  const refusal = spendingRefusal(plan, ctx, estimate);
  const head = [
    `Dry run: nothing was sent or saved. It would POST ${ENDPOINT_PATHS[plan.endpoint]} to ${plan.request.options.model} and save ${images
      .map((i) => i.path + (i.web_path ? ` (+ ${i.web_path})` : ''))
      .join(', ')}.`,
    ...whyLines(plan.request.options),
    ...(plan.notes ?? []),
    `Parameters: ${JSON.stringify(apiParameters(plan.request.options))}`,
  ];
  const tail = [
    estimate.usd !== undefined
      ? `Estimated cost: ${formatUsd(estimate.usd)} (${structured.cost_note}).`
      : `Estimated cost: none (${estimate.reason}); the real cost is reported from the API's usage after the call.`,
  ];
  const text = reportText({
    head,
    prompt: plan.request.prompt,
    promptKeptIn: 'the prompt and fields you gave',
    tail,
    warnings: plan.warnings,
    next: refusal ? `without dry_run this call would be refused: ${refusal}` : 'call again without dry_run to make it.',
  });
  return new ResultBuilder().line(text).build(structured);
}

/** The result of made images: history lines and a preview made here, then the text, the picture and the links. */
export async function madeResult(made: Made, ctx: RunContext, workspace: Workspace): Promise<CallToolResult> {
  const { plan } = made;
  const options = plan.request.options;
  const cost = costFromUsage(options.model, made.usage);
  ctx.log(
    'info',
    `${plan.endpoint} model=${options.model} size=${options.size} quality=${options.quality} n=${options.n} duration_ms=${made.durationMs} attempts=${made.attempts}` +
      (cost.usd !== undefined ? ` cost_usd=${cost.usd}` : ''),
  );
  const warnings = [...made.warnings];
  const [, preview] = await Promise.all([
    recordHistory(made, cost.usd, workspace).catch((error: unknown) => {
      warnings.push(`The image was saved, but its line in the history could not be written: ${messageOf(error)}`);
    }),
    plan.preview === false
      ? undefined
      : previewFiles(made.images.map((s) => s.files[0]!)).catch((error: unknown) => {
          warnings.push(`No preview could be made (the saved files are fine): ${messageOf(error)}`);
          return undefined;
        }),
  ]);

  const images = made.images.map((s) => s.facts);
  const structured: ImageResult = { ...baseResult(plan, false, warnings), images, attempts: made.attempts };
  const usage = cleanUsage(made.usage);
  if (usage) structured.usage = usage;
  structured.cost_note = cost.usd !== undefined ? cost.basis : `No cost: ${cost.reason}.`;
  if (cost.usd !== undefined) structured.cost_usd = cost.usd;

  const alphaOf = (image: (typeof images)[number]) => (image.alpha ? describeAlpha(image.alpha) : undefined);
  const head =
    images.length === 1
      ? [`Saved ${fileLine(images[0]!, alphaOf(images[0]!))} with ${options.model}.`]
      : [`Saved ${images.length} images with ${options.model}:`, ...images.map((image, i) => `${i + 1}. ${fileLine(image, alphaOf(image))}`)];
  head.push(...made.lines, ...whyLines(options), ...(plan.notes ?? []));
  const tail = [cost.usd !== undefined ? `Cost: ${formatUsd(cost.usd)} (${cost.basis}).` : `Cost: unknown (${cost.reason}).`];
  if (made.svgUsage) {
    const authoring = svgUsageLine(made.svgUsage);
    tail.push(authoring);
    structured.cost_note = `${structured.cost_note} ${authoring}`;
  }
  if (preview) tail.push(describePreview(preview));
  const next = nextStep(images.map((image) => image.path), preview !== undefined);
  const text = reportText({ head, prompt: plan.request.prompt, promptKeptIn: PROMPT_KEPT_IN_HISTORY, tail, warnings, next });
  const out = new ResultBuilder().line(text);
  if (preview) out.block(previewBlock(preview));
  for (const { facts, files } of made.images) {
    for (const file of files) {
      out.block({ type: 'resource_link', uri: pathToFileURL(file).href, name: workspace.relative(file), mimeType: mimeTypeOf(facts.format) });
    }
  }
  return out.build(structured);
}

/** What an agent does after an image is made: look at it, then change it or keep it. */
function nextStep(paths: readonly string[], previewShown: boolean): string {
  const one = paths.length === 1;
  const look = previewShown ? (one ? 'check the preview' : 'compare the numbered previews') : `open ${one ? 'the file' : 'the files'} to check ${one ? 'it' : 'them'}`;
  // The edit tool takes raster inputs only.
  if (paths[0]?.toLowerCase().endsWith('.svg')) return `${look}; to change it, call generate (or edit the raster source) again with output_format svg and a changed prompt: an SVG is not an edit input.`;
  return `${look}; to change one, call edit with images ["${paths[0]}"] and say what to change (files are never overwritten).`;
}

/** One history line per saved image; each line carries its share of the call's cost. */
export async function recordHistory(made: Made, costUsd: number | undefined, workspace: Workspace): Promise<void> {
  const time = new Date().toISOString();
  const { request } = made.plan;
  const entries = made.images.map(({ facts }): HistoryEntry => {
    const entry: HistoryEntry = {
      time,
      tool: TOOL_OF[made.plan.endpoint],
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
    if (made.plan.images) entry.inputs = made.plan.images.map((i) => i.label);
    if (made.usage) entry.call_usage = made.usage as Record<string, unknown>;
    if (costUsd !== undefined) entry.cost_usd = roundUsd(costUsd / made.images.length);
    if (request.options.routingNote) entry.routing_note = request.options.routingNote;
    return entry;
  });
  await appendHistory(workspace, entries);
}
