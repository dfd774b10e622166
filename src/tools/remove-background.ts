/**
 * The `remove_background` tool: turns the flat background of an image already in the workspace
 * into alpha, locally (no API call, no key). Writes `<stem>-cutout.png` beside the input unless
 * `out` says otherwise; never overwrites without force.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { parseHexColor } from '../core/chroma-key.js';
import { controlCharacterProblem, nameLengthProblem, planOutputPaths } from '../core/paths.js';
import type { Problem } from '../core/problems.js';
import { cutoutPath, isWeakKeyColor, normaliseKeyColor, percent } from '../core/transparency.js';
import { mimeTypeOf } from '../core/formats.js';
import { alphaFacts, cutOut, type Cutout, type CutoutFormat } from '../io/cutout.js';
import { previewBlock, singlePreview } from '../io/preview.js';
import { WorkspaceError } from '../io/workspace.js';
import { formatBytes, problemsResult, refused, ResultBuilder } from '../results.js';
import { defineTool } from './context.js';
import { strictArguments } from './arguments.js';

/** The same cap as edit inputs: larger files are not what this tool is for. */
const MAX_INPUT_BYTES = 50 * 1024 * 1024;
const MAX_EDGE_PX = 20;

export const removeBackgroundArguments = strictArguments('remove_background', {
  image: z.string().describe('Workspace path or file:// link'),
  key_color: z.string().optional().describe('Hex; default: the border colour'),
  out: z.string().optional().describe('Default <name>-cutout.png beside the input'),
  output_format: z.enum(['png', 'webp']).optional(),
  force: z.boolean().optional().describe('Overwrite (else a -v2 sibling)'),
  contract: z.number().int().min(0).max(MAX_EDGE_PX).optional().describe('Shrink the edge by px'),
  feather: z.number().int().min(0).max(MAX_EDGE_PX).optional().describe('Soften the edge by px'),
});

export type RemoveBackgroundArguments = z.infer<typeof removeBackgroundArguments>;

export const removeBackgroundResultSchema = z.object({
  input: z.string().describe('The input image, relative to the workspace root'),
  path: z.string().describe('The cutout, relative to the workspace root'),
  width: z.number().int(),
  height: z.number().int(),
  format: z.string(),
  bytes: z.number().int(),
  versioned_from: z.string().optional(),
  key_color: z.string().describe('The colour turned into alpha'),
  key_source: z.enum(['given', 'border']).describe('key_color as given, or the median of the image border'),
  has_alpha: z.boolean(),
  transparent_share: z.number().describe('Share of fully transparent pixels, read back from the saved file'),
  partial_share: z.number().describe('Share of partly transparent (edge) pixels'),
  warnings: z.array(z.string()),
});
export type RemoveBackgroundResult = z.infer<typeof removeBackgroundResultSchema>;

/** Why nothing was cut out: a border too grey to be a key, or too little matching it. */
function notKeyedReason(name: string, cutout: Cutout, key: string | undefined): string {
  const shares = `${percent(cutout.transparentShare)} of the pixels and ${percent(cutout.borderTransparentShare)} of the border match it`;
  if (!key && isWeakKeyColor(cutout.keyColor)) {
    return (
      `Nothing was written: the border of ${name} is ${cutout.keyColor}, too grey to be a key colour (white, black and greys also appear in subjects, ` +
      `so keying them would eat into the subject). If the background really is that colour, give key_color: "${cutout.keyColor}"; ` +
      'otherwise this is not a flat-background image (photos need a real background remover).'
    );
  }
  return (
    `Nothing was written: too little of ${name} matches the ${key ? 'key colour' : "border's colour"} ${cutout.keyColor} (${shares}), ` +
    `so it does not look like a flat-background image. ${key ? 'Check key_color against the actual background colour.' : 'Give key_color the background colour, or use an image with a flat, solid background.'}`
  );
}

function formatOf(args: RemoveBackgroundArguments): CutoutFormat {
  if (args.output_format) return args.output_format;
  return args.out !== undefined && path.extname(args.out).toLowerCase() === '.webp' ? 'webp' : 'png';
}

export const removeBackgroundTool = defineTool({
  name: 'remove_background',
  title: 'Remove a flat background',
  description:
    'Make the flat background of a workspace image transparent, locally (no API call): for art on a solid colour (a sprite on #00ff00, a logo on ' +
    'white), not photos. Never overwrites without force. Returns the path, a preview on a checkerboard, the key and the share made transparent.',
  inputSchema: removeBackgroundArguments,
  outputSchema: removeBackgroundResultSchema,
  annotations: {
    title: 'Remove a flat background',
    readOnlyHint: false,
    destructiveHint: false, // writes a new file; replaces one only with force
    idempotentHint: false,
    openWorldHint: false, // local pixels only
  },
  writesFiles: true,
  async handle(args, ctx) {
    const problems: Problem[] = [];
    let key: string | undefined;
    if (args.key_color !== undefined) {
      key = normaliseKeyColor(args.key_color);
      if (!key) {
        problems.push({ field: 'key_color', message: `key_color "${args.key_color}" is not a colour: give a hex colour such as #00ff00, or leave it unset to use the border's colour.` });
      }
    }
    const format = formatOf(args);
    const planned = args.out !== undefined ? planOutputPaths({ out: args.out, n: 1, format, defaultStem: 'cutout' }) : undefined;
    if (planned && !planned.ok) problems.push(...planned.problems);
    if (problems.length > 0) return problemsResult(problems);

    const workspace = await ctx.workspace();
    let input: string;
    let target: string;
    try {
      input = await workspace.resolveInput(args.image, 'image');
      const file = planned?.ok ? planned.plan.files[0]! : cutoutPath(input, format);
      // The default name comes from the input's: it must make a plain name that fits, like out.
      const named = args.out === undefined ? path.basename(file) : file;
      const bad = controlCharacterProblem('out', named) ?? nameLengthProblem('out', named);
      if (bad) return refused(args.out === undefined ? `${bad} (out defaults to the input's name + "-cutout"; give out)` : bad);
      target = await workspace.resolveOutput(file, 'out', { replace: args.force ?? false });
    } catch (error) {
      if (error instanceof WorkspaceError) return refused(error.message);
      throw error;
    }
    const name = workspace.relative(input);
    const stat = await fs.stat(input);
    if (!stat.isFile()) return refused(`image "${args.image}" is not a file.`);
    if (stat.size > MAX_INPUT_BYTES) return refused(`image "${name}" is ${formatBytes(stat.size)}; the limit is 50 MB.`);
    const bytes = await fs.readFile(input);

    let cutout;
    try {
      cutout = await cutOut(bytes, { key: key ? parseHexColor(key) : undefined, format, contract: args.contract, feather: args.feather });
    } catch {
      return refused(`image "${name}" is not an image this server can read (png, jpeg, webp, gif, tiff, avif and heif are).`);
    }
    if (!cutout.keyed || !cutout.bytes) return refused(notKeyedReason(name, cutout, key));

    const warnings = planned?.ok ? [...planned.plan.warnings] : [];
    if (key && isWeakKeyColor(key)) {
      warnings.push(`key_color ${key} is close to grey: parts of the subject with similar colours may have turned transparent too.`);
    }
    const saved = await workspace.saveFile(target, cutout.bytes, { force: args.force ?? false });
    const alpha = await alphaFacts(saved.path);
    const result: RemoveBackgroundResult = {
      input: name,
      path: workspace.relative(saved.path),
      width: cutout.width,
      height: cutout.height,
      format,
      bytes: cutout.bytes.length,
      key_color: cutout.keyColor,
      key_source: key ? 'given' : 'border',
      has_alpha: alpha.hasAlpha,
      transparent_share: alpha.transparentShare,
      partial_share: cutout.partialShare,
      warnings,
    };
    if (saved.versionedFrom) {
      result.versioned_from = workspace.relative(saved.versionedFrom);
      warnings.push(`${result.versioned_from} already existed, so ${result.path} was written instead (set force to overwrite).`);
    }

    const preview = await singlePreview(saved.path, { checkerboard: true }).catch((error: unknown) => {
      warnings.push(`No preview could be made (the saved file is fine): ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    });
    const lines = [
      `Saved ${result.path} (${result.width}x${result.height} ${format}, ${formatBytes(result.bytes)}), cut out of ${name}.`,
      `Key ${result.key_color} (${key ? 'given' : 'median of the border'}): ${percent(result.transparent_share)} transparent, ${percent(result.partial_share)} soft edge.`,
      ...(preview ? ['Preview: the cutout on a light checkerboard (checkered areas are transparent).'] : []),
      ...warnings.map((w) => `Warning: ${w}`),
      `Next: ${preview ? 'check the preview' : `open ${result.path}`}; if a coloured fringe is left, call again with force and contract: 1 (or feather: 1).`,
    ];
    const out = new ResultBuilder().line(lines.join('\n'));
    if (preview) out.block(previewBlock(preview));
    out.block({ type: 'resource_link', uri: pathToFileURL(saved.path).href, name: result.path, mimeType: mimeTypeOf(format) });
    return out.build(result);
  },
});
