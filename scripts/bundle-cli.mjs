// Bundles the `switchboard` command into dist/cli/main.js (over tsc's output) with one chunk per
// lazily-loaded command. Loading one file instead of a few hundred small modules (zod alone is
// ~100) roughly halves start-up: `switchboard mcp` must answer its host's first tools/list fast.
// The library entry (dist/index.js) stays tsc's unbundled output.
import { build } from 'esbuild';

await build({
  entryPoints: { main: 'src/cli/main.ts' },
  outdir: 'dist/cli',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native or optional drivers, and modules loaded by `require` at run time, stay in node_modules.
  external: ['better-sqlite3', 'pg', 'yaml', 'openai', '@slack/bolt', '@slack/web-api', '@slack/socket-mode', '@slack/logger', '@slack/types'],
  // Bundled CommonJS dependencies call `require` for Node built-ins: give ESM output one.
  banner: { js: "import { createRequire as __sbCreateRequire } from 'node:module'; globalThis.require ??= __sbCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
