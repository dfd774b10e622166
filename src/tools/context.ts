/** What a tool handler gets from the server: the edges it may use, and the call's signal and progress. */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { RunContext } from '../pipeline/context.js';

export type { LogLevel } from '../pipeline/context.js';

/** A handler gets what the pipeline runs with. */
export type ToolContext = RunContext;

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
