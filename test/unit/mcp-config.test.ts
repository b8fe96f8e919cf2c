/**
 * The `mcp:` section belongs to the MCP adapter: the core keeps it as written, the adapter validates
 * it at start-up, and its mistakes name the file and the line like the core's own.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/index.js';
import { mcpConfig } from '../../src/mcp/config.js';
import { describeDeployment } from '../../src/mcp/context.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function configFile(lines: string[]): string {
  dir = mkdtempSync(join(tmpdir(), 'sb-mcp-config-'));
  const file = join(dir, 'switchboard.yaml');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function mistake(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('the mcp: section', () => {
  it('has defaults when absent, and takes what is given', () => {
    expect(mcpConfig(parseConfig({}))).toEqual({ askTimeoutMs: 50_000, tokens: {}, sessionIdleMs: 600_000, maxSessionsPerPrincipal: 32 });
    const file = configFile(['mcp:', '  askTimeoutMs: 300', '  tokens:', '    alice: ${ALICE_TOKEN}']);
    const config = loadConfigFile(file, { ALICE_TOKEN: 'a'.repeat(20) });
    expect(describeDeployment(config).settings).toMatchObject({ askTimeoutMs: 300, tokens: { alice: 'a'.repeat(20) } });
  });

  it('is not the core\'s business: a config with a broken mcp section still loads for the engine', () => {
    const file = configFile(['mcp:', '  askTimeoutMs: soon']);
    expect(() => loadConfigFile(file, {})).not.toThrow();
  });

  it('is validated by the MCP adapter at start-up, each mistake at its file and line', () => {
    const file = configFile([
      'defaults:',
      '  model: gpt-4o-mini',
      'mcp:',
      '  askTimeoutMs: soon',
      '  tokens:',
      '    alice: short',
      '    "bad id": ${LONG_TOKEN}',
      '  sesionIdleMs: 5000',
    ]);
    const config = loadConfigFile(file, { LONG_TOKEN: 'b'.repeat(20) });
    const err = mistake(() => describeDeployment(config));
    expect(err.file).toBe(file);
    expect(err.message.split('\n')).toEqual([
      `Invalid config ${file}:`,
      `  ${file}:4 mcp.askTimeoutMs: Invalid input: expected number, received string`,
      `  ${file}:6 mcp.tokens.alice: tokens must be at least 16 characters`,
      `  ${file}:7 mcp.tokens.bad id: "bad id" is not a valid key here: it must be a principal id: alice, cli:alice or slack:T1:U123`,
      `  ${file}:8 mcp.sesionIdleMs: unknown key`,
    ]);
  });

  it('names the path when the config was given in code', () => {
    const err = mistake(() => mcpConfig(parseConfig({ mcp: { maxSessionsPerPrincipal: 0 } })));
    expect(err.message).toBe('Invalid config:\n  mcp.maxSessionsPerPrincipal: Too small: expected number to be >0');
  });
});
