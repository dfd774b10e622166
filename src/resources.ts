/**
 * The gallery as MCP resources (what it lists is gallery.ts's): resources/read takes the file://
 * URI a result linked to, or imagegen://workspace/<path> for a path relative to the workspace
 * root. Reads stay inside the workspace and serve only the gallery's kinds of file, judged by their
 * content, not their name: an image by its header, a manifest as this server's manifest, the
 * history as JSON lines (a `.env.png` or a foreign `manifest.json` is refused). Batch API batches
 * are read as imagegen://batch/<id> (batch-gallery.ts).
 */
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, ListResourcesRequestSchema, McpError, type ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { BATCH_URI_PREFIX, findBatch } from './batch-gallery.js';
import { imageFormatOfFile } from './core/formats.js';
import { DEFAULT_OUTPUT_DIR } from './core/paths.js';
import { collectGallery, kindOf, listGallery, type Kind, type ResourceOptions } from './gallery.js';
import { HISTORY_FILE, readHistory } from './io/history.js';
import { inspectImage } from './io/images.js';
import { readRegularFile, WorkspaceError, type Workspace } from './io/workspace.js';

/** JSON-RPC code the MCP specification gives "resource not found". */
const RESOURCE_NOT_FOUND = -32002;

/** Larger reads would exceed the ~10 MiB message cap of common stdio clients once base64-encoded. */
export const MAX_READ_BYTES = 7 * 1024 * 1024;

export const WORKSPACE_URI_PREFIX = 'imagegen://workspace/';

async function readableWorkspace(options: ResourceOptions): Promise<Workspace> {
  const workspace = await options.workspace();
  if (!workspace.writable) {
    throw new McpError(
      ErrorCode.InvalidRequest,
      'The workspace root is "/", so no files are served. Set the root with --root or IMAGEGEN_ROOT in the MCP client config.',
    );
  }
  return workspace;
}

/** One gallery file's contents: images as base64 blobs, manifests and the history as text. */
async function readGalleryFile(uri: string, userPath: string, options: ResourceOptions): Promise<ReadResourceResult> {
  const workspace = await readableWorkspace(options);
  let real: string;
  try {
    real = await workspace.resolveInput(userPath, 'resource');
  } catch (error) {
    if (error instanceof WorkspaceError) {
      const code = /does not exist/.test(error.message) ? RESOURCE_NOT_FOUND : ErrorCode.InvalidParams;
      throw new McpError(code, error.message);
    }
    throw error;
  }
  const kind = kindOf(real);
  if (!kind) {
    throw new McpError(
      ErrorCode.InvalidParams,
      `${workspace.relative(real)} is not served: resources are images (png, jpeg, webp, gif, svg), batch manifests (manifest.json) and the history (${HISTORY_FILE}).`,
    );
  }
  const name = workspace.relative(real);
  let bytes: Buffer;
  try {
    // Not through a final link, never blocking on a FIFO, and never more than the cap.
    bytes = await readRegularFile(real, MAX_READ_BYTES);
  } catch (error) {
    if (!(error instanceof WorkspaceError)) throw error;
    const stat = await fs.lstat(real).catch(() => undefined);
    if (stat?.isFile() && stat.size > MAX_READ_BYTES) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `${name} is ${(stat.size / 1024 / 1024).toFixed(1)} MB, too large to send through MCP (clients drop messages over about 10 MB). Open it from disk, or make a smaller copy with downscale_max_dim.`,
      );
    }
    throw new McpError(ErrorCode.InvalidParams, `${name} is not served: ${error.message.replace(`${real} `, 'it ')}`);
  }
  // An SVG is text and code: parsed by the check (never by librsvg), served as the text it is.
  const checked = imageFormatOfFile(real) === 'svg' ? await checkSvgContent(bytes) : await checkContent(kind.kind, bytes);
  if ('problem' in checked) throw new McpError(ErrorCode.InvalidParams, `${name} is not served: ${checked.problem}`);
  // An image goes with the type its header says (a jpeg named .png is a jpeg).
  const content =
    kind.kind === 'image' && checked.mimeType !== 'image/svg+xml'
      ? { uri, mimeType: checked.mimeType ?? kind.mimeType, blob: bytes.toString('base64') }
      : { uri, mimeType: kind.mimeType, text: bytes.toString('utf8') };
  return { contents: [content] };
}

/** An SVG is served when it parses as one (what it contains is the saving call's report). */
async function checkSvgContent(bytes: Buffer): Promise<{ problem: string } | { mimeType?: string }> {
  const { checkSvg } = await import('./core/svg.js');
  const verdict = checkSvg(bytes);
  return verdict.ok ? { mimeType: 'image/svg+xml' } : { problem: `it is named like an SVG, but ${verdict.reason.replace(/^The file /, 'it ')}` };
}

/** MIME types of the image formats served, by sharp's name for them. */
const IMAGE_MIME: Readonly<Record<string, string>> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif' };

/** Whether a file's content is what its name says: why not, or (images) the type its header says. */
async function checkContent(kind: Kind, bytes: Buffer): Promise<{ problem: string } | { mimeType?: string }> {
  const problem = (text: string) => ({ problem: text });
  switch (kind) {
    case 'image': {
      const format = await inspectImage(bytes).then(
        (facts) => facts.format,
        () => undefined,
      );
      if (format === undefined) return problem('it is named like an image, but its content is not an image (no png, jpeg, webp or gif header).');
      const mimeType = IMAGE_MIME[format];
      if (!mimeType) return problem(`it is named like an image, but its content is ${format}; only png, jpeg, webp and gif images are served.`);
      return { mimeType };
    }
    case 'manifest': {
      let manifest: unknown;
      try {
        manifest = JSON.parse(bytes.toString('utf8'));
      } catch {
        return problem('it is named like a batch manifest, but it is not JSON.');
      }
      const m = manifest as Record<string, unknown> | null;
      if (!m || typeof m !== 'object' || m.tool !== 'generate_batch' || typeof m.version !== 'number' || !Array.isArray(m.jobs)) {
        return problem('it is named like a batch manifest, but it is not one written by generate_batch (with "tool": "generate_batch", a version and a jobs list).');
      }
      return {};
    }
    case 'history': {
      const lines = bytes.toString('utf8').split('\n');
      for (const [i, line] of lines.entries()) {
        if (!line.trim()) continue;
        let entry: unknown;
        try {
          entry = JSON.parse(line);
        } catch {
          entry = undefined;
        }
        if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
          return problem(`it is named like the history, but line ${i + 1} is not a JSON object (the history holds one JSON object per line). Fix or remove that line.`);
        }
      }
      return {};
    }
  }
}

/** A batch's summary, from the newest manifest in the gallery that names it (no API call). */
async function readBatch(uri: string, raw: string, options: ResourceOptions): Promise<ReadResourceResult> {
  const workspace = await readableWorkspace(options);
  const manifests = (await collectGallery(workspace, await readHistory(workspace))).filter((e) => e.kind === 'manifest');
  const found = await findBatch(manifests, raw);
  if ('problem' in found) throw new McpError(found.notFound ? RESOURCE_NOT_FOUND : ErrorCode.InvalidParams, found.problem);
  return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(found.summary, null, 2) }] };
}


export function registerResources(server: McpServer, options: ResourceOptions): void {
  server.registerResource(
    'saved-file',
    new ResourceTemplate('file://{+path}', { list: undefined }),
    {
      title: 'Saved image, manifest or history by file:// URI',
      description: 'Any image, batch manifest or history file inside the workspace, by the file:// URI a result linked to.',
    },
    async (uri) => {
      let file: string;
      try {
        file = fileURLToPath(uri);
      } catch {
        throw new McpError(ErrorCode.InvalidParams, `${uri.href} is not a local file:// URI.`);
      }
      return readGalleryFile(uri.href, file, options);
    },
  );

  server.registerResource(
    'workspace-file',
    new ResourceTemplate(`${WORKSPACE_URI_PREFIX}{+path}`, {
      list: undefined,
      complete: {
        path: async (value) => {
          const workspace = await options.workspace();
          if (!workspace.writable) return [];
          const all = await collectGallery(workspace, await readHistory(workspace));
          return all.map((e) => e.rel).filter((rel) => rel.startsWith(value));
        },
      },
    }),
    {
      title: 'Saved image, manifest or history by path',
      description: `A file by its path relative to the workspace root, e.g. ${WORKSPACE_URI_PREFIX}${DEFAULT_OUTPUT_DIR}/output.png or ${WORKSPACE_URI_PREFIX}${HISTORY_FILE}.`,
    },
    async (uri, variables) => {
      const raw = Array.isArray(variables.path) ? variables.path.join('/') : (variables.path ?? '');
      let rel: string;
      try {
        rel = decodeURIComponent(raw);
      } catch {
        throw new McpError(ErrorCode.InvalidParams, `${uri.href} is not a valid path.`);
      }
      return readGalleryFile(uri.href, rel, options);
    },
  );

  server.registerResource(
    'batch',
    new ResourceTemplate(`${BATCH_URI_PREFIX}{id}`, { list: undefined }),
    {
      title: 'Batch API batch',
      description: 'A batch submitted with generate_batch engine "batch_api": its status, counts and cost as its manifest last recorded them, out_dir and manifest.',
      mimeType: 'application/json',
    },
    async (uri, variables) => readBatch(uri.href, Array.isArray(variables.id) ? variables.id.join('/') : (variables.id ?? ''), options),
  );

  // The SDK lists every resource in one answer; the gallery can be large, so the listing is ours,
  // paged with a cursor. Reads and templates stay with the SDK.
  server.server.removeRequestHandler('resources/list');
  server.server.setRequestHandler(ListResourcesRequestSchema, (request) => listGallery(options, request.params?.cursor));
}
