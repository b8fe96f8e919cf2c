/**
 * The MCP host recipes in the README, started as written: each one's command and arguments (the
 * clone path replaced by this checkout, `switchboard` by what `npm link` puts on the PATH) spawned
 * by the SDK's stdio client, which lists the tools and asks an agent.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { scriptByAgent } from '../support/fake-openai.js';
import { ROOT, startWorld, type McpWorld } from '../support/mcp-harness.js';

const CLONE = '/path/to/switchboard';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## MCP\n'), readme.indexOf('\n## ', readme.indexOf('## MCP\n') + 1));

interface Recipe {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** `claude mcp add switchboard -e K=V ... -- COMMAND ARGS` lines of the README's sh blocks. */
function claudeRecipes(): Recipe[] {
  return [...section.matchAll(/^claude mcp add switchboard (.*?) -- (.+?)\s+#\s*(.*)$/gm)].map((m) => {
    const env = Object.fromEntries([...m[1]!.matchAll(/-e (\w+)=(\S+)/g)].map((e) => [e[1]!, e[2]!]));
    const [command, ...args] = m[2]!.trim().split(/\s+/);
    return { name: `Claude Code (${m[3]})`, command: command!, args, env };
  });
}

/** The JSON host configurations (Claude Desktop / Cursor, VS Code). */
function jsonRecipes(): Recipe[] {
  return [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m, i) => {
    const doc = JSON.parse(m[1]!) as { mcpServers?: Record<string, Recipe>; servers?: Record<string, Recipe> };
    const server = (doc.mcpServers ?? doc.servers)!.switchboard!;
    return { name: doc.mcpServers ? 'Claude Desktop / Cursor' : `VS Code (#${i})`, command: server.command, args: server.args, env: server.env ?? {} };
  });
}

describe('the README\'s MCP host recipes', () => {
  let world: McpWorld;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => world?.close());

  const recipes = [...claudeRecipes(), ...jsonRecipes()];

  it('are all found, and none needs the unpublished npm package', () => {
    expect(recipes.map((r) => r.name)).toEqual([
      'Claude Code (Claude Code)',
      'Claude Code (after npm link)',
      'Claude Desktop / Cursor',
      expect.stringMatching(/^VS Code/),
    ]);
    for (const r of recipes) expect(r.command, r.name).not.toBe('npx');
    // The npx form is kept for when the package is published, under the package's own name.
    expect(section).toContain(`npx -y ${pkg.name} mcp`);
  });

  for (const recipe of recipes) {
    it(`${recipe.name}: starts the server, lists the tools and answers a call`, async () => {
      // `node` is the node running this test; `switchboard` is the package's bin, as `npm link` installs it.
      const [command, args] =
        recipe.command === 'node'
          ? [process.execPath, recipe.args.map((a) => a.replace(CLONE, ROOT))]
          : recipe.command === 'switchboard'
            ? [process.execPath, [join(ROOT, pkg.bin.switchboard!), ...recipe.args]]
            : [recipe.command, recipe.args];
      expect(args.some((a) => a.startsWith(ROOT)), 'the recipe names the clone').toBe(true);
      const known: Record<string, string> = { OPENAI_API_KEY: 'sk-test-secret-key', SWITCHBOARD_CONFIG: world.configFile };
      for (const key of Object.keys(recipe.env)) expect(Object.keys(known), `${recipe.name} sets ${key}`).toContain(key);
      const env = { ...world.env(), ...Object.fromEntries(Object.keys(recipe.env).map((k) => [k, known[k]!])) };
      if (!('SWITCHBOARD_CONFIG' in recipe.env)) delete (env as Record<string, string>).SWITCHBOARD_CONFIG;

      world.fake.setHandler(scriptByAgent({ vision_agent: [{ content: 'A recipe that works.' }] }));
      // Hosts start servers in a folder of their own: the root here, as Claude Desktop does.
      const transport = new StdioClientTransport({ command, args, env, cwd: '/', stderr: 'pipe' });
      const client = new Client({ name: 'readme-recipe', version: '1' });
      await client.connect(transport);
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toContain('ask_vision_agent');
        const answer = await client.callTool({ name: 'ask_vision_agent', arguments: { message: 'Does it work?' } });
        expect(answer.structuredContent).toMatchObject({ status: 'completed', reply: 'A recipe that works.' });
      } finally {
        await client.close();
      }
    });
  }
});
