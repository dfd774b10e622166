/**
 * createServer(config): the MCP server with its tools registered, transport-free so tests can
 * connect it in-process and index.ts can put it on stdio.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  RootsListChangedNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_PAGE_SIZE, VERSION, type ServerConfig } from './config.js';
import { createImageApi, type ImageApi } from './io/openai.js';
import { chooseWorkspace, rootUrisToPaths, type Workspace } from './io/workspace.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';
import { failed, forClient } from './results.js';
import { argumentProblems, argumentRefusal, coerceArguments } from './tools/arguments.js';

import type { LogLevel, ToolContext } from './tools/context.js';
import { listedTools, TOOLS } from './tools/listing.js';
import { redact } from './core/api-errors.js';

const ROOTS_TIMEOUT_MS = 5_000;

export function createServer(config: ServerConfig): McpServer {
  const server = new McpServer(
    { name: 'imagegen-mcp', title: 'Image generation (OpenAI GPT Image)', version: VERSION },
    {
      capabilities: { logging: {} },
      instructions:
        'Image tools backed by the OpenAI Images API. generate makes new images; edit changes existing ones (workspace paths, file:// links of earlier outputs ' +
        'or data: URLs, with an optional mask); generate_batch makes many distinct images in one call (concurrent, resumable, with a manifest), ' +
        'or with engine batch_api hands them to the Batch API at half price, collected later with batch_status. ' +
        'Files are saved under output/imagegen/ in the workspace and never overwritten without force; ' +
        'results start with a text (saved paths, model and why, final prompt, cost, next step; failures start with Refused: or Failed:), ' +
        'then one small preview picture (a numbered contact sheet for several images). ' +
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

  const listed = listedTools(config.structuredOutput ?? false);
  server.server.registerCapabilities({ tools: {} });
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listed }));
  server.server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const tool = TOOLS.find((t) => t.name === request.params.name);
    if (!tool) {
      throw new McpError(ErrorCode.InvalidParams, `There is no tool "${request.params.name}". The tools are: ${TOOLS.map((t) => t.name).join(', ')}.`);
    }
    const raw = coerceArguments(tool.inputSchema, request.params.arguments ?? {});
    const parsed = tool.inputSchema.safeParse(raw);
    if (!parsed.success) {
      return argumentRefusal(argumentProblems(parsed.error, raw));
    }
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
    let result: CallToolResult;
    try {
      result = await tool.handle(parsed.data, ctx);
    } catch (error) {
      // The last line of defence: a bug or an unexpected I/O failure is a result, never a crash.
      const message = error instanceof Error ? error.message : String(error);
      log('error', `${tool.name} failed unexpectedly: ${message}`);
      return failed(redact(`${tool.name} stopped on an unexpected error: ${message}`, config.api.apiKey));
    }
    // New files changed the gallery: clients that show resources refresh their list.
    if (tool.writesFiles && !result.isError && result.structuredContent?.dry_run !== true) server.sendResourceListChanged();
    return forClient(result, config.structuredOutput ?? false);
  });
  return server;
}
