/**
 * The tools, and what tools/list says of them. A model reads every tool's name, description and
 * input schema in every conversation, so the JSON Schema is trimmed of what tells a model nothing:
 * the `$schema` line, integer bounds of ±2^53 that zod adds to every whole number, `propertyNames`
 * and `additionalProperties` (unknown arguments are refused by the server with a hint either way).
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ToolDefinition } from './context.js';
import { editTool } from './edit.js';
import { generateTool } from './generate.js';
import { generateBatchTool } from './generate-batch.js';
import { removeBackgroundTool } from './remove-background.js';
import { batchStatusTool } from './batch-status.js';

// Typed loosely on purpose: each tool's own schema types its handler.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const TOOLS: ToolDefinition<any>[] = [generateTool, editTool, generateBatchTool, removeBackgroundTool, batchStatusTool];

type Json = Record<string, unknown>;

function slim(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(slim);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    if (key === '$schema' || key === 'propertyNames') continue;
    if ((key === 'minimum' || key === 'maximum') && Math.abs(Number(value)) === Number.MAX_SAFE_INTEGER) continue;
    // `{}` restates the default; `false` is enforced by the server, which names the unknown key and its tool.
    if (key === 'additionalProperties' && (value === false || (value && typeof value === 'object' && Object.keys(value).length === 0))) continue;
    out[key] = slim(value);
  }
  return out;
}

/** A zod schema as the compact JSON Schema a model reads. */
export function modelSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Tool['inputSchema'] {
  return slim(z.toJSONSchema(schema, { target: 'draft-7', io })) as Tool['inputSchema'];
}

/** The tools/list answer: with structured output, each tool also declares its output schema (and `summary`). */
export function listedTools(structuredOutput: boolean): Tool[] {
  return TOOLS.map((tool) => {
    const listed: Tool = {
      name: tool.name,
      title: tool.title,
      description: tool.description,
      inputSchema: modelSchema(tool.inputSchema),
      annotations: tool.annotations,
    };
    if (structuredOutput) {
      const withSummary = tool.outputSchema.extend({ summary: z.string().describe('The readable text of the result') });
      listed.outputSchema = modelSchema(withSummary, 'output') as Tool['outputSchema'];
    }
    return listed;
  });
}
