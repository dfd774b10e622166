#!/usr/bin/env node
/** Entry point: read flags and environment, then serve MCP over stdio. Stdout is the protocol only. */
import { configFromEnvironment, parseArgs, USAGE, VERSION } from './config.js';
import { BoundedStdioServerTransport } from './io/stdio.js';
import { createServer } from './server.js';

const parsed = parseArgs(process.argv.slice(2));
if (parsed.kind === 'help') {
  process.stderr.write(`${USAGE}\n`);
  process.exit(0);
}
if (parsed.kind === 'version') {
  process.stderr.write(`${VERSION}\n`);
  process.exit(0);
}
if (parsed.kind === 'error') {
  process.stderr.write(`imagegen-mcp: ${parsed.message}\n`);
  process.exit(2);
}

const config = configFromEnvironment(process.env, process.cwd(), parsed.root, parsed.structuredOutput);
for (const warning of config.configWarnings ?? []) process.stderr.write(`imagegen-mcp: ${warning}\n`);
const server = createServer(config);

// Bad input and API failures are tool results; anything that still escapes is logged, not fatal.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`imagegen-mcp: unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}\n`);
});

// Not the SDK's StdioServerTransport: it closes (and the process exits) on a message over 10 MB.
await server.connect(new BoundedStdioServerTransport());
