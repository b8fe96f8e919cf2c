import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../support/fake-openai.js';
import { alice, bob, startHarness, type Harness } from '../support/switchboard.js';
import type { SwitchboardEvent } from '../../src/core/events.js';
import { ForbiddenError, InvalidInputError, RunFailedError } from '../../src/core/errors.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('how runs end', () => {
  it('retries 429 and 500 from the model API and then answers', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'fine' }] }));
    h.fake.failNext(1, 429);
    const conv = await h.sb.conversation('test:retry', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'hi', from: alice })).id);
    expect(run.status).toBe('completed');
    expect(run.reply).toBe('fine');
    expect(h.fake.requests.map((r) => r.status)).toEqual([429, 200]);

    h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'still fine' }] }));
    h.fake.failNext(2, 500);
    const again = await h.sb.wait((await h.sb.send(conv.id, { text: 'again', from: alice })).id);
    expect(again.reply).toBe('still fine');
  });

  it('fails the run with a clear reason when the model API keeps failing, and never leaks the key', async () => {
    h = await startHarness();
    h.fake.failNext(3, 500); // the first attempt and both retries
    const conv = await h.sb.conversation('test:persistent', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'hi', from: alice })).id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/Model API error 500 .* after 3 attempts/);
    expect(run.error).not.toContain('sk-test-secret-key');
    // The thread is not stuck: the next message is answered.
    h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'back' }] }));
    const next = await h.sb.wait((await h.sb.send(conv.id, { text: 'hello?', from: alice })).id);
    expect(next.reply).toBe('back');
  });

  it('fails a specialist that keeps failing, and the proxy hears about it as a tool error', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [{ toolCalls: [{ name: 'send_message', arguments: { recipient: 'vision_agent', message: 'look' } }] }, (req) => ({ content: req.toolResults[0]!.content })],
        vision_agent: () => ({ status: 503, error: 'overloaded' }),
      }),
    );
    const conv = await h.sb.conversation('test:child-fails', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'look', from: alice })).id);
    expect(run.status).toBe('completed');
    expect(run.reply).toMatch(/vision_agent did not answer: Model API error 503/);
  });

  it('stops a run at the turn limit with a reason', async () => {
    h = await startHarness({ config: { agents: { proxy: { maxTurns: 2 } } } });
    h.fake.setHandler(
      scriptByAgent({ proxy: () => ({ toolCalls: [{ name: 'send_message', arguments: { recipient: 'nobody', message: 'x' } }] }) }),
    );
    const conv = await h.sb.conversation('test:turns', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'loop', from: alice })).id);
    expect(run.status).toBe('failed');
    expect(run.error).toBe('proxy reached its limit of 2 model calls in one run without a final answer.');
  });

  it('records token usage per step and rolls it up per run, agent and conversation, with cost', async () => {
    h = await startHarness({ config: { pricing: { 'gpt-4o-mini': { input: 1, output: 2 } } } });
    h.fake.setHandler(
      scriptByAgent({
        proxy: [
          { toolCalls: [{ name: 'send_message', arguments: { recipient: 'vision_agent', message: 'look' } }], usage: { prompt_tokens: 100, completion_tokens: 10 } },
          { content: 'done', usage: { prompt_tokens: 200, completion_tokens: 20 } },
        ],
        vision_agent: [{ content: 'seen', usage: { prompt_tokens: 50, completion_tokens: 5 } }],
      }),
    );
    const conv = await h.sb.conversation('test:usage', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'look', from: alice })).id);
    expect(run.usage).toMatchObject({ promptTokens: 300, completionTokens: 30, modelCalls: 2 });
    expect(run.usage.cost).toBeCloseTo((300 * 1 + 30 * 2) / 1e6, 12);
    const byAgent = Object.fromEntries((await h.sb.usage('agent')).map((u) => [u.key, u.promptTokens]));
    expect(byAgent).toEqual({ proxy: 300, vision_agent: 50 });
    const [byConv] = await h.sb.usage('conversation', { conversationId: conv.id });
    expect(byConv).toMatchObject({ key: conv.id, promptTokens: 350, completionTokens: 35, modelCalls: 3 });
    const steps = await h.sb.store.listRunSteps(run.id);
    expect(steps.filter((s) => s.type === 'model_call').map((s) => s.usage?.promptTokens)).toEqual([100, 200]);
  });

  it('streams the reply and the whole team at work as typed events', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [{ toolCalls: [{ name: 'send_message', arguments: { recipient: 'vision_agent', message: 'look' } }] }, { content: 'The cat is black.', chunkSize: 4 }],
        vision_agent: [{ content: 'black cat' }],
      }),
    );
    const conv = await h.sb.conversation('test:events', alice);
    const run = await h.sb.send(conv.id, { text: 'colour?', from: alice });
    const seen: SwitchboardEvent[] = [];
    for await (const e of h.sb.events(conv.id)) {
      seen.push(e);
      if (e.type === 'run.completed' && e.runId === run.id) break;
    }
    const deltas = seen.filter((e) => e.type === 'text.delta' && e.runId === run.id).map((e) => (e as { delta: string }).delta);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('The cat is black.');
    const visionText = seen.filter((e) => e.type === 'text.delta' && e.agent === 'vision_agent');
    expect(visionText.length).toBeGreaterThan(0);
    expect(visionText.every((e) => e.depth === 1)).toBe(true);
  });

  it('rejects empty and oversized messages before they are stored', async () => {
    h = await startHarness({ config: { limits: { maxMessageChars: 10 } } });
    const conv = await h.sb.conversation('test:limits', alice);
    await expect(h.sb.send(conv.id, { text: '   ', from: alice })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(h.sb.send(conv.id, { text: 'x'.repeat(11), from: alice })).rejects.toThrow('The message has 11 characters; the limit is 10.');
    expect(await h.sb.store.listRuns({ conversationId: conv.id })).toEqual([]);
  });

  it('asks one specialist directly, on its own thread, and keeps conversations apart by owner', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ vision_agent: [{ content: 'one' }, { content: 'two' }] }));
    const first = await h.sb.ask('vision_agent', { text: 'look', from: alice });
    const second = await h.sb.ask('vision_agent', { text: 'again', from: alice, conversationId: first.conversationId });
    expect([first.reply, second.reply]).toEqual(['one', 'two']);
    expect(h.fake.requests[1]!.body.messages.filter((m) => m.role !== 'system')).toHaveLength(3);
    await expect(h.sb.ask('vision_agent', { text: 'peek', from: bob, conversationId: first.conversationId })).rejects.toBeInstanceOf(ForbiddenError);
    h.fake.failNext(5, 500);
    await expect(h.sb.ask('vision_agent', { text: 'x', from: alice })).rejects.toBeInstanceOf(RunFailedError);
  });
});
