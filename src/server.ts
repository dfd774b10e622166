/**
 * createServer(config): the MCP server with its tools registered, transport-free so tests can
 * connect it in-process and index.ts can put it on stdio.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  RootsListChangedNotificationSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_PAGE_SIZE, VERSION, type ServerConfig } from './config.js';
import { createImageApi, type ImageApi } from './io/openai.js';
import { chooseWorkspace, rootUrisToPaths, type Workspace } from './io/workspace.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';
import { errorResult } from './results.js';
import type { LogLevel, ToolContext, ToolDefinition } from './tools/context.js';
import { editTool } from './tools/edit.js';
import { generateTool } from './tools/generate.js';
import { generateBatchTool } from './tools/generate-batch.js';
import { removeBackgroundTool } from './tools/remove-background.js';
import { redact } from './core/api-errors.js';

// Typed loosely on purpose: each tool's own schema types its handler.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const TOOLS: ToolDefinition<any>[] = [generateTool, editTool, generateBatchTool, removeBackgroundTool];

const ROOTS_TIMEOUT_MS = 5_000;

export function createServer(config: ServerConfig): McpServer {
  const server = new McpServer(
    { name: 'imagegen-mcp', title: 'Image generation (OpenAI GPT Image)', version: VERSION },
    {
      capabilities: { logging: {} },
      instructions:
        'Image tools backed by the OpenAI Images API. generate makes new images; edit changes existing ones (workspace paths, file:// links of earlier outputs ' +
        'or data: URLs, with an optional mask); generate_batch makes many distinct images in one call (concurrent, resumable, with a manifest). ' +
        'Files are saved under output/imagegen/ in the workspace and never overwritten without force; ' +
        'results give the saved paths, the final prompt, the model, the cost and one small preview picture (a numbered contact sheet for several images). ' +
        'Inspect each output before using it. Saved images, batch manifests and the history are resources; each use case has a prompt recipe. ' +
        'remove_background turns the flat background of a workspace image into transparency locally (no API call).',
    },
  );

  let api: ImageApi | undefined;
  const imageApi = (): ImageApi =>
    (api ??= config.imageApi ?? createImageApi(config.api, { baseDelayMs: config.retryBaseDelayMs }));

  let workspace: Promise<Workspace> | undefined;
  const resolveWorkspace = async (): Promise<Workspace> => {
    let clientRoots: string[] | undefined;
    if (!config.rootFlag && !config.rootEnv && server.server.getClientCapabilities()?.roots) {
      try {
        const listed = await server.server.listRoots(undefined, { timeout: ROOTS_TIMEOUT_MS });
        clientRoots = rootUrisToPaths(listed.roots.map((r) => r.uri));
      } catch {
        clientRoots = undefined; // a client that cannot list its roots leaves the working directory
      }
    }
    return chooseWorkspace({ flag: config.rootFlag, env: config.rootEnv, clientRoots, cwd: config.cwd });
  };
  const getWorkspace = (): Promise<Workspace> => {
    workspace ??= resolveWorkspace().catch((error) => {
      workspace = undefined;
      throw error;
    });
    return workspace;
  };
  server.server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
    workspace = undefined;
  });

  const log = (level: LogLevel, message: string) => {
    const data = redact(message, config.api.apiKey);
    server.server.sendLoggingMessage({ level, logger: 'imagegen', data }).catch(() => {
      // not connected (yet): nothing to tell
    });
  };

  registerResources(server, { workspace: getWorkspace, pageSize: config.resourcePageSize ?? DEFAULT_PAGE_SIZE });
  registerPrompts(server);

  for (const tool of TOOLS) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.inputSchema,
        outputSchema: tool.outputSchema,
        annotations: tool.annotations,
      },
      async (args: unknown, extra: RequestHandlerExtra<ServerRequest, ServerNotification>): Promise<CallToolResult> => {
        const progressToken = extra._meta?.progressToken;
        const ctx: ToolContext = {
          config,
          get api() {
            return imageApi();
          },
          workspace: getWorkspace,
          signal: extra.signal,
          log,
        };
        if (progressToken !== undefined) {
          ctx.progress = (progress, total, message) =>
            extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress, ...(total !== undefined ? { total } : {}), ...(message ? { message } : {}) },
            });
        }
        try {
          const result = await tool.handle(args, ctx);
          // New files changed the gallery: clients that show resources refresh their list.
          if (!result.isError && result.structuredContent?.dry_run === false) server.sendResourceListChanged();
          return result;
        } catch (error) {
          // The last line of defence: a bug or an unexpected I/O failure is a result, never a crash.
          const message = error instanceof Error ? error.message : String(error);
          log('error', `${tool.name} failed unexpectedly: ${message}`);
          return errorResult(redact(`${tool.name} failed: ${message}`, config.api.apiKey));
        }
      },
    );
  }
  return server;
}
