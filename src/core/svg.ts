/**
 * An SVG is code: before a saved SVG is shown or passed on, it is parsed (as XML, by xmldom) and
 * checked for anything active or external, and a cleaned copy can be made without it.
 *
 * xmldom is pure JavaScript and does no I/O: it never fetches a DTD, never resolves an external
 * entity and never expands a declared one (a reference to one is reported and left as text), so an
 * entity bomb costs nothing here. DOCTYPEs and entity declarations are reported all the same, since
 * other readers of the file (browsers, editors, libxml2) may expand them.
 */
import { DOMParser, XMLSerializer, type Attr, type Document, type Element, type Node } from '@xmldom/xmldom';

export const SVG_NAMESPACE = 'http://www.w3.org/2000/svg';
/** Larger files are not parsed (a DOM of 8 MB of XML takes seconds and hundreds of MB). */
export const MAX_SVG_CHECK_BYTES = 8 * 1024 * 1024;

export type SvgFindingKind =
  | 'doctype' // a DOCTYPE (an external DTD, or an internal subset)
  | 'entity' // entity declarations in the internal subset (entity bombs, external entities)
  | 'processing-instruction' // <?xml-stylesheet href=...?> and the like
  | 'script' // <script>, <handler>
  | 'foreign-object' // <foreignObject>: HTML inside the SVG
  | 'embedded-content' // <iframe>, <embed>, <object>
  | 'event-handler' // onload=, onclick= ...
  | 'external-href' // href / xlink:href / src to anything but #id or a raster data:image
  | 'external-use' // <use> of anything but #id
  | 'animated-link' // <animate>/<set> that rewrites an href or an event handler
  | 'style-import' // @import in <style>
  | 'external-url'; // url(...) to a non-local target in <style>, style= or a presentation attribute

export interface SvgFinding {
  kind: SvgFindingKind;
  /** What was found, as a person would name it: `<script>`, `onload="..." on <svg>`. */
  what: string;
  /** Where: `line 3, column 5 (svg > g#logo > script)`. */
  where: string;
}

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

const EMBEDDED = new Set(['iframe', 'embed', 'object']);
const SCRIPTS = new Set(['script', 'handler']);
const ANIMATIONS = new Set(['animate', 'set', 'animateMotion', 'animateTransform', 'animateColor']);
const RASTER_DATA_URL = /^data:image\/(?:png|jpe?g|gif|webp|avif|bmp)[;,]/i;
const ELEMENT_NODE = 1;
const PROCESSING_INSTRUCTION_NODE = 7;
const MAX_VALUE_SHOWN = 60;
/** Findings and warnings listed by text; a file with more says how many more. */
export const MAX_FINDINGS_LISTED = 50;
const MAX_WARNINGS_LISTED = 10;
/** How much of a CSS url(...) target is read: enough to tell #id and data:image/... from the rest. */
const URL_WINDOW = 256;
/** Ancestors named in a finding's place; deeper ones are shown as `…`. */
const MAX_PATH_SHOWN = 6;
/** What an attribute needs to load anything: a CSS function that takes a URL, or an escape hiding one. */
const MAY_LOAD = /url|src|image-set|\\/i;

/** A finding, where it is, and what to take out of the document to be rid of it. */
interface Located {
  kind: SvgFindingKind;
  what: () => string;
  at: Node;
  remove: { node: Node } | { element: Element; attribute: Attr };
}

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

function clip(value: string): string {
  const flat = value.slice(0, MAX_VALUE_SHOWN * 4).replace(/\s+/g, ' ').trim();
  return flat.length > MAX_VALUE_SHOWN ? `${flat.slice(0, MAX_VALUE_SHOWN - 1)}…` : flat;
}

function label(element: Element): string {
  const id = element.getAttribute('id');
  return id ? `${element.tagName}#${id}` : element.tagName;
}

function whereOf(node: Node): string {
  const chain: string[] = [];
  let depth = 0;
  for (let at: Node | null = node; at && at.nodeType === ELEMENT_NODE; at = at.parentNode, depth++) {
    if (depth < MAX_PATH_SHOWN) chain.unshift(label(at as Element));
    if (!at.parentNode || at.parentNode.nodeType !== ELEMENT_NODE) {
      if (depth > MAX_PATH_SHOWN) chain.unshift(label(at as Element), '…');
      else if (depth === MAX_PATH_SHOWN) chain.unshift(label(at as Element));
      break;
    }
  }
  const position = node.lineNumber ? `line ${node.lineNumber}, column ${node.columnNumber}` : 'position unknown';
  return chain.length ? `${position} (${chain.join(' > ')})` : position;
}

/** URL parsers drop ASCII whitespace and control characters (`java\nscript:` is `javascript:`). */
function urlText(value: string): string {
  let out = '';
  for (const c of value) if (c.charCodeAt(0) > 0x20) out += c;
  return out;
}

/** A local fragment (`#id`, or empty: this document) or an embedded raster image. */
function isLocalTarget(value: string, allowRasterData: boolean): boolean {
  const url = urlText(value);
  return url === '' || url.startsWith('#') || (allowRasterData && RASTER_DATA_URL.test(url));
}

/** CSS as a reader sees it: comments gone, escapes (`\75 rl(`) decoded. */
function plainCss(css: string): string {
  return css
    .replace(/\/\*[\s\S]*?(?:\*\/|$)/g, ' ')
    .replace(/\\([0-9a-fA-F]{1,6})[ \t\n\r\f]?|\\([\s\S])/g, (_, hex: string | undefined, char: string | undefined) =>
      hex ? String.fromCodePoint(Math.min(parseInt(hex, 16), 0x10ffff) || 0xfffd) : (char ?? ''),
    );
}

/** The targets of url(...) / src(...) in CSS text that point outside the document, and image-set(). */
function externalCssTargets(css: string): string[] {
  const text = plainCss(css);
  const lower = text.toLowerCase();
  const found: string[] = [];
  for (const fn of ['url(', 'src(']) {
    for (let at = lower.indexOf(fn); at >= 0; at = lower.indexOf(fn, at + 1)) {
      if (/[a-z0-9_-]/.test(lower[at - 1] ?? '')) continue; // part of a longer name
      // Only the start of a target decides (#id, data:image/...): a bounded window keeps this linear.
      let rest = text.slice(at + fn.length, at + fn.length + URL_WINDOW).trimStart();
      const quote = rest[0] === '"' || rest[0] === "'" ? rest[0] : undefined;
      if (quote) rest = rest.slice(1);
      const end = rest.indexOf(quote ?? ')');
      const target = (end < 0 ? rest : rest.slice(0, end)).trim();
      // An unclosed target longer than the window is judged by its start, which is never empty.
      if (!isLocalTarget(end < 0 && !target ? '?' : target, true)) found.push(`${fn}${clip(target)})`);
    }
  }
  if (/(?:^|[^a-z0-9_-])(?:-webkit-)?image-set\(/.test(lower)) found.push('image-set(...)');
  return found;
}

function hasImport(css: string): boolean {
  return plainCss(css).toLowerCase().includes('@import');
}

/** Names of the entities declared in a DOCTYPE's internal subset (for the finding's text only). */
function entityNames(internalSubset: string): string[] {
  return [...internalSubset.matchAll(/<!ENTITY\s+(%\s+)?([^\s>]+)/g)].map((m) => (m[1] ? `%${m[2]}` : m[2]!));
}

function parseViewBox(value: string): ViewBox | undefined {
  const parts = value.trim().split(/[\s,]+/).map(Number);
  if (parts.length !== 4 || !parts.every(Number.isFinite)) return undefined;
  const [minX, minY, width, height] = parts as [number, number, number, number];
  return width > 0 && height > 0 ? { minX, minY, width, height } : undefined;
}

function attributesOf(element: Element): Attr[] {
  const list: Attr[] = [];
  for (let i = 0; i < element.attributes.length; i++) list.push(element.attributes.item(i)!);
  return list;
}

/** Every element and processing instruction, in document order, without recursion (depth is the file's). */
function* walk(doc: Document): Generator<Node> {
  const stack: Node[] = [];
  for (let child = doc.lastChild; child; child = child.previousSibling) stack.push(child);
  while (stack.length) {
    const node = stack.pop()!;
    yield node;
    if (node.nodeType === ELEMENT_NODE) for (let child = node.lastChild; child; child = child.previousSibling) stack.push(child);
  }
}

function findingsOf(doc: Document, counts: { elements: number }): Located[] {
  const found: Located[] = [];
  // Texts are made only for the findings listed: a hostile file may have a million of them.
  const add = (kind: SvgFindingKind, what: () => string, at: Node, remove: Located['remove']) => found.push({ kind, what, at, remove });
  const doctype = doc.doctype;
  if (doctype) {
    const systemId = (doctype.systemId ?? '').replace(/^["']|["']$/g, '');
    add('doctype', () => `a DOCTYPE declaration${systemId ? ` referring to ${clip(systemId)}` : ''}`, doctype, { node: doctype });
    const subset = doctype.internalSubset ?? '';
    if (/<!ENTITY/i.test(subset)) {
      add('entity', () => `entity declarations (${clip(entityNames(subset).join(', ') || 'unnamed')}): they can expand into an entity bomb or read files`, doctype, { node: doctype });
    }
  }
  for (const node of walk(doc)) {
    if (node.nodeType === PROCESSING_INSTRUCTION_NODE) {
      if (node.nodeName.toLowerCase() !== 'xml') add('processing-instruction', () => `<?${node.nodeName} ${clip(node.nodeValue ?? '')}?>`, node, { node });
      continue;
    }
    if (node.nodeType !== ELEMENT_NODE) continue;
    const element = node as Element;
    counts.elements++;
    const name = element.localName ?? element.tagName;
    const tag = () => `<${element.tagName}>`;
    const whole = { node: element };
    if (SCRIPTS.has(name)) add('script', tag, element, whole);
    else if (name === 'foreignObject') add('foreign-object', tag, element, whole);
    else if (EMBEDDED.has(name)) add('embedded-content', tag, element, whole);
    else if (name === 'style') {
      const css = element.textContent ?? '';
      if (hasImport(css)) add('style-import', () => '@import in <style>', element, whole);
      for (const target of externalCssTargets(css)) add('external-url', () => `${target} in <style>`, element, whole);
    } else if (ANIMATIONS.has(name)) {
      const target = (element.getAttribute('attributeName') ?? '').trim().split(':').pop()!.toLowerCase();
      if (target === 'href' || target === 'src' || target.startsWith('on')) {
        add('animated-link', () => `<${element.tagName} attributeName="${clip(target)}">`, element, whole);
      }
    }
    for (const attribute of attributesOf(element)) {
      const local = (attribute.localName ?? attribute.name).toLowerCase();
      const shown = () => `${attribute.name}="${clip(attribute.value)}" on <${element.tagName}>`;
      const remove = { element, attribute };
      if (local.startsWith('on')) add('event-handler', shown, element, remove);
      else if (attribute.name === 'xml:base') {
        // A base elsewhere turns every #fragment below it into a link to another document.
        if (attribute.value.trim()) add('external-href', shown, element, remove);
      } else if (local === 'href' || local === 'src') {
        if (name === 'use' && !isLocalTarget(attribute.value, false)) add('external-use', shown, element, remove);
        else if (!isLocalTarget(attribute.value, true)) add('external-href', shown, element, remove);
      } else if (MAY_LOAD.test(attribute.value)) {
        // style="fill:url(...)", fill="url(...)", filter=, mask=, clip-path=, marker-*= ...
        for (const target of externalCssTargets(attribute.value)) add('external-url', () => `${target} in ${attribute.name}= on <${element.tagName}>`, element, remove);
      }
    }
  }
  return found;
}

/** The first findings as texts (the rest are counted, and cleaned all the same). */
function listed(found: readonly Located[]): SvgFinding[] {
  return found.slice(0, MAX_FINDINGS_LISTED).map((f) => ({ kind: f.kind, what: f.what(), where: whereOf(f.at) }));
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
