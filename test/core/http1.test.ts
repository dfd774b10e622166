import { describe, expect, it } from 'vitest';
import {
  ChunkedBody,
  HttpProtocolError,
  LengthBody,
  MAX_CHUNK_METADATA_BYTES,
  UntilCloseBody,
  bodyDecoder,
  bodyFraming,
  connectionReusable,
  headEnd,
  parseResponseHead,
  requestHead,
  type BodyDecoder,
  type BodyFraming,
  type ResponseHead,
} from '../../src/core/http1.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

interface Drained {
  /** The body data handed out, concatenated. */
  data: Buffer;
  /** Whether the decoder said it was done. */
  done: boolean;
  /** How many of the fed bytes the decoder used. */
  consumed: number;
  /** `consumed` at the step that first said done. */
  doneAt?: number;
}

/** Throws (cheaper than expect() in the tight loops below) unless `ok`. */
function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

/**
 * Feeds `pieces` to `decoder` one after another, calling next() until a piece is used up or the
 * decoder is done, and concatenates the data ranges. Each piece sits between `pad` bytes of
 * garbage, so the decoder must keep to [pos, end). Every step is checked: pos moves forward
 * within the piece, data is a non-empty range of at most `max` bytes ending at the new pos, and
 * step.done agrees with decoder.done.
 */
function drain(decoder: BodyDecoder, pieces: readonly Uint8Array[], max = Number.MAX_SAFE_INTEGER, pad = 0): Drained {
  const out: Buffer[] = [];
  let consumed = 0;
  let doneAt: number | undefined;
  for (const piece of pieces) {
    const buffer = Buffer.alloc(pad + piece.length + pad, 0x0a); // stray LFs around the piece
    buffer.set(piece, pad);
    let pos = pad;
    const end = pad + piece.length;
    while (pos < end && !decoder.done) {
      const step = decoder.next(buffer, pos, end, max);
      check(step.pos >= pos && step.pos <= end, `pos ${step.pos} outside [${pos}, ${end}]`);
      check(step.done === decoder.done, `step.done ${step.done} but decoder.done ${decoder.done}`);
      if (step.data) {
        const { start, end: stop } = step.data;
        check(start >= pos && stop === step.pos, `data [${start}, ${stop}) is not a range ending at pos ${step.pos}`);
        check(stop - start >= 1 && stop - start <= max, `data of ${stop - start} bytes with max ${max}`);
        out.push(Buffer.from(buffer.subarray(start, stop)));
      } else {
        check(step.pos > pos || step.done, 'a step made no progress');
      }
      consumed += step.pos - pos;
      pos = step.pos;
      if (step.done && doneAt === undefined) doneAt = consumed;
    }
  }
  return { data: Buffer.concat(out), done: decoder.done, consumed, ...(doneAt === undefined ? {} : { doneAt }) };
}

/** `wire` in pieces of `size` bytes. */
function pieces(wire: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < wire.length; at += size) out.push(wire.subarray(at, at + size));
  return out;
}

function protocolError(fn: () => unknown): string {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(HttpProtocolError);
  const message = (error as Error).message;
  expect(message.startsWith("The server's answer is not valid HTTP/1.1: ")).toBe(true);
  expect((error as Error).name).toBe('HttpProtocolError');
  return message;
}

function head(minorVersion: 0 | 1, status: number, headers: Array<[string, string]> = []): ResponseHead {
  return { minorVersion, status, statusText: '', headers };
}

describe('HttpProtocolError', () => {
  it('is an Error with a fixed prefix and its own name', () => {
    const error = new HttpProtocolError('oops');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('HttpProtocolError');
    expect(error.message).toBe("The server's answer is not valid HTTP/1.1: oops");
  });
});

describe('requestHead', () => {
  it('writes the request line, the fields in order and the blank line, byte for byte', () => {
    const text = requestHead('POST', '/v1/images/generations?x=1', [
      ['Host', 'api.openai.com'],
      ['Content-Type', 'application/json'],
      ['Content-Length', '12'],
      ['X-Empty', ''],
      ['X-Tab', 'a\tb'],
    ]);
    expect(text).toBe(
      'POST /v1/images/generations?x=1 HTTP/1.1\r\n' +
        'Host: api.openai.com\r\n' +
        'Content-Type: application/json\r\n' +
        'Content-Length: 12\r\n' +
        'X-Empty: \r\n' +
        'X-Tab: a\tb\r\n' +
        '\r\n',
    );
  });

  it('writes a head with no fields, and takes any iterable of fields', () => {
    expect(requestHead('GET', '/', [])).toBe('GET / HTTP/1.1\r\n\r\n');
    expect(requestHead('OPTIONS', '*', new Map([['Host', 'h']]))).toBe('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n');
    function* fields(): Generator<readonly [string, string]> {
      yield ['A', '1'];
      yield ['A', '2']; // a repeated name is written twice
    }
    expect(requestHead('GET', 'http://example.com/a', fields())).toBe('GET http://example.com/a HTTP/1.1\r\nA: 1\r\nA: 2\r\n\r\n');
  });

  it('keeps every token character in names and methods, and latin1 in values', () => {
    const token = "!#$%&'*+.^_`|~09azAZ-";
    expect(requestHead(token, '/', [[token, 'caf\xe9 \x80\xff']])).toBe(`${token} / HTTP/1.1\r\n${token}: caf\xe9 \x80\xff\r\n\r\n`);
  });

  it('refuses CR, LF and other controls in a value (no header injection)', () => {
    for (const value of ['a\r\nX-Evil: 1', 'a\rb', 'a\nb', '\r\n', 'a\x00b', 'a\x1fb', 'a\x7fb', 'caf\u20ac', '\u{1f600}']) {
      expect(() => requestHead('GET', '/', [['X-Value', value]]), JSON.stringify(value)).toThrow(TypeError);
      expect(() => requestHead('GET', '/', [['X-Value', value]])).toThrow('invalid value for header X-Value');
    }
  });

  it('refuses a bad header name', () => {
    for (const name of ['', 'Bad Name', 'Bad:Name', 'X-A\r\n', 'X\n', ' X', 'X ', 'na\xefve', '(x)', 'a/b', 'a@b', 'a"b', 'a\tb']) {
      expect(() => requestHead('GET', '/', [['Host', 'h'], [name, 'v']]), JSON.stringify(name)).toThrow(TypeError);
      expect(() => requestHead('GET', '/', [[name, 'v']])).toThrow(`invalid header name ${JSON.stringify(name)}`);
    }
  });

  it('refuses a bad method', () => {
    for (const method of ['', 'G ET', 'GET ', 'GET\r\n', 'G\xc9T', 'GET/', 'GE:T', '\tGET']) {
      expect(() => requestHead(method, '/', []), JSON.stringify(method)).toThrow(TypeError);
      expect(() => requestHead(method, '/', [])).toThrow(`invalid HTTP method ${JSON.stringify(method)}`);
    }
  });

  it('refuses an empty target, spaces, controls and non-ASCII in it', () => {
    for (const target of ['', '/a b', ' /', '/ ', '/a\tb', '/a\r\nHost: x', '/\n', '/\x00', '/\x7f', '/caf\xe9', '/\u20ac']) {
      expect(() => requestHead('GET', target, []), JSON.stringify(target)).toThrow(TypeError);
      expect(() => requestHead('GET', target, [])).toThrow('invalid request target');
    }
  });
});

describe('headEnd', () => {
  const response = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhi';
  const responseEnd = response.indexOf('hi');

  it('finds the end of a head ending with CRLF CRLF, not the end of the bytes', () => {
    expect(responseEnd).toBe(46);
    expect(headEnd(bytes(response))).toBe(46);
    expect(headEnd(bytes('HTTP/1.1 204 No Content\r\n\r\n'))).toBe(27);
  });

  it('finds a head whose lines end with a bare LF, or a mixture', () => {
    expect(headEnd(bytes('HTTP/1.1 200 OK\nA: b\n\nbody'))).toBe(22);
    expect(headEnd(bytes('HTTP/1.1 200 OK\r\nA: b\n\r\nbody'))).toBe(24);
    expect(headEnd(bytes('HTTP/1.1 200 OK\nA: b\r\n\nbody'))).toBe(23);
  });

  it('finds the first blank line when there are several', () => {
    expect(headEnd(bytes('H\r\n\r\nB\r\n\r\n'))).toBe(5);
    expect(headEnd(bytes('H\n\nB\n\n'))).toBe(3);
  });

  it('is -1 while the head is incomplete', () => {
    expect(headEnd(new Uint8Array(0))).toBe(-1);
    expect(headEnd(bytes('HTTP/1.1 200 OK'))).toBe(-1);
    expect(headEnd(bytes('HTTP/1.1 200 OK\r\n'))).toBe(-1);
    expect(headEnd(bytes('HTTP/1.1 200 OK\r\nA: b\r\n'))).toBe(-1);
    expect(headEnd(bytes('HTTP/1.1 200 OK\r\nA: b\r\n\r'))).toBe(-1);
    expect(headEnd(bytes('HTTP/1.1 200 OK\n'))).toBe(-1);
    // a bare CR does not end a line
    expect(headEnd(bytes('HTTP/1.1 200 OK\r\r\nA: b\r\n\r\r\nX'))).toBe(-1);
  });

  it('looks only from `from` on, and treats a negative `from` as 0', () => {
    const wire = bytes('H\r\n\r\nB\r\n\r\nC');
    expect(headEnd(wire, 0)).toBe(5);
    expect(headEnd(wire, 2)).toBe(5); // from the first LF of the blank line
    expect(headEnd(wire, 3)).toBe(10); // past it: the next one
    expect(headEnd(wire, 5)).toBe(10);
    expect(headEnd(wire, 8)).toBe(-1);
    expect(headEnd(wire, wire.length)).toBe(-1);
    expect(headEnd(wire, wire.length + 10)).toBe(-1);
    expect(headEnd(wire, -5)).toBe(5);
  });

  it('looks only before `end`', () => {
    const wire = bytes(response);
    expect(headEnd(wire, 0, 46)).toBe(46); // the head exactly
    expect(headEnd(wire, 0, 45)).toBe(-1); // the last LF outside
    expect(headEnd(wire, 0, 44)).toBe(-1);
    expect(headEnd(wire, 0, 0)).toBe(-1);
    const lf = bytes('H\n\nX');
    expect(headEnd(lf, 0, 3)).toBe(3);
    expect(headEnd(lf, 0, 2)).toBe(-1);
    // bytes after `end` that would complete a blank line do not count
    expect(headEnd(bytes('H\r\n\r\n'), 0, 4)).toBe(-1);
    expect(headEnd(bytes('H\r\n\n'), 0, 3)).toBe(-1);
  });

  it('finds a head inside a larger buffer from `from` to `end`', () => {
    const wire = bytes(`\n\n\r\n\r\n${response}\n\n`);
    expect(headEnd(wire, 6, wire.length - 2)).toBe(6 + 46);
  });

  for (const [name, text] of [
    ['CRLF', response],
    ['bare LF', 'HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nhi'],
    ['mixed', 'HTTP/1.1 200 OK\r\nContent-Length: 2\nX-A: b\n\r\nhi'],
  ] as const) {
    it(`finds a ${name} head with the bytes appended in two pieces, split anywhere, resuming with from`, () => {
      const wire = bytes(text);
      const expected = text.indexOf('hi');
      expect(expected).toBeGreaterThan(0);
      for (let split = 0; split <= wire.length; split++) {
        // first look at the bytes so far, in a buffer that will grow
        const first = headEnd(wire, 0, split);
        expect(first, `split at ${split}`).toBe(split >= expected ? expected : -1);
        if (first >= 0) continue;
        // then resume where a blank line could have begun: three bytes before the old end
        const copy = Buffer.concat([wire.subarray(0, split), wire.subarray(split)]);
        expect(headEnd(copy, Math.max(0, split - 3)), `split at ${split}`).toBe(expected);
      }
    });

    it(`finds a ${name} head with the bytes appended one at a time, resuming with from`, () => {
      const wire = bytes(text);
      const expected = text.indexOf('hi');
      let held = Buffer.alloc(0);
      let found = -1;
      for (let i = 0; i < wire.length && found < 0; i++) {
        const before = held.length;
        held = Buffer.concat([held, wire.subarray(i, i + 1)]);
        found = headEnd(held, Math.max(0, before - 3));
        expect(found, `after ${held.length} bytes`).toBe(held.length === expected ? expected : -1);
      }
      expect(found).toBe(expected);
      expect(held.length).toBe(expected);
    });
  }
});

describe('parseResponseHead', () => {
  it('parses an HTTP/1.1 head with its fields, names lower-cased, in order', () => {
    expect(
      parseResponseHead('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-ID:  abc  \r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length:12\r\n\r\n'),
    ).toEqual({
      minorVersion: 1,
      status: 200,
      statusText: 'OK',
      headers: [
        ['content-type', 'application/json'],
        ['x-request-id', 'abc'],
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
        ['content-length', '12'],
      ],
    });
  });

  it('parses an HTTP/1.0 head, and a multi-word reason phrase', () => {
    expect(parseResponseHead('HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\n')).toEqual({
      minorVersion: 0,
      status: 404,
      statusText: 'Not Found',
      headers: [['server', 'x']],
    });
  });

  it('accepts a missing or empty reason phrase', () => {
    expect(parseResponseHead('HTTP/1.1 204\r\n\r\n')).toEqual({ minorVersion: 1, status: 204, statusText: '', headers: [] });
    expect(parseResponseHead('HTTP/1.1 500 \r\n\r\n')).toEqual({ minorVersion: 1, status: 500, statusText: '', headers: [] });
    expect(parseResponseHead('HTTP/1.1 429 Too  Many\tRequests \r\n\r\n').statusText).toBe('Too  Many\tRequests ');
  });

  it('accepts bare LF line ends, and a head without its blank line', () => {
    expect(parseResponseHead('HTTP/1.1 201 Created\nA: 1\nB: 2\n\n')).toEqual({
      minorVersion: 1,
      status: 201,
      statusText: 'Created',
      headers: [
        ['a', '1'],
        ['b', '2'],
      ],
    });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nA: 1')).toEqual({ minorVersion: 1, status: 200, statusText: 'OK', headers: [['a', '1']] });
    expect(parseResponseHead('HTTP/1.1 200 OK')).toEqual({ minorVersion: 1, status: 200, statusText: 'OK', headers: [] });
  });

  it('keeps an empty value, colons inside a value, and latin1 bytes', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Blank:   \r\nLocation: http://h:80/a\r\nX-L: caf\xe9\r\n\r\n').headers).toEqual([
      ['x-empty', ''],
      ['x-blank', ''],
      ['location', 'http://h:80/a'],
      ['x-l', 'caf\xe9'],
    ]);
  });

  it('joins obsolete folded lines to the value before them, with one space', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nX-Long: one\r\n two\r\n\t  three  \r\nX-Next: n\r\n\r\n').headers).toEqual([
      ['x-long', 'one two three'],
      ['x-next', 'n'],
    ]);
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nX-Empty:\r\n   later\r\n\r\n').headers).toEqual([['x-empty', 'later']]);
  });

  it('refuses a continuation line with no field before it', () => {
    expect(protocolError(() => parseResponseHead('HTTP/1.1 200 OK\r\n folded\r\n\r\n'))).toContain('continuation');
  });

  it('refuses a bad status line', () => {
    for (const line of [
      '',
      'HTTP/1.1',
      'HTTP/1.1 ',
      'HTTP/2 200 OK',
      'HTTP/2.0 200 OK',
      'HTTP/1.2 200 OK',
      'HTTP/0.9 200 OK',
      'http/1.1 200 OK',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/1.1 20x OK',
      'HTTP/1.1 200OK',
      'HTTP/1.1  200 OK',
      'HTTP/1.1\t200 OK',
      ' HTTP/1.1 200 OK',
      'ICY 200 OK',
      'SSH-2.0-OpenSSH_9.0',
    ]) {
      const message = protocolError(() => parseResponseHead(`${line}\r\nA: b\r\n\r\n`));
      expect(message).toContain('bad status line');
      expect(message).toContain(JSON.stringify(line));
    }
    // only the start of a long line goes into the message
    expect(protocolError(() => parseResponseHead(`X${'y'.repeat(500)}\r\n\r\n`))).toContain(JSON.stringify(`X${'y'.repeat(79)}`));
  });

  it('refuses a bad header line', () => {
    for (const line of ['no colon', ': no name', 'Bad Name: x', 'Name : x', 'Na\xefve: x', '(x): y', 'X\x00: y', 'A\rB: c']) {
      const message = protocolError(() => parseResponseHead(`HTTP/1.1 200 OK\r\nA: b\r\n${line}\r\nC: d\r\n\r\n`));
      expect(message).toContain('bad header line');
    }
    // an empty line in the middle is not the end of the head here: the head is what comes before it
    expect(protocolError(() => parseResponseHead('HTTP/1.1 200 OK\r\nA: b\r\n\r\nC: d\r\n\r\n'))).toContain('bad header line');
  });
});

describe('bodyFraming', () => {
  const framing = (status: number, headers: Array<[string, string]> = [], method = 'GET', minor: 0 | 1 = 1): BodyFraming =>
    bodyFraming(method, head(minor, status, headers));

  it('has no body for HEAD, 1xx, 204 and 304, whatever the fields say', () => {
    const fields: Array<[string, string]> = [
      ['content-length', '10'],
      ['transfer-encoding', 'chunked'],
    ];
    expect(framing(200, fields, 'HEAD')).toEqual({ kind: 'none' });
    expect(framing(200, [['content-length', '10']], 'head')).toEqual({ kind: 'none' });
    for (const status of [100, 101, 102, 103, 199, 204, 304]) {
      expect(framing(status, fields), `status ${status}`).toEqual({ kind: 'none' });
      expect(framing(status), `status ${status}`).toEqual({ kind: 'none' });
    }
    // other statuses around them do have a body
    for (const status of [200, 201, 202, 203, 205, 206, 300, 301, 303, 305, 400, 404, 500]) {
      expect(framing(status, [['content-length', '7']]), `status ${status}`).toEqual({ kind: 'length', length: 7 });
    }
  });

  it('is chunked when chunked is the last transfer coding', () => {
    expect(framing(200, [['transfer-encoding', 'chunked']])).toEqual({ kind: 'chunked' });
    expect(framing(200, [['transfer-encoding', 'Chunked']])).toEqual({ kind: 'chunked' });
    expect(framing(200, [['transfer-encoding', 'gzip, chunked']])).toEqual({ kind: 'chunked' });
    expect(framing(200, [['transfer-encoding', 'gzip,chunked']])).toEqual({ kind: 'chunked' });
    expect(framing(200, [['transfer-encoding', 'chunked, ']])).toEqual({ kind: 'chunked' });
    expect(
      framing(200, [
        ['transfer-encoding', 'gzip'],
        ['transfer-encoding', 'chunked'],
      ]),
    ).toEqual({ kind: 'chunked' });
    expect(framing(200, [['transfer-encoding', 'chunked']], 'POST')).toEqual({ kind: 'chunked' });
  });

  it('reads until close when the last transfer coding is not chunked', () => {
    expect(framing(200, [['transfer-encoding', 'gzip']])).toEqual({ kind: 'close' });
    expect(framing(200, [['transfer-encoding', 'chunked, gzip']])).toEqual({ kind: 'close' });
    expect(framing(200, [['transfer-encoding', 'identity']])).toEqual({ kind: 'close' });
    expect(
      framing(200, [
        ['transfer-encoding', 'chunked'],
        ['transfer-encoding', 'gzip'],
      ]),
    ).toEqual({ kind: 'close' });
  });

  it('lets transfer-encoding win over content-length, even a bad one', () => {
    expect(
      framing(200, [
        ['content-length', '10'],
        ['transfer-encoding', 'chunked'],
      ]),
    ).toEqual({ kind: 'chunked' });
    expect(
      framing(200, [
        ['transfer-encoding', 'gzip'],
        ['content-length', '10'],
      ]),
    ).toEqual({ kind: 'close' });
    expect(
      framing(200, [
        ['transfer-encoding', 'chunked'],
        ['content-length', 'nonsense'],
      ]),
    ).toEqual({ kind: 'chunked' });
  });

  it('uses content-length, including equal duplicates', () => {
    expect(framing(200, [['content-length', '0']])).toEqual({ kind: 'length', length: 0 });
    expect(framing(200, [['content-length', '5']])).toEqual({ kind: 'length', length: 5 });
    expect(framing(200, [['content-length', '5, 5']])).toEqual({ kind: 'length', length: 5 });
    expect(framing(200, [['content-length', '5,5,5']])).toEqual({ kind: 'length', length: 5 });
    expect(
      framing(200, [
        ['content-length', '5'],
        ['content-length', '5'],
      ]),
    ).toEqual({ kind: 'length', length: 5 });
    expect(framing(200, [['content-length', '999999999999999']])).toEqual({ kind: 'length', length: 999_999_999_999_999 });
    expect(framing(200, [['content-length', '1024']], 'POST', 0)).toEqual({ kind: 'length', length: 1024 });
  });

  it('refuses differing or non-numeric content-lengths', () => {
    const bad: Array<Array<[string, string]>> = [
      [['content-length', '5, 6']],
      [
        ['content-length', '5'],
        ['content-length', '6'],
      ],
      [['content-length', '05, 5']],
      [['content-length', '']],
      [['content-length', 'abc']],
      [['content-length', '-1']],
      [['content-length', '+5']],
      [['content-length', '5.0']],
      [['content-length', '0x10']],
      [['content-length', '5 5']],
      [['content-length', '1e3']],
      [['content-length', '1234567890123456']], // 16 digits
    ];
    for (const fields of bad) {
      const message = protocolError(() => framing(200, fields));
      expect(message).toContain('bad content-length');
    }
    expect(
      protocolError(() =>
        framing(200, [
          ['content-length', '5'],
          ['content-length', '6'],
        ]),
      ),
    ).toContain(JSON.stringify('5, 6'));
  });

  it('reads until close with neither field', () => {
    expect(framing(200)).toEqual({ kind: 'close' });
    expect(framing(200, [['content-type', 'text/plain']], 'GET', 0)).toEqual({ kind: 'close' });
    expect(framing(500, [['connection', 'close']])).toEqual({ kind: 'close' });
  });
});

describe('connectionReusable', () => {
  const length: BodyFraming = { kind: 'length', length: 3 };

  it('reuses an HTTP/1.1 connection by default, not with connection: close', () => {
    expect(connectionReusable(head(1, 200), length)).toBe(true);
    expect(connectionReusable(head(1, 200), { kind: 'chunked' })).toBe(true);
    expect(connectionReusable(head(1, 204), { kind: 'none' })).toBe(true);
    expect(connectionReusable(head(1, 200, [['connection', 'keep-alive']]), length)).toBe(true);
    expect(connectionReusable(head(1, 200, [['connection', 'close']]), length)).toBe(false);
    expect(connectionReusable(head(1, 200, [['connection', 'Close']]), length)).toBe(false);
    expect(connectionReusable(head(1, 200, [['connection', 'upgrade, close']]), length)).toBe(false);
    expect(
      connectionReusable(
        head(1, 200, [
          ['connection', 'keep-alive'],
          ['connection', 'close'],
        ]),
        length,
      ),
    ).toBe(false);
    expect(connectionReusable(head(1, 304, [['connection', 'close']]), { kind: 'none' })).toBe(false);
  });

  it('reuses an HTTP/1.0 connection only with keep-alive', () => {
    expect(connectionReusable(head(0, 200), length)).toBe(false);
    expect(connectionReusable(head(0, 200, [['connection', 'keep-alive']]), length)).toBe(true);
    expect(connectionReusable(head(0, 200, [['connection', 'Keep-Alive']]), length)).toBe(true);
    expect(connectionReusable(head(0, 200, [['connection', 'foo, keep-alive']]), length)).toBe(true);
    expect(connectionReusable(head(0, 200, [['connection', 'keep-alive, close']]), length)).toBe(false);
    expect(connectionReusable(head(0, 204, [['connection', 'keep-alive']]), { kind: 'none' })).toBe(true);
  });

  it('never reuses a connection whose body ran until close', () => {
    expect(connectionReusable(head(1, 200), { kind: 'close' })).toBe(false);
    expect(connectionReusable(head(1, 200, [['connection', 'keep-alive']]), { kind: 'close' })).toBe(false);
    expect(connectionReusable(head(0, 200, [['connection', 'keep-alive']]), { kind: 'close' })).toBe(false);
  });

  it('never reuses an HTTP/1.0 connection whose answer has transfer-encoding (RFC 9112 §6.1)', () => {
    const fields: Array<[string, string]> = [
      ['connection', 'keep-alive'],
      ['transfer-encoding', 'chunked'],
    ];
    const h = head(0, 200, fields);
    expect(bodyFraming('GET', h)).toEqual({ kind: 'chunked' });
    expect(connectionReusable(h, { kind: 'chunked' })).toBe(false);
    expect(connectionReusable(head(0, 200, [...fields, ['content-length', '3']]), length)).toBe(false);
  });

  it('agrees with bodyFraming on real heads', () => {
    const reusable = (text: string, method = 'GET') => {
      const h = parseResponseHead(text);
      return connectionReusable(h, bodyFraming(method, h));
    };
    expect(reusable('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n')).toBe(true);
    expect(reusable('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')).toBe(true);
    expect(reusable('HTTP/1.1 200 OK\r\n\r\n')).toBe(false);
    expect(reusable('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n')).toBe(false);
    expect(reusable('HTTP/1.1 200 OK\r\n\r\n', 'HEAD')).toBe(true);
    expect(reusable('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n')).toBe(false);
    expect(reusable('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n')).toBe(true);
    expect(reusable('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n')).toBe(false);
  });
});

/** One chunk on the wire. */
const chunk = (data: string, extension = '', size = data.length.toString(16)): string => `${size}${extension}\r\n${data}\r\n`;

describe('ChunkedBody', () => {
  // data that looks like framing, NUL and high bytes, an extension, an uppercase and a two-digit size, trailers
  const data = 'Wiki' + 'pedia' + ' in\r\n\r\nchunks.' + '0\r\n\r\n' + '\x00\xff\x80' + 'x'.repeat(31);
  const wire = bytes(
    chunk('Wiki') +
      chunk('pedia', ';name=value;flag') +
      chunk(' in\r\n\r\nchunks.', '', 'E') +
      chunk('0\r\n\r\n') +
      chunk('\x00\xff\x80') +
      chunk('x'.repeat(31), '', '1F') +
      '0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n',
  );
  const next = bytes('HTTP/1.1 200 OK\r\n'); // the next response on the connection

  it('decodes a body fed whole, and stops at its end', () => {
    const decoder = new ChunkedBody();
    expect(decoder.done).toBe(false);
    const out = drain(decoder, [Buffer.concat([wire, next])]);
    expect(out.data.toString('latin1')).toBe(data);
    expect(out.done).toBe(true);
    expect(out.doneAt).toBe(wire.length);
    expect(out.consumed).toBe(wire.length);
  });

  it('decodes the same body split in two at every byte, with every max', () => {
    const full = Buffer.concat([wire, next]);
    for (let max = 1; max <= data.length + 1; max++) {
      for (let split = 0; split <= full.length; split++) {
        const out = drain(new ChunkedBody(), [full.subarray(0, split), full.subarray(split)], max, 2);
        check(out.data.toString('latin1') === data, `split ${split}, max ${max}: ${JSON.stringify(out.data.toString('latin1'))}`);
        check(out.done && out.doneAt === wire.length && out.consumed === wire.length, `split ${split}, max ${max}: done at ${out.doneAt}`);
      }
    }
  });

  it('decodes the same body split in three anywhere', () => {
    for (let a = 0; a <= wire.length; a++) {
      for (let b = a; b <= wire.length; b++) {
        const out = drain(new ChunkedBody(), [wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)], 7);
        check(out.data.toString('latin1') === data && out.doneAt === wire.length, `splits ${a}, ${b}`);
      }
    }
  });

  it('decodes the same body byte by byte, with every max, done only at the last byte', () => {
    for (let max = 1; max <= data.length + 1; max++) {
      const decoder = new ChunkedBody();
      const out = drain(decoder, pieces(wire, 1), max);
      expect(out.data.toString('latin1'), `max ${max}`).toBe(data);
      expect(out.doneAt).toBe(wire.length);
    }
    // not done one byte short
    const decoder = new ChunkedBody();
    const out = drain(decoder, pieces(wire.subarray(0, wire.length - 1), 1));
    expect(out.data.toString('latin1')).toBe(data);
    expect(out.done).toBe(false);
    expect(decoder.done).toBe(false);
    expect(out.consumed).toBe(wire.length - 1);
  });

  it('hands out at most max bytes a step, and the data ranges as exact positions', () => {
    const decoder = new ChunkedBody();
    const buffer = bytes('xx' + chunk('abcdef') + '0\r\n\r\n' + 'yy');
    const end = buffer.length - 2;
    expect(decoder.next(buffer, 2, end, 4)).toEqual({ pos: 9, data: { start: 5, end: 9 }, done: false });
    expect(decoder.next(buffer, 9, end, 4)).toEqual({ pos: 11, data: { start: 9, end: 11 }, done: false });
    expect(decoder.done).toBe(false);
    expect(decoder.next(buffer, 11, end, 4)).toStrictEqual({ pos: end, done: true });
    expect(decoder.done).toBe(true);
    // after the end nothing more is used, whatever follows
    expect(decoder.next(buffer, end, buffer.length, 4)).toStrictEqual({ pos: end, done: true });
    expect(decoder.next(bytes('5\r\nhello\r\n'), 0, 10, 4)).toStrictEqual({ pos: 0, done: true });
  });

  it('uses no bytes from an empty range', () => {
    const decoder = new ChunkedBody();
    expect(decoder.next(bytes('5\r\n'), 1, 1, 10)).toStrictEqual({ pos: 1, done: false });
    expect(decoder.next(new Uint8Array(0), 0, 0, 10)).toStrictEqual({ pos: 0, done: false });
  });

  it('decodes an empty body', () => {
    for (const text of ['0\r\n\r\n', '0\n\n', '000\r\n\r\n', '0;ext=1\r\n\r\n', '0\r\nA: b\r\n\r\n']) {
      const out = drain(new ChunkedBody(), [bytes(text + 'next')]);
      expect(out.data.length, JSON.stringify(text)).toBe(0);
      expect(out.doneAt).toBe(text.length);
      expect(out.consumed).toBe(text.length);
    }
  });

  it('skips chunk extensions, with or without whitespace before them', () => {
    const text =
      '3;a=b\r\nabc\r\n' +
      '3 ;a="quoted;\\"value"\r\ndef\r\n' +
      '3\t;x\r\nghi\r\n' +
      '3 \r\njkl\r\n' +
      '3;\r\nmno\r\n' +
      '0;last=1\r\n\r\n';
    for (const size of [1, 2, 5, text.length]) {
      const out = drain(new ChunkedBody(), pieces(bytes(text), size));
      expect(out.data.toString('latin1'), `pieces of ${size}`).toBe('abcdefghijklmno');
      expect(out.doneAt).toBe(text.length);
    }
  });

  it('skips trailer fields', () => {
    const text = chunk('hello') + '0\r\nX-One: 1\r\nX-Two: a\tb\r\nX-Three:\r\n\r\n';
    for (const size of [1, 3, text.length]) {
      const out = drain(new ChunkedBody(), pieces(bytes(text + 'after'), size));
      expect(out.data.toString('latin1')).toBe('hello');
      expect(out.doneAt).toBe(text.length);
      expect(out.consumed).toBe(text.length);
    }
  });

  it('accepts a bare LF wherever CRLF is expected', () => {
    const text = '4\nWiki\n5;x=y\npedia\r\n3\r\n in\n0\nT: 1\nU: 2\r\n\n';
    for (const size of [1, 2, text.length]) {
      const out = drain(new ChunkedBody(), pieces(bytes(text + 'HTTP'), size));
      expect(out.data.toString('latin1')).toBe('Wikipedia in');
      expect(out.doneAt).toBe(text.length);
    }
  });

  it('reads sizes in uppercase and lowercase hex', () => {
    for (const [size, length] of [
      ['a', 10],
      ['A', 10],
      ['f', 15],
      ['F', 15],
      ['1f', 31],
      ['1F', 31],
      ['fF', 255],
      ['Ff', 255],
      ['100', 256],
      ['0010', 16],
      ['000000000000a', 10], // 13 digits is the most allowed
      ['aBcD', 0xabcd],
    ] as const) {
      const body = Buffer.alloc(length, 0x41);
      const text = Buffer.concat([bytes(`${size}\r\n`), body, bytes('\r\n0\r\n\r\n')]);
      const out = drain(new ChunkedBody(), [text], 1000);
      expect(out.data.length, size).toBe(length);
      expect(out.data.equals(body)).toBe(true);
      expect(out.doneAt).toBe(text.length);
    }
  });

  it('decodes a large chunk in small steps', () => {
    const body = Buffer.alloc(100_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const text = Buffer.concat([bytes(`${body.length.toString(16)}\r\n`), body, bytes('\r\n0\r\n\r\n')]);
    const out = drain(new ChunkedBody(), pieces(text, 4096), 1000);
    expect(out.data.equals(body)).toBe(true);
    expect(out.doneAt).toBe(text.length);
  });

  /** The error decoding `text`, fed whole and byte by byte (the same one either way). */
  function chunkedError(text: string | Buffer): string {
    const wireBytes = typeof text === 'string' ? bytes(text) : text;
    const whole = protocolError(() => drain(new ChunkedBody(), [wireBytes]));
    const split = protocolError(() => drain(new ChunkedBody(), pieces(wireBytes, 1), 1));
    expect(split).toBe(whole);
    return whole;
  }

  it('refuses a chunk with no size', () => {
    for (const text of ['\r\n', '\n', ';ext\r\n', ' 5\r\n', 'x\r\n', '-1\r\n', chunk('abc') + '\r\n']) {
      expect(chunkedError(text), JSON.stringify(text)).toContain('a chunk has no size');
    }
  });

  it('refuses a size that is not hexadecimal', () => {
    for (const text of ['5g\r\n', '0x5\r\n', '1.5\r\n', '5,\r\n', '5\rhello', chunk('abc') + '2z\r\n']) {
      expect(chunkedError(text), JSON.stringify(text)).toMatch(/a chunk size is not hexadecimal|does not end with CRLF/);
    }
    expect(chunkedError('5g\r\n')).toContain('a chunk size is not hexadecimal');
  });

  it('refuses a size line whose CR is not followed by LF', () => {
    expect(chunkedError('5\rhello\r\n')).toContain('a chunk size line does not end with CRLF');
    expect(chunkedError('5;ext\rhello\r\n')).toContain('a chunk size line does not end with CRLF');
  });

  it('refuses data not followed by CRLF', () => {
    expect(chunkedError('3\r\nabcd\r\n')).toContain('a chunk is longer than its size');
    expect(chunkedError('3\r\nabc0\r\n\r\n')).toContain('a chunk is longer than its size');
    expect(chunkedError('3\r\nabc\rX')).toContain('a chunk does not end with CRLF');
    expect(chunkedError('3\r\nabc\r\r\n')).toContain('a chunk does not end with CRLF');
  });

  it('refuses a size with too many hex digits', () => {
    expect(chunkedError('00000000000001\r\nx\r\n')).toContain('a chunk size is too large');
    expect(chunkedError('fffffffffffffff\r\n')).toContain('a chunk size is too large');
    expect(chunkedError('1'.repeat(100))).toContain('a chunk size is too large');
  });

  it('refuses a body whose last line is not CRLF', () => {
    expect(chunkedError('0\r\n\rX')).toContain('the chunked body does not end with CRLF');
    expect(chunkedError('0\r\nA: b\r\n\r\r\n')).toContain('the chunked body does not end with CRLF');
  });

  it(`skips up to ${MAX_CHUNK_METADATA_BYTES} bytes of extensions and trailers, and refuses more`, () => {
    expect(MAX_CHUNK_METADATA_BYTES).toBe(64 * 1024);
    const room = MAX_CHUNK_METADATA_BYTES - 100;
    // just under the limit: an extension, trailers, and both together
    for (const text of [
      `1;${'e'.repeat(room)}\r\nA\r\n0\r\n\r\n`,
      `1\r\nA\r\n0\r\nX: ${'t'.repeat(room)}\r\n\r\n`,
      `1;${'e'.repeat(room / 2)}\r\nA\r\n0\r\nX: ${'t'.repeat(room / 2)}\r\n\r\n`,
    ]) {
      const out = drain(new ChunkedBody(), pieces(bytes(text), 1000));
      expect(out.data.toString('latin1')).toBe('A');
      expect(out.doneAt).toBe(text.length);
    }
    // over it: one extension, one trailer, extensions across chunks, many trailers, extension and trailer together
    const half = MAX_CHUNK_METADATA_BYTES / 2 + 10;
    for (const text of [
      `1;${'e'.repeat(MAX_CHUNK_METADATA_BYTES + 1)}\r\nA\r\n0\r\n\r\n`,
      `0\r\nX: ${'t'.repeat(MAX_CHUNK_METADATA_BYTES + 1)}\r\n\r\n`,
      `1;${'e'.repeat(half)}\r\nA\r\n1;${'e'.repeat(half)}\r\nB\r\n0\r\n\r\n`,
      `0\r\n${'X: y\r\n'.repeat(MAX_CHUNK_METADATA_BYTES / 6 + 10)}\r\n`,
      `1;${'e'.repeat(half)}\r\nA\r\n0\r\nX: ${'t'.repeat(half)}\r\n\r\n`,
    ]) {
      expect(protocolError(() => drain(new ChunkedBody(), pieces(bytes(text), 1000)))).toContain(
        'chunk extensions or trailers are too long',
      );
    }
  });

  it('refuses an endless extension or trailer before its end arrives', () => {
    const decoder = new ChunkedBody();
    const junk = bytes('e'.repeat(4096));
    drain(decoder, [bytes('1;')]);
    let fed = 0;
    const message = protocolError(() => {
      for (;;) {
        drain(decoder, [junk]);
        fed += junk.length;
      }
    });
    expect(message).toContain('too long');
    expect(fed).toBe(MAX_CHUNK_METADATA_BYTES); // refused within the next piece
  });
});

describe('LengthBody', () => {
  it('is done at once for a zero length, and uses nothing', () => {
    const decoder = new LengthBody(0);
    expect(decoder.done).toBe(true);
    expect(decoder.next(bytes('abc'), 1, 3, 10)).toStrictEqual({ pos: 1, done: true });
    expect(decoder.done).toBe(true);
  });

  it('keeps to max and to end, and is done exactly at the length', () => {
    const buffer = bytes('__0123456789abcdef');
    const decoder = new LengthBody(10);
    expect(decoder.done).toBe(false);
    expect(decoder.next(buffer, 2, 18, 4)).toEqual({ pos: 6, data: { start: 2, end: 6 }, done: false });
    expect(decoder.next(buffer, 6, 8, 100)).toEqual({ pos: 8, data: { start: 6, end: 8 }, done: false });
    expect(decoder.next(buffer, 8, 8, 100)).toStrictEqual({ pos: 8, done: false });
    expect(decoder.done).toBe(false);
    expect(decoder.next(buffer, 8, 18, 100)).toEqual({ pos: 12, data: { start: 8, end: 12 }, done: true });
    expect(decoder.done).toBe(true);
    expect(decoder.next(buffer, 12, 18, 100)).toStrictEqual({ pos: 12, done: true });
  });

  it('hands out exactly the body in any split and with any max, and no byte after it', () => {
    const body = bytes('The quick brown fox jumps over the lazy dog');
    const full = Buffer.concat([body, bytes('HTTP/1.1 200 OK\r\n')]);
    for (let max = 1; max <= body.length + 1; max++) {
      for (let split = 0; split <= full.length; split++) {
        const out = drain(new LengthBody(body.length), [full.subarray(0, split), full.subarray(split)], max, 3);
        check(out.data.equals(body), `split ${split}, max ${max}`);
        check(out.done && out.doneAt === body.length && out.consumed === body.length, `split ${split}, max ${max}: done at ${out.doneAt}`);
      }
    }
    const short = drain(new LengthBody(body.length), pieces(body.subarray(0, body.length - 1), 1));
    expect(short.done).toBe(false);
    expect(short.data.equals(body.subarray(0, body.length - 1))).toBe(true);
  });
});

describe('UntilCloseBody', () => {
  it('hands out every byte, up to max a step, and is never done', () => {
    const decoder = new UntilCloseBody();
    const buffer = bytes('__abcdefg');
    expect(decoder.done).toBe(false);
    expect(decoder.next(buffer, 2, 9, 3)).toEqual({ pos: 5, data: { start: 2, end: 5 }, done: false });
    expect(decoder.next(buffer, 5, 9, 100)).toEqual({ pos: 9, data: { start: 5, end: 9 }, done: false });
    expect(decoder.next(buffer, 9, 9, 100)).toStrictEqual({ pos: 9, done: false });
    expect(decoder.done).toBe(false);
  });

  it('hands out everything fed to it, in any pieces', () => {
    const all = bytes('0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n\x00\xff everything');
    for (const size of [1, 2, 7, all.length]) {
      for (const max of [1, 3, 1000]) {
        const decoder = new UntilCloseBody();
        const out = drain(decoder, pieces(all, size), max, 1);
        expect(out.data.equals(all)).toBe(true);
        expect(out.consumed).toBe(all.length);
        expect(out.done).toBe(false);
        expect(out.doneAt).toBeUndefined();
      }
    }
  });
});

describe('bodyDecoder', () => {
  it('makes the decoder for each framing, and none when there is no body', () => {
    expect(bodyDecoder({ kind: 'none' })).toBeUndefined();
    expect(bodyDecoder({ kind: 'chunked' })).toBeInstanceOf(ChunkedBody);
    expect(bodyDecoder({ kind: 'close' })).toBeInstanceOf(UntilCloseBody);
    const length = bodyDecoder({ kind: 'length', length: 3 });
    expect(length).toBeInstanceOf(LengthBody);
    const out = drain(length!, [bytes('abcdef')]);
    expect(out.data.toString('latin1')).toBe('abc');
    expect(out.doneAt).toBe(3);
    expect(bodyDecoder({ kind: 'length', length: 0 })!.done).toBe(true);
  });

  it('decodes whole responses from head to end', () => {
    const decode = (text: string) => {
      const wire = bytes(text);
      const at = headEnd(wire);
      const h = parseResponseHead(wire.subarray(0, at).toString('latin1'));
      const framing = bodyFraming('GET', h);
      const decoder = bodyDecoder(framing);
      const out = decoder ? drain(decoder, [wire.subarray(at)], 5) : undefined;
      return { framing, body: out?.data.toString('latin1'), done: out?.done, reusable: connectionReusable(h, framing) };
    };
    expect(decode('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA')).toEqual({
      framing: { kind: 'length', length: 5 },
      body: 'hello',
      done: true,
      reusable: true,
    });
    expect(decode('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nEXTRA')).toEqual({
      framing: { kind: 'chunked' },
      body: 'hello world',
      done: true,
      reusable: true,
    });
    expect(decode('HTTP/1.0 200 OK\n\nuntil the end')).toEqual({
      framing: { kind: 'close' },
      body: 'until the end',
      done: false,
      reusable: false,
    });
    expect(decode('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n')).toEqual({
      framing: { kind: 'none' },
      body: undefined,
      done: undefined,
      reusable: true,
    });
  });
});
