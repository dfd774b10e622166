import { readdir } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema, ListRootsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeImagesApi, type FakeImagesApi } from '../fake-images-api.js';
import { SERVER_ENTRY, structured, tempWorkspace, textOf } from '../helpers.js';

let fake: FakeImagesApi;

beforeAll(async () => {
  fake = await startFakeImagesApi();
});
afterAll(async () => {
  await fake?.close();
});

describe('the client’s MCP roots', () => {
  it('become the workspace when no --root or IMAGEGEN_ROOT is set, and follow roots/list_changed', async () => {
    const first = await tempWorkspace();
    const second = await tempWorkspace();
    let roots = [first.dir];
    const client = new Client({ name: 'roots-client', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: roots.map((dir) => ({ uri: pathToFileURL(dir).href, name: 'project' })),
    }));
    // Started in / like some clients do: without the roots, writing would be refused.
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [SERVER_ENTRY, '--structured-output'],
        cwd: '/',
        env: { PATH: process.env.PATH ?? '', OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url },
        stderr: 'ignore',
      }),
    );
    const call = async (args: Record<string, unknown>) =>
      (await client.callTool({ name: 'generate', arguments: args }, CallToolResultSchema)) as CallToolResult;
    try {
      const inFirst = await call({ prompt: 'a pear', size: '1024x1024' });
      expect(inFirst.isError, textOf(inFirst)).toBeFalsy();
      expect(structured(inFirst).images[0]!.path).toBe('output/imagegen/output.png');
      expect(await readdir(`${first.dir}/output/imagegen`)).toContain('output.png');

      const outside = await call({ prompt: 'a pear', out: `${second.dir}/x.png` });
      expect(outside.isError).toBe(true);
      expect(textOf(outside)).toMatch(/outside the workspace/);

      roots = [second.dir];
      await client.sendRootsListChanged();
      await new Promise((r) => setTimeout(r, 100));
      const inSecond = await call({ prompt: 'a plum', size: '1024x1024' });
      expect(inSecond.isError, textOf(inSecond)).toBeFalsy();
      expect(await readdir(`${second.dir}/output/imagegen`)).toContain('output.png');
    } finally {
      await client.close();
      await Promise.all([first.cleanup(), second.cleanup()]);
    }
  });
});
