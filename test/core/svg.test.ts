import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MAX_FINDINGS_LISTED, MAX_SVG_CHECK_BYTES, checkAndCleanSvg, checkSvg, describeSvgCheck, sanitizeSvg, svgPixelSize, type SvgCheck, type SvgVerdict } from '../../src/core/svg.js';
import {
  ENTITY_SVG,
  EXTERNAL_HREF_SVG,
  FOREIGN_OBJECT_SVG,
  HOSTILE_SVG,
  ICON_ELEMENTS,
  ICON_SVG,
  ONLOAD_SVG,
  SCRIPT_SVG,
} from '../fixtures/svg-gif.js';

function checked(verdict: SvgVerdict): SvgCheck {
  if (!verdict.ok) throw new Error(`expected a parsed SVG, got: ${verdict.reason}`);
  return verdict;
}

const kinds = (svg: string | Buffer) => checked(checkSvg(svg)).findings.map((f) => f.kind);
const svgOf = (body: string, rootAttributes = '') =>
  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10"${rootAttributes}>${body}</svg>`;

/** RGBA of the pixel at (x, y) of an SVG rendered by sharp (librsvg) at its own size. */
async function pixelAt(svg: string, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * 4;
  return [...data.subarray(at, at + 4)];
}

describe('checkSvg', () => {
  it('reports a clean icon as clean, with its viewBox, size and element count', () => {
    const check = checked(checkSvg(Buffer.from(ICON_SVG)));
    expect(check).toEqual({
      ok: true,
      viewBox: { minX: 0, minY: 0, width: 24, height: 24 },
      width: '24',
      height: '24',
      elements: ICON_ELEMENTS,
      findingsTotal: 0,
      findings: [],
      warnings: [],
    });
    expect(describeSvgCheck(check)).toEqual(['SVG check: clean, no active or external content (viewBox 0 0 24 24, width 24, height 24, 10 elements).']);
  });

  it('reports a <script> by name and where it is', () => {
    const [finding, ...rest] = checked(checkSvg(SCRIPT_SVG)).findings;
    expect(rest).toEqual([]);
    expect(finding).toEqual({ kind: 'script', what: '<script>', where: 'line 14, column 3 (svg > script)' });
  });

  it('reports an onload attribute with its code and element', () => {
    const { findings } = checked(checkSvg(ONLOAD_SVG));
    expect(findings).toEqual([{ kind: 'event-handler', what: 'onload="alert(document.domain)" on <svg>', where: 'line 2, column 1 (svg)' }]);
  });

  it('reports external hrefs, web and local file alike', () => {
    const { findings } = checked(checkSvg(EXTERNAL_HREF_SVG));
    expect(findings.map((f) => [f.kind, f.what])).toEqual([
      ['external-href', 'href="https://tracker.invalid/pixel.png" on <image>'],
      ['external-href', 'xlink:href="file:///etc/hostname" on <image>'],
    ]);
  });

  it('reports foreignObject, and the HTML inside it', () => {
    expect(kinds(FOREIGN_OBJECT_SVG)).toEqual(['foreign-object', 'embedded-content', 'external-href']);
    expect(checked(checkSvg(FOREIGN_OBJECT_SVG)).findings[0]!.where).toContain('svg > foreignObject');
  });

  it('reports a DOCTYPE with entity declarations by entity name, and expands none of them', () => {
    const check = checked(checkSvg(ENTITY_SVG));
    expect(check.findings.map((f) => f.kind)).toEqual(['doctype', 'entity']);
    expect(check.findings[1]!.what).toContain('lol, lol2, lol3, secret');
    // Not expanded: the references are reported as text, not turned into 10,000 "lol"s or a file.
    expect(check.warnings.join('\n')).toContain('&lol3; is not an entity XML defines');
    expect(check.warnings.join('\n')).toContain('&secret;');
  });

  it('parses a billion-laughs bomb without expanding it', () => {
    const levels = Array.from({ length: 10 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`).join('');
    const bomb = `<!DOCTYPE svg [<!ENTITY l0 "lol">${levels}]>${svgOf('<text>&l10;</text>')}`;
    // Expanded, it would be 10^10 "lol"s: the test's own timeout is the guard, not a stopwatch.
    expect(kinds(bomb)).toEqual(['doctype', 'entity']);
  });

  it('reports an external DTD, even without entities', () => {
    const svg = `<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">${svgOf('')}`;
    const { findings } = checked(checkSvg(svg));
    expect(findings).toHaveLength(1);
    expect(findings[0]!.what).toBe('a DOCTYPE declaration referring to http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd');
  });

  it('allows local fragments and raster data: images, and nothing else', () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    expect(kinds(svgOf(`<use href="#a"/><use xlink:href="#b"/><image href="${png}"/><a href=""><rect fill="url(#g)" style="fill: url( '#g' )"/></a>`))).toEqual([]);
    expect(kinds(svgOf('<image href="data:image/svg+xml;base64,PHN2Zz4="/>'))).toEqual(['external-href']);
    expect(kinds(svgOf(`<use href="${png}"/>`))).toEqual(['external-use']);
    expect(kinds(svgOf('<use href="sprites.svg#icon"/>'))).toEqual(['external-use']);
    expect(kinds(svgOf('<image href="../secret.png"/>'))).toEqual(['external-href']);
    // URL parsers drop whitespace and control characters inside a URL.
    expect(kinds(svgOf('<a href=" java&#10;script:alert(1)"><rect/></a>'))).toEqual(['external-href']);
    expect(kinds(svgOf('<feImage href="http://evil.invalid/x.png"/>'))).toEqual(['external-href']);
    // A base elsewhere makes "#a" a link to another document.
    expect(kinds(svgOf('<g xml:base="https://evil.invalid/"><use href="#a"/></g>'))).toEqual(['external-href']);
  });

  it('reports active content in any namespace or letter case', () => {
    expect(kinds(svgOf('<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script>'))).toEqual(['script']);
    expect(kinds(svgOf('<rect onMouseOver="alert(1)"/>'))).toEqual(['event-handler']);
    expect(kinds(svgOf('<rect x:onclick="alert(1)" xmlns:x="urn:x"/>'))).toEqual(['event-handler']);
    expect(kinds(svgOf('<handler type="application/ecmascript">alert(1)</handler>'))).toEqual(['script']);
    expect(kinds(svgOf('<a><animate attributeName="xlink:href" values="javascript:alert(1)"/></a>'))).toEqual(['animated-link']);
    expect(kinds(svgOf('<set attributeName="onclick" to="alert(1)"/>'))).toEqual(['animated-link']);
    expect(kinds(svgOf('<animate attributeName="opacity" values="0;1"/>'))).toEqual([]);
  });

  it('reads CSS as a browser does: @import, url() to the web, comments and escapes', () => {
    expect(kinds(svgOf('<style>@import "https://evil.invalid/a.css";</style>'))).toEqual(['style-import']);
    expect(kinds(svgOf('<style>@imp/**/ort "x.css";</style>'))).toEqual([]); // a comment splits a keyword: not an import
    expect(kinds(svgOf('<style>@\\69mport "x.css";</style>'))).toEqual(['style-import']);
    expect(kinds(svgOf('<style>rect { fill: \\75 rl(https://evil.invalid/a.png) }</style>'))).toEqual(['external-url']);
    expect(kinds(svgOf('<style><![CDATA[ rect { fill: url("#g"); background: url(data:image/png;base64,AA==) } ]]></style>'))).toEqual([]);
    expect(kinds(svgOf('<style>rect { background: image-set("a.png" 1x) }</style>'))).toEqual(['external-url']);
    expect(kinds(svgOf('<rect filter="url(https://evil.invalid/f.svg#f)" mask="url(#m)"/>'))).toEqual(['external-url']);
    expect(kinds(svgOf('<rect style="background:url(//evil.invalid/x)"/>'))).toEqual(['external-url']);
    expect(kinds(svgOf('<rect style="fill: \\75 rl(https://evil.invalid/x)" stroke="hsl(1, 50%, 50%)"/>'))).toEqual(['external-url']);
  });

  it('reports an xml-stylesheet instruction, not the XML declaration', () => {
    const svg = `<?xml version="1.0"?><?xml-stylesheet href="https://evil.invalid/x.css"?>${svgOf('')}`;
    const { findings } = checked(checkSvg(svg));
    expect(findings.map((f) => [f.kind, f.what])).toEqual([['processing-instruction', '<?xml-stylesheet href="https://evil.invalid/x.css"?>']]);
  });

  it('refuses what is not an SVG document, saying what it is', () => {
    const reason = (input: string | Buffer) => {
      const verdict = checkSvg(input);
      if (verdict.ok) throw new Error('expected a refusal');
      return verdict.reason;
    };
    expect(reason('')).toMatch(/not well-formed XML/);
    expect(reason('<svg xmlns="http://www.w3.org/2000/svg"><g></svg>')).toMatch(/not well-formed XML \(.*"g".*\)/);
    expect(reason('<html><body/></html>')).toBe('The file has the root element <html>, not <svg>.');
    expect(reason(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe]))).toMatch(/not UTF-8/);
    expect(reason(' '.repeat(MAX_SVG_CHECK_BYTES + 1))).toMatch(/over the 8 MB that is checked/);
  });

  it('reads UTF-8 with a BOM and UTF-16', () => {
    expect(checked(checkSvg(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ICON_SVG.replace('<?xml version="1.0" encoding="UTF-8"?>\n', ''))]))).elements).toBe(ICON_ELEMENTS);
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(svgOf('<rect/>'), 'utf16le')]);
    expect(checked(checkSvg(utf16)).elements).toBe(2);
  });

  it('notes a missing SVG namespace and a viewBox that is not four numbers', () => {
    const check = checked(checkSvg('<svg viewBox="0 0 10"><rect/></svg>'));
    expect(check.findings).toEqual([]);
    expect(check.viewBox).toBeUndefined();
    expect(check.warnings.join('\n')).toContain('not in the SVG namespace');
    expect(check.warnings.join('\n')).toContain('viewBox="0 0 10" is not four numbers');
    expect(checked(checkSvg('<svg xmlns="http://www.w3.org/2000/svg" viewBox=" -1,2 ,30.5 40"/>')).viewBox).toEqual({ minX: -1, minY: 2, width: 30.5, height: 40 });
    expect(checked(checkSvg('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 -5 5"/>')).warnings).toHaveLength(1);
  });

  it('gives the size the SVG draws at when its root states it plainly', () => {
    const size = (attributes: string) => svgPixelSize(checked(checkSvg(`<svg xmlns="http://www.w3.org/2000/svg" ${attributes}/>`)));
    expect(size('width="24" height="16px"')).toEqual({ width: 24, height: 16 });
    expect(size('viewBox="0 0 200 100"')).toEqual({ width: 200, height: 100 });
    expect(size('width="50" viewBox="0 0 200 100"')).toEqual({ width: 50, height: 25 });
    expect(size('height="50" viewBox="0 0 200 100"')).toEqual({ width: 100, height: 50 });
    expect(size('width="10cm" height="5cm"')).toBeUndefined();
    expect(size('width="100%" viewBox="0 0 200 100"')).toBeUndefined();
    expect(size('width="0" height="0"')).toBeUndefined();
    expect(size('')).toBeUndefined();
  });

  it('walks a deeply nested file without running out of stack', () => {
    const depth = 20_000;
    const svg = svgOf(`${'<g>'.repeat(depth)}<script>alert(1)</script>${'</g>'.repeat(depth)}`);
    const check = checked(checkSvg(svg));
    expect(check.elements).toBe(depth + 2);
    expect(check.findings.map((f) => f.kind)).toEqual(['script']);
    // The place names the root and the nearest ancestors, not 20,000 of them.
    expect(check.findings[0]!.where).toMatch(/^line 1, column \d+ \(svg > … > g > g > g > g > g > script\)$/);
  });

  it('counts a flood of findings, lists the first 50, and cleans them all', () => {
    const count = 20_000;
    const svg = svgOf('<rect onclick="alert(1)"/>'.repeat(count));
    const check = checked(checkSvg(svg));
    expect(check.findingsTotal).toBe(count);
    expect(check.findings).toHaveLength(MAX_FINDINGS_LISTED);
    expect(describeSvgCheck(check)).toContain(`- … and ${count - MAX_FINDINGS_LISTED} more`);
    const cleaned = sanitizeSvg(svg);
    if (!cleaned.ok) throw new Error(cleaned.reason);
    expect(cleaned.removedTotal).toBe(count);
    expect(cleaned.svg).not.toContain('onclick');
  });

  it('stays linear on CSS that never closes a url(', () => {
    // Quadratic scanning of 2.4 MB would not finish within the test's timeout; linear takes a second or two.
    const svg = svgOf(`<style>${'a{fill:url(#'.repeat(200_000)}</style>`);
    expect(kinds(svg)).toEqual([]);
  });

  it('describes findings one per line, with the fix', () => {
    const lines = describeSvgCheck(checkSvg(ONLOAD_SVG));
    expect(lines[0]).toContain('1 finding of active or external content');
    expect(lines[0]).toContain('`sanitize: true` writes a copy without them');
    expect(lines[1]).toBe('- event-handler: onload="alert(document.domain)" on <svg> at line 2, column 1 (svg)');
    expect(describeSvgCheck(checkSvg('<p/>'))).toEqual(['SVG check: not done. The file has the root element <p>, not <svg>.']);
  });
});

describe('sanitizeSvg', () => {
  const variants = { SCRIPT_SVG, ONLOAD_SVG, EXTERNAL_HREF_SVG, FOREIGN_OBJECT_SVG, ENTITY_SVG, HOSTILE_SVG };

  for (const [name, svg] of Object.entries(variants)) {
    it(`cleans ${name}: the copy checks clean, and still renders the icon`, async () => {
      const found = checked(checkSvg(svg)).findings;
      const cleaned = sanitizeSvg(Buffer.from(svg));
      if (!cleaned.ok) throw new Error(cleaned.reason);
      expect(cleaned.removed).toEqual(found);
      const again = checked(checkSvg(cleaned.svg));
      expect(again.findings).toEqual([]);
      expect(again.viewBox).toEqual({ minX: 0, minY: 0, width: 24, height: 24 });
      // The icon's green square and white tick are still drawn where they were.
      expect(await pixelAt(cleaned.svg, 4, 12)).toEqual(await pixelAt(ICON_SVG, 4, 12));
      expect(await pixelAt(cleaned.svg, 10, 15)).toEqual(await pixelAt(ICON_SVG, 10, 15));
      expect((await pixelAt(ICON_SVG, 4, 12))[1]).toBeGreaterThan(120);
    });
  }

  it('takes out exactly what was found and keeps the rest', () => {
    const cleaned = sanitizeSvg(HOSTILE_SVG);
    if (!cleaned.ok) throw new Error(cleaned.reason);
    for (const gone of ['<script', 'onload', 'onclick', 'foreignObject', 'javascript:', 'evil.invalid', '/etc/', 'ENTITY', 'DOCTYPE', '<set', '<style>@import']) {
      expect(cleaned.svg).not.toContain(gone);
    }
    for (const kept of ['<title>', 'linearGradient', 'url(#fill)', 'xlink:href="#tick"', '<circle', '<a>']) expect(cleaned.svg).toContain(kept);
  });

  it('leaves a clean file as it was, but for the XML declaration', async () => {
    const cleaned = sanitizeSvg(ICON_SVG);
    if (!cleaned.ok) throw new Error(cleaned.reason);
    expect(cleaned.removed).toEqual([]);
    expect(cleaned.svg).toBe(ICON_SVG.replace('<?xml version="1.0" encoding="UTF-8"?>\n', ''));
  });

  it('checks and cleans from one parse, cleaning only what needs it', () => {
    expect(checkAndCleanSvg(ICON_SVG)).toEqual({ verdict: checkSvg(ICON_SVG) });
    const both = checkAndCleanSvg(HOSTILE_SVG);
    expect(both.verdict).toEqual(checkSvg(HOSTILE_SVG));
    expect(both.cleaned).toEqual(sanitizeSvg(HOSTILE_SVG));
    expect(checkAndCleanSvg('<p/>')).toEqual({ verdict: { ok: false, reason: 'The file has the root element <p>, not <svg>.' } });
  });

  it('refuses to clean what does not parse', () => {
    const cleaned = sanitizeSvg('<svg xmlns="http://www.w3.org/2000/svg"><script>');
    expect(cleaned.ok).toBe(false);
    if (!cleaned.ok) expect(cleaned.reason).toMatch(/not well-formed XML.*nothing to clean/);
  });
});
