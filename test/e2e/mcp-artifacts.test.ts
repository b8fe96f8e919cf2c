import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptByAgent, TINY_PNG_B64 } from '../support/fake-openai.js';
import { connectStdio, startWorld, type McpWorld, type StdioSession } from '../support/mcp-harness.js';
import type { RunOutput } from '../../src/mcp/schemas.js';

const call = (name: string, args: object) => ({ toolCalls: [{ name, arguments: args }] });

describe('artifacts over MCP (stdio, the built CLI and the SDK client)', () => {
  let world: McpWorld;
  let s: StdioSession;
  beforeAll(async () => {
    world = await startWorld();
    s = await connectStdio(world);
  });
  afterAll(async () => {
    await s?.close();
    await world?.close();
  });

  it('offers switchboard://artifacts/{id} and serves a generated image as a blob with its media type', async () => {
    const { resourceTemplates } = await s.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toContain('switchboard://artifacts/{id}');

    world.fake.setHandler(scriptByAgent({ image_agent: [call('generate_image', { prompt: 'A dot' }), (req) => ({ content: req.toolResults[0]!.content })] }));
    const result = await s.client.callTool({ name: 'ask_image_agent', arguments: { message: 'Draw a dot' } });
    const reply = (result.structuredContent as RunOutput).reply ?? '';
    const uri = /switchboard:\/\/artifacts\/[a-z0-9_]+/.exec(reply)?.[0];
    expect(uri, reply).toBeTruthy();

    const read = await s.client.readResource({ uri: uri! });
    expect(read.contents).toEqual([{ uri: uri!, mimeType: 'image/png', blob: TINY_PNG_B64 }]);
  });

  it('answers resource-not-found for an artifact that does not exist', async () => {
    await expect(s.client.readResource({ uri: 'switchboard://artifacts/art_nope' })).rejects.toThrow(/No artifact "art_nope"/);
  });
});
