import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent, type RecordedRequest, type WireMessage } from '../support/fake-openai.js';
import { alice, startHarness, type Harness } from '../support/switchboard.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const TURNS = 40;
const num = (n: number) => String(n).padStart(2, '0');
const filler = (label: string) => `${label} ${'lorem ipsum '.repeat(16)}`;
const turnOf = (text: string | null) => Number(/turn (\d+)/.exec(text ?? '')?.[1]);
const chars = (messages: WireMessage[]) => JSON.stringify(messages).length;
const proxyRequests = (requests: RecordedRequest[]) => requests.filter((r) => r.agent === 'proxy');

describe('the context budget of an agent', () => {
  it('keeps the request size bounded as one conversation grows to 40 turns, while the thread keeps every message', async () => {
    h = await startHarness({ config: { agents: { proxy: { contextBudget: 300 } } } });
    h.fake.setHandler(
      scriptByAgent({
        // Every even turn delegates, so tool calls and their results are among what gets left out.
        proxy: (req) => {
          const n = turnOf(req.lastUserText);
          if (req.toolResults.length > 0) return { content: filler(`answer ${num(n)} with help`) };
          if (n % 2 === 0) {
            return { toolCalls: [{ id: `call_${num(n)}`, name: 'send_message', arguments: { recipient: 'vision_agent', message: `look ${num(n)}` } }] };
          }
          return { content: filler(`answer ${num(n)}`) };
        },
        vision_agent: (req) => ({ content: `seen ${req.lastUserText ?? ''}` }),
      }),
    );
    const conv = await h.sb.conversation('test:long', alice);
    const runs = [];
    for (let n = 1; n <= TURNS; n++) {
      const run = await h.sb.wait((await h.sb.send(conv.id, { text: filler(`turn ${num(n)}`), from: alice })).id);
      expect(run.status, run.error ?? '').toBe('completed');
      runs.push(run);
    }

    // The first model call of each turn: the newest message is the user's.
    const firstCalls = proxyRequests(h.fake.requests).filter((r) => r.body.messages.at(-1)?.role === 'user');
    expect(firstCalls).toHaveLength(TURNS);
    const sizes = firstCalls.map((r) => chars(r.body.messages));
    const early = Math.max(...sizes.slice(10, 20));
    const late = Math.max(...sizes.slice(20));
    expect(late).toBeLessThanOrEqual(early);
    expect(sizes[TURNS - 1]).toBeLessThan(sizes[9]! * 1.5);

    // The fake counts prompt tokens from the characters it receives: they level off too.
    const promptTokens = runs.map((r) => r.usage.promptTokens);
    expect(Math.max(...promptTokens.slice(20))).toBeLessThanOrEqual(Math.max(...promptTokens.slice(10, 20)));

    // Each request still ends with what the user just said, and older turns are left out.
    const last = firstCalls.at(-1)!.body.messages;
    expect(last.at(-1)).toEqual({ role: 'user', content: filler(`turn ${TURNS}`) });
    expect(JSON.stringify(last)).not.toContain('turn 01');

    // Windows never start at a tool result, and every tool result travels with its call.
    for (const r of proxyRequests(h.fake.requests)) {
      const history = r.body.messages.filter((m) => m.role !== 'system');
      expect(history[0]?.role).not.toBe('tool');
      const called = new Set(history.flatMap((m) => m.tool_calls?.map((c) => c.id) ?? []));
      for (const m of history) if (m.role === 'tool') expect(called.has(m.tool_call_id!)).toBe(true);
      for (const m of history) {
        for (const c of m.tool_calls ?? []) expect(history.some((t) => t.role === 'tool' && t.tool_call_id === c.id) || m === history.at(-1)).toBe(true);
      }
    }

    // Nothing is lost: the proxy's thread in the store holds every message of all 40 turns.
    const proxyThread = (await h.sb.transcript(conv.id)).find((t) => t.thread.agent === 'proxy')!;
    const delegated = TURNS / 2;
    // Per turn: the user's message and the answer; per delegating turn also the call and its result.
    expect(proxyThread.messages).toHaveLength(TURNS * 2 + delegated * 2);
    expect(proxyThread.messages.filter((m) => m.role === 'user').map((m) => turnOf(m.content))).toEqual(Array.from({ length: TURNS }, (_, i) => i + 1));
    expect(proxyThread.messages[0]!.content).toBe(filler('turn 01'));
  });

  it('leaves a thread within its budget whole', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `echo ${req.lastUserText ?? ''}` }) }));
    const conv = await h.sb.conversation('test:short', alice);
    for (let n = 1; n <= 5; n++) await h.sb.wait((await h.sb.send(conv.id, { text: `turn ${n}`, from: alice })).id);
    const history = h.fake.requests.at(-1)!.body.messages.filter((m) => m.role !== 'system');
    expect(history.map((m) => m.content)).toEqual([
      'turn 1',
      'echo turn 1',
      'turn 2',
      'echo turn 2',
      'turn 3',
      'echo turn 3',
      'turn 4',
      'echo turn 4',
      'turn 5',
    ]);
  });
});
