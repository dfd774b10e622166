/** Runs every benchmark script in turn (npm run bench). Each prints its own figures. */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const skip = new Set(['run-all.ts', 'stats.ts']);
for (const file of readdirSync(here).filter((f) => f.endsWith('.ts') && !skip.has(f)).sort()) {
  console.log(`\n# ${file}`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, file)], { stdio: 'inherit' });
  if (run.status !== 0) process.exitCode = 1;
}
