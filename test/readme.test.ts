/**
 * The client configs in README.md are copied by people as they are: each must parse and carry what
 * its section promises; mcp.json at the root is the Claude Code sample, unchanged.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './helpers.js';

const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');

/** The fenced blocks of one `### heading` section of the README, with their language. */
function blocks(heading: string): Array<{ lang: string; body: string }> {
  const start = readme.indexOf(`\n### ${heading}\n`);
  expect(start, `README has a "### ${heading}" section`).toBeGreaterThanOrEqual(0);
  const rest = readme.slice(start + heading.length + 6);
  const end = rest.search(/\n#{2,3} /);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

function onlyBlock(heading: string, lang: string): string {
  const found = blocks(heading).filter((b) => b.lang === lang);
  expect(found, `one ${lang} block under ${heading}`).toHaveLength(1);
  return found[0]!.body;
}

type TomlValue = string | number | boolean | string[];

/**
 * Enough TOML for a config snippet: [table] headers and key = value lines whose values are basic
 * strings, numbers, booleans or arrays of strings. Anything else is an error naming its line.
 */
function parseSmallToml(text: string): Record<string, Record<string, TomlValue>> {
  const tables: Record<string, Record<string, TomlValue>> = {};
  let current: Record<string, TomlValue> | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const header = /^\[([A-Za-z0-9_.-]+)\]$/.exec(line);
    if (header) {
      if (tables[header[1]!]) throw new Error(`line ${i + 1}: table [${header[1]}] defined twice`);
      current = tables[header[1]!] = {};
      return;
    }
    const pair = /^([A-Za-z0-9_-]+)\s*=\s*(.+)$/.exec(line);
    if (!pair || !current) throw new Error(`line ${i + 1}: not a key = value line inside a table: ${line}`);
    const [, key, value] = pair as unknown as [string, string, string];
    const isString = /^"(?:[^"\\]|\\.)*"$/.test(value);
    const isNumber = /^-?\d+(\.\d+)?$/.test(value);
    const isBoolean = /^(true|false)$/.test(value);
    const isStringArray = /^\[\s*("(?:[^"\\]|\\.)*"\s*,\s*)*("(?:[^"\\]|\\.)*"\s*)?\]$/.test(value);
    if (!isString && !isNumber && !isBoolean && !isStringArray) throw new Error(`line ${i + 1}: value not understood: ${value}`);
    if (key in current) throw new Error(`line ${i + 1}: key ${key} defined twice`);
    current[key] = JSON.parse(value) as TomlValue;
  });
  return tables;
}

const ENTRY = /\/dist\/index\.js$/;

describe('README client configs', () => {
  it('Codex: a [mcp_servers.imagegen] table with env_vars and timeouts', () => {
    const toml = parseSmallToml(onlyBlock('Codex', 'toml'));
    expect(Object.keys(toml)).toEqual(['mcp_servers.imagegen']);
    const server = toml['mcp_servers.imagegen']!;
    expect(server.command).toBe('node');
    expect((server.args as string[])[0]).toMatch(ENTRY);
    expect(server.args).toContain('--root');
    expect(server.env_vars).toEqual(['OPENAI_API_KEY']);
    expect(server.startup_timeout_sec).toBeGreaterThanOrEqual(10);
    expect(server.tool_timeout_sec).toBe(300);
  });

  it('the TOML check catches a broken line', () => {
    expect(() => parseSmallToml('[mcp_servers.imagegen]\nargs = ["a", ]x')).toThrow(/line 2/);
    expect(() => parseSmallToml('command = "node"')).toThrow(/inside a table/);
  });

  it('Claude Code: .mcp.json with the key from the environment and a timeout, identical to mcp.json', () => {
    const config = JSON.parse(onlyBlock('Claude Code', 'json'));
    const server = config.mcpServers.imagegen;
    expect(server).toMatchObject({ type: 'stdio', command: 'node', env: { OPENAI_API_KEY: '${OPENAI_API_KEY}' }, timeout: 300000 });
    expect(server.args[0]).toMatch(ENTRY);
    const sample = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'mcp.json'), 'utf8'));
    expect(sample).toEqual(config);
  });

  it('Claude Desktop: mcpServers with the key in env', () => {
    const server = JSON.parse(onlyBlock('Claude Desktop', 'json')).mcpServers.imagegen;
    expect(server.command).toBe('node');
    expect(server.args[0]).toMatch(ENTRY);
    expect(Object.keys(server.env)).toEqual(['OPENAI_API_KEY']);
  });

  it('VS Code: servers, and a password input the key refers to', () => {
    const config = JSON.parse(onlyBlock('VS Code', 'json'));
    const server = config.servers.imagegen;
    expect(server).toMatchObject({ type: 'stdio', command: 'node' });
    expect(server.args[0]).toMatch(ENTRY);
    const ref = /^\$\{input:([\w-]+)\}$/.exec(server.env.OPENAI_API_KEY);
    expect(ref).not.toBeNull();
    expect(config.inputs).toEqual([expect.objectContaining({ type: 'promptString', id: ref![1], password: true })]);
  });

  it('Cursor: mcpServers with the key from the environment', () => {
    const server = JSON.parse(onlyBlock('Cursor', 'json')).mcpServers.imagegen;
    expect(server.command).toBe('node');
    expect(server.args[0]).toMatch(ENTRY);
    expect(server.env.OPENAI_API_KEY).toBe('${env:OPENAI_API_KEY}');
  });

  it('keeps the two set-up commands at the top', () => {
    const top = readme.slice(0, readme.indexOf('\n## '));
    expect(top).toContain('npm ci && npm start');
    expect(top).toContain('npm ci && npm test');
  });
});
