/**
 * Tool arguments as models send them. Each tool's arguments are one flat zod object that refuses
 * unknown keys (with a hint for the ones that belong to another tool); before it is checked,
 * numbers sent as numeric strings ("2"), booleans sent as "true"/"false" and enum values in
 * another case (" PNG") are taken as meant, and null counts as "not given". What still does not
 * fit is refused with the argument's name (and, inside a batch job, the job's number and line).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { jobName } from '../core/batch.js';
import type { Problem } from '../core/problems.js';
import { refused } from '../results.js';

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
        .map((key) => (Object.hasOwn(hints, key) ? hints[key] : `${describeValue(key)} is not an argument of ${tool}. Its arguments are: ${Object.keys(shape).join(', ')}.`))
        .join(' ');
    },
  });
}

type Def = {
  type: string;
  innerType?: z.ZodType;
  shape?: z.ZodRawShape;
  element?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string>;
  valueType?: z.ZodType;
};
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
    case 'enum': {
      if (typeof value !== 'string') return value;
      const spelled = value.trim().toLowerCase();
      return Object.values(def.entries ?? {}).includes(spelled) ? spelled : value;
    }
    case 'array':
      return Array.isArray(value) && def.element ? value.map((v) => coerce(def.element!, v)) : value;
    case 'record':
      // A record of values (a batch job's fields): null means "not given" there too.
      return isPlainObject(value) && def.valueType ? coerceObject({}, value, def.valueType) : value;
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

function coerceObject(shape: z.ZodRawShape, value: Record<string, unknown>, each?: z.ZodType): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null) continue; // null means "not given", as in the image CLI's JSONL files
    // Own keys only: "constructor" or "__proto__" are unknown keys to refuse, not the object's machinery.
    const schema = Object.hasOwn(shape, key) ? (shape[key] as z.ZodType) : each;
    Object.defineProperty(out, key, { value: schema ? coerce(schema, v) : v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Arguments as sent (or one batch job), made to fit the schema where the intent is plain. */
export function coerceArguments(schema: z.ZodType, args: unknown): unknown {
  return coerce(schema, args);
}

export function describeValue(value: unknown): string {
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

/** Where an issue is: inside a batch job (named by number, and line for a JSONL file), or not. */
interface Scope {
  job?: { number: number; line?: number | undefined };
  /** The path inside the job, or inside the arguments. */
  rest: readonly PropertyKey[];
}

/** A path inside the arguments: `jobs[3].n` is job 4's n. */
function argumentScope(path: readonly PropertyKey[]): Scope {
  if (path[0] === 'jobs' && typeof path[1] === 'number') return { job: { number: path[1] + 1 }, rest: path.slice(2) };
  return { rest: path };
}

const pathName = (path: readonly PropertyKey[]) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');

/** `job 4: n`, `job 4 (line 7): fields.style`, `images[0]`; top-level keys as they are. */
function nameOf(scope: Scope): string {
  const rest = pathName(scope.rest);
  if (!scope.job) return rest || 'the arguments';
  return rest ? `${jobName(scope.job)}: ${rest}` : jobName(scope.job);
}

/** A schema's own sentence, said of its job when it is inside one. */
function own(scope: Scope, message: string): string {
  return scope.job ? `${jobName(scope.job)}: ${message}` : message;
}

const EXPECTED: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  record: 'an object',
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

/** A union branch that got past the value's type: its problems are the ones worth saying. */
const typeMatched = (errors: Issue[]) => !errors.some((e) => e.code === 'invalid_type' && e.path.length === 0);

function describeIssue(issue: Issue, root: unknown, scopeOf: (path: readonly PropertyKey[]) => Scope): string[] {
  const scope = scopeOf(issue.path);
  const name = nameOf(scope);
  const got = valueAt(root, issue.path);
  // A schema's own message (e.g. edit's images, a job's key hints, one a line) says it best; zod's generic ones are rewritten.
  if (issue.code !== 'invalid_union' && !ZOD_DEFAULT.test(issue.message)) return issue.message.split('\n').map((m) => own(scope, m));
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
      return [scope.rest.length > 0 || scope.job ? `${name}: ${issue.message}` : issue.message];
    case 'invalid_union': {
      // The branch that got past the value's type (a job object, not a prompt string).
      const best = (issue.errors ?? []).find(typeMatched);
      if (!best) {
        const said = ZOD_DEFAULT.test(issue.message) ? `${name} must be text or an object` : own(scope, issue.message);
        return [`${said}, not ${describeValue(got)}.`];
      }
      return best.flatMap((e) => describeIssue({ ...e, path: [...issue.path, ...e.path] }, root, scopeOf));
    }
    default:
      return [`${name}: ${issue.message}`];
  }
}

/** Every problem with the arguments, one sentence each, naming the argument (and the job, as data too). */
export function argumentIssues(error: z.ZodError, args: unknown): Problem[] {
  return problemsOf(error, args, argumentScope);
}

/** Every problem with the arguments, one sentence each, naming the argument. */
export function argumentProblems(error: z.ZodError, args: unknown): string[] {
  return argumentIssues(error, args).map((p) => p.message);
}

/** Every problem of one batch job checked on its own (a JSONL line): the same sentences as inline, named by job and line. */
export function jobIssues(error: z.ZodError, value: unknown, job: { number: number; line?: number | undefined }): Problem[] {
  return problemsOf(error, value, (path) => ({ job, rest: path }));
}

function problemsOf(error: z.ZodError, root: unknown, scopeOf: (path: readonly PropertyKey[]) => Scope): Problem[] {
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const issue of error.issues as unknown as Issue[]) {
    const scope = scopeOf(issue.path);
    for (const message of describeIssue(issue, root, scopeOf)) {
      if (seen.has(message)) continue;
      seen.add(message);
      const problem: Problem = { field: String(scope.rest[0] ?? (scope.job ? 'jobs' : 'arguments')), message };
      if (scope.job) {
        problem.job = scope.job.number;
        if (scope.job.line !== undefined) problem.line = scope.job.line;
      }
      problems.push(problem);
    }
  }
  return problems;
}

/** The refusal of arguments that do not fit their schema: nothing was sent. */
export function argumentRefusal(problems: readonly string[]): CallToolResult {
  return refused(
    problems.length === 1
      ? `${problems[0]} Nothing was sent.`
      : `${problems.length} problems with the arguments, so nothing was sent:\n${problems.map((p) => `- ${p}`).join('\n')}`,
  );
}
