import { z } from 'zod';

/**
 * A flat object schema that refuses unknown arguments instead of dropping them silently, with a
 * hint for the ones that belong to another tool (e.g. `mask` given to generate).
 */
export function strictArguments<Shape extends z.ZodRawShape>(
  tool: string,
  shape: Shape,
  hints: Record<string, string> = {},
): z.ZodObject<Shape, z.core.$strict> {
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const keys = (issue as { keys?: string[] }).keys ?? [];
      return keys
        .map((key) => hints[key] ?? `"${key}" is not an argument of ${tool}. Its arguments are: ${Object.keys(shape).join(', ')}.`)
        .join(' ');
    },
  });
}
