import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { LATEST_PROTOCOL_VERSION as SDK_LATEST, SUPPORTED_PROTOCOL_VERSIONS as SDK_SUPPORTED } from '@modelcontextprotocol/sdk/types.js';
import { parseConfig } from '../../src/core/agents/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { createSwitchboard } from '../../src/core/switchboard.js';
import { listToolsResult } from '../../src/mcp/catalog.js';
import { describeDeployment, stdioBaseDir, type McpDeps } from '../../src/mcp/context.js';
import { principalFromId } from '../../src/index.js';
import { initializeResult, LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '../../src/mcp/info.js';
import { createMcpServer } from '../../src/mcp/server.js';

function depsFor(input: Parameters<typeof parseConfig>[0] = {}): McpDeps {
  const config = parseConfig(input);
  const { agents, catalog, plans } = describeDeployment(config);
  return {
    config,
    agents,
    catalog,
    plans,
    env: {},
    logger: silentLogger,
    principal: { surface: 'mcp', userId: 'test' },
    progressIntervalMs: 100,
    askTimeoutMs: 1000,
    switchboard: () => Promise.reject(new Error('not needed to list')),
  };
}

async function sdkClient(deps: McpDeps): Promise<Client> {
  const [a, b] = InMemoryTransport.createLinkedPair();
  await createMcpServer(deps).connect(a);
  const client = new Client({ name: 't', version: '1' });
  await client.connect(b);
  return client;
}

describe('the stdio fast path answers exactly what the SDK server answers', () => {
  it('for initialize', async () => {
    const deps = depsFor();
    const client = await sdkClient(deps);
    const fast = initializeResult(SDK_LATEST, { plans: deps.plans });
    expect(client.getServerCapabilities()).toEqual(fast.capabilities);
    expect(client.getServerVersion()).toEqual(fast.serverInfo);
    expect(client.getInstructions()).toEqual(fast.instructions);
    await client.close();
  });

  it('for tools/list, with config agents and a custom message limit', async () => {
    const deps = depsFor({ agents: { translator: { description: 'Translates.' } }, limits: { maxMessageChars: 1234 } });
    const client = await sdkClient(deps);
    const fromSdk = await client.listTools();
    expect(JSON.parse(JSON.stringify(listToolsResult(deps.catalog)))).toEqual(JSON.parse(JSON.stringify(fromSdk)));
    await client.close();
  });

  it('with the SDK\'s protocol versions', () => {
    expect([...SUPPORTED_PROTOCOL_VERSIONS]).toEqual(SDK_SUPPORTED);
    expect(LATEST_PROTOCOL_VERSION).toBe(SDK_LATEST);
    expect(initializeResult('1999-01-01', { plans: false }).protocolVersion).toBe(SDK_LATEST);
    expect(initializeResult('2025-03-26', { plans: false }).protocolVersion).toBe('2025-03-26');
  });
});

describe('the deployment the MCP face describes', () => {
  it('has the same agents the engine builds from the same config', async () => {
    const input = { agents: { translator: { description: 'Translates.' } }, store: { type: 'sqlite' as const, path: ':memory:' } };
    const sb = await createSwitchboard({ config: input, env: {}, logger: silentLogger, resume: false });
    try {
      const { agents } = describeDeployment(parseConfig(input));
      expect(agents.list()).toEqual(sb.agents.list());
    } finally {
      await sb.close();
    }
  });

  it('reads principals from mcp.tokens ids', () => {
    const mcp = { surface: 'mcp' };
    expect(principalFromId('alice', mcp)).toEqual({ surface: 'mcp', userId: 'alice' });
    expect(principalFromId('cli:bob', mcp)).toEqual({ surface: 'cli', userId: 'bob' });
    expect(principalFromId('slack:T1:U2', mcp)).toEqual({ surface: 'slack', tenant: 'T1', userId: 'U2' });
  });
});

describe('where switchboard mcp keeps its data', () => {
  it('uses the config file\'s folder, else a writable working directory, else home', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-base-'));
    try {
      expect(stdioBaseDir({ configFile: '/etc/sb/switchboard.yaml', cwd: dir, home: '/home/u' })).toBe('/etc/sb');
      expect(stdioBaseDir({ cwd: dir, home: '/home/u' })).toBe(dir);
      expect(stdioBaseDir({ cwd: '/', home: '/home/u' })).toBe('/home/u');
      expect(stdioBaseDir({ cwd: join(dir, 'missing'), home: '/home/u' })).toBe('/home/u');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
