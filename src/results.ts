/**
 * One builder for what a tool call returns: a short text a person can read, resource links to the
 * saved files, and the same facts as structuredContent. Failures are results too (isError), never
 * thrown at the client.
 */
import type { CallToolResult, ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { formatProblems, type Problem } from './core/problems.js';
import { TRANSPARENCY_STRATEGIES } from './core/transparency.js';

export const imageFactsSchema = z.object({
  path: z.string().describe('Relative to the workspace root'),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  format: z.string(),
  bytes: z.number().int().optional(),
  web_path: z.string().optional().describe('The downscaled copy, when downscale_max_dim was given'),
  versioned_from: z.string().optional().describe('The planned path, when it existed and a versioned sibling was written'),
  alpha: z
    .object({
      has_alpha: z.boolean(),
      transparent_share: z.number().describe('Share of fully transparent pixels, read back from the saved file'),
      key_color: z.string().optional().describe('chroma_key: the colour turned into alpha'),
      keyed: z.boolean().optional().describe('chroma_key: false when almost nothing matched the key, so the opaque original was kept'),
      partial_share: z.number().optional().describe('chroma_key: share of partly transparent (edge) pixels'),
      source_path: z.string().optional().describe("chroma_key: the API's opaque original, kept beside the keyed image"),
    })
    .optional()
    .describe('Transparent requests: what the saved file holds'),
});
export type ImageFactsOut = z.infer<typeof imageFactsSchema>;

const tokenDetails = z.object({
  text_tokens: z.number().optional(),
  image_tokens: z.number().optional(),
});

/** Token counts as the API reports them; only these keys are passed on. */
export const usageSchema = z.object({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  total_tokens: z.number().optional(),
  input_tokens_details: tokenDetails.optional(),
  output_tokens_details: tokenDetails.optional(),
});
export type UsageOut = z.infer<typeof usageSchema>;

/** An input image as a dry run shows it: where it comes from, not its bytes. */
export const uploadFactsSchema = z.object({
  path: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  type: z.string(),
  bytes: z.number().int(),
});

const payloadValue = z.union([z.string(), z.number(), z.boolean(), uploadFactsSchema, z.array(uploadFactsSchema)]);
export type DryRunPayload = Record<string, z.infer<typeof payloadValue>>;

const count = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

function details(value: unknown): z.infer<typeof tokenDetails> | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const out: z.infer<typeof tokenDetails> = {};
  if (count(v.text_tokens) !== undefined) out.text_tokens = count(v.text_tokens)!;
  if (count(v.image_tokens) !== undefined) out.image_tokens = count(v.image_tokens)!;
  return out;
}

/** Keeps the usage keys the output schema declares, so structuredContent always validates. */
export function cleanUsage(usage: unknown): UsageOut | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const u = usage as Record<string, unknown>;
  const out: UsageOut = {};
  for (const key of ['input_tokens', 'output_tokens', 'total_tokens'] as const) {
    const value = count(u[key]);
    if (value !== undefined) out[key] = value;
  }
  const input = details(u.input_tokens_details);
  if (input) out.input_tokens_details = input;
  const output = details(u.output_tokens_details);
  if (output) out.output_tokens_details = output;
  return out;
}

export const imageResultShape = {
  dry_run: z.boolean(),
  model: z.string(),
  routing_note: z.string().optional(),
  transparency: z
    .object({ strategy: z.enum(TRANSPARENCY_STRATEGIES), key_color: z.string().optional() })
    .optional()
    .describe('Transparent requests: how the alpha was (or would be) made'),
  prompt: z.string().describe('The final prompt sent (or that would be sent) to the API'),
  images: z.array(imageFactsSchema),
  warnings: z.array(z.string()),
  attempts: z.number().int().optional(),
  usage: usageSchema.optional(),
  cost_usd: z.number().optional().describe('Real calls: the cost from the API usage, in USD'),
  estimated_cost_usd: z.number().optional().describe('Dry runs: the estimate, where a published figure exists'),
  cost_note: z.string().optional().describe('How the cost or estimate was made, or why there is none'),
  request: z
    .object({
      endpoint: z.string(),
      payload: z.record(z.string(), payloadValue),
    })
    .optional()
    .describe('Dry runs: the exact request that would be sent'),
};
export const imageResultSchema = z.object(imageResultShape);
export type ImageResult = z.infer<typeof imageResultSchema>;

/**
 * Failures start with a word no model can misread, since some hosts hand their model no error
 * flag: `Refused:` when the server refused before anything was spent (arguments, workspace, the
 * spending cap, a missing key), `Failed:` when the API, the network or the disk did.
 */
export function refused(message: string): CallToolResult {
  return { content: [{ type: 'text', text: `Refused: ${message}` }], isError: true };
}

export function failed(message: string): CallToolResult {
  return { content: [{ type: 'text', text: `Failed: ${message}` }], isError: true };
}

export function problemsResult(problems: readonly Problem[], intro?: string): CallToolResult {
  const body = formatProblems(problems);
  return refused(intro ? `${intro}\n${body}` : body);
}

/** The first `max` bytes' worth of a text (UTF-8), cut at a character, with "…" when cut. */
export function clipText(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text.slice(0, maxBytes);
  while (Buffer.byteLength(cut) > maxBytes - 3) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** No result is larger than this (JSON-RPC message bytes): clients cut or refuse larger ones. */
export const MAX_RESULT_BYTES = 1_000_000;

/**
 * A tool's result as the client gets it. Handlers always put their facts in structuredContent;
 * by default they are left out (hosts that see structuredContent show their model only its
 * JSON); with structured output they stay, with the readable text as `summary`.
 */
export function forClient(result: CallToolResult, structuredOutput: boolean): CallToolResult {
  const { structuredContent, ...rest } = result;
  const out: CallToolResult = rest;
  if (structuredOutput && structuredContent) {
    const first = result.content[0];
    out.structuredContent = { summary: first?.type === 'text' ? first.text : '', ...structuredContent };
  }
  return withinSizeCap(out);
}

const sizeOf = (result: CallToolResult) => Buffer.byteLength(JSON.stringify(result));

/** Drops what can be dropped (structured facts, then the picture, then links) until the result fits. */
function withinSizeCap(result: CallToolResult): CallToolResult {
  if (sizeOf(result) <= MAX_RESULT_BYTES) return result;
  let out: CallToolResult = { ...result };
  if (out.structuredContent) {
    const summary = out.structuredContent.summary;
    out.structuredContent = { ...out.structuredContent, summary, jobs: [], images: [], request: undefined };
    if (sizeOf(out) > MAX_RESULT_BYTES) delete out.structuredContent;
  }
  for (const kind of ['image', 'resource_link'] as const) {
    if (sizeOf(out) <= MAX_RESULT_BYTES) break;
    out = { ...out, content: out.content.filter((b) => b.type !== kind) };
  }
  const [first, ...others] = out.content;
  if (sizeOf(out) > MAX_RESULT_BYTES && first?.type === 'text') {
    out = { ...out, content: [{ type: 'text', text: clipText(first.text, MAX_RESULT_BYTES / 2) }, ...others] };
  }
  return out;
}

export class ResultBuilder {
  private readonly lines: string[] = [];
  private readonly blocks: ContentBlock[] = [];

  line(text: string): this {
    this.lines.push(text);
    return this;
  }

  block(block: ContentBlock): this {
    this.blocks.push(block);
    return this;
  }

  build(structured: Record<string, unknown>): CallToolResult {
    return {
      content: [{ type: 'text', text: this.lines.join('\n') }, ...this.blocks],
      structuredContent: structured,
    };
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
