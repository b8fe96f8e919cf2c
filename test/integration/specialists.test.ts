import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../support/fake-openai.js';
import { alice, startHarness, type Harness } from '../support/switchboard.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const call = (name: string, args: object) => ({ toolCalls: [{ name, arguments: args }] });

describe('the built-in specialists, end to end', () => {
  it('draws an image, then has the vision agent look at it by its artifact reference', async () => {
    h = await startHarness({ config: { agents: { vision_agent: { visionModel: 'gpt-4o' } } } });
    let ref = '';
    h.fake.setHandler(
      scriptByAgent({
        proxy: [
          call('send_message', { recipient: 'image_agent', message: 'Draw a red lighthouse.' }),
          (req) => {
            ref = /switchboard:\/\/artifacts\/[a-z0-9_]+/.exec(req.toolResults[0]!.content)![0];
            return call('send_message', { recipient: 'vision_agent', message: `Describe ${ref}` });
          },
          (req) => ({ content: `Drawn and seen: ${req.toolResults[0]!.content}` }),
        ],
        image_agent: [call('generate_image', { prompt: 'a red lighthouse at dusk' }), (req) => ({ content: req.toolResults[0]!.content })],
        vision_agent: [
          () => call('analyze_image', { image: ref, question: 'What is shown?' }),
          (req) => ({ content: req.toolResults[0]!.content }),
        ],
        // The vision tool's own request to the vision model carries no agent system prompt.
        '*': [{ content: 'A red lighthouse against an orange sky.' }],
      }),
    );
    const conv = await h.sb.conversation('test:draw-and-look', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'Draw a lighthouse and tell me what you see', from: alice })).id);

    expect(run.status).toBe('completed');
    expect(run.reply).toBe('Drawn and seen: A red lighthouse against an orange sky.');
    expect(h.fake.imageRequests).toHaveLength(1);
    expect(h.fake.imageRequests[0]!.body).toMatchObject({ prompt: 'a red lighthouse at dusk' });
    const [artifact] = await h.sb.listArtifacts(conv.id);
    expect(`switchboard://artifacts/${artifact!.id}`).toBe(ref);
    const visionCall = h.fake.requests.find((r) => r.agent === null)!;
    expect(visionCall.model).toBe('gpt-4o');
    const parts = visionCall.body.messages.at(-1)!.content as { type: string; image_url?: { url: string } }[];
    expect(parts.find((p) => p.type === 'image_url')!.image_url!.url).toMatch(/^data:image\/png;base64,/);
  });

  it('lets the code agent write and run a script in the conversation workspace', async () => {
    h = await startHarness({ config: { agents: { code_agent: { autoApproveTools: ['run_code'] } } } });
    h.fake.setHandler(
      scriptByAgent({
        proxy: [call('send_message', { recipient: 'code_agent', message: 'Sum 1..100 in Python' }), (req) => ({ content: req.toolResults[0]!.content })],
        code_agent: [
          call('write_file', { path: 'sum.py', content: 'print(sum(range(1, 101)))\n' }),
          call('run_code', { language: 'python', file: 'sum.py' }),
          (req) => ({ content: `result: ${/\b5050\b/.exec(req.toolResults[0]!.content)?.[0] ?? 'missing'}` }),
        ],
      }),
    );
    const conv = await h.sb.conversation('test:code', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'What is 1+...+100?', from: alice })).id);
    expect(run.reply).toBe('result: 5050');
    expect(existsSync(join(h.dir, 'workspaces', conv.id, 'sum.py'))).toBe(true);
  });
});
