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
  {
    files: ['src/mcp/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/bots/**', '**/cli/**'], message: 'MCP and bots never import each other, nor the CLI.' }] }] },
  },
);
