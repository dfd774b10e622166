/**
 * generate_batch against the fake API (run in this process; the server is the built one, spawned
 * over stdio as a client would, with its default output):
 * - throughput: 500 jobs at concurrency 25, each answer sent 200 ms after its request arrived,
 *   small flat images so encoding is not measured; wall time / (ceil(500/25) x 200 ms), target
 *   <= 1.05, without the contact sheet, after one unmeasured run (the sheet's fixed cost at the
 *   end is printed apart). Each run is split, from the
 *   fake's log, into the checks before the first request reaches the API, the span of the requests
 *   and what comes after the last answer; and the same requests from a bare client in a process of
 *   its own (bare-requests.mjs) give the floor this machine and harness set;
 * - memory: the server's peak RSS (VmHWM) for 100 and 500 jobs of 3824x2160 high-entropy PNGs
 *   (~12 MB each, ~16 MB of base64 per answer, served from cache), at concurrency 5 and 25;
 *   target: <= 15% growth from 100 to 500 jobs and <= 250 MB at concurrency 25. Measured as
 *   users run it (the contact sheet at the end included), then with preview: false.
 * The machine's other load and the garbage collector's timing move single runs by ~5%, so each
 * figure is the median of RUNS runs (all printed).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { startFakeImagesApi, type FakeImagesApi } from '../test/fake-images-api.js';
import { SERVER_ENTRY, tempWorkspace } from '../test/helpers.js';
import { median, peakRssMb } from './stats.js';

const LATENCY_MS = 200;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const list = (values: number[], digits: number) => values.map((v) => v.toFixed(digits)).join(', ');

interface Server {
  pid: number;
  /** Runs a batch: when the call started and ended (Date.now()); throws unless its manifest says every job is done. */
  call(args: Record<string, unknown>): Promise<{ started: number; ended: number }>;
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
    async call(args) {
      const started = Date.now();
      const result = await client.callTool({ name: 'generate_batch', arguments: args }, CallToolResultSchema, { timeout: 600_000 });
      const ended = Date.now();
      // The counts are read from the manifest once the call is over: the result is the text agents get.
      const manifest = await readFile(path.join(cwd, String(args.out_dir), 'manifest.json'), 'utf8').catch(() => '{}');
      const summary = (JSON.parse(manifest) as { summary?: { done: number; jobs: number } }).summary;
      if (result.isError || !summary || summary.done !== summary.jobs) {
        throw new Error(`the batch did not finish: ${JSON.stringify(result.content).slice(0, 500)}`);
      }
      return { started, ended };
    },
    close: () => client.close(),
  };
}

/** bare-requests.mjs in a process of its own: the wall time of `count` requests at `concurrency`. */
async function bareClient(fake: FakeImagesApi): Promise<{ run(count: number, concurrency: number): Promise<number>; close(): void }> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'bare-requests.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async run(count, concurrency) {
      child.stdin.write(`${fake.url} ${fake.apiKey} ${count} ${concurrency}\n`);
      const next = await lines.next();
      if (next.done) throw new Error('the bare client stopped');
      return Number(next.value);
    },
    close: () => child.kill(),
  };
}

const jobs = (count: number, tag: string) => Array.from({ length: count }, (_, i) => `${tag} asset ${i + 1}`);

async function throughput(): Promise<void> {
  const fake = await startFakeImagesApi({ latencyMs: LATENCY_MS });
  const ws = await tempWorkspace('imagegen-bench-batch-');
  const server = await startServer(fake, ws.dir);
  const bare = await bareClient(fake);
  try {
    const count = 500;
    const concurrency = 25;
    // One unmeasured run of each first: the figures are a running server's, its code compiled and its connections open.
    await server.call({ out_dir: 'warm', size: '1024x1024', jobs: jobs(count, 'warm'), concurrency, preview: false });
    await bare.run(count, concurrency);
    const walls = { bare: [] as number[], sheet: [] as number[] };
    const parts = { before: [] as number[], span: [] as number[], after: [] as number[] };
    const floors: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      for (const preview of [false, true]) {
        fake.reset();
        const { started, ended } = await server.call({ out_dir: `run-${run}-${preview}`, size: '1024x1024', jobs: jobs(count, 'run'), concurrency, preview });
        walls[preview ? 'sheet' : 'bare'].push((ended - started) / 1000);
        if (preview) continue;
        // From the fake's log: when the first request arrived, and when the last answer was due.
        const arrivals = fake.requests.map((r) => r.at);
        const lastAnswer = Math.max(...arrivals) + LATENCY_MS;
        parts.before.push(Math.min(...arrivals) - started);
        parts.span.push(lastAnswer - Math.min(...arrivals));
        parts.after.push(ended - lastAnswer);
      }
      floors.push((await bare.run(count, concurrency)) / 1000);
    }
    const floor = (Math.ceil(count / concurrency) * LATENCY_MS) / 1000;
    const ratio = median(walls.bare) / floor;
    console.log(
      `throughput: ${count} jobs, concurrency ${concurrency}, ${LATENCY_MS} ms per answer, preview: false: ${median(walls.bare).toFixed(2)} s wall (median of ${list(walls.bare, 2)}) vs ${floor.toFixed(2)} s floor; ratio ${ratio.toFixed(3)}: ${
        ratio <= 1.05 ? 'meets' : 'MISSES'
      } the target (<= 1.05)`,
    );
    console.log(
      `  of which: checks before the first request reached the API ${median(parts.before).toFixed(0)} ms (${list(parts.before, 0)}); the requests' span ${(median(parts.span) / 1000).toFixed(2)} s, ratio ${(
        median(parts.span) /
        1000 /
        floor
      ).toFixed(3)} (${list(
        parts.span.map((v) => v / 1000 / floor),
        3,
      )}); after the last answer (last files, manifest, result) ${median(parts.after).toFixed(0)} ms (${list(parts.after, 0)})`,
    );
    console.log(
      `  the floor here: the same ${count} requests from a bare undici client in a process of its own, no MCP, no checks, no files: ratio ${(median(floors) / floor).toFixed(3)} (${list(
        floors.map((v) => v / floor),
        3,
      )})`,
    );
    // The contact sheet decodes the first 48 saved images once the batch is over: a fixed cost, apart.
    console.log(
      `  with the contact sheet (default): ${median(walls.sheet).toFixed(2)} s (median of ${list(walls.sheet, 2)}), ratio ${(median(walls.sheet) / floor).toFixed(3)}; the sheet adds ${(
        (median(walls.sheet) - median(walls.bare)) *
        1000
      ).toFixed(0)} ms`,
    );
  } finally {
    bare.close();
    await server.close();
    await fake.close();
    await ws.cleanup();
  }
}

async function peakRss(fake: FakeImagesApi, count: number, concurrency: number, preview: boolean): Promise<number> {
  const ws = await tempWorkspace('imagegen-bench-rss-');
  const server = await startServer(fake, ws.dir);
  try {
    await server.call({ out_dir: 'big', size: '3824x2160', jobs: jobs(count, 'big'), concurrency, preview });
    return peakRssMb(server.pid);
  } finally {
    await server.close();
    await ws.cleanup();
  }
}

const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(1)}%`;

async function memory(): Promise<void> {
  const fake = await startFakeImagesApi({ imageStyle: 'noise', latencyMs: LATENCY_MS });
  try {
    // The fake encodes each image once; do it before any server is measured.
    const ws = await tempWorkspace('imagegen-bench-warm-');
    const warm = await startServer(fake, ws.dir);
    await warm.call({ out_dir: 'warm', size: '3824x2160', jobs: ['warm'] });
    await warm.close();
    await ws.cleanup();
    for (const concurrency of [5, 25]) {
      const runs = { sheet: { small: [] as number[], large: [] as number[] }, bare: { small: [] as number[], large: [] as number[] } };
      for (let run = 0; run < RUNS; run++) {
        for (const preview of [true, false]) {
          const into = runs[preview ? 'sheet' : 'bare'];
          into.small.push(await peakRss(fake, 100, concurrency, preview));
          into.large.push(await peakRss(fake, 500, concurrency, preview));
        }
      }
      const { small, large } = runs.sheet;
      const growth = (median(large) / median(small) - 1) * 100;
      const target = concurrency === 25 ? `; target <= 250 MB: ${median(large) <= 250 && median(small) <= 250 ? 'meets' : 'MISSES'}` : '';
      console.log(
        `server peak RSS, 3824x2160 PNG (~12 MB), concurrency ${concurrency}: 100 jobs ${median(small).toFixed(0)} MB (${list(small, 0)}), 500 jobs ${median(large).toFixed(0)} MB (${list(large, 0)}); ${signed(
          growth,
        )}: ${growth <= 15 ? 'meets' : 'MISSES'} the target (<= 15% growth)${target}`,
      );
      // The contact sheet at the end sets the peak above; the batch alone must not grow either.
      const bare = runs.bare;
      console.log(
        `  preview: false (the batch without the sheet): 100 jobs ${median(bare.small).toFixed(0)} MB (${list(bare.small, 0)}), 500 jobs ${median(bare.large).toFixed(0)} MB (${list(
          bare.large,
          0,
        )}); ${signed((median(bare.large) / median(bare.small) - 1) * 100)}`,
      );
    }
  } finally {
    await fake.close();
  }
}

// BENCH_BATCH=throughput or =memory runs one part alone (e.g. to compare two builds back to back).
const part = process.env.BENCH_BATCH;
if (part !== 'memory') await throughput();
if (part !== 'throughput') await memory();
