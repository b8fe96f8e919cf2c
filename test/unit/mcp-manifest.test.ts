import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/agents/load.js';
import { describeDeployment } from '../../src/mcp/context.js';
import { ROOT } from '../support/mcp-harness.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON documents, checked field by field below
type Doc = Record<string, any>;
const json = (file: string) => JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Doc;

describe('MCP packaging in manifest/', () => {
  const pkg = json('package.json');

  it('server.json names this package and version, and starts `switchboard mcp` over stdio', () => {
    const server = json('manifest/server.json');
    expect(server.$schema).toMatch(/static\.modelcontextprotocol\.io\/schemas\/\d{4}-\d{2}-\d{2}\/server\.schema\.json$/);
    expect(server.name).toMatch(/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/);
    expect(server.description.length).toBeLessThanOrEqual(100);
    expect(server.version).toBe(pkg.version);
    const stdio = server.packages.find((p: Doc) => p.transport.type === 'stdio');
    expect(stdio).toMatchObject({ registryType: 'npm', identifier: pkg.name, version: pkg.version, packageArguments: [{ type: 'positional', value: 'mcp' }] });
  });

  it('server.json, package.json (mcpName) and the bundle agree on one name', () => {
    const server = json('manifest/server.json');
    // The MCP registry checks an npm package's `mcpName` against the server name it is published under.
    expect(pkg.mcpName).toBe(server.name);
    for (const p of server.packages) expect(p).toMatchObject({ registryType: 'npm', identifier: pkg.name, version: pkg.version });
    expect(json('manifest/manifest.json').name).toBe(pkg.name);
  });

  it('the MCP bundle manifest runs the CLI it carries (no npm package needed) and lists the built-in tools', () => {
    const bundle = json('manifest/manifest.json');
    expect(bundle.manifest_version).toBe('0.3');
    expect(bundle.version).toBe(pkg.version);
    expect(bundle.server.entry_point).toBe(pkg.bin.switchboard);
    expect(bundle.server.mcp_config).toMatchObject({ command: 'node', args: [`\${__dirname}/${bundle.server.entry_point}`, 'mcp'] });
    expect(bundle.tools_generated).toBe(true);
    const { catalog } = describeDeployment(parseConfig({}));
    const builtIn = catalog.filter((t) => t.kind.type !== 'plan').map((t) => t.name);
    expect(bundle.tools.map((t: { name: string }) => t.name)).toEqual(builtIn);
  });
});
