/**
 * The step where money is spent: the guard (a key, the spending cap), then one API call with the
 * server's retries, each image streamed into a temp file beside its target and checked from its
 * header against the request before any pixel is decoded. What it returns is paid for; on any
 * failure it throws and leaves no temp file behind.
 */
import { promises as fs } from 'node:fs';
import { headerMismatch, maxImageBytes, type ImageHeader } from '../core/answer-limits.js';
import { checkSpendingCap, projectSpend, spendingCap, type Estimate } from '../core/cost.js';
import { apiParameters } from '../core/request.js';
import { DEFAULT_MAX_ATTEMPTS } from '../core/retry.js';
import { headerOf, inspectImage } from '../io/images.js';
import { ImageApiError, type ImageApi, type SvgUsage, type Usage } from '../io/openai.js';
import type { ReceivedImage } from '../io/receive.js';
import type { Workspace } from '../io/workspace.js';
import type { RunContext } from './context.js';
import { estimatePlan, type ImagePlan } from './plan.js';
import { inspectSvgAnswer } from './vector-motion.js';

export const NO_API_KEY =
  'OPENAI_API_KEY is not set, so no image can be made. Add it to the env of this server in your MCP client config (Codex also needs env_vars = ["OPENAI_API_KEY"]), or use dry_run to check the request without a key.';

/** The spending guard for one plan: the refusal text, or undefined when the call may go ahead. */
export function spendingRefusal(plan: ImagePlan, ctx: RunContext, estimate: Estimate = estimatePlan(plan)): string | undefined {
  const projection = projectSpend([{ estimate, images: plan.request.options.n }]);
  return checkSpendingCap(projection, spendingCap(ctx.config.costCap ?? {}, plan.maxCostUsd));
}

/** Why the plan may not be spent (no key, over the cap), or undefined. */
export function guardRefusal(plan: ImagePlan, ctx: RunContext): string | undefined {
  if (!ctx.config.api.apiKey) return NO_API_KEY;
  return spendingRefusal(plan, ctx);
}

/** An image of the answer in its temp file, with the facts its header gave. */
export interface CheckedImage extends ReceivedImage {
  header: ImageHeader;
}

export interface Received {
  images: CheckedImage[];
  attempts: number;
  durationMs: number;
  usage?: Usage;
  svgUsage?: SvgUsage;
  /** What was odd about the answer without making it fail. */
  warnings: string[];
}

export interface SpendOptions {
  signal: AbortSignal;
  /** Told once the answer's body is in (before its images are checked and placed): the request is over. */
  onAnswered?: () => void;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

const rasterHeader = async (image: ReceivedImage): Promise<ImageHeader> => headerOf(image.head) ?? inspectImage(image.file);

const NOT_AN_IMAGE = 'The Images API returned data that is not an image; nothing was saved. Try again.';

/** Removes temp files not (or no longer) wanted. */
export async function discard(images: readonly ReceivedImage[]): Promise<void> {
  await Promise.all(images.map((image) => fs.rm(image.file, { force: true })));
}

/**
 * One API call for the plan: each image streamed into a temp file beside its target (refused past
 * what the requested size can weigh), then every one checked from its header (format and
 * dimensions against the request) before any is placed. Throws ImageApiError for the API's
 * failures (LocalWriteError for the disk's).
 */
export async function receive(plan: ImagePlan, api: ImageApi, workspace: Workspace, options: SpendOptions): Promise<Received> {
  const resolved = plan.request.options;
  const answer = await api.call(
    {
      endpoint: plan.endpoint,
      prompt: plan.request.prompt,
      params: apiParameters(resolved),
      ...(plan.images ? { images: [...plan.images] } : {}),
      ...(plan.mask ? { mask: plan.mask } : {}),
    },
    {
      signal: options.signal,
      maxAttempts: plan.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      maxImageBytes: maxImageBytes(resolved.size, resolved.outputFormat),
      destination: async (index) => {
        const target = plan.targets[index];
        return target === undefined ? undefined : workspace.tempFileFor(target);
      },
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      ...(options.onAnswered ? { onReceived: options.onAnswered } : {}),
    },
  );
  const warnings = [...(answer.warnings ?? [])];
  if (answer.count !== plan.targets.length) warnings.push(`The API returned ${answer.count} image(s) for ${plan.targets.length} requested.`);
  const images: CheckedImage[] = [];
  try {
    // From the header only: a body that is not the image asked for (not an image, another format,
    // a 16000x16000 "pixel bomb") must not land on disk or be decoded.
    for (const image of answer.images) {
      // An SVG is parsed by the check, never handed to librsvg by path; a raster's first bytes
      // usually tell its header, and sharp reads the file only when they do not.
      const header = await (resolved.outputFormat === 'svg' ? inspectSvgAnswer(image.file) : rasterHeader(image)).catch(() => {
        throw new ImageApiError(NOT_AN_IMAGE, { kind: 'malformed' }, answer.attempts);
      });
      const mismatch = headerMismatch(header, { size: resolved.size, outputFormat: resolved.outputFormat });
      if (mismatch) {
        const why = `image ${image.index + 1} ${mismatch}`;
        throw new ImageApiError(
          `The Images API returned an image that does not match the request: ${why}. Nothing was saved (the image was not decoded); try again.`,
          { kind: 'malformed', message: why },
          answer.attempts,
        );
      }
      images.push({ ...image, header });
    }
  } catch (error) {
    await discard(answer.images);
    throw error;
  }
  const received: Received = { images, attempts: answer.attempts, durationMs: answer.durationMs, warnings };
  if (answer.usage) received.usage = answer.usage;
  if (answer.svgUsage) received.svgUsage = answer.svgUsage;
  return received;
}
