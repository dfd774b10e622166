/**
 * batch_status collecting a finished Batch API batch, against the fake's Files and Batches APIs
 * (run in this process; the server is the built one, spawned over stdio): 1,000 and 5,000 results
 * of small images (1024x1024 flat PNGs). The batch is submitted by one server and collected by a
 * fresh one, as after a restart, so the collector's peak RSS (VmHWM) is the collection's alone.
 * Target: peak RSS flat from 1,000 to 5,000 results (growth <= 10%). Median of RUNS runs.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startFakeImagesApi, type FakeImagesApi } from '../test/fake-images-api.js';
import { SERVER_ENTRY, tempWorkspace } from '../test/helpers.js';
import { median, peakRssMb } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

interface Server {
  pid: number;
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

async function startServer(fake: FakeImagesApi, cwd: string): Promise<Server> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [SERVER_ENTRY],
    cwd,
    env: { PATH: process.env.PATH ?? '', OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(transport);
  return {
    pid: transport.pid!,
    async call(name, args) {
      const result = (await client.callTool({ name, arguments: args }, CallToolResultSchema, { timeout: 1_200_000 })) as CallToolResult;
      if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content[0]).slice(0, 500)}`);
      return result;
    },
    close: () => client.close(),
  };
}

async function collectOnce(count: number): Promise<{ seconds: number; rssMb: number }> {
  const fake = await startFakeImagesApi();
  fake.batch.autoSettle = 'completed';
  const ws = await tempWorkspace('imagegen-bench-batchapi-');
  try {
    const submitter = await startServer(fake, ws.dir);
    const jobs = Array.from({ length: count }, (_, i) => `catalogue shot ${i + 1}`);
    await submitter.call('generate_batch', { jobs, out_dir: 'shots', size: '1024x1024', quality: 'low', engine: 'batch_api' });
    await submitter.close();
    const collector = await startServer(fake, ws.dir);
    const started = performance.now();
    const result = await collector.call('batch_status', { out_dir: 'shots' });
    const seconds = (performance.now() - started) / 1000;
    const rssMb = peakRssMb(collector.pid);
    const text = result.content[0]?.type === 'text' ? result.content[0].text : '';
    if (!text.includes(`${count} done`)) throw new Error(`not every result was saved: ${text.slice(0, 300)}`);
    await collector.close();
    return { seconds, rssMb };
  } finally {
    await fake.close();
    await ws.cleanup();
  }
}

const figures: Record<number, { seconds: number[]; rss: number[] }> = {};
for (const count of [1000, 5000]) {
  figures[count] = { seconds: [], rss: [] };
  for (let run = 0; run < RUNS; run++) {
    const { seconds, rssMb } = await collectOnce(count);
    figures[count].seconds.push(seconds);
    figures[count].rss.push(rssMb);
  }
  const f = figures[count];
  console.log(
    `batch_status collecting ${count} results: wall ${median(f.seconds).toFixed(2)} s (${f.seconds.map((s) => s.toFixed(2)).join(', ')}), ` +
      `${(count / median(f.seconds)).toFixed(0)} images/s; peak RSS ${median(f.rss).toFixed(0)} MB (${f.rss.map((r) => r.toFixed(0)).join(', ')})`,
  );
}
const growth = (median(figures[5000]!.rss) / median(figures[1000]!.rss) - 1) * 100;
console.log(`peak RSS growth 1,000 → 5,000 results: ${growth >= 0 ? '+' : ''}${growth.toFixed(1)}% (target <= 10%)`);
if (growth > 10) process.exitCode = 1;
