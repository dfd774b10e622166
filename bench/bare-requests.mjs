// The floor for the batch throughput benchmark: the same requests from a bare undici client in a
// process of its own, as the server sends them (one connection per slot, kept alive), with no MCP,
// no checks and no files. Told `<url> <key> <count> <concurrency>` on stdin, it answers the wall
// time in ms, and waits for the next line.
/* global process, performance */
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';

const agent = new Agent();
const body = JSON.stringify({ model: 'gpt-image-2', prompt: 'a bare request', size: '1024x1024', n: 1 });
for await (const line of createInterface({ input: process.stdin })) {
  const [url, key, count, concurrency] = line.split(' ');
  let next = 0;
  const started = performance.now();
  const slot = async () => {
    while (next < Number(count)) {
      next++;
      const answer = await request(`${url}/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body,
        dispatcher: agent,
      });
      if (answer.statusCode !== 200) throw new Error(`the fake answered ${answer.statusCode}`);
      await answer.body.arrayBuffer(); // read whole, as the server reads an image
    }
  };
  await Promise.all(Array.from({ length: Number(concurrency) }, slot));
  process.stdout.write(`${performance.now() - started}\n`);
}
