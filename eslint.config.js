import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // stdout belongs to the MCP stdio transport and to CLI answers: log through the logger.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // The core knows nothing of its adapters.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/mcp/**', '**/bots/**', '**/cli/**'], message: 'src/core must not import an adapter.' },
          { group: ['@modelcontextprotocol/*', '@slack/*', 'botbuilder*'], message: 'SDKs of adapters stay in their adapter folder.' },
        ],
      }],
    },
  },
  // Adapters reach the engine through its face (src/index.ts) only; what they need goes on the face.
  // One block per folder: a later block's no-restricted-imports replaces an earlier one's, it does not add to it.
  ...[
    { files: ['src/mcp/**/*.ts'], others: ['**/bots/**', '**/cli/**'] },
    { files: ['src/bots/**/*.ts'], others: ['**/mcp/**', '**/cli/**'] },
    // The CLI mounts the adapters (`serve`, `mcp`), so it may import them.
    { files: ['src/cli/**/*.ts'], others: [] },
  ].map(({ files, others }) => ({
    files,
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/core/**', '**/core'], message: 'Adapters import the engine from src/index.ts only: put what you need on the face.' },
          ...(others.length ? [{ group: others, message: 'MCP and bots never import each other, nor the CLI.' }] : []),
        ],
      }],
      // no-restricted-imports does not look at import(): a lazily loaded core module is still a way around the face.
      'no-restricted-syntax': ['error', {
        selector: 'ImportExpression[source.value=/(^|\\/)core(\\/|$)/]',
        message: 'Adapters import the engine from src/index.ts only: put what you need on the face.',
      }],
    },
  })),
);
