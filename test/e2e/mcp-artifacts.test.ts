import { describe, expect, it } from 'vitest';
import { scriptByAgent, TINY_PNG_B64 } from '../support/fake-openai.js';
import { connectStdio, startWorld } from '../support/mcp-harness.js';
import type { RunOutput } from '../../src/mcp/schemas.js';

const call = (name: string, args: object) => ({ toolCalls: [{ name, arguments: args }] });

describe('artifacts over MCP (stdio, the built CLI and the SDK client)', () => {
  it('offers switchboard://artifacts/{id}, serves a generated image as a blob with its media type, and not-found for others', async () => {
    const world = await startWorld();
    const s = await connectStdio(world).catch(async (err: unknown) => {
      await world.close();
      throw err;
    });
    try {
      const { resourceTemplates } = await s.client.listResourceTemplates();
      expect(resourceTemplates.map((t) => t.uriTemplate)).toContain('switchboard://artifacts/{id}');

      world.fake.setHandler(scriptByAgent({ image_agent: [call('generate_image', { prompt: 'A dot' }), (req) => ({ content: req.toolResults[0]!.content })] }));
      const result = await s.client.callTool({ name: 'ask_image_agent', arguments: { message: 'Draw a dot' } });
      const reply = (result.structuredContent as RunOutput).reply ?? '';
      const uri = /switchboard:\/\/artifacts\/[a-z0-9_]+/.exec(reply)?.[0];
      expect(uri, reply).toBeTruthy();

      const read = await s.client.readResource({ uri: uri! });
      expect(read.contents).toEqual([{ uri: uri!, mimeType: 'image/png', blob: TINY_PNG_B64 }]);
      await expect(s.client.readResource({ uri: 'switchboard://artifacts/art_nope' })).rejects.toThrow(/No artifact "art_nope"/);
    } finally {
      await s.close();
      await world.close();
    }
  });
});
