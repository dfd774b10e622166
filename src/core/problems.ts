/** A refusal the user can act on: which argument was wrong, and what to do instead. */
export interface Problem {
  field: string;
  message: string;
}

export type Outcome<T> = { ok: true; value: T; warnings: string[] } | { ok: false; problems: Problem[] };

export function formatProblems(problems: readonly Problem[]): string {
  if (problems.length === 1) return problems[0]!.message;
  return problems.map((p) => `- ${p.message}`).join('\n');
}
