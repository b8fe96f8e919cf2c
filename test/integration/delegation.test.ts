import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../support/fake-openai.js';
import { alice, startHarness, type Harness } from '../support/switchboard.js';
import type { SwitchboardEvent } from '../../src/core/events.js';
import { barrier, delegate } from '../support/replies.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});


describe('delegation through send_message', () => {
  it('runs the specialist on its own thread and hands its reply back to the proxy', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [delegate('vision_agent', 'What is in cat.png?'), (req) => ({ content: `The team says: ${req.toolResults[0]!.content}` })],
        vision_agent: [{ content: 'A black cat on a red sofa.' }],
      }),
    );
    const conv = await h.sb.conversation('test:c1', alice);
    const events: SwitchboardEvent[] = [];
    h.sb.on(conv.id, (e) => events.push(e));
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'Describe cat.png', from: alice })).id);

    expect(run.status).toBe('completed');
    expect(run.reply).toBe('The team says: A black cat on a red sofa.');
    const visionRequest = h.fake.requests.find((r) => r.agent === 'vision_agent')!;
    const sent = visionRequest.body.messages.filter((m) => m.role !== 'system');
    // The specialist sees the proxy's message, not the user's words or the proxy's history.
    expect(sent).toEqual([{ role: 'user', content: 'What is in cat.png?' }]);
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['run.started', 'tool.call', 'delegation.started', 'delegation.finished', 'tool.result', 'run.completed']),
    );
    const started = events.find((e) => e.type === 'run.started' && e.agent === 'vision_agent');
    expect(started?.depth).toBe(1);
  });

  it('lets a specialist remember what it was told in an earlier turn of the conversation', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [delegate('vision_agent', 'Remember: the cat is called Tom.'), { content: 'Noted.' }, delegate('vision_agent', 'What is the cat called?'), { content: 'Tom.' }],
        vision_agent: [{ content: 'I will remember Tom.' }, { content: 'Tom.' }],
      }),
    );
    const conv = await h.sb.conversation('test:memory', alice);
    await h.sb.wait((await h.sb.send(conv.id, { text: 'The cat is Tom', from: alice })).id);
    await h.sb.wait((await h.sb.send(conv.id, { text: 'Who is the cat?', from: alice })).id);

    const second = h.fake.requests.filter((r) => r.agent === 'vision_agent')[1]!;
    const contents = second.body.messages.filter((m) => m.role !== 'system').map((m) => [m.role, m.content]);
    expect(contents).toEqual([
      ['user', 'Remember: the cat is called Tom.'],
      ['assistant', 'I will remember Tom.'],
      ['user', 'What is the cat called?'],
    ]);
  });

  it('runs four delegations of one model turn at the same time', async () => {
    const together = barrier(4);
    h = await startHarness({ config: { agents: { a1: { description: 'one' }, a2: { description: 'two' }, a3: { description: 'three' }, a4: { description: 'four' } } } });
    h.fake.setHandler(
      scriptByAgent({
        proxy: [
          { toolCalls: ['a1', 'a2', 'a3', 'a4'].map((r) => ({ name: 'send_message', arguments: { recipient: r, message: `job for ${r}` } })) },
          (req) => ({ content: req.toolResults.map((t) => t.content).sort().join(',') }),
        ],
        // No specialist answers before all four asked: they can only finish if they ran at the same time.
        '*': async (req) => (await together(), { content: `${req.agent} done` }),
      }),
    );
    const conv = await h.sb.conversation('test:fanout', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'go', from: alice })).id);

    expect(run.reply).toBe('a1 done,a2 done,a3 done,a4 done');
    const spans = h.fake.requests.filter((r) => /^a\d$/.test(r.agent ?? '')).map((r) => [r.startedAt, r.endedAt!] as const);
    expect(spans).toHaveLength(4);
    // Every specialist request started before any of them finished: they overlapped.
    const firstEnd = Math.min(...spans.map(([, end]) => end));
    expect(spans.every(([start]) => start < firstEnd)).toBe(true);
  });

  it('tells the model about an unknown recipient, listing the valid ones, and the run goes on', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [delegate('painter', 'paint'), (req) => ({ content: `error seen: ${req.toolResults[0]!.content}` })],
      }),
    );
    const conv = await h.sb.conversation('test:unknown', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'paint', from: alice })).id);
    expect(run.status).toBe('completed');
    expect(run.reply).toContain('Unknown recipient "painter"');
    expect(run.reply).toContain('Valid recipients: image_agent, vision_agent, code_agent');
  });

  it('survives broken tool-call JSON: the model is told and can try again', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [
          { toolCalls: [{ name: 'send_message', arguments: '{"recipient": "vision_agent", "message": ' }] },
          (req) => (req.toolResults[0]!.content.includes('not valid JSON') ? delegate('vision_agent', 'retry') : { content: 'wrong' }),
          { content: 'done after retry' },
        ],
        vision_agent: [{ content: 'ok' }],
      }),
    );
    const conv = await h.sb.conversation('test:badjson', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'go', from: alice })).id);
    expect(run.status).toBe('completed');
    expect(run.reply).toBe('done after retry');
  });

  it('tells the model about an unknown tool and invalid argument types', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [
          { toolCalls: [{ name: 'launch_rockets', arguments: {} }, { name: 'send_message', arguments: { recipient: 42 } }] },
          (req) => ({ content: req.toolResults.map((t) => t.content).join(' | ') }),
        ],
      }),
    );
    const conv = await h.sb.conversation('test:badtool', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'go', from: alice })).id);
    expect(run.reply).toMatch(/Unknown tool "launch_rockets"\. Available tools: send_message/);
    expect(run.reply).toMatch(/Invalid arguments for send_message: recipient: .*string/);
  });

  it('bounds delegation depth', async () => {
    h = await startHarness({
      config: { limits: { maxDelegationDepth: 1 }, agents: { relay: { description: 'relays', tools: ['send_message'] } } },
    });
    h.fake.setHandler(
      scriptByAgent({
        proxy: [delegate('relay', 'pass it on'), (req) => ({ content: req.toolResults[0]!.content })],
        relay: [delegate('vision_agent', 'deeper'), (req) => ({ content: `relay got: ${req.toolResults[0]!.content}` })],
      }),
    );
    const conv = await h.sb.conversation('test:depth', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'go', from: alice })).id);
    expect(run.reply).toMatch(/relay got: Delegation depth limit reached \(1\)/);
  });
});
