/**
 * A hostile or careless client: oversized protocol messages. The server refuses the message,
 * logs it, and keeps serving every other call.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_DATA_URL_BYTES } from '../../src/core/inputs.js';
import { SERVER_ENTRY, startHarness, tempWorkspace, textOf, type Harness } from '../helpers.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness();
});

afterAll(async () => {
  await harness?.close();
});

beforeEach(() => harness.fake.reset());

const ELEVEN_MB = 11 * 1024 * 1024;

describe('an oversized JSON-RPC message', () => {
  it('answers an 11 MB tools/call with an error naming the limit, and keeps serving', async () => {
    const { server, fake } = harness;
    const call = server.client.callTool({ name: 'generate', arguments: { prompt: 'x'.repeat(ELEVEN_MB), dry_run: true } });
    await expect(call).rejects.toThrow(/this server reads messages of at most 10\.0 MB \(10485760 bytes\).*file:\/\/ URI.*prompt_file/);
    const { tools } = await server.client.listTools();
    expect(tools.map((t) => t.name)).toContain('generate');
    const after = await server.call('generate', { prompt: 'a small brass key', dry_run: true });
    expect(after.isError).toBeFalsy();
    expect(server.stderr()).toMatch(/refused a tools\/call request of \d+ bytes \(id \d+\), over the 10485760-byte limit; answered with an error/);
    expect(fake.requests).toEqual([]);
  });

  it('refuses an edit whose data: URL is over the limit that a message can carry, before any API call', async () => {
    const { server, fake } = harness;
    // 7.1 MB of image fits in a message (10 MB) as base64 (9.5 MB), but is over the data: URL limit.
    const url = `data:image/png;base64,${Buffer.alloc(MAX_DATA_URL_BYTES + 100 * 1024).toString('base64')}`;
    const result = await server.call('edit', { prompt: 'make it blue', images: [url] });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/data: URL of 7\.1 MB, over the 7\.0 MB limit for data: URLs: save the image in the workspace and give its path/);
    expect(fake.requests).toEqual([]);
  });
});

describe('raw stdio', () => {
  let child: ChildProcessWithoutNullStreams;
  let ws: { dir: string; cleanup: () => Promise<void> };
  let stdout = '';
  let stderr = '';

  beforeAll(async () => {
    ws = await tempWorkspace();
    child = spawn(process.execPath, [SERVER_ENTRY, '--root', ws.dir], { env: { PATH: process.env.PATH ?? '' } });
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  });

  afterAll(async () => {
    child.kill();
    await ws.cleanup();
  });

  const send = (message: unknown) => child.stdin.write(`${JSON.stringify(message)}\n`);

  async function answer(id: number | string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const line of stdout.split('\n')) {
        if (!line.trim()) continue;
        const message = JSON.parse(line) as Record<string, unknown>;
        if (message.id === id) return message;
      }
      if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no answer to request ${id} within ${timeoutMs} ms`);
  }

  it('drops an 11 MB line it cannot answer (no id), logs it, and answers the next tools/list', async () => {
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    expect(await answer(1)).toHaveProperty('result');
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    // Not JSON at all, written in pieces as a pipe delivers it.
    const piece = 'z'.repeat(1024 * 1024);
    for (let i = 0; i < 11; i++) child.stdin.write(piece);
    child.stdin.write('\n');
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const list = await answer(2, 20_000);
    expect((list.result as { tools: { name: string }[] }).tools.map((t) => t.name)).toContain('generate');
    expect(stderr).toMatch(/refused a message of 11534336 bytes, over the 10485760-byte limit\./);
    expect(child.exitCode).toBeNull();
  });

  it('answers an oversized request whose id comes first, as other clients write it', async () => {
    const prompt = 'y'.repeat(ELEVEN_MB);
    child.stdin.write(`{"jsonrpc":"2.0","id":"big-3","method":"tools/call","params":{"name":"generate","arguments":{"prompt":"${prompt}"}}}\n`);
    expect(await answer('big-3', 20_000)).toMatchObject({ id: 'big-3', error: { code: -32600, message: expect.stringMatching(/11\.0 MB \(\d+ bytes\); this server reads messages of at most 10\.0 MB \(10485760 bytes\)/) } });
    send({ jsonrpc: '2.0', id: 4, method: 'tools/list' });
    expect(await answer(4)).toHaveProperty('result');
  }, 30_000);
});
