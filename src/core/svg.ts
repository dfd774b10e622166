/**
 * An SVG is code: before a saved SVG is shown or passed on, it is parsed (as XML, by xmldom) and
 * checked for anything active or external, and a cleaned copy can be made without it.
 *
 * xmldom is pure JavaScript and does no I/O: it never fetches a DTD, never resolves an external
 * entity and never expands a declared one (a reference to one is reported and left as text), so an
 * entity bomb costs nothing here. DOCTYPEs and entity declarations are reported all the same, since
 * other readers of the file (browsers, editors, libxml2) may expand them.
 */
import { DOMParser, XMLSerializer, type Document, type Element } from '@xmldom/xmldom';
import { clip, findingsOf, listed, walk, PROCESSING_INSTRUCTION_NODE, type Located, type SvgFinding } from './svg-findings.js';

export { MAX_FINDINGS_LISTED, type SvgFinding, type SvgFindingKind } from './svg-findings.js';

export const SVG_NAMESPACE = 'http://www.w3.org/2000/svg';
/** Larger files are not parsed (a DOM of 8 MB of XML takes seconds and hundreds of MB). */
export const MAX_SVG_CHECK_BYTES = 8 * 1024 * 1024;

export interface ViewBox {
  minX: number;
  minY: number;
  width: number;
  height: number;
}

export interface SvgCheck {
  ok: true;
  /** The root's viewBox, when it is four numbers with a positive width and height. */
  viewBox?: ViewBox;
  /** The root's width and height attributes as written. */
  width?: string;
  height?: string;
  /** Elements in the document, the root included. */
  elements: number;
  /** Active or external content found, in all; 0 for a clean file. */
  findingsTotal: number;
  /** The first of them (at most MAX_FINDINGS_LISTED), each by name and place. */
  findings: SvgFinding[];
  /** Oddities that are not a risk (no SVG namespace, an unusable viewBox, parser complaints). */
  warnings: string[];
}

export type SvgVerdict = SvgCheck | { ok: false; reason: string };

export type SvgSanitized = { ok: true; svg: string; removed: SvgFinding[]; removedTotal: number } | { ok: false; reason: string };

/** Warnings listed by text; a file with more says how many more. */
const MAX_WARNINGS_LISTED = 10;

interface Parsed {
  doc: Document;
  root: Element;
  warnings: string[];
}

function decode(input: Uint8Array | string): string | { reason: string } {
  if (typeof input === 'string') return input;
  const utf16 = input[0] === 0xff && input[1] === 0xfe ? 'utf-16le' : input[0] === 0xfe && input[1] === 0xff ? 'utf-16be' : undefined;
  try {
    // The BOM is dropped by the decoder.
    return new TextDecoder(utf16 ?? 'utf-8', { fatal: true }).decode(input);
  } catch {
    return { reason: 'is not UTF-8 (or UTF-16) text, so it is not an SVG document' };
  }
}

function parse(input: Uint8Array | string): Parsed | { reason: string } {
  const bytes = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (bytes > MAX_SVG_CHECK_BYTES) {
    return { reason: `is ${(bytes / 1024 / 1024).toFixed(1)} MB, over the ${MAX_SVG_CHECK_BYTES / 1024 / 1024} MB that is checked; it was not parsed: treat it as unchecked and open it only where scripts cannot run (as an <img>)` };
  }
  const text = decode(input);
  if (typeof text !== 'string') return text;
  const warnings: string[] = [];
  let unlisted = 0;
  let doc: Document;
  try {
    // application/xml rather than image/svg+xml: the latter makes xmldom assume the SVG namespace.
    doc = new DOMParser({
      onError: (level, message) => {
        if (level === 'fatalError') throw new Error(message);
        if (warnings.length >= MAX_WARNINGS_LISTED) return void unlisted++;
        const entity = /^entity not found:\s*(\S+)/.exec(message)?.[1];
        warnings.push(entity ? `${entity} is not an entity XML defines; it was not expanded (it reads as text)` : `XML ${level}: ${message.split('\n')[0]}`);
      },
    }).parseFromString(text, 'application/xml');
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { reason: `is not well-formed XML (${message})` };
  }
  if (unlisted) warnings.push(`… and ${unlisted} more parser complaints`);
  const root = doc.documentElement;
  if (!root) return { reason: 'has no root element' };
  if (root.localName !== 'svg') return { reason: `has the root element <${clip(root.tagName)}>, not <svg>` };
  if (root.namespaceURI !== SVG_NAMESPACE) {
    warnings.push(`the root <svg> is not in the SVG namespace (xmlns="${SVG_NAMESPACE}" is missing): browsers show it as XML text, not a picture`);
  }
  return { doc, root, warnings };
}

function parseViewBox(value: string): ViewBox | undefined {
  const parts = value.trim().split(/[\s,]+/).map(Number);
  if (parts.length !== 4 || !parts.every(Number.isFinite)) return undefined;
  const [minX, minY, width, height] = parts as [number, number, number, number];
  return width > 0 && height > 0 ? { minX, minY, width, height } : undefined;
}

function analyse(parsed: Parsed): { check: SvgCheck; found: Located[] } {
  const counts = { elements: 0 };
  const found = findingsOf(parsed.doc, counts);
  const check: SvgCheck = { ok: true, elements: counts.elements, findingsTotal: found.length, findings: listed(found), warnings: parsed.warnings };
  const viewBox = parsed.root.getAttribute('viewBox');
  if (viewBox !== null) {
    const box = parseViewBox(viewBox);
    if (box) check.viewBox = box;
    else check.warnings.push(`viewBox="${clip(viewBox)}" is not four numbers with a positive width and height`);
  }
  const width = parsed.root.getAttribute('width');
  const height = parsed.root.getAttribute('height');
  if (width !== null) check.width = width;
  if (height !== null) check.height = height;
  return { check, found };
}

/** Takes the findings out of the parsed document, writes it back, and checks the copy again. */
function clean(parsed: Parsed, found: readonly Located[]): SvgSanitized {
  const removed = listed(found); // while each finding still has its place in the document
  for (const { remove } of found) {
    if ('attribute' in remove) remove.element.removeAttributeNode(remove.attribute);
    else remove.node.parentNode?.removeChild(remove.node);
  }
  for (const node of [...walk(parsed.doc)]) {
    if (node.nodeType === PROCESSING_INSTRUCTION_NODE) node.parentNode?.removeChild(node);
  }
  const svg = `${new XMLSerializer().serializeToString(parsed.doc).trim()}\n`;
  const again = checkSvg(svg);
  if (!again.ok || again.findingsTotal) {
    return { ok: false, reason: 'The cleaned copy still failed the check; the file was not cleaned.' };
  }
  return { ok: true, svg, removed, removedTotal: found.length };
}

/** Parses an SVG's bytes and reports its size, its element count and anything active or external. */
export function checkSvg(input: Uint8Array | string): SvgVerdict {
  const parsed = parse(input);
  if ('reason' in parsed) return { ok: false, reason: `The file ${parsed.reason}.` };
  return analyse(parsed).check;
}

/**
 * A copy without the findings: offending elements go with their content, offending attributes
 * alone; a <style> with a finding goes whole; the DOCTYPE and processing instructions go (the XML
 * declaration too: the copy is UTF-8). The copy is checked again before it is returned.
 */
export function sanitizeSvg(input: Uint8Array | string): SvgSanitized {
  const parsed = parse(input);
  if ('reason' in parsed) return { ok: false, reason: `The file ${parsed.reason}; there is nothing to clean.` };
  return clean(parsed, analyse(parsed).found);
}

/**
 * The check and, only when it found something, the cleaned copy, from one parse: what a preview
 * needs (a clean file is rendered as it is).
 */
export function checkAndCleanSvg(input: Uint8Array | string): { verdict: SvgVerdict; cleaned?: SvgSanitized } {
  const parsed = parse(input);
  if ('reason' in parsed) return { verdict: { ok: false, reason: `The file ${parsed.reason}.` } };
  const { check, found } = analyse(parsed);
  return found.length ? { verdict: check, cleaned: clean(parsed, found) } : { verdict: check };
}

/** A length in user units (px), when it is a plain number or `px`; units and percentages are not. */
function pixels(length: string | undefined): number | undefined {
  const match = length === undefined ? null : /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(?:px)?\s*$/.exec(length);
  const value = match ? Number(match[1]) : Number.NaN;
  return value > 0 ? value : undefined;
}

/**
 * The size the SVG draws at by default (as librsvg takes it: width and height, else the viewBox),
 * when the root says it plainly; undefined for units, percentages without a viewBox, or nothing.
 */
export function svgPixelSize(check: SvgCheck): { width: number; height: number } | undefined {
  const width = pixels(check.width);
  const height = pixels(check.height);
  const box = check.viewBox;
  if (width && height) return { width, height };
  if (width && box) return { width, height: (width * box.height) / box.width };
  if (height && box) return { width: (height * box.width) / box.height, height };
  if (box && check.width === undefined && check.height === undefined) return { width: box.width, height: box.height };
  return undefined;
}

export function describeViewBox(box: ViewBox): string {
  return `${box.minX} ${box.minY} ${box.width} ${box.height}`;
}

/** The check in a few lines for a result's text: size, element count, then each finding by name. */
export function describeSvgCheck(verdict: SvgVerdict): string[] {
  if (!verdict.ok) return [`SVG check: not done. ${verdict.reason}`];
  const facts = [
    verdict.viewBox ? `viewBox ${describeViewBox(verdict.viewBox)}` : 'no viewBox',
    verdict.width || verdict.height ? `width ${verdict.width ?? '(none)'}, height ${verdict.height ?? '(none)'}` : undefined,
    `${verdict.elements} element${verdict.elements === 1 ? '' : 's'}`,
  ].filter(Boolean);
  const lines: string[] = [];
  if (verdict.findingsTotal === 0) lines.push(`SVG check: clean, no active or external content (${facts.join(', ')}).`);
  else {
    const n = verdict.findingsTotal;
    lines.push(`SVG check: ${n} finding${n === 1 ? '' : 's'} of active or external content (${facts.join(', ')}); the file is kept as made, \`sanitize: true\` writes a copy without them:`);
    for (const f of verdict.findings) lines.push(`- ${f.kind}: ${f.what} at ${f.where}`);
    if (verdict.findingsTotal > verdict.findings.length) lines.push(`- … and ${verdict.findingsTotal - verdict.findings.length} more`);
  }
  for (const w of verdict.warnings) lines.push(`SVG note: ${w}`);
  return lines;
}
