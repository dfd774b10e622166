/** What a tool handler gets from the server: the edges it may use, and the call's signal and progress. */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { ServerConfig } from '../config.js';
import type { ImageApi } from '../io/openai.js';
import type { Workspace } from '../io/workspace.js';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';

export interface ToolContext {
  config: ServerConfig;
  api: ImageApi;
  workspace(): Promise<Workspace>;
  signal: AbortSignal;
  /** Present only when the client asked for progress (sent a progressToken). */
  progress?: (progress: number, total?: number, message?: string) => Promise<void>;
  log(level: LogLevel, message: string): void;
}

export interface ToolDefinition<Input extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  inputSchema: Input;
  outputSchema: z.ZodObject;
  annotations: ToolAnnotations;
  /** The tool saves files in the workspace (not on dry runs): the server then announces resources/list_changed. */
  writesFiles: boolean;
  handle(args: z.infer<Input>, ctx: ToolContext): Promise<CallToolResult>;
}

export function defineTool<Input extends z.ZodObject>(tool: ToolDefinition<Input>): ToolDefinition<Input> {
  return tool;
}
