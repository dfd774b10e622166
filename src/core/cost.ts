/**
 * What images cost: the published price table (data, with the date it was read), estimates before
 * a call where a published figure exists, the real cost from the API's `usage` after it, and the
 * spending guard. Pure: no I/O, no clock.
 */

/** When the figures below were read from OpenAI's published pricing. */
export const PRICES_CHECKED = '2026-12-02';

/** USD per 1M tokens. */
export interface ModelPrice {
  textInput: number;
  imageInput: number;
  imageOutput: number;
}

export const PRICES: Readonly<Record<string, ModelPrice>> = {
  'gpt-image-2': { textInput: 5, imageInput: 8, imageOutput: 30 },
  // 2.5 and 2.6 use gpt-image-2's rates.
  'gpt-image-2.5-sunburst': { textInput: 5, imageInput: 8, imageOutput: 30 },
  'gpt-image-2.5-flare': { textInput: 5, imageInput: 8, imageOutput: 30 },
  'gpt-image-2.6-sunburst': { textInput: 5, imageInput: 8, imageOutput: 30 },
  'gpt-image-2.6-flare': { textInput: 5, imageInput: 8, imageOutput: 30 },
  // Shut down, kept so the history of earlier calls still adds up.
  'gpt-image-1.5': { textInput: 5, imageInput: 8, imageOutput: 32 },
  'gpt-image-1': { textInput: 5, imageInput: 10, imageOutput: 40 },
  'gpt-image-1-mini': { textInput: 2, imageInput: 2.5, imageOutput: 8 },
};

/**
 * Output tokens per image, published for the models with fixed sizes. gpt-image-2, 2.5 and 2.6
 * have no published formula for their flexible sizes, so they are not here.
 */
export const FIXED_OUTPUT_TOKENS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
};
const FIXED_TOKEN_MODELS: readonly string[] = ['gpt-image-1', 'gpt-image-1.5', 'gpt-image-1-mini'];

/**
 * What the spending guard assumes per image where no published figure exists (gpt-image-2's
 * flexible sizes, quality or size auto, unpriced models). Chosen above every published per-image
 * figure (the dearest: gpt-image-1 high 1024x1536, 6,240 tokens at $40/1M = $0.25) and above
 * gpt-image-2 high 1024x1024 (about 7,024 tokens at $30/1M = $0.21).
 */
export const ASSUMED_USD_PER_IMAGE = 0.5;

/** Prompt text is estimated at about four characters per token. */
const CHARS_PER_TOKEN = 4;

const SNAPSHOT_SUFFIX = /-\d{4}-\d{2}-\d{2}$/;

/** The price of a model, a dated snapshot priced as its base model. */
export function priceOf(model: string): ModelPrice | undefined {
  return PRICES[model] ?? PRICES[model.replace(SNAPSHOT_SUFFIX, '')];
}

function baseModel(model: string): string {
  return PRICES[model] ? model : model.replace(SNAPSHOT_SUFFIX, '');
}

/** Micro-dollar precision: enough for token prices, free of float noise. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

/** $0.50, $0.1331, $0.0087, $12.40: four decimals below a dollar (trailing zeros dropped to two), else cents. */
export function formatUsd(usd: number): string {
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  return `$${usd.toFixed(4).replace(/(\.\d\d\d*?)0+$/, '$1')}`;
}

const count = (n: number) => n.toLocaleString('en-US');

export interface CostRequest {
  model: string;
  size: string;
  quality: string;
  n: number;
  /** The final prompt, for the text-input estimate. */
  prompt: string;
  /** Input images (edits): their tokens are not known before the call. */
  inputImages?: number;
}

export type Estimate =
  | {
      usd: number;
      outputTokensPerImage: number;
      promptTokens: number;
      /** How the figure was made, for the text result. */
      basis: string;
      /** What it leaves out, when something. */
      note?: string;
    }
  | { usd: undefined; reason: string };

/**
 * The cost of a request before it is sent, where a published figure exists: the published output
 * tokens per image × n × the image-output price, plus the prompt's text tokens (about one per four
 * characters) × the text-input price. Otherwise undefined, with the reason.
 */
export function estimateCost(request: CostRequest): Estimate {
  const price = priceOf(request.model);
  if (!price) {
    return { usd: undefined, reason: `no published price for ${request.model} in this server's table (read ${PRICES_CHECKED})` };
  }
  const model = baseModel(request.model);
  if (!FIXED_TOKEN_MODELS.includes(model)) {
    return { usd: undefined, reason: `${model} has no published token count for its flexible sizes` };
  }
  const tokens = FIXED_OUTPUT_TOKENS[request.quality]?.[request.size];
  if (tokens === undefined) {
    const why =
      request.quality === 'auto' || request.size === 'auto'
        ? 'the API picks the quality and size when they are auto'
        : `no published token count for quality ${request.quality} at ${request.size}`;
    return { usd: undefined, reason: why };
  }
  const promptTokens = Math.ceil(request.prompt.length / CHARS_PER_TOKEN);
  const usd = roundUsd((tokens * request.n * price.imageOutput + promptTokens * price.textInput) / 1e6);
  const basis = `${request.n} × ${count(tokens)} output tokens at $${price.imageOutput}/1M + ~${count(promptTokens)} prompt tokens at $${price.textInput}/1M`;
  const estimate: Estimate = { usd, outputTokensPerImage: tokens, promptTokens, basis };
  if (request.inputImages) estimate.note = 'input images are not included (their token count is known only after the call)';
  return estimate;
}

export interface UsageLike {
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { text_tokens?: number; image_tokens?: number };
}

export type Cost = { usd: number; basis: string } | { usd: undefined; reason: string };

/** The real cost of a call from the API's usage: text-in, image-in and image-out tokens × their prices. */
export function costFromUsage(model: string, usage: UsageLike | undefined): Cost {
  if (!usage) return { usd: undefined, reason: 'the API reported no usage' };
  const price = priceOf(model);
  if (!price) return { usd: undefined, reason: `no published price for ${model} in this server's table (read ${PRICES_CHECKED})` };
  const imageIn = usage.input_tokens_details?.image_tokens ?? 0;
  const textIn = usage.input_tokens_details?.text_tokens ?? Math.max(0, (usage.input_tokens ?? 0) - imageIn);
  const out = usage.output_tokens ?? 0;
  const usd = roundUsd((textIn * price.textInput + imageIn * price.imageInput + out * price.imageOutput) / 1e6);
  const parts = [`${count(textIn)} text-in`, ...(imageIn ? [`${count(imageIn)} image-in`] : []), `${count(out)} image-out tokens`];
  return { usd, basis: `from usage: ${parts.join(', ')}` };
}

// ---------------------------------------------------------------------------------------------
// Spending guard
// ---------------------------------------------------------------------------------------------

export interface PlannedSpend {
  estimate: Estimate;
  /** Images the request makes (n). */
  images: number;
}

export interface Projection {
  usd: number;
  /** Images priced at ASSUMED_USD_PER_IMAGE for want of a published figure. */
  assumedImages: number;
  /** One line saying how the figure was made. */
  basis: string;
}

/** What a call (one request) or a batch (many) is expected to cost, for the guard. */
export function projectSpend(planned: readonly PlannedSpend[]): Projection {
  let usd = 0;
  let assumedImages = 0;
  let estimated = 0;
  let reason: string | undefined;
  for (const item of planned) {
    if (item.estimate.usd !== undefined) {
      usd += item.estimate.usd;
      estimated += 1;
    } else {
      assumedImages += item.images;
      reason ??= item.estimate.reason;
    }
  }
  usd = roundUsd(usd + assumedImages * ASSUMED_USD_PER_IMAGE);
  const parts: string[] = [];
  if (estimated === 1 && planned.length === 1 && planned[0]!.estimate.usd !== undefined) parts.push(planned[0]!.estimate.basis);
  else if (estimated > 0) parts.push(`${estimated} request${estimated === 1 ? '' : 's'} from published figures`);
  if (assumedImages > 0) {
    parts.push(
      `${assumedImages} image${assumedImages === 1 ? '' : 's'} × ${formatUsd(ASSUMED_USD_PER_IMAGE)} assumed per image, as ${reason ?? 'no published figure exists'}`,
    );
  }
  return { usd, assumedImages, basis: parts.join(' + ') };
}

export interface SpendingCap {
  /** The cap in USD, when one applies. */
  usd?: number | undefined;
  /** Where it came from, named in the refusal. */
  source: 'IMAGEGEN_MAX_COST_USD' | 'max_cost_usd';
  /** Set when IMAGEGEN_MAX_COST_USD holds something that is not an amount: the guard then refuses. */
  invalid?: string | undefined;
}

/** The cap for one call: the max_cost_usd argument wins over IMAGEGEN_MAX_COST_USD. */
export function spendingCap(envCap: { usd?: number | undefined; invalid?: string | undefined }, argument: number | undefined): SpendingCap {
  if (argument !== undefined) return { usd: argument, source: 'max_cost_usd' };
  return { usd: envCap.usd, source: 'IMAGEGEN_MAX_COST_USD', invalid: envCap.invalid };
}

/** Parses IMAGEGEN_MAX_COST_USD: unset or empty means no guard; anything but an amount >= 0 is invalid. */
export function parseCostCap(value: string | undefined): { usd?: number; invalid?: string } {
  if (value === undefined || value.trim() === '') return {};
  const usd = Number(value.trim().replace(/^\$/, ''));
  if (!Number.isFinite(usd) || usd < 0) return { invalid: value };
  return { usd };
}

/**
 * The guard: undefined when the call may go ahead, else the refusal with the estimate and how to
 * proceed. `what` names the call ("This call", "This batch").
 */
export function checkSpendingCap(projection: Projection, cap: SpendingCap, what = 'This call'): string | undefined {
  if (cap.usd === undefined) {
    if (cap.invalid === undefined) return undefined;
    return `IMAGEGEN_MAX_COST_USD is "${cap.invalid}", which is not an amount in US dollars (e.g. 0.50), so nothing was sent. Fix it in this server's env in your MCP client config, or pass max_cost_usd to set the cap for this call.`;
  }
  if (projection.usd <= cap.usd) return undefined;
  const raiseTo = Math.ceil(projection.usd * 100) / 100;
  return (
    `${what} would cost about ${formatUsd(projection.usd)} (${projection.basis}), over the spending cap of ${formatUsd(cap.usd)} set by ${cap.source}. Nothing was sent. ` +
    `To go ahead, call again with max_cost_usd: ${raiseTo} (or more); or lower n, quality or size. dry_run shows the estimate without spending.`
  );
}
