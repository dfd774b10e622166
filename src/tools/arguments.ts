/**
 * Tool arguments as models send them. Each tool's arguments are one flat zod object that refuses
 * unknown keys (with a hint for the ones that belong to another tool); before it is checked,
 * numbers sent as numeric strings ("2") and booleans sent as "true"/"false" are taken as meant,
 * and null counts as "not given". What still does not fit is refused with the argument's name.
 */
import { z } from 'zod';

/** A flat object schema that refuses unknown arguments instead of dropping them silently. */
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

type Def = { type: string; innerType?: z.ZodType; shape?: z.ZodRawShape; element?: z.ZodType; options?: z.ZodType[] };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schema under optional/nullable/default wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let def = defOf(current); (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') && def.innerType; def = defOf(current)) {
    current = def.innerType;
  }
  return current;
}

const NUMERIC = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

/** One value made to fit its schema where the intent is plain; anything else is left for zod to refuse. */
function coerce(schema: z.ZodType, value: unknown): unknown {
  const inner = unwrap(schema);
  const def = defOf(inner);
  switch (def.type) {
    case 'number':
      return typeof value === 'string' && NUMERIC.test(value) ? Number(value) : value;
    case 'boolean':
      if (value === 'true') return true;
      if (value === 'false') return false;
      return value;
    case 'object':
      return isPlainObject(value) ? coerceObject(def.shape ?? {}, value) : value;
    case 'array':
      return Array.isArray(value) && def.element ? value.map((v) => coerce(def.element!, v)) : value;
    case 'union': {
      // Only objects are worth coercing inside a union (a batch job given as an object).
      const object = def.options?.find((o) => defOf(unwrap(o)).type === 'object');
      return object && isPlainObject(value) ? coerce(object, value) : value;
    }
    default:
      return value;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function coerceObject(shape: z.ZodRawShape, value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null) continue; // null means "not given", as in the image CLI's JSONL files
    const schema = shape[key] as z.ZodType | undefined;
    out[key] = schema ? coerce(schema, v) : v;
  }
  return out;
}

/** Arguments as sent, made to fit the tool's object schema where the intent is plain. */
export function coerceArguments(schema: z.ZodObject, args: unknown): unknown {
  return isPlainObject(args) ? coerceObject(schema.shape, args) : args;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return value.length > 40 ? `"${value.slice(0, 37)}..."` : `"${value}"`;
  if (typeof value === 'object') return value === null ? 'null' : 'an object';
  return String(value);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** `jobs[3].n` → `job 4: n`; `images[0]` → `images[0]`; top-level keys as they are. */
function nameOf(path: readonly PropertyKey[]): string {
  if (path[0] === 'jobs' && typeof path[1] === 'number') {
    const rest = path.slice(2).map(String).join('.');
    return `job ${path[1] + 1}${rest ? `: ${rest}` : ''}`;
  }
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('') || 'the arguments';
}

const EXPECTED: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
};

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  values?: unknown[];
  minimum?: number | bigint;
  maximum?: number | bigint;
  origin?: string;
  errors?: Issue[][];
}

const ZOD_DEFAULT = /^(Invalid|Too (big|small)|Unrecognized)/;

function describeIssue(issue: Issue, args: unknown): string[] {
  const name = nameOf(issue.path);
  const got = valueAt(args, issue.path);
  // A schema's own message (e.g. edit's images) says it best; zod's generic ones are rewritten.
  if (issue.code !== 'invalid_union' && !ZOD_DEFAULT.test(issue.message)) return [issue.message];
  switch (issue.code) {
    case 'invalid_type':
      if (got === undefined) return [`${name} is missing.`];
      return [`${name} must be ${EXPECTED[issue.expected ?? ''] ?? issue.expected}, not ${describeValue(got)}.`];
    case 'invalid_value':
      return [`${name} is ${describeValue(got)}; use one of ${(issue.values ?? []).map(String).join(', ')}.`];
    case 'too_small':
      if (issue.origin === 'array') return [issue.message];
      return [`${name} is ${describeValue(got)}; it must be at least ${String(issue.minimum)}.`];
    case 'too_big':
      if (issue.origin === 'array') return [issue.message];
      return [`${name} is ${describeValue(got)}; it must be at most ${String(issue.maximum)}.`];
    case 'unrecognized_keys':
      return [issue.path.length > 0 ? `${name}: ${issue.message}` : issue.message];
    case 'invalid_union': {
      // The branch that got furthest: the one whose problems are inside the value, not its type.
      const branches = issue.errors ?? [];
      const best = branches.find((errors) => errors.every((e) => e.path.length > 0)) ?? branches[0] ?? [];
      if (best.length === 0 || best.every((e) => e.path.length === 0)) {
        return [`${name} must be text or an object, not ${describeValue(got)}.`];
      }
      return best.flatMap((e) => describeIssue({ ...e, path: [...issue.path, ...e.path] }, args));
    }
    default:
      return [`${name}: ${issue.message}`];
  }
}

/** Every problem with the arguments, one sentence each, naming the argument. */
export function argumentProblems(error: z.ZodError, args: unknown): string[] {
  return [...new Set((error.issues as unknown as Issue[]).flatMap((issue) => describeIssue(issue, args)))];
}
