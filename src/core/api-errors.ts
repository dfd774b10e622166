/**
 * API failures as messages a user can act on. Pure: it sees a plain description of the failure,
 * never the SDK's objects, and never the API key (401 texts are written here, not quoted).
 */

export type FailureKind = 'http' | 'connection' | 'timeout' | 'certificate' | 'malformed' | 'cancelled';

/** What was wrong with a refused TLS certificate. */
export type CertificateProblem = 'self-signed' | 'expired' | 'not-yet-valid' | 'hostname' | 'untrusted' | 'other';

export interface ApiFailure {
  kind: FailureKind;
  status?: number;
  code?: string | null;
  param?: string | null;
  /** The API's own message (quoted for 400s), or why an answer was malformed. */
  message?: string;
  /** The low-level cause (an error code such as ECONNREFUSED), for connection failures. */
  detail?: string;
  certificate?: CertificateProblem;
}

/** At most this much of the API's own message is quoted in a result. */
export const MAX_QUOTED_CHARS = 300;

/** A message from the far side, on one line and cut to MAX_QUOTED_CHARS. */
export function quoted(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= MAX_QUOTED_CHARS ? line : `${line.slice(0, MAX_QUOTED_CHARS)}… (cut, ${line.length} characters)`;
}

/** One link of an error's cause chain, as plain data. */
export interface CauseLink {
  code?: string | undefined;
  /** The error's class name (undici's HTTPParserError carries no code). */
  name?: string | undefined;
  message: string;
}

const CERTIFICATE_CODES: Record<string, CertificateProblem> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed',
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not-yet-valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'hostname',
  HOSTNAME_MISMATCH: 'hostname',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'untrusted',
  CERT_UNTRUSTED: 'untrusted',
};

const TIMEOUT_CODES = new Set(['UND_ERR_BODY_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/**
 * What a network error's cause chain (outermost first) says went wrong, and whether another
 * attempt can help: a refused certificate or a malformed HTTP answer will be the same next time;
 * a timeout or a dropped connection may not.
 */
export function networkFailure(chain: readonly CauseLink[]): { failure: ApiFailure; retryable: boolean } {
  for (const link of chain) {
    const code = link.code ?? '';
    const certificate = CERTIFICATE_CODES[code] ?? (/CERT/.test(code) ? 'other' : undefined);
    if (certificate) return { failure: { kind: 'certificate', certificate, detail: code }, retryable: false };
  }
  for (const link of chain) {
    if (TIMEOUT_CODES.has(link.code ?? '')) return { failure: { kind: 'timeout', detail: link.code! }, retryable: true };
  }
  for (const link of chain) {
    // llhttp's parse errors: the far side does not speak HTTP properly.
    if (link.name === 'HTTPParserError' || link.code?.startsWith('HPE_')) {
      const message = `the HTTP answer could not be parsed: ${link.message}${link.code ? ` (${link.code})` : ''}`;
      return { failure: { kind: 'malformed', message }, retryable: false };
    }
  }
  const coded = [...chain].reverse().find((link) => link.code);
  const innermost = chain[chain.length - 1];
  const detail = coded ? `${coded.code}: ${coded.message}` : innermost?.message;
  return { failure: detail ? { kind: 'connection', detail: quoted(detail) } : { kind: 'connection' }, retryable: true };
}

const CERTIFICATE_TEXT: Record<CertificateProblem, string> = {
  'self-signed': 'it is self-signed (not issued by a certificate authority this machine trusts)',
  expired: 'it has expired',
  'not-yet-valid': 'it is not valid yet (check the clock of this machine)',
  hostname: 'it does not match the host name in the URL',
  untrusted: 'its issuer is not a certificate authority this machine trusts',
  other: 'it did not verify',
};

export interface FailureContext {
  model: string;
  attempts: number;
}

const tries = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;

export function describeFailure(failure: ApiFailure, ctx: FailureContext): string {
  const apiMessage = failure.message?.trim() ? quoted(failure.message) : undefined;
  switch (failure.kind) {
    case 'cancelled':
      return 'The request was cancelled before the image arrived; no file was written.';
    case 'timeout':
      return `The Images API did not answer in time (${tries(ctx.attempts)}${
        failure.detail === 'UND_ERR_BODY_TIMEOUT' ? '; the answer stopped arriving midway' : ''
      }). Large or high-quality images can take minutes: try again, lower quality or size, raise max_attempts, or raise IMAGEGEN_TIMEOUT_MS.`;
    case 'connection':
      return `The connection to the Images API failed (${tries(ctx.attempts)})${failure.detail ? `: ${failure.detail}` : ''}. Check the network (and OPENAI_BASE_URL or HTTPS_PROXY if set), then try again.`;
    case 'certificate':
      return `The Images API's TLS certificate was refused: ${CERTIFICATE_TEXT[failure.certificate ?? 'other']}${
        failure.detail ? ` (${failure.detail})` : ''
      }. The request was not retried and nothing was sent. Check OPENAI_BASE_URL; if a proxy or gateway signs with its own certificate authority, give its certificate to Node with NODE_EXTRA_CA_CERTS.`;
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
