/**
 * What counts as active or external content in a parsed SVG (scripts, event handlers, foreign
 * content, links and CSS url() targets outside the document, DOCTYPEs), found node by node with
 * where it stands and what to take out to be rid of it. svg.ts parses, reports and cleans with it.
 */
import type { Attr, Document, Element, Node } from '@xmldom/xmldom';

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

const EMBEDDED = new Set(['iframe', 'embed', 'object']);
const SCRIPTS = new Set(['script', 'handler']);
const ANIMATIONS = new Set(['animate', 'set', 'animateMotion', 'animateTransform', 'animateColor']);
const RASTER_DATA_URL = /^data:image\/(?:png|jpe?g|gif|webp|avif|bmp)[;,]/i;
const ELEMENT_NODE = 1;
export const PROCESSING_INSTRUCTION_NODE = 7;
const MAX_VALUE_SHOWN = 60;
/** Findings listed by text; a file with more says how many more. */
export const MAX_FINDINGS_LISTED = 50;
/** How much of a CSS url(...) target is read: enough to tell #id and data:image/... from the rest. */
const URL_WINDOW = 256;
/** Ancestors named in a finding's place; deeper ones are shown as `…`. */
const MAX_PATH_SHOWN = 6;
/** What an attribute needs to load anything: a CSS function that takes a URL, or an escape hiding one. */
const MAY_LOAD = /url|src|image-set|\\/i;

/** A finding, where it is, and what to take out of the document to be rid of it. */
export interface Located {
  kind: SvgFindingKind;
  what: () => string;
  at: Node;
  remove: { node: Node } | { element: Element; attribute: Attr };
}

export function clip(value: string): string {
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

function attributesOf(element: Element): Attr[] {
  const list: Attr[] = [];
  for (let i = 0; i < element.attributes.length; i++) list.push(element.attributes.item(i)!);
  return list;
}

/** Every element and processing instruction, in document order, without recursion (depth is the file's). */
export function* walk(doc: Document): Generator<Node> {
  const stack: Node[] = [];
  for (let child = doc.lastChild; child; child = child.previousSibling) stack.push(child);
  while (stack.length) {
    const node = stack.pop()!;
    yield node;
    if (node.nodeType === ELEMENT_NODE) for (let child = node.lastChild; child; child = child.previousSibling) stack.push(child);
  }
}

export function findingsOf(doc: Document, counts: { elements: number }): Located[] {
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
export function listed(found: readonly Located[]): SvgFinding[] {
  return found.slice(0, MAX_FINDINGS_LISTED).map((f) => ({ kind: f.kind, what: f.what(), where: whereOf(f.at) }));
}
