/**
 * Prompt recipes as MCP prompts: one per use-case slug, and `image_spec`, whose use_case argument
 * completes to the slugs. Each returns the labelled spec with the caller's arguments filled in and
 * the lines still worth filling, ready for the agent to turn into a tool call.
 */
import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, type GetPromptResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AUGMENTATION_FIELDS, FIELD_LABELS, USE_CASES, type AugmentationField, type AugmentationFields } from './core/prompt.js';
import { completeUseCase, recipeFor, recipeText, RECIPES } from './core/recipes.js';

const promptArgument = z.string().optional().describe('What to make, in a sentence (the Primary request line).');

function fieldArgument(field: AugmentationField, hint?: string) {
  return z
    .string()
    .optional()
    .describe(hint ? `${FIELD_LABELS[field]}: ${hint}` : `${FIELD_LABELS[field]} line of the spec.`);
}

function message(description: string, text: string): GetPromptResult {
  return { description, messages: [{ role: 'user', content: { type: 'text', text } }] };
}

function fieldsFrom(args: Record<string, string | undefined>): AugmentationFields {
  const fields: AugmentationFields = {};
  for (const field of AUGMENTATION_FIELDS) {
    const value = args[field];
    if (field !== 'use_case' && value !== undefined) fields[field] = value;
  }
  return fields;
}

export function registerPrompts(server: McpServer): void {
  for (const recipe of RECIPES) {
    const shape: Record<string, z.ZodOptional<z.ZodString>> = { prompt: promptArgument };
    for (const [field, hint] of Object.entries(recipe.focus) as [AugmentationField, string][]) shape[field] = fieldArgument(field, hint);
    server.registerPrompt(
      recipe.slug,
      { title: recipe.title, description: `Spec for ${recipe.summary} (${recipe.tool}).`, argsSchema: shape },
      (args: Record<string, string | undefined>) =>
        message(`${recipe.title}: labelled spec`, recipeText(recipe, args.prompt, fieldsFrom(args))),
    );
  }

  const specShape: Record<string, z.ZodOptional<z.ZodString>> = {
    use_case: completable(
      z.string().optional().describe(`One of the use-case slugs: ${USE_CASES.join(', ')}.`),
      (value) => completeUseCase(value ?? ''),
    ),
    prompt: promptArgument,
  };
  for (const field of AUGMENTATION_FIELDS) if (field !== 'use_case') specShape[field] = fieldArgument(field);
  server.registerPrompt(
    'image_spec',
    {
      title: 'Image spec',
      description: 'A labelled image spec for any use case, with your arguments filled in; use_case completes to the slugs.',
      argsSchema: specShape,
    },
    (args: Record<string, string | undefined>) => {
      const slug = args.use_case?.trim();
      const recipe = slug ? recipeFor(slug) : undefined;
      if (slug && !recipe) {
        throw new McpError(ErrorCode.InvalidParams, `use_case "${slug}" is not a use case. Use one of: ${USE_CASES.join(', ')}.`);
      }
      return message('Image spec', recipeText(recipe, args.prompt, fieldsFrom(args)));
    },
  );
}
