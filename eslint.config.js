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
  // Each adapter's SDK stays in its own folder (a move to the Microsoft 365 Agents SDK is src/bots/teams only).
  ...[
    { files: ['src/mcp/**/*.ts'], others: ['**/bots/**', '**/cli/**'], sdks: ['@slack/*', 'botbuilder*', 'botframework-*'] },
    { files: ['src/bots/slack/**/*.ts'], others: ['**/mcp/**', '**/cli/**', '**/teams/**'], sdks: ['@modelcontextprotocol/*', 'botbuilder*', 'botframework-*'] },
    { files: ['src/bots/teams/**/*.ts'], others: ['**/mcp/**', '**/cli/**', '**/slack/**'], sdks: ['@modelcontextprotocol/*', '@slack/*'] },
    // A file directly in src/bots (none today) is held to the shared folder's rules.
    { files: ['src/bots/*.ts', 'src/bots/shared/**/*.ts'], others: ['**/mcp/**', '**/cli/**', '**/slack/**', '**/teams/**'], sdks: ['@modelcontextprotocol/*', '@slack/*', 'botbuilder*', 'botframework-*'] },
    // The CLI mounts the adapters (`serve`, `mcp`), so it may import them; their SDKs it loads through them.
    { files: ['src/cli/**/*.ts'], others: [], sdks: ['@slack/*', 'botbuilder*', 'botframework-*'] },
  ].map(({ files, others, sdks }) => ({
    files,
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/core/**', '**/core'], message: 'Adapters import the engine from src/index.ts only: put what you need on the face.' },
          ...(others.length ? [{ group: others, message: 'MCP and bots never import each other, nor the CLI; shared code goes to src/bots/shared.' }] : []),
          { group: sdks, message: 'SDKs of adapters stay in their adapter folder.' },
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
