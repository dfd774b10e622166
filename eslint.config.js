// Lint: typescript-eslint's recommended rules, and the layers of src/ as import rules.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// A relative import that leaves the folder: `../x.js`, `../../x.js` …
const LEAVES_FOLDER = '^\\.\\./';
// …except into core, which every layer may use.
const LEAVES_FOR_NOT_CORE = '^\\.\\./(?!core/)';
// Into the tools or the files that serve them (server, resources, prompts, the gallery, the entry point).
const INTO_TOOLS_OR_SERVER = '^\\.\\./(tools/|server|resources|prompts|batch-gallery|index)';

/**
 * The layers of src/: core is pure rules (it imports only core and packages); io is the thin edges
 * (core, io and packages); pipeline is the one path of an image call (core, io, config and
 * results, never a tool); tools and the top-level files (server, config, results, resources,
 * prompts, index) sit on all of them. Static imports, re-exports and `import()` are all checked.
 */
function layer(pattern, message) {
  // `\x2F` is `/`: selectors cannot hold a slash inside a regular expression.
  const dynamic = pattern.replaceAll('/', '\\x2F');
  return {
    'no-restricted-imports': ['error', { patterns: [{ regex: pattern, message }] }],
    'no-restricted-syntax': [
      'error',
      { selector: `ImportExpression > Literal[value=/${dynamic}/]`, message },
    ],
  };
}

export default defineConfig(
  // What .gitignore keeps out of the repository is not ours to lint.
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'output/', 'tmp/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['src/core/**/*.ts'],
    rules: layer(
      LEAVES_FOLDER,
      'src/core is pure rules: it imports only core and packages (no io, tools, server, config, results, resources or prompts). Pass what it needs in as arguments.',
    ),
  },
  {
    files: ['src/io/**/*.ts'],
    rules: layer(
      LEAVES_FOR_NOT_CORE,
      'src/io is the thin edges: it imports only core, io and packages (no pipeline, tools, server, config, results, resources or prompts).',
    ),
  },
  {
    files: ['src/pipeline/**/*.ts'],
    rules: layer(
      INTO_TOOLS_OR_SERVER,
      'src/pipeline is the path every tool takes: it imports core, io, pipeline, config, results and packages, never a tool or the server. Pass what it needs in as arguments.',
    ),
  },
);
