import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createSwitchboard, type Switchboard } from '../../src/core/switchboard.js';
import { scriptByAgent } from '../support/fake-openai.js';
import { until } from '../support/plans.js';
import { delegate } from '../support/replies.js';
import { alice, startHarness, type Harness } from '../support/switchboard.js';

let h: Harness | undefined;
let again: Switchboard | undefined;
afterEach(async () => {
  await again?.close();
  again = undefined;
  await h?.fake.close();
  if (h) rmSync(h.dir, { recursive: true, force: true });
  h = undefined;
});

describe('closing while a run waits on its delegation', () => {
  it('leaves the delegation to be resumed: the next process hands the specialist\'s answer to the proxy, no failure is stored', async () => {
    h = await startHarness();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let visionCalls = 0;
    h.fake.setHandler(
      scriptByAgent({
        proxy: [delegate('vision_agent', 'What is in cat.png?'), (req) => ({ content: `The team says: ${req.toolResults[0]!.content}` })],
        // The first life's call is still out when the engine closes; the next life asks again and gets the answer.
        vision_agent: async () => (++visionCalls === 1 ? (await held, { content: 'too late' }) : { content: 'A black cat.' }),
      }),
    );
    const conv = await h.sb.conversation('test:close', alice);
    const run = await h.sb.send(conv.id, { text: 'Describe cat.png', from: alice });
    await until(() => h!.fake.requests.some((r) => r.agent === 'vision_agent'), 'the delegation under way');
    await h.sb.close();
    release();

    again = await createSwitchboard({
      config: { store: { type: 'sqlite', path: join(h.dir, 'switchboard.db') }, workspaceDir: join(h.dir, 'workspaces') },
      env: { OPENAI_BASE_URL: h.fake.url, OPENAI_API_KEY: 'sk-test-secret-key' },
      cwd: h.dir,
      engine: { pollMs: 20 },
    });
    const ended = await again.wait(run.id);
    expect(ended.status).toBe('completed');
    expect(ended.reply).toBe('The team says: A black cat.');
    const proxyThread = (await again.transcript(conv.id)).find((t) => t.thread.agent === 'proxy')!;
    const results = proxyThread.messages.filter((m) => m.role === 'tool');
    expect(results.map((m) => m.content)).toEqual(['A black cat.']);
  });
});
