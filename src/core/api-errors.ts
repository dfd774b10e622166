/**
 * API failures as messages a user can act on. Pure: it sees a plain description of the failure,
 * never the SDK's objects, and never the API key (401 texts are written here, not quoted).
 */

export type FailureKind = 'http' | 'connection' | 'timeout' | 'malformed' | 'cancelled';

export interface ApiFailure {
  kind: FailureKind;
  status?: number;
  code?: string | null;
  param?: string | null;
  /** The API's own message (quoted for 400s). */
  message?: string;
}

export interface FailureContext {
  model: string;
  attempts: number;
}

const tries = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;

export function describeFailure(failure: ApiFailure, ctx: FailureContext): string {
  const apiMessage = failure.message?.trim();
  switch (failure.kind) {
    case 'cancelled':
      return 'The request was cancelled before the image arrived; no file was written.';
    case 'timeout':
      return `The Images API did not answer in time (${tries(ctx.attempts)}). Large or high-quality images can take minutes: try again, lower quality or size, or raise max_attempts.`;
    case 'connection':
      return `The connection to the Images API failed (${tries(ctx.attempts)}). Check the network (and OPENAI_BASE_URL if set), then try again.`;
    case 'malformed':
      return `The Images API answered with something that is not a valid image response${
        apiMessage ? ` (${apiMessage})` : ''
      }. No file was written; try again.`;
    case 'http':
      break;
  }
  const status = failure.status ?? 0;
  if (failure.code === 'moderation_blocked') {
    return `The request was refused by the API's safety system (moderation_blocked). Reword the prompt (and check the input images) and try again.${
      apiMessage ? ` The API said: "${apiMessage}"` : ''
    }`;
  }
  if (status === 400) {
    const param = failure.param ? ` in "${failure.param}"` : '';
    return `The Images API refused the request${param} (400): "${apiMessage ?? 'no message'}". Fix that argument and try again; the request was not retried.`;
  }
  if (status === 401) {
    return 'The Images API refused the API key (401): OPENAI_API_KEY is missing, wrong or revoked. Set a valid key in the environment the MCP client gives this server.';
  }
  if (status === 403) {
    return `The Images API denied access to ${ctx.model} (403). GPT Image models need a verified organisation: verify it in the OpenAI platform settings (it can take a few minutes to apply), or check that the project has access to ${ctx.model}.${
      apiMessage ? ` The API said: "${apiMessage}"` : ''
    }`;
  }
  if (status === 404) {
    return `The model ${ctx.model} is not available to this key (404${failure.code ? ` ${failure.code}` : ''}). Leave model unset for the default, or choose a model your project can use.`;
  }
  if (status === 429) {
    return `The Images API is rate-limiting this key (429) and still was after ${tries(ctx.attempts)}. Wait a minute and try again, lower concurrency, or raise max_attempts.${
      apiMessage ? ` The API said: "${apiMessage}"` : ''
    }`;
  }
  if (status >= 500) {
    return `The Images API had a server error (${status}) ${ctx.attempts === 1 ? `after ${tries(1)}` : `on each of ${tries(ctx.attempts)}`}. Try again later, or raise max_attempts.`;
  }
  return `The Images API answered ${status}${apiMessage ? `: "${apiMessage}"` : ''} (${tries(ctx.attempts)}).`;
}

/** Removes every occurrence of a secret from a text, as a last line of defence. */
export function redact(text: string, secret: string | undefined): string {
  if (!secret || secret.length < 8) return text;
  return text.split(secret).join('[redacted]');
}
