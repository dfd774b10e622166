import { describe, expect, it } from 'vitest';
import { describeFailure, MAX_QUOTED_CHARS, networkFailure, quoted, redact, type ApiFailure } from '../../src/core/api-errors.js';

const ctx = { model: 'gpt-image-2', attempts: 3 };
const KEY = 'sk-proj-ABCDEF1234567890secret';

describe('describeFailure', () => {
  it('quotes the API message of a 400 and names the parameter, and says it was not retried', () => {
    const text = describeFailure(
      { kind: 'http', status: 400, param: 'size', message: 'Invalid size 4096x4096.' },
      { model: 'gpt-image-2', attempts: 1 },
    );
    expect(text).toContain('"Invalid size 4096x4096."');
    expect(text).toContain('"size"');
    expect(text).toContain('400');
    expect(text).toContain('not retried');
  });

  it('handles a 400 without a param or message', () => {
    const text = describeFailure({ kind: 'http', status: 400 }, ctx);
    expect(text).toContain('400');
    expect(text).not.toContain('undefined');
    expect(text).not.toContain('null');
  });

  it('says the safety system refused a moderation_blocked request and suggests rewording', () => {
    const text = describeFailure(
      { kind: 'http', status: 400, code: 'moderation_blocked', message: 'Your request was rejected by the safety system.' },
      ctx,
    );
    expect(text).toContain('safety system');
    expect(text).toContain('moderation_blocked');
    expect(text).toMatch(/[Rr]eword/);
  });

  it('says OPENAI_API_KEY is missing or wrong on a 401 and never repeats the key', () => {
    const text = describeFailure(
      { kind: 'http', status: 401, code: 'invalid_api_key', message: `Incorrect API key provided: ${KEY}.` },
      ctx,
    );
    expect(text).toContain('OPENAI_API_KEY');
    expect(text).toContain('401');
    expect(text).toMatch(/missing|wrong/);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('sk-');
  });

  it('says a 403 may need organisation verification and names the model', () => {
    const text = describeFailure({ kind: 'http', status: 403, message: 'Your organization must be verified.' }, ctx);
    expect(text).toContain('403');
    expect(text).toMatch(/verif/);
    expect(text).toContain('gpt-image-2');
  });

  it('says a 404 model is unavailable, naming it', () => {
    const text = describeFailure({ kind: 'http', status: 404, code: 'model_not_found' }, { model: 'gpt-image-9', attempts: 1 });
    expect(text).toContain('gpt-image-9');
    expect(text).toContain('not available');
    expect(text).toContain('404');
  });

  it('states the number of attempts on a 429', () => {
    const text = describeFailure({ kind: 'http', status: 429, message: 'Rate limit reached' }, { model: 'gpt-image-2', attempts: 4 });
    expect(text).toContain('429');
    expect(text).toContain('4 attempts');
  });

  it.each([500, 502, 503])('states the number of attempts on a %d', (status) => {
    const text = describeFailure({ kind: 'http', status }, ctx);
    expect(text).toContain(String(status));
    expect(text).toContain('3 attempts');
  });

  it('uses the singular for one attempt', () => {
    const text = describeFailure({ kind: 'http', status: 503 }, { model: 'm', attempts: 1 });
    expect(text).toMatch(/\b1 attempt\b/);
    expect(text).not.toContain('1 attempts');
    expect(describeFailure({ kind: 'connection' }, { model: 'm', attempts: 1 })).toContain('(1 attempt)');
  });

  it('describes a connection failure with attempts and what to check', () => {
    const text = describeFailure({ kind: 'connection' }, ctx);
    expect(text).toContain('connection');
    expect(text).toContain('3 attempts');
    expect(text).toContain('OPENAI_BASE_URL');
  });

  it('describes a timeout with attempts and a fix', () => {
    const text = describeFailure({ kind: 'timeout' }, { model: 'gpt-image-2', attempts: 2 });
    expect(text).toContain('in time');
    expect(text).toContain('2 attempts');
    expect(text).toContain('max_attempts');
  });

  it('describes a malformed response, quoting the detail when there is one', () => {
    expect(describeFailure({ kind: 'malformed', message: 'no b64_json' }, ctx)).toContain('(no b64_json)');
    const bare = describeFailure({ kind: 'malformed' }, ctx);
    expect(bare).toContain('not a valid image response');
    expect(bare).not.toContain('()');
  });

  it('describes a cancellation, saying no file was written', () => {
    const text = describeFailure({ kind: 'cancelled' }, ctx);
    expect(text).toContain('cancelled');
    expect(text).toContain('no file was written');
  });

  it('reports another status with its number', () => {
    const failure: ApiFailure = { kind: 'http', status: 418, message: 'teapot' };
    const text = describeFailure(failure, ctx);
    expect(text).toContain('418');
    expect(text).toContain('"teapot"');
  });
});

describe('redact', () => {
  it('removes every occurrence of the secret', () => {
    const text = `key ${KEY} and again ${KEY}.`;
    const out = redact(text, KEY);
    expect(out).not.toContain(KEY);
    expect(out).toBe('key [redacted] and again [redacted].');
  });

  it('leaves the text alone without a secret', () => {
    expect(redact('nothing here', undefined)).toBe('nothing here');
    expect(redact('nothing here', '')).toBe('nothing here');
    expect(redact('no key in this text', KEY)).toBe('no key in this text');
  });
});

describe('networkFailure (an error cause chain, outermost first)', () => {
  const fetchFailed = { name: 'TypeError', message: 'fetch failed' };

  it.each([
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed', /self-signed/],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed', /self-signed/],
    ['CERT_HAS_EXPIRED', 'expired', /expired/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'hostname', /host name/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'untrusted', /issuer/],
  ])('names a refused certificate (%s) and never retries it', (code, problem, said) => {
    const { failure, retryable } = networkFailure([fetchFailed, { code, message: 'tls says no' }]);
    expect(retryable).toBe(false);
    expect(failure).toMatchObject({ kind: 'certificate', certificate: problem });
    const text = describeFailure(failure, { model: 'gpt-image-2', attempts: 1 });
    expect(text).toContain('certificate');
    expect(text).toMatch(said);
    expect(text).toContain(code);
    expect(text).toContain('not retried');
  });

  it('calls header and body timeouts timeouts (retried), and says when the body stalled', () => {
    for (const code of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']) {
      const { failure, retryable } = networkFailure([fetchFailed, { code, message: 'timeout' }]);
      expect(failure.kind).toBe('timeout');
      expect(retryable).toBe(true);
    }
    const body = networkFailure([{ code: 'UND_ERR_BODY_TIMEOUT', message: 'Body Timeout Error' }]).failure;
    expect(describeFailure(body, ctx)).toContain('stopped arriving midway');
    expect(describeFailure(body, ctx)).toContain('IMAGEGEN_TIMEOUT_MS');
  });

  it('calls an HTTP parse error malformed, with its reason, not retried', () => {
    const { failure, retryable } = networkFailure([fetchFailed, { name: 'HTTPParserError', message: 'Invalid character in Content-Length' }]);
    expect(retryable).toBe(false);
    expect(failure.kind).toBe('malformed');
    expect(describeFailure(failure, ctx)).toContain('could not be parsed: Invalid character in Content-Length');
  });

  it('keeps the innermost coded cause of a dropped connection and retries it', () => {
    const { failure, retryable } = networkFailure([fetchFailed, { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:9' }]);
    expect(retryable).toBe(true);
    const text = describeFailure(failure, ctx);
    expect(text).toContain('connection to the Images API failed (3 attempts): ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9');
    expect(describeFailure(networkFailure([]).failure, ctx)).not.toContain('undefined');
  });
});

describe('quoting the API', () => {
  it(`quotes at most ${MAX_QUOTED_CHARS} characters of the API's message, on one line`, () => {
    const text = describeFailure({ kind: 'http', status: 400, message: `bad\n${'x'.repeat(300_000)}` }, { model: 'gpt-image-2', attempts: 1 });
    expect(text.length).toBeLessThan(MAX_QUOTED_CHARS + 300);
    expect(text).toContain('bad x');
    expect(text).toContain('cut, 300004 characters');
    expect(quoted('  short  ')).toBe('short');
  });
});
