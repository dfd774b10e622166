/**
 * Cold start: spawn to the first tools/list answer, for this server and for a one-tool server on
 * the same SDK, alternating runs; prints the medians and their ratio (target <= 1.3x).
 */
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { PROJECT_ROOT, SERVER_ENTRY } from '../test/helpers.js';
import { median, ms, verdict } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

async function timeToToolsList(entry: string): Promise<number> {
  const started = performance.now();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [entry],
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '' },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(transport);
  await client.listTools();
  const elapsed = performance.now() - started;
  await client.close();
  return elapsed;
}

const ours: number[] = [];
const baseline: number[] = [];
const oneTool = path.join(PROJECT_ROOT, 'bench', 'one-tool-server.mjs');
await timeToToolsList(SERVER_ENTRY); // warm the file cache for both
await timeToToolsList(oneTool);
for (let i = 0; i < RUNS; i++) {
  ours.push(await timeToToolsList(SERVER_ENTRY));
  baseline.push(await timeToToolsList(oneTool));
}
const ratio = median(ours) / median(baseline);
console.log(`cold start to tools/list (median of ${RUNS}): imagegen-mcp ${ms(median(ours))}, one-tool server ${ms(median(baseline))}`);
console.log(`ratio ${ratio.toFixed(2)}x: ${verdict(ratio, 1.3)}`);
