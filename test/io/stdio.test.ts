import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { BoundedStdioServerTransport, peekMessage } from '../../src/io/stdio.js';

describe('peekMessage', () => {
  it('reads the id and method from the start, as most clients write a request', () => {
    expect(peekMessage('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{"prompt":"aaaa', '')).toEqual({ id: 7, method: 'tools/call' });
  });

  it('reads them from the end, as the TypeScript SDK writes a request (method first, id last)', () => {
    expect(peekMessage('{"method":"tools/call","params":{"name":"edit","arguments":{"images":["data:image/png;base64,AAAA', 'AAAA"]}},"jsonrpc":"2.0","id":"req-9"}')).toEqual({
      id: 'req-9',
      method: 'tools/call',
    });
  });

  it('does not take a nested id for the message\'s own', () => {
    expect(peekMessage('{"method":"tools/call","params":{"arguments":{"prompt":"aaa', 'aaa","id":5}}}')).toEqual({ method: 'tools/call' });
    expect(peekMessage('{"result":{"roots":[{"uri":"file:///a', '"}]},"jsonrpc":"2.0","id":3}')).toEqual({ id: 3 });
  });

  it('finds nothing in text that is not JSON', () => {
    expect(peekMessage('zzzz', 'zzzz')).toEqual({});
  });
});

describe('BoundedStdioServerTransport', () => {
  function setUp(max: number) {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const logs: string[] = [];
    const transport = new BoundedStdioServerTransport(stdin, stdout, { maxMessageBytes: max, log: (line) => logs.push(line) });
    const messages: JSONRPCMessage[] = [];
    transport.onmessage = (m) => messages.push(m);
    let out = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    return { stdin, transport, messages, logs, output: () => out };
  }

  it('passes messages split across chunks and joined in one chunk, and skips blank lines', async () => {
    const t = setUp(1000);
    await t.transport.start();
    t.stdin.write('{"jsonrpc":"2.0","id":1,"meth');
    t.stdin.write('od":"ping"}\n\n{"jsonrpc":"2.0","method":"notifications/initialized"}\r\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.messages).toEqual([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
    ]);
  });

  it('refuses a request over the limit with an error for its id, and serves the next line', async () => {
    const t = setUp(100);
    await t.transport.start();
    const big = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"p":"${'x'.repeat(120)}"}}`;
    t.stdin.write(big.slice(0, 90));
    t.stdin.write(`${big.slice(90)}\n{"jsonrpc":"2.0","id":3,"method":"ping"}\n`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.messages).toEqual([{ jsonrpc: '2.0', id: 3, method: 'ping' }]);
    expect(JSON.parse(t.output())).toMatchObject({ jsonrpc: '2.0', id: 2, error: { code: -32600, message: expect.stringMatching(new RegExp(`\\(${big.length} bytes\\).*at most 0\\.0 MB \\(100 bytes\\)`)) } });
    expect(t.logs).toEqual([`imagegen-mcp: refused a tools/call request of ${big.length} bytes (id 2), over the 100-byte limit; answered with an error.`]);
  });

  it('accepts a message of exactly the limit', async () => {
    const t = setUp(60);
    await t.transport.start();
    const line = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: {} });
    const padded = line.padEnd(60, ' ');
    t.stdin.write(`${padded}\n`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.messages).toHaveLength(1);
    t.stdin.write(`${padded} \n`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.messages).toHaveLength(1);
    expect(t.logs).toHaveLength(1);
  });
});
