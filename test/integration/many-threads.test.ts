import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchboardEvent } from '../../src/core/events.js';
import type { Message } from '../../src/core/store/types.js';
import { scriptByAgent } from '../support/fake-openai.js';
import { delegate } from '../support/replies.js';
import { alice, startHarness, type Harness } from '../support/switchboard.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/**
 * More threads at work than the thread cache keeps. A run holds its thread's cached tail for as
 * long as it runs; when the cache forgot that entry, what the run wrote no longer reached the tail
 * it was reading, it thought its tool call still pending and ran it again, forever.
 */
describe('more active threads than the thread cache holds', () => {
  it('answers every message exactly once, with one tool result per tool call', async () => {
    const conversations = 10;
    h = await startHarness({ switchboard: { engine: { pollMs: 20, cacheThreads: 4 } } });
    h.fake.setHandler(
      scriptByAgent({
        proxy: (req) =>
          req.toolResults.length > 0
            ? { content: `${req.lastUserText} -> ${req.toolResults.map((t) => t.content).join(' | ')}`, latencyMs: 5 }
            : delegate('vision_agent', `look at ${req.lastUserText}`),
        vision_agent: (req) => ({ content: `seen ${req.lastUserText}`, latencyMs: 20 }),
      }),
    );
    // A second result for a tool call ends the test at once: the livelock repeats it without end.
    const seen = new Set<string>();
    let repeated!: (e: SwitchboardEvent) => void;
    const duplicate = new Promise<SwitchboardEvent>((resolve) => (repeated = resolve));
    h.sb.bus.subscribe('*', (e) => {
      if (e.type !== 'tool.result') return;
      if (seen.has(e.toolCallId)) repeated(e);
      seen.add(e.toolCallId);
    });

    const convs = await Promise.all(Array.from({ length: conversations }, (_, i) => h!.sb.conversation(`test:many-${i}`, alice)));
    const runs = await Promise.all(convs.map((c, i) => h!.sb.send(c.id, { text: `picture ${i}`, from: alice })));
    const outcome = await Promise.race([
      Promise.all(runs.map((r) => h!.sb.wait(r.id))).then((ended) => ({ ended })),
      duplicate.then((e) => ({ duplicate: e })),
    ]);
    if ('duplicate' in outcome) expect.fail(`tool call ${(outcome.duplicate as { toolCallId: string }).toolCallId} got a second result`);

    expect(outcome.ended.map((r) => [r.status, r.reply])).toEqual(runs.map((_, i) => ['completed', `picture ${i} -> seen look at picture ${i}`]));
    for (const conv of convs) {
      const transcript = await h.sb.transcript(conv.id);
      const all: Message[] = transcript.flatMap((t) => t.messages);
      const ids = all.map((m) => m.id);
      expect(new Set(ids).size).toBe(ids.length);
      const proxy = transcript.find((t) => t.thread.agent === 'proxy')!.messages;
      expect(proxy.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
      const calls = proxy.flatMap((m) => m.toolCalls ?? []).map((c) => c.id);
      const results = proxy.filter((m) => m.role === 'tool').map((m) => m.toolCallId);
      expect(results).toEqual(calls);
      const vision = transcript.find((t) => t.thread.agent === 'vision_agent')!.messages;
      expect(vision.map((m) => m.role)).toEqual(['user', 'assistant']);
    }
    // Every model call was made once: two per proxy run, one per delegation.
    expect(h.fake.requests).toHaveLength(conversations * 3);
  });

  it('keeps at most `modelConcurrency` model calls in flight, and answers everyone', async () => {
    h = await startHarness({ switchboard: { engine: { pollMs: 20, modelConcurrency: 2 } } });
    h.fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `re: ${req.lastUserText}`, latencyMs: 30 }) }));
    const convs = await Promise.all(Array.from({ length: 6 }, (_, i) => h!.sb.conversation(`test:limit-${i}`, alice)));
    const runs = await Promise.all(convs.map((c, i) => h!.sb.send(c.id, { text: `m${i}`, from: alice })));
    const ended = await Promise.all(runs.map((r) => h!.sb.wait(r.id)));
    expect(ended.map((r) => r.reply)).toEqual(runs.map((_, i) => `re: m${i}`));
    // The most requests the fake held at one time (from its own arrival and end times).
    const edges = h.fake.requests.flatMap((r) => [[r.startedAt, 1], [r.endedAt!, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let open = 0;
    let most = 0;
    for (const [, d] of edges) most = Math.max(most, (open += d));
    expect(most).toBeLessThanOrEqual(2);
  });
});
