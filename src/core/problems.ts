/** A refusal the user can act on: which argument was wrong, and what to do instead. */
export interface Problem {
  field: string;
  message: string;
  /** Batch jobs: the job's 1-based number and its line in the JSONL file (the message names them too). */
  job?: number;
  line?: number;
}

export type Outcome<T> = { ok: true; value: T; warnings: string[] } | { ok: false; problems: Problem[] };

export function formatProblems(problems: readonly Problem[]): string {
  if (problems.length === 1) return problems[0]!.message;
  return problems.map((p) => `- ${p.message}`).join('\n');
}
