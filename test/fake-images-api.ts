/**
 * A fake OpenAI Images API for tests and benchmarks.
 *
 * A small HTTP server on 127.0.0.1 (random port) that the official `openai` SDK reaches through
 * `baseURL` / `OPENAI_BASE_URL`. It serves `POST /v1/images/generations` (JSON) and
 * `POST /v1/images/edits` (multipart), validates requests the way the real API does (its own
 * statement of the models' rules, independent of src/: it imports nothing from there), answers
 * with real image bytes made with sharp, records every request, and can inject faults (rate
 * limits, server errors, dropped connections, delays, ...).
 * It knows the models as of 2026-12-02 (retired ones answer 404 from their shut-down date, judged
 * on its `today`) and serves `GET /v1/models/{id}` with the `shutdown_date` the lifecycle lookup reads.
 *
 * Like a model that follows instructions, an opaque image whose prompt asks for a flat `#rrggbb`
 * background (the chroma_key instruction) shows its subject, a disc with anti-aliased edges, on
 * that colour; the `ignore_key_color` fault answers one such request with the plain image instead.
 */
import { createServer } from 'node:http';
import { createFakeBatchApi, type FakeBatchApi } from './fake-batch-api.js';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import sharp from 'sharp';
import { EXTERNAL_HREF_SVG, ICON_SVG, ONLOAD_SVG, SCRIPT_SVG, animatedGif } from './fixtures/svg-gif.js';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export interface RecordedFile {
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. '/v1/images/generations'. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** JSON body, or multipart text fields (numbers stay strings as sent; repeated fields become arrays). */
  body: Record<string, unknown>;
  /** Multipart files in the order received (empty for JSON). */
  files: RecordedFile[];
  /** Status the fake answered (0 if the connection was dropped or the client went away first). */
  status: number;
  /** Date.now() when the request arrived. */
  at: number;
}

export type Fault =
  | { kind: 'rate_limit'; retryAfter?: string; retryAfterMs?: string }
  | { kind: 'server_error'; status?: number }
  | { kind: 'drop' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'moderation' }
  | { kind: 'forbidden' }
  | { kind: 'model_not_found' }
  | { kind: 'malformed' }
  /** Answers normally but ignores a key colour asked in the prompt (a model not following it). */
  | { kind: 'ignore_key_color' }
  /** Answers an svg request normally, but with a hostile document (a model told to make an "interactive" icon). */
  | { kind: 'svg_variant'; variant: SvgVariant }
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> };

/** The SVG documents the fake can answer with: the clean icon, or one with active or external content. */
export const SVG_VARIANTS = { clean: ICON_SVG, script: SCRIPT_SVG, onload: ONLOAD_SVG, external_href: EXTERNAL_HREF_SVG } as const;
export type SvgVariant = keyof typeof SVG_VARIANTS;

export interface FaultRule {
  fault: Fault;
  /** How many matching requests this rule applies to; default 1; Infinity allowed. */
  times?: number;
  /** Only requests to this endpoint (default: both image endpoints; `models` is GET /v1/models/{id}, only when named). */
  path?: 'generations' | 'edits' | 'models';
  /** Only requests for this model. */
  model?: string;
}

export interface FakeImagesApiOptions {
  /** Expected bearer key; default 'sk-test-fake'. A missing or different key gets 401. */
  apiKey?: string;
  /**
   * How long after its request arrived each answer is sent (for benchmarks), the fake's own reading
   * and checking included, as an API's latency is; default 0.
   */
  latencyMs?: number;
  /**
   * 'flat' (default): small, fast-to-encode images. 'noise': high-entropy pixels, so a 3824x2160
   * PNG is about 12 MB (a realistic size for memory benchmarks; the first encode takes ~0.5 s, then it is cached).
   */
  imageStyle?: 'flat' | 'noise';
  /**
   * The day the fake lives on (YYYY-MM-DD; default: the real date). Models whose shut-down date
   * has come answer 404 model_not_found, so tests pinned before 2026-12-01 set it to reach gpt-image-1.5.
   */
  today?: string;
  /** Shut-down dates GET /v1/models/{id} publishes, over the defaults (null: none announced). */
  shutdownDates?: Record<string, string | null>;
  /**
   * gpt-image-2's transparency preview works (real alpha, as live calls saw from 2026-08-21);
   * default false: 400 "Transparent background is not supported for this model.", as other live calls saw.
   */
  transparentPreview?: boolean;
}

export interface FakeImagesApi {
  /** Base URL including '/v1', e.g. 'http://127.0.0.1:PORT/v1' (what OPENAI_BASE_URL gets). */
  readonly url: string;
  readonly apiKey: string;
  /** Every request received, in order of arrival. */
  readonly requests: RecordedRequest[];
  /** The fake's day (YYYY-MM-DD); may be changed between requests. */
  today: string;
  /** Sets the shut-down date a model's GET /v1/models/{id} publishes (and after which it answers 404). */
  setShutdownDate(model: string, date: string | null): void;
  /** The Files and Batches APIs (test/fake-batch-api.ts). */
  readonly batch: FakeBatchApi;
  /** Rules queue up; the first matching rule with times left applies to the next matching request. */
  inject(rule: FaultRule): void;
  /** Clears recorded requests and pending faults. */
  reset(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Model rules
// ---------------------------------------------------------------------------------------------

const LEGACY_SIZES = ['1024x1024', '1024x1536', '1536x1024'] as const;
const BASE_QUALITIES = ['low', 'medium', 'high', 'auto'] as const;
const ALL_QUALITIES = ['low', 'medium', 'high', 'xhigh', 'max', 'auto'] as const;

interface ModelRules {
  sizes: 'flexible' | readonly string[];
  qualities: readonly string[];
  transparent: boolean;
  /** Accepted input_fidelity values; null = the parameter is not supported. */
  inputFidelity: readonly string[] | null;
  legacyTokens: boolean;
  /** `complexity` (planning effort) is accepted (gpt-image-2.6 only). */
  complexity: boolean;
  /** The highest alpha inside a native transparent image's subject (254 on 2.5/2.6, as reported). */
  alphaPeak?: number;
}

const LEGACY = { sizes: LEGACY_SIZES, qualities: BASE_QUALITIES, transparent: true, legacyTokens: true, complexity: false } as const;
const NEW = { sizes: 'flexible', qualities: ALL_QUALITIES, transparent: true, inputFidelity: null, legacyTokens: false, alphaPeak: 254 } as const;

/** The models the fake knows, as the real API has them on 2026-12-02. */
const MODEL_RULES: Record<string, ModelRules> = {
  // Transparent backgrounds on gpt-image-2 are a preview; live calls have answered 400.
  'gpt-image-2': { sizes: 'flexible', qualities: BASE_QUALITIES, transparent: false, inputFidelity: null, legacyTokens: false, complexity: false },
  'gpt-image-2.5-sunburst': { ...NEW, complexity: false },
  'gpt-image-2.5-flare': { ...NEW, complexity: false },
  'gpt-image-2.6-sunburst': { ...NEW, complexity: true },
  'gpt-image-2.6-flare': { ...NEW, complexity: true },
  'gpt-image-1.5': { ...LEGACY, inputFidelity: ['low', 'high'] },
  'gpt-image-1-mini': { ...LEGACY, inputFidelity: ['low'] },
  'chatgpt-image-latest': { ...LEGACY, inputFidelity: null },
  'gpt-image-1': { ...LEGACY, inputFidelity: ['low', 'high'] },
};

/** Dated snapshots the fake serves, with their base model's rules. */
const SNAPSHOTS: Record<string, string> = {
  'gpt-image-2-2026-04-21': 'gpt-image-2',
  'gpt-image-2.5-sunburst-2026-09-08': 'gpt-image-2.5-sunburst',
  'gpt-image-2.5-flare-2026-09-08': 'gpt-image-2.5-flare',
  'gpt-image-1.5-2025-12-16': 'gpt-image-1.5',
};

/** Shut-down dates the models endpoint publishes by default (the rest: null). */
const DEFAULT_SHUTDOWN_DATES: Record<string, string> = {
  'gpt-image-1.5': '2026-12-01',
  'gpt-image-1.5-2025-12-16': '2026-12-01',
  'gpt-image-1-mini': '2026-12-01',
  'chatgpt-image-latest': '2026-12-01',
  'gpt-image-1': '2026-10-23',
};

const CREATED: Record<string, number> = {
  'gpt-image-2': 1776729600,
  'gpt-image-2.5-sunburst': 1788825600,
  'gpt-image-2.5-flare': 1788825600,
  'gpt-image-2.6-sunburst': 1793750400,
  'gpt-image-2.6-flare': 1793750400,
};

/** Whether a model answers on a day, from its published shut-down date. */
type Lifecycle = (model: string) => { exists: boolean; shutdownDate: string | null };

function modelRules(model: string): ModelRules | null {
  return MODEL_RULES[SNAPSHOTS[model] ?? model] ?? null;
}

/** Published output tokens per image for the legacy GPT Image models. */
const LEGACY_OUTPUT_TOKENS: Record<string, Record<string, number>> = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
};

/** gpt-image-2 style: tokens per 1024 pixels, by quality (high 1024² = 7,024 tokens). */
const FLEX_TOKEN_FACTOR: Record<string, number> = {
  low: 0.25,
  medium: 1,
  high: 7024 / 1024,
  xhigh: 10,
  max: 14,
};

const IMAGE_TOKENS_PER_INPUT = 194;
const PARTIAL_IMAGE_TOKENS = 100;
const MAX_PROMPT = 32_000;
const MAX_FILE_BYTES = 50 * 1024 * 1024;

const GENERATION_PARAMS = new Set([
  'model',
  'prompt',
  'n',
  'size',
  'quality',
  'background',
  'output_format',
  'output_compression',
  'moderation',
  'user',
  'stream',
  'partial_images',
  'complexity',
  // gpt-image-2.6 only: the SVG author model, and animated GIF frames.
  'svg',
  'frame_count',
  'frame_duration_ms',
]);
// Multipart sends the svg object as bracketed fields (the SDK's form encoding).
const EDIT_PARAMS = new Set([...GENERATION_PARAMS, 'image', 'image[]', 'mask', 'input_fidelity', 'svg[model]', 'svg[reasoning][effort]']);
const FILE_FIELDS = new Set(['image', 'image[]', 'mask']);
const IMAGE_MIME_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null,
    readonly code: string | null,
    readonly type: string = 'invalid_request_error',
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const bad = (message: string, param: string | null, code: string | null): ApiError =>
  new ApiError(400, message, param, code);

function quoteList(values: readonly string[]): string {
  const q = values.map((v) => `'${v}'`);
  if (q.length <= 1) return q.join('');
  return `${q.slice(0, -1).join(', ')}, and ${q[q.length - 1]}`;
}

function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

// ---------------------------------------------------------------------------------------------
// Parameter access (JSON values, or multipart strings)
// ---------------------------------------------------------------------------------------------

class Params {
  constructor(
    private readonly body: Record<string, unknown>,
    private readonly multipart: boolean,
  ) {}

  /** The value, or undefined when absent (JSON null counts as absent). */
  private raw(name: string): unknown {
    const v = this.body[name];
    return v === null ? undefined : v;
  }

  string(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      throw bad(`Invalid type for '${name}': expected a string, but got ${jsonTypeName(v)} instead.`, name, 'invalid_type');
    }
    return v;
  }

  integer(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (this.multipart && typeof v === 'string') {
      if (!/^\s*[+-]?\d+\s*$/.test(v)) {
        throw bad(`Invalid type for '${name}': expected an integer, but got a string instead ('${v}').`, name, 'invalid_type');
      }
      return Number.parseInt(v, 10);
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw bad(`Invalid type for '${name}': expected an integer, but got ${jsonTypeName(v)} instead.`, name, 'invalid_type');
    }
    return v;
  }

  boolean(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (this.multipart && typeof v === 'string') {
      if (v === 'true') return true;
      if (v === 'false') return false;
    }
    if (typeof v !== 'boolean') {
      throw bad(`Invalid type for '${name}': expected a boolean, but got ${jsonTypeName(v)} instead.`, name, 'invalid_type');
    }
    return v;
  }

  intInRange(name: string, min: number, max: number): number | undefined {
    const v = this.integer(name);
    if (v === undefined) return undefined;
    if (v < min) {
      throw bad(
        `Invalid '${name}': integer below minimum value. Expected a value >= ${min}, but got ${v} instead.`,
        name,
        'integer_below_min_value',
      );
    }
    if (v > max) {
      throw bad(
        `Invalid '${name}': integer above maximum value. Expected a value <= ${max}, but got ${v} instead.`,
        name,
        'integer_above_max_value',
      );
    }
    return v;
  }

  oneOf(name: string, allowed: readonly string[]): string | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!allowed.includes(v)) {
      throw bad(`Invalid value: '${v}'. Supported values are: ${quoteList(allowed)}.`, name, 'invalid_value');
    }
    return v;
  }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

type Endpoint = 'generations' | 'edits';
type OutputFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'svg';

interface Plan {
  endpoint: Endpoint;
  model: string;
  prompt: string;
  n: number;
  width: number;
  height: number;
  outputFormat: OutputFormat;
  quality: string;
  transparent: boolean;
  alphaPeak: number;
  stream: boolean;
  partialImages: number;
  inputImages: number;
  outputTokensPerImage: number;
  /** gif only. */
  frameCount: number;
  frameDurationMs: number;
  /** svg only: the author model asked for (svg.model), else the default. */
  svgModel: string;
}

/** Measured largest square GIF frame by frame count (2-9, 10-12, 13-16), as relays report it. */
function gifMaxEdge(frames: number): number {
  return frames <= 9 ? 960 : frames <= 12 ? 816 : 720;
}
const DEFAULT_SVG_MODEL = 'gpt-5.2-codex';

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Checks a flexible WxH size against the gpt-image-2 rules; returns [w, h]. */
function checkFlexibleSize(size: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(size);
  if (!m) {
    throw bad(
      `Invalid value: '${size}'. Expected 'auto' or a size of the form WIDTHxHEIGHT, e.g. '1024x1024'.`,
      'size',
      'invalid_value',
    );
  }
  const w = Number(m[1]);
  const h = Number(m[2]);
  const long = Math.max(w, h);
  const short = Math.min(w, h);
  const rule = (text: string): ApiError => bad(`Invalid size '${size}': ${text}`, 'size', 'invalid_value');
  if (long >= 3840) throw rule(`the longest edge must be less than 3840 pixels (got ${long}).`);
  if (w % 16 !== 0 || h % 16 !== 0) throw rule('both edges must be multiples of 16.');
  if (short === 0 || long / short > 3) throw rule('the ratio of the long edge to the short edge must be at most 3:1.');
  const pixels = w * h;
  if (pixels < 655_360 || pixels > 8_294_400) {
    throw rule(`the total number of pixels must be between 655,360 and 8,294,400 (got ${fmt(pixels)}).`);
  }
  return [w, h];
}

interface InputFile {
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

async function checkImageFile(
  file: InputFile,
  label: string,
): Promise<{ width: number; height: number; format: string; hasAlpha: boolean }> {
  if (!IMAGE_MIME_TYPES.includes(file.contentType)) {
    throw bad(
      `Invalid file '${file.field}': unsupported mimetype ('${file.contentType || '(none)'}'). ` +
        `Supported file formats are ${quoteList(IMAGE_MIME_TYPES)}.`,
      file.field,
      'unsupported_file_mimetype',
    );
  }
  if (file.bytes.length >= MAX_FILE_BYTES) {
    throw bad(
      `Invalid file '${file.field}': ${label} is ${fmt(file.bytes.length)} bytes; each file must be smaller than 50 MB.`,
      file.field,
      'file_too_large',
    );
  }
  let meta: sharp.Metadata;
  try {
    meta = await sharp(file.bytes).metadata();
  } catch {
    throw bad(
      `Invalid image file: ${label} ('${file.filename}') could not be decoded. Supported formats are png, jpeg and webp.`,
      file.field,
      'invalid_image_file',
    );
  }
  if (!meta.width || !meta.height || !meta.format || !['png', 'jpeg', 'webp'].includes(meta.format)) {
    throw bad(
      `Invalid image file: ${label} ('${file.filename}') is ${meta.format ?? 'of an unknown format'}; ` +
        'supported formats are png, jpeg and webp.',
      file.field,
      'invalid_image_file',
    );
  }
  return { width: meta.width, height: meta.height, format: meta.format, hasAlpha: meta.hasAlpha === true };
}

async function validate(
  endpoint: Endpoint,
  body: Record<string, unknown>,
  files: InputFile[],
  multipart: boolean,
  lifecycle: Lifecycle,
  transparentPreview = false,
): Promise<Plan> {
  const known = endpoint === 'edits' ? EDIT_PARAMS : GENERATION_PARAMS;

  // Unknown parameters (text fields and file fields alike).
  const names = [...Object.keys(body), ...files.map((f) => f.field)];
  for (const name of names) {
    if (name === 'response_format') {
      throw bad(
        "Unknown parameter: 'response_format'. GPT image models always return base64-encoded images (b64_json); " +
          'URLs are not supported.',
        'response_format',
        'unknown_parameter',
      );
    }
    if (!known.has(name)) throw bad(`Unknown parameter: '${name}'.`, name, 'unknown_parameter');
  }
  if (endpoint === 'edits') {
    for (const name of Object.keys(body)) {
      if (FILE_FIELDS.has(name)) {
        throw bad(`Invalid type for '${name}': expected a file, but got a string instead.`, name, 'invalid_type');
      }
    }
  }

  const p = new Params(body, multipart);

  // Model.
  const model = p.string('model');
  if (model === undefined) throw bad("Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
  const rules = modelRules(model);
  if (!rules || !lifecycle(model).exists) {
    throw new ApiError(404, `The model \`${model}\` does not exist or you do not have access to it.`, null, 'model_not_found');
  }

  // Prompt.
  const prompt = p.string('prompt');
  if (prompt === undefined) throw bad("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  if (prompt.length === 0) {
    throw bad(
      "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      'prompt',
      'empty_string',
    );
  }
  if (prompt.length > MAX_PROMPT) {
    throw bad(
      `Invalid 'prompt': string too long. Expected a string with maximum length ${MAX_PROMPT}, ` +
        `but got a string with length ${prompt.length} instead.`,
      'prompt',
      'string_above_max_length',
    );
  }

  const n = p.intInRange('n', 1, 10) ?? 1;

  // Size.
  const size = p.string('size') ?? 'auto';
  let width = 1024;
  let height = 1024;
  const gifSize = body.output_format === 'gif' ? /^(\d+)x(\d+)$/.exec(size) : null;
  if (gifSize) {
    // GIF frames are small: the still pixel minimum does not apply, multiples of 16 do.
    [width, height] = [Number(gifSize[1]), Number(gifSize[2])];
    if (width % 16 || height % 16 || width < 16 || height < 16) throw bad(`Invalid 'size': ${size}: both edges must be multiples of 16.`, 'size', 'invalid_value');
  } else if (size !== 'auto') {
    if (rules.sizes === 'flexible') {
      [width, height] = checkFlexibleSize(size);
    } else {
      if (!rules.sizes.includes(size)) {
        throw bad(
          `Invalid value: '${size}'. Supported values are: ${quoteList([...rules.sizes, 'auto'])}.`,
          'size',
          'invalid_value',
        );
      }
      const [w, h] = size.split('x').map(Number);
      width = w ?? 1024;
      height = h ?? 1024;
    }
  }

  const qualityParam = p.oneOf('quality', rules.qualities) ?? 'auto';
  const quality = qualityParam === 'auto' ? 'medium' : qualityParam;

  const background = p.oneOf('background', ['transparent', 'opaque', 'auto']) ?? 'auto';
  if (background === 'transparent' && !rules.transparent && !(transparentPreview && (SNAPSHOTS[model] ?? model) === 'gpt-image-2')) {
    throw bad('Transparent background is not supported for this model.', 'background', 'invalid_value');
  }
  const transparent = background === 'transparent';

  const vectorOrMotion = (SNAPSHOTS[model] ?? model).startsWith('gpt-image-2.6');
  const outputFormat = (p.oneOf('output_format', vectorOrMotion ? ['png', 'jpeg', 'webp', 'gif', 'svg'] : ['png', 'jpeg', 'webp']) ?? 'png') as OutputFormat;
  const compression = p.intInRange('output_compression', 0, 100);
  if (compression !== undefined && (outputFormat === 'gif' || outputFormat === 'svg')) {
    throw bad(`Invalid 'output_compression': compression is not supported for the ${outputFormat} output format.`, 'output_compression', 'invalid_value');
  }
  const svgFields = svgObject(body, multipart);
  if (svgFields && outputFormat !== 'svg') throw bad("Invalid 'svg': only supported with output_format 'svg'.", 'svg', 'invalid_value');
  if (outputFormat === 'svg' && n !== 1) {
    throw bad(`Invalid 'n': svg output supports n=1 only, but got ${n}.`, 'n', 'invalid_value');
  }
  const frameCount = p.intInRange('frame_count', 2, 16);
  const frameDuration = p.intInRange('frame_duration_ms', 10, 655_350);
  if ((frameCount !== undefined || frameDuration !== undefined) && outputFormat !== 'gif') {
    throw bad("Invalid 'frame_count': only supported with output_format 'gif'.", frameCount !== undefined ? 'frame_count' : 'frame_duration_ms', 'invalid_value');
  }
  if (outputFormat === 'gif' && size !== 'auto' && Math.max(width, height) > gifMaxEdge(frameCount ?? 9)) {
    throw bad(`Invalid 'size': ${size} is too large for ${frameCount ?? 9} gif frames.`, 'size', 'invalid_value');
  }
  if (outputFormat === 'gif' && size === 'auto') [width, height] = [gifMaxEdge(frameCount ?? 9), gifMaxEdge(frameCount ?? 9)];
  if (compression !== undefined && outputFormat === 'png') {
    throw bad(
      "Invalid 'output_compression': compression is only supported for the jpeg and webp output formats, not png.",
      'output_compression',
      'invalid_value',
    );
  }
  if (transparent && outputFormat === 'jpeg') {
    throw bad(
      "Transparent background is not supported with output_format 'jpeg'; use 'png' or 'webp'.",
      'background',
      'invalid_value',
    );
  }

  p.oneOf('moderation', ['auto', 'low']);
  if (body.complexity !== undefined && body.complexity !== null && !rules.complexity) {
    throw bad(`Unsupported parameter: 'complexity' is not supported with the model '${model}'.`, 'complexity', 'unsupported_parameter');
  }
  p.oneOf('complexity', ['low', 'medium', 'high']);
  p.string('user');
  const stream = p.boolean('stream') ?? false;
  const partialImages = p.intInRange('partial_images', 0, 3) ?? 0;
  if (stream && (outputFormat === 'gif' || outputFormat === 'svg')) {
    throw bad(`Invalid 'stream': streaming is not supported for the ${outputFormat} output format.`, 'stream', 'invalid_value');
  }

  // Edit inputs.
  let inputImages = 0;
  if (endpoint === 'edits') {
    const fidelity = p.string('input_fidelity');
    if (fidelity !== undefined) {
      if (!rules.inputFidelity) {
        throw bad(
          `Unsupported parameter: 'input_fidelity' is not supported with the model '${model}' ` +
            '(it always processes input images at high fidelity).',
          'input_fidelity',
          'unsupported_parameter',
        );
      }
      if (!rules.inputFidelity.includes(fidelity)) {
        throw bad(
          `Invalid value: '${fidelity}'. Supported values for '${model}' are: ${quoteList(rules.inputFidelity)}.`,
          'input_fidelity',
          'invalid_value',
        );
      }
    }

    const images = files.filter((f) => f.field === 'image' || f.field === 'image[]');
    const masks = files.filter((f) => f.field === 'mask');
    if (images.length === 0) throw bad("Missing required parameter: 'image'.", 'image', 'missing_required_parameter');
    if (images.length > 16) {
      throw bad(
        `Invalid 'image': too many images. Expected at most 16 images, but got ${images.length} instead.`,
        'image',
        'array_above_max_length',
      );
    }
    if (masks.length > 1) {
      throw bad(`Invalid 'mask': expected one mask file, but got ${masks.length}.`, 'mask', 'invalid_value');
    }
    let first: { width: number; height: number } | undefined;
    for (const [i, img] of images.entries()) {
      const meta = await checkImageFile(img, `image ${i + 1}`);
      first ??= meta;
    }
    const mask = masks[0];
    if (mask && outputFormat === 'gif') throw bad("Invalid 'mask': masks are not supported for the gif output format.", 'mask', 'invalid_value');
    if (mask && first) {
      const meta = await checkImageFile(mask, 'the mask');
      if (meta.format !== 'png') {
        throw bad(`Invalid mask: the mask must be a PNG image with an alpha channel, but it is ${meta.format}.`, 'mask', 'invalid_value');
      }
      if (!meta.hasAlpha) {
        throw bad('Invalid mask: the mask must be a PNG image with an alpha channel; this PNG has none.', 'mask', 'invalid_value');
      }
      if (meta.width !== first.width || meta.height !== first.height) {
        throw bad(
          `Invalid mask: mask is ${meta.width}x${meta.height}, image 1 is ${first.width}x${first.height}; ` +
            'the mask must have the same dimensions as the first image.',
          'mask',
          'invalid_value',
        );
      }
    }
    inputImages = images.length;
  }

  let outputTokensPerImage: number;
  if (rules.legacyTokens) {
    outputTokensPerImage = LEGACY_OUTPUT_TOKENS[quality]?.[`${width}x${height}`] ?? 0;
  } else {
    outputTokensPerImage = Math.round(((width * height) / 1024) * (FLEX_TOKEN_FACTOR[quality] ?? 1));
  }
  if (stream) outputTokensPerImage += partialImages * PARTIAL_IMAGE_TOKENS;

  return {
    endpoint,
    model,
    prompt,
    n,
    width,
    height,
    outputFormat,
    quality,
    transparent,
    alphaPeak: rules.alphaPeak ?? 255,
    stream,
    partialImages,
    inputImages,
    outputTokensPerImage,
    frameCount: frameCount ?? 9,
    frameDurationMs: Math.max(10, Math.round((frameDuration ?? 200) / 10) * 10),
    svgModel: svgFields?.model ?? DEFAULT_SVG_MODEL,
  };
}

/** The `svg` object (JSON) or its bracketed fields (multipart): `{ model, reasoning: { effort } }`. */
function svgObject(body: Record<string, unknown>, multipart: boolean): { model?: string; effort?: string } | undefined {
  const raw = multipart
    ? body['svg[model]'] !== undefined || body['svg[reasoning][effort]'] !== undefined
      ? { model: body['svg[model]'], reasoning: body['svg[reasoning][effort]'] === undefined ? undefined : { effort: body['svg[reasoning][effort]'] } }
      : undefined
    : body.svg;
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw bad(`Invalid type for 'svg': expected an object, but got ${jsonTypeName(raw)} instead.`, 'svg', 'invalid_type');
  const { model, reasoning, ...rest } = raw as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra) throw bad(`Unknown parameter: 'svg.${extra}'.`, `svg.${extra}`, 'unknown_parameter');
  if (model !== undefined && typeof model !== 'string') throw bad("Invalid type for 'svg.model': expected a string.", 'svg.model', 'invalid_type');
  let effort: string | undefined;
  if (reasoning !== undefined) {
    const e = (reasoning as Record<string, unknown> | null)?.effort;
    if (typeof e !== 'string' || !['minimal', 'low', 'medium', 'high'].includes(e)) {
      throw bad("Invalid value for 'svg.reasoning.effort': supported values are 'minimal', 'low', 'medium' and 'high'.", 'svg.reasoning.effort', 'invalid_value');
    }
    effort = e;
  }
  return { ...(model !== undefined ? { model } : {}), ...(effort ? { effort } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Images (real bytes, cached per process)
// ---------------------------------------------------------------------------------------------

const imageCache = new Map<string, Promise<string>>();

const COLOUR = { r: 70, g: 130, b: 180 };

/** The colour of a flat `#rrggbb` background the prompt asks for, if any (one sentence naming both). */
export function keyColorAsked(prompt: string): string | undefined {
  for (const sentence of prompt.split(/(?<=[.!?\n])/)) {
    if (!/background/i.test(sentence)) continue;
    const hex = /#([0-9a-f]{6})\b/i.exec(sentence);
    if (hex) return `#${hex[1]!.toLowerCase()}`;
  }
  return undefined;
}

async function renderImage(
  width: number,
  height: number,
  format: OutputFormat,
  transparent: boolean,
  style: 'flat' | 'noise',
  keyColor?: string,
  alphaPeak = 255,
): Promise<Buffer> {
  const channels = transparent ? 4 : 3;
  const border = Math.max(1, Math.floor(Math.min(width, height) / 8));
  let img: sharp.Sharp;
  if (keyColor && !transparent) {
    // The subject on the asked colour: a steel-blue disc (anti-aliased by the SVG rasteriser).
    const r = Math.min(width, height) * 0.3;
    const svg =
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<rect width="100%" height="100%" fill="${keyColor}"/>` +
      `<circle cx="${width / 2}" cy="${height / 2}" r="${r}" fill="rgb(${COLOUR.r},${COLOUR.g},${COLOUR.b})"/></svg>`;
    img = sharp(Buffer.from(svg)).removeAlpha();
  } else if (style === 'flat') {
    if (!transparent) {
      img = sharp({ create: { width, height, channels: 3, background: COLOUR } });
    } else {
      img = sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).composite([
        {
          input: {
            create: {
              width: Math.max(1, width - 2 * border),
              height: Math.max(1, height - 2 * border),
              channels: 4,
              background: { ...COLOUR, alpha: alphaPeak / 255 },
            },
          },
          left: border,
          top: border,
        },
      ]);
    }
  } else {
    // Three bits of noise per channel: a 3824x2160 PNG comes out at about 12 MB.
    const buf = randomBytes(width * height * channels);
    for (let y = 0; y < height; y++) {
      const inside = y >= border && y < height - border;
      let i = y * width * channels;
      for (let x = 0; x < width; x++, i += channels) {
        buf[i] = 40 + ((buf[i] as number) & 7);
        buf[i + 1] = (100 + ((buf[i + 1] as number) & 7) + (y * 64) / height) | 0;
        buf[i + 2] = 160 + ((buf[i + 2] as number) & 7);
        if (channels === 4) buf[i + 3] = inside && x >= border && x < width - border ? alphaPeak : 0;
      }
    }
    img = sharp(buf, { raw: { width, height, channels } });
  }
  switch (format) {
    case 'gif':
    case 'svg':
      throw new Error(`renderImage does not make ${format}`);
    case 'png':
      return img.png().toBuffer();
    case 'jpeg':
      return img.jpeg({ quality: 90 }).toBuffer();
    case 'webp':
      return img.webp({ quality: 90 }).toBuffer();
  }
}

/** The answer's image: an SVG document (a variant when a fault asks), an animated GIF, or a still. */
async function answerBase64(plan: Plan, style: 'flat' | 'noise', keyColor: string | undefined, svgVariant: SvgVariant = 'clean'): Promise<string> {
  if (plan.outputFormat === 'svg') return Buffer.from(SVG_VARIANTS[svgVariant]).toString('base64');
  if (plan.outputFormat === 'gif') {
    const key = `gif:${plan.width}x${plan.height}:${plan.frameCount}:${plan.frameDurationMs}`;
    let cached = imageCache.get(key);
    if (!cached) {
      cached = animatedGif({ width: plan.width, height: plan.height, frames: plan.frameCount, delayMs: plan.frameDurationMs }).then((b) => b.toString('base64'));
      imageCache.set(key, cached);
    }
    return cached;
  }
  return imageBase64(plan.width, plan.height, plan.outputFormat, plan.transparent, style, keyColor, plan.alphaPeak);
}

/** svg_usage: the author model's tokens, billed at its rates. */
function svgUsage(plan: Plan): Record<string, unknown> | undefined {
  if (plan.outputFormat !== 'svg') return undefined;
  const input = Math.ceil(plan.prompt.length / 4) + 400;
  return { input_tokens: input, output_tokens: 2400, reasoning_tokens: 1800, total_tokens: input + 2400, model: plan.svgModel };
}

function imageBase64(
  width: number,
  height: number,
  format: OutputFormat,
  transparent: boolean,
  style: 'flat' | 'noise',
  keyColor?: string,
  alphaPeak = 255,
): Promise<string> {
  const key = `${width}x${height}:${format}:${transparent ? `t${alphaPeak}` : 'o'}:${style}:${keyColor ?? ''}`;
  let cached = imageCache.get(key);
  if (!cached) {
    cached = renderImage(width, height, format, transparent, style, keyColor, alphaPeak).then((b) => b.toString('base64'));
    imageCache.set(key, cached);
    cached.catch(() => imageCache.delete(key));
  }
  return cached;
}

/** `{"b64_json":"..."}` as bytes, made once per image: answers reuse it instead of re-serialising ~16 MB. */
const dataItemCache = new Map<string, Buffer>();

function dataItemBytes(b64: string): Buffer {
  let item = dataItemCache.get(b64);
  if (!item) {
    item = Buffer.from(JSON.stringify({ b64_json: b64 }));
    dataItemCache.set(b64, item);
  }
  return item;
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

function faultResponse(fault: Fault, model: string | undefined): { status: number; body: unknown; headers: Record<string, string> } {
  const m = model ?? 'gpt-image-2';
  switch (fault.kind) {
    case 'rate_limit': {
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
      if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = fault.retryAfterMs;
      return {
        status: 429,
        headers,
        body: {
          error: {
            message:
              `Rate limit reached for ${m} in organization org-fake on images per min (IPM): Limit 5, Used 5, ` +
              'Requested 1. Please try again in 12s. Visit https://platform.openai.com/account/rate-limits to learn more.',
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        },
      };
    }
    case 'server_error':
      return {
        status: fault.status ?? 500,
        headers: {},
        body: {
          error: {
            message: 'The server had an error while processing your request. Sorry about that!',
            type: 'server_error',
            param: null,
            code: null,
          },
        },
      };
    case 'moderation':
      return {
        status: 400,
        headers: {},
        body: {
          error: {
            message:
              'Your request was rejected by the safety system. If you believe this is an error, contact us at ' +
              'help.openai.com and include the request ID if you have one.',
            type: 'image_generation_user_error',
            param: null,
            code: 'moderation_blocked',
          },
        },
      };
    case 'forbidden':
      return {
        status: 403,
        headers: {},
        body: {
          error: {
            message:
              `Your organization must be verified to use the model \`${m}\`. Please go to: ` +
              'https://platform.openai.com/settings/organization/general and click on Verify Organization. ' +
              'If you just verified, it can take up to 15 minutes for access to propagate.',
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        },
      };
    case 'model_not_found':
      return {
        status: 404,
        headers: {},
        body: new ApiError(404, `The model \`${m}\` does not exist or you do not have access to it.`, null, 'model_not_found').body(),
      };
    case 'status':
      return {
        status: fault.status,
        headers: fault.headers ?? {},
        body:
          fault.body !== undefined
            ? fault.body
            : fault.status >= 400
              ? { error: { message: `Injected status ${fault.status}.`, type: 'fake_injected_error', param: null, code: null } }
              : {},
      };
    case 'malformed':
    case 'drop':
    case 'slow':
    case 'ignore_key_color':
    case 'svg_variant':
      throw new Error(`fault ${fault.kind} has no fixed response`);
  }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

interface ParsedBody {
  body: Record<string, unknown>;
  files: InputFile[];
  multipart: boolean;
  /** Set when the body could not be parsed. */
  error?: ApiError;
}

async function parseBody(endpoint: Endpoint | null, req: IncomingMessage, raw: Buffer): Promise<ParsedBody> {
  const contentType = String(req.headers['content-type'] ?? '');
  if (/^multipart\/form-data/i.test(contentType)) {
    try {
      const form = await new Request('http://fake.invalid/', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: raw,
      }).formData();
      const body: Record<string, unknown> = {};
      const files: InputFile[] = [];
      for (const [name, value] of form.entries()) {
        if (typeof value === 'string') {
          const prev = body[name];
          if (prev === undefined) body[name] = value;
          else if (Array.isArray(prev)) prev.push(value);
          else body[name] = [prev, value];
        } else {
          files.push({
            field: name,
            filename: value.name,
            contentType: value.type,
            bytes: Buffer.from(await value.arrayBuffer()),
          });
        }
      }
      return { body, files, multipart: true };
    } catch (e) {
      return {
        body: {},
        files: [],
        multipart: true,
        error: bad(`Could not parse the multipart form data of your request: ${(e as Error).message}`, null, null),
      };
    }
  }
  if (endpoint === 'edits') {
    return {
      body: {},
      files: [],
      multipart: false,
      error: bad(
        `Invalid Content-Type header (${contentType || 'none'}): this fake only accepts multipart/form-data for ` +
          '/v1/images/edits.',
        null,
        null,
      ),
    };
  }
  const text = raw.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {
      body: {},
      files: [],
      multipart: false,
      error: bad(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP " +
          'library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you ' +
          'have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)',
        null,
        null,
      ),
    };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return {
      body: {},
      files: [],
      multipart: false,
      error: bad(`Invalid type for the request body: expected an object, but got ${jsonTypeName(parsed)} instead.`, null, 'invalid_type'),
    };
  }
  return { body: parsed as Record<string, unknown>, files: [], multipart: false };
}

function maskKey(key: string): string {
  if (key.length <= 8) return '*'.repeat(key.length);
  return `${key.slice(0, 3)}${'*'.repeat(Math.min(key.length - 7, 20))}${key.slice(-4)}`;
}

export async function startFakeImagesApi(options: FakeImagesApiOptions = {}): Promise<FakeImagesApi> {
  const apiKey = options.apiKey ?? 'sk-test-fake';
  const latencyMs = options.latencyMs ?? 0;
  const style = options.imageStyle ?? 'flat';
  const requests: RecordedRequest[] = [];
  let rules: Array<FaultRule & { left: number }> = [];
  const shutdownDates: Record<string, string | null> = { ...DEFAULT_SHUTDOWN_DATES, ...options.shutdownDates };
  const state = { today: options.today ?? new Date().toISOString().slice(0, 10) };
  const lifecycle: Lifecycle = (model) => {
    const shutdownDate = shutdownDates[model] ?? shutdownDates[SNAPSHOTS[model] ?? ''] ?? null;
    return { exists: modelRules(model) !== null && (shutdownDate === null || state.today < shutdownDate), shutdownDate };
  };

  const takeFault = (endpoint: Endpoint | 'models', model: string | undefined): Fault | undefined => {
    // A rule without a path is for the image endpoints; the models endpoint only takes rules that name it.
    const i = rules.findIndex(
      (r) =>
        r.left > 0 &&
        (r.path === undefined ? endpoint !== 'models' : r.path === endpoint) &&
        (r.model === undefined || r.model === model),
    );
    if (i < 0) return undefined;
    const rule = rules[i]!;
    rule.left -= 1;
    if (rule.left <= 0) rules.splice(i, 1);
    return rule.fault;
  };

  /** A Batch API line, answered as a synchronous request would be (no faults, no streaming). */
  const answerLine = async (url: string, body: Record<string, unknown>): Promise<{ status: number; body: unknown }> => {
    if (url !== '/v1/images/generations') return { status: 400, body: { error: { message: `This fake answers batch lines for /v1/images/generations only, not ${url}.`, type: 'invalid_request_error', param: 'url', code: null } } };
    let plan: Plan;
    try {
      plan = await validate('generations', body, [], false, lifecycle, options.transparentPreview);
    } catch (e) {
      if (e instanceof ApiError) return { status: e.status, body: e.body() };
      throw e;
    }
    const b64 = await answerBase64(plan, style, undefined);
    const textTokens = Math.ceil(plan.prompt.length / 4);
    const usage = { input_tokens: textTokens, input_tokens_details: { text_tokens: textTokens, image_tokens: 0 }, output_tokens: plan.outputTokensPerImage * plan.n, total_tokens: textTokens + plan.outputTokensPerImage * plan.n };
    const data = Array.from({ length: plan.n }, () => ({ b64_json: b64 }));
    const svg_usage = svgUsage(plan);
    return { status: 200, body: { created: Math.floor(Date.now() / 1000), output_format: plan.outputFormat, quality: plan.quality, size: `${plan.width}x${plan.height}`, data, usage, ...(svg_usage ? { svg_usage } : {}) } };
  };
  const batch = createFakeBatchApi(answerLine);

  const handle = async (req: IncomingMessage, res: ServerResponse, record: RecordedRequest, arrived: number): Promise<void> => {
    const { at, path } = record;
    const requestId = `req_${randomBytes(16).toString('hex')}`;
    const gone = new AbortController();
    req.on('error', () => {});
    res.on('error', () => {});
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });

    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // client went away while uploading
    }
    const raw = Buffer.concat(chunks);

    const endpoint: Endpoint | null =
      path === '/v1/images/generations' ? 'generations' : path === '/v1/images/edits' ? 'edits' : null;
    const parsed = await parseBody(endpoint, req, raw);
    record.body = parsed.body;
    record.files = parsed.files.map((f) => ({ ...f }));

    const write = async (
      status: number,
      payload: string | Buffer | Buffer[],
      headers: Record<string, string> = {},
    ): Promise<void> => {
      const wait = arrived + latencyMs - performance.now();
      if (wait > 0) await delay(wait, undefined, { signal: gone.signal });
      if (res.destroyed || gone.signal.aborted) return;
      record.status = status;
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-request-id': requestId,
        'openai-processing-ms': String(Date.now() - at),
        ...headers,
      });
      if (Array.isArray(payload)) {
        for (const part of payload) res.write(part);
        res.end();
      } else {
        res.end(payload);
      }
    };
    const sendJson = (status: number, body: unknown, headers: Record<string, string> = {}): Promise<void> =>
      write(status, typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), headers);

    // 1. Authentication.
    const auth = req.headers.authorization;
    const bearer = typeof auth === 'string' && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, '').trim() : undefined;
    if (!bearer) {
      await sendJson(401, {
        error: {
          message:
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer " +
            'auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you\'re ' +
            'accessing the API from your browser and are prompted for a username and password. You can obtain an ' +
            'API key from https://platform.openai.com/account/api-keys.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
      return;
    }
    if (bearer !== apiKey) {
      await sendJson(401, {
        error: {
          message: `Incorrect API key provided: ${maskKey(bearer)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
      return;
    }

    // Files and Batches (test/fake-batch-api.ts); their lines are answered by answerLine below.
    const sendBytes = (status: number, bytes: Buffer, type: string) => write(status, bytes, { 'content-type': type });
    if (await batch.handle({ method: req.method ?? '', path, body: parsed.body, files: parsed.files, sendJson, sendBytes })) return;

    // 2. Route. GET /v1/models/{id}: the model's lifecycle (shutdown_date), as the real API publishes it.
    const modelPath = /^\/v1\/models\/([^/]+)$/.exec(path);
    if (modelPath && req.method === 'GET') {
      const id = decodeURIComponent(modelPath[1]!);
      const fault = takeFault('models', id);
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'slow') {
        await delay(fault.delayMs, undefined, { signal: gone.signal });
        if (gone.signal.aborted) return;
      } else if (fault && fault.kind !== 'ignore_key_color' && fault.kind !== 'svg_variant' && fault.kind !== 'malformed') {
        const r = faultResponse(fault, id);
        await sendJson(r.status, r.body, r.headers);
        return;
      } else if (fault?.kind === 'malformed') {
        await write(200, '{"id": "' + id);
        return;
      }
      const life = lifecycle(id);
      if (!life.exists) {
        await sendJson(404, new ApiError(404, `The model \`${id}\` does not exist or you do not have access to it.`, 'model', 'model_not_found').body());
        return;
      }
      await sendJson(200, { id, object: 'model', created: CREATED[SNAPSHOTS[id] ?? id] ?? 1700000000, owned_by: 'system', shutdown_date: life.shutdownDate });
      return;
    }
    if (!endpoint || req.method !== 'POST') {
      await sendJson(404, {
        error: { message: `Invalid URL (${req.method ?? ''} ${path})`, type: 'invalid_request_error', param: null, code: null },
      });
      return;
    }

    // 3. Injected faults.
    const model = typeof parsed.body.model === 'string' ? parsed.body.model : undefined;
    const fault = takeFault(endpoint, model);
    const ignoreKeyColor = fault?.kind === 'ignore_key_color';
    const svgVariant = fault?.kind === 'svg_variant' ? fault.variant : undefined;
    if (fault && !ignoreKeyColor && !svgVariant) {
      if (fault.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'malformed') {
        await write(200, '{"created": 1700000000, "data": [{"b64_json": "iVBORw0KGgo');
        return;
      }
      if (fault.kind === 'slow') {
        await delay(fault.delayMs, undefined, { signal: gone.signal });
        if (gone.signal.aborted) return;
      } else {
        const r = faultResponse(fault, model);
        await sendJson(r.status, r.body, r.headers);
        return;
      }
    }

    // 4. Normal handling.
    if (parsed.error) {
      await sendJson(parsed.error.status, parsed.error.body());
      return;
    }
    let plan: Plan;
    try {
      plan = await validate(endpoint, parsed.body, parsed.files, parsed.multipart, lifecycle, options.transparentPreview);
    } catch (e) {
      if (e instanceof ApiError) {
        await sendJson(e.status, e.body());
        return;
      }
      throw e;
    }

    const keyColor = ignoreKeyColor ? undefined : keyColorAsked(plan.prompt);
    const b64 = await answerBase64(plan, style, keyColor, svgVariant);
    if (gone.signal.aborted) return;
    const textTokens = Math.ceil(plan.prompt.length / 4);
    const imageTokens = plan.inputImages * IMAGE_TOKENS_PER_INPUT;
    const outputTokens = plan.outputTokensPerImage * plan.n;
    const usage = {
      input_tokens: textTokens + imageTokens,
      input_tokens_details: { text_tokens: textTokens, image_tokens: imageTokens },
      output_tokens: outputTokens,
      total_tokens: textTokens + imageTokens + outputTokens,
    };
    const created = Math.floor(Date.now() / 1000);
    const meta = {
      background: plan.transparent ? 'transparent' : 'opaque',
      output_format: plan.outputFormat,
      quality: plan.quality,
      size: `${plan.width}x${plan.height}`,
    };

    if (plan.stream) {
      const prefix = plan.endpoint === 'edits' ? 'image_edit' : 'image_generation';
      let sse = '';
      for (let i = 0; i < plan.n; i++) {
        for (let k = 0; k < plan.partialImages; k++) {
          const event = { type: `${prefix}.partial_image`, b64_json: b64, created_at: created, ...meta, partial_image_index: k };
          sse += `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
        }
        const done = { type: `${prefix}.completed`, b64_json: b64, created_at: created, ...meta, usage };
        sse += `event: ${done.type}\ndata: ${JSON.stringify(done)}\n\n`;
      }
      await write(200, sse, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      return;
    }

    // The same JSON as { created, ...meta, data: [{ b64_json }, ...], usage }, from cached bytes.
    const item = dataItemBytes(b64);
    const head = Buffer.from(`${JSON.stringify({ created, ...meta }).slice(0, -1)},"data":[`);
    const items = Array.from({ length: plan.n }, (_, i) => (i === 0 ? [item] : [Buffer.from(','), item])).flat();
    const svg_usage = svgUsage(plan);
    const tail = svg_usage ? `,"svg_usage":${JSON.stringify(svg_usage)}` : '';
    await write(200, [head, ...items, Buffer.from(`],"usage":${JSON.stringify(usage)}${tail}}`)]);
  };

  const server: Server = createServer((req, res) => {
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: (req.url ?? '/').split('?')[0] ?? '/',
      headers: { ...req.headers },
      body: {},
      files: [],
      status: 0,
      at: Date.now(),
    };
    requests.push(record);
    handle(req, res, record, performance.now()).catch((e: unknown) => {
      if ((e as Error | undefined)?.name === 'AbortError') return; // the client went away during a delay
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      record.status = 500;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { message: `Fake Images API internal error: ${String(e)}`, type: 'server_error', param: null, code: null },
        }),
      );
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    get today() {
      return state.today;
    },
    set today(day: string) {
      state.today = day;
    },
    setShutdownDate(model: string, date: string | null): void {
      shutdownDates[model] = date;
    },
    batch,
    inject(rule: FaultRule): void {
      rules.push({ ...rule, left: rule.times ?? 1 });
    },
    reset(): void {
      requests.length = 0;
      rules = [];
      batch.reset();
    },
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
