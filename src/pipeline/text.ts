/**
 * The readable text of an image result, written for the model that reads it first: what was saved
 * where (size, format), which model and why, the final prompt, the cost, warnings, and what to do
 * next. One image's text stays within TEXT_BUDGET bytes: a long prompt is shortened here and the
 * text says where the whole of it is kept.
 */
import { HISTORY_FILE } from '../io/history.js';
import { clipText, formatBytes, type ImageFactsOut } from '../results.js';

/** Bytes of text for a one-image result. */
export const TEXT_BUDGET = 1500;
/** The prompt keeps at least this much of the budget, whatever else the text says. */
const MIN_PROMPT_BYTES = 200;
/** A warning is a sentence or two; an API message quoted in one is cut here. */
const MAX_WARNING_BYTES = 400;

export interface ReportParts {
  /** Lines before the prompt (what was saved, why this model, inputs). */
  head: string[];
  prompt: string;
  /** Where the whole prompt can be read when it is shortened here. */
  promptKeptIn: string;
  /** Lines after the prompt (cost, preview). */
  tail: string[];
  warnings: readonly string[];
  next?: string | undefined;
}

const bytes = (lines: readonly string[]) => lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);

/** The prompt line, shortened to `budget` bytes when it must be. */
function promptLine(prompt: string, budget: number, keptIn: string): string {
  const flat = prompt.replace(/\s*\n\s*/g, ' / ');
  const whole = `Prompt: ${flat}`;
  if (Buffer.byteLength(whole) <= budget) return whole;
  const intro = `Prompt (shortened; all ${prompt.length.toLocaleString('en-US')} characters are in ${keptIn}): `;
  return intro + clipText(flat, Math.max(40, budget - Buffer.byteLength(intro)));
}

/** The text, in reading order, within TEXT_BUDGET when it can be. */
export function reportText(parts: ReportParts): string {
  const warnings = parts.warnings.map((w) => `Warning: ${clipText(w, MAX_WARNING_BYTES)}`);
  const next = parts.next ? [`Next: ${parts.next}`] : [];
  const others = bytes([...parts.head, ...parts.tail, ...warnings, ...next]);
  const budget = Math.max(MIN_PROMPT_BYTES, TEXT_BUDGET - others - 1);
  return [...parts.head, promptLine(parts.prompt, budget, parts.promptKeptIn), ...parts.tail, ...warnings, ...next].join('\n');
}

/** `output/imagegen/fox.png (1024x1024 png, 1.2 MB)`, with its web copy and alpha facts. */
export function fileLine(image: ImageFactsOut, alpha?: string): string {
  const size = image.width ? `${image.width}x${image.height} ${image.format}` : image.format;
  const weight = image.bytes !== undefined ? `, ${formatBytes(image.bytes)}` : '';
  return `${image.path} (${size}${weight}${alpha ? `; ${alpha}` : ''})${image.web_path ? `, web copy ${image.web_path}` : ''}`;
}

/** Where a saved image's whole prompt is kept. */
export const PROMPT_KEPT_IN_HISTORY = HISTORY_FILE;
