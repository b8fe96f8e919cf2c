import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../support/fake-openai.js';
import { alice, startHarness, type Harness } from '../support/switchboard.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('a replica with no work of its own', () => {
  it('takes over a run whose owner stopped renewing its lease, and finishes it', async () => {
    h = await startHarness({ switchboard: { engine: { leaseMs: 300, pollMs: 20 } } });
    h.fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `finished: ${req.lastUserText}` }) }));
    const { store } = h.sb;
    const conv = await h.sb.conversation('test:takeover', alice);
    const thread = await store.getOrCreateThread(conv.id, 'proxy', 'thr_takeover');
    const queued = await store.createRun({
      id: 'run_takeover',
      conversationId: conv.id,
      threadId: thread.id,
      agent: 'proxy',
      input: { content: 'left behind', author: 'test:alice' },
      requestedBy: alice,
      parentRunId: null,
      parentToolCallId: null,
      depth: 0,
    });
    // Another replica (on another host) claims it and then goes silent: its lease runs out.
    const now = Date.now();
    const claimed = await store.claimNextRun(thread.id, 'elsewhere:4242:gone', now + 200, now, 'msg_takeover');
    expect(claimed?.run.id).toBe(queued.id);

    // Nobody here waits on it (that alone would start the heartbeat): the idle engine must notice by itself.
    let ended = await store.getRun(queued.id);
    for (let i = 0; i < 250 && ended?.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      ended = await store.getRun(queued.id);
    }
    expect(ended?.status).toBe('completed');
    expect(ended?.reply).toBe('finished: left behind');
    const { messages } = (await h.sb.transcript(conv.id))[0]!;
    expect(messages.map((m) => `${m.role}:${m.content}`)).toEqual(['user:left behind', 'assistant:finished: left behind']);
  });
});
