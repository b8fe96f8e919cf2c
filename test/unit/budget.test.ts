import { describe, expect, it } from 'vitest';
import { estimateTokens, selectContext } from '../../src/core/runs/budget.js';
import type { ToolCall } from '../../src/core/model/types.js';
import type { Message } from '../../src/core/store/types.js';

type M = Pick<Message, 'role' | 'toolCalls' | 'content'> & { toolCallId?: string; tokens: number };

const user = (content: string, tokens = 10): M => ({ role: 'user', content, tokens });
const reply = (content: string, tokens = 10): M => ({ role: 'assistant', content, tokens });
const calls = (ids: string[], tokens = 10): M => ({
  role: 'assistant',
  content: '',
  toolCalls: ids.map((id): ToolCall => ({ id, name: 'send_message', arguments: '{}' })),
  tokens,
});
const result = (id: string, tokens = 10): M => ({ role: 'tool', content: `result ${id}`, toolCallId: id, tokens });

const select = (messages: M[], budget: number) =>
  selectContext(
    messages,
    messages.map((m) => m.tokens),
    budget,
  );
const names = (ms: M[]) => ms.map((m) => (m.role === 'tool' ? `tool:${m.toolCallId}` : m.toolCalls ? `calls:${m.toolCalls.map((c) => c.id).join('+')}` : m.content));

describe('estimateTokens', () => {
  it('counts about four characters a token, tool calls and images included', () => {
    expect(estimateTokens({ content: 'x'.repeat(400) })).toBe(104);
    const withCall = estimateTokens({ content: '', toolCalls: [{ id: 'c1', name: 'send_message', arguments: 'y'.repeat(100) }] });
    expect(withCall).toBeGreaterThan(estimateTokens({ content: '' }) + 25);
    expect(estimateTokens({ content: 'hi', images: ['a.png', 'b.png'] })).toBe(estimateTokens({ content: 'hi' }) + 170);
  });
});

describe('selectContext: which messages of a thread go into a request', () => {
  it('sends the whole thread when it fits', () => {
    const thread = [user('u1'), reply('a1'), user('u2')];
    expect(select(thread, 30)).toEqual(thread);
  });

  it('leaves out the oldest turns first and keeps the newest', () => {
    const thread = [user('u1'), reply('a1'), user('u2'), reply('a2'), user('u3')];
    expect(names(select(thread, 30))).toEqual(['u2', 'a2', 'u3']);
    expect(names(select(thread, 39))).toEqual(['u2', 'a2', 'u3']);
  });

  it('keeps a tool call and its results together: both are in, or neither', () => {
    const thread = [user('u1'), calls(['c1', 'c2']), result('c1'), result('c2'), reply('a1'), user('u2')];
    // 40 would fit the two results and the two newest messages, but not their call: all three stay out.
    expect(names(select(thread, 40))).toEqual(['a1', 'u2']);
    expect(names(select(thread, 50))).toEqual(['calls:c1+c2', 'tool:c1', 'tool:c2', 'a1', 'u2']);
  });

  it('never starts the window at a tool result whose call is not in the thread any more', () => {
    const thread = [result('c0'), result('c00'), user('u1'), reply('a1')];
    expect(names(select(thread, 1_000))).toEqual(['u1', 'a1']);
  });

  it('keeps the newest message even when it alone is over budget', () => {
    expect(names(select([user('u1'), reply('a1'), user('huge', 5_000)], 100))).toEqual(['huge']);
  });

  it('keeps the newest tool call and its results whole even when they are over budget', () => {
    const thread = [user('u1'), calls(['c1'], 10), result('c1', 5_000)];
    expect(names(select(thread, 100))).toEqual(['calls:c1', 'tool:c1']);
  });

  it('keeps a tool call still waiting for its results', () => {
    const thread = [user('u1'), reply('a1'), user('u2'), calls(['c9'])];
    expect(names(select(thread, 20))).toEqual(['u2', 'calls:c9']);
  });

  it('grows no further once the budget is reached, even when an older turn is small enough', () => {
    const thread = [user('tiny1', 1), reply('tiny2', 1), user('big', 50), reply('a', 5)];
    // No gaps: a window is always the newest part of the thread.
    expect(names(select(thread, 10))).toEqual(['a']);
  });

  it('holds for any thread: a gapless newest suffix, within budget unless one unit, calls and results paired', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const size = () => 1 + Math.floor(random() * 40);
    for (let round = 0; round < 300; round++) {
      const thread: M[] = [];
      let n = 0;
      const length = 1 + Math.floor(random() * 30);
      while (thread.length < length) {
        const r = random();
        if (r < 0.35) thread.push(user(`u${n++}`, size()));
        else if (r < 0.65) thread.push(reply(`a${n++}`, size()));
        else {
          const ids = Array.from({ length: 1 + Math.floor(random() * 3) }, () => `c${n++}`);
          thread.push(calls(ids, size()));
          for (const id of ids) thread.push(result(id, size()));
        }
      }
      const budget = 1 + Math.floor(random() * 200);
      const window = select(thread, budget);
      const start = thread.length - window.length;
      const context = `round ${round}: ${names(thread).join(' ')} | budget ${budget} -> ${names(window).join(' ')}`;

      expect(window, context).toEqual(thread.slice(start));
      expect(window.length, context).toBeGreaterThan(0);
      expect(window[0]!.role, context).not.toBe('tool');
      const used = window.reduce((sum, m) => sum + m.tokens, 0);
      const inWindow = new Set(window.flatMap((m) => m.toolCalls?.map((c) => c.id) ?? []));
      for (const m of window) if (m.role === 'tool') expect(inWindow.has(m.toolCallId!), context).toBe(true);
      // Over budget only when the window is the one newest unit (a message, or a call with its results).
      if (used > budget) expect(window.slice(1).every((m) => m.role === 'tool'), context).toBe(true);
      // Maximal: the unit just before the window would not have fitted.
      if (start > 0) {
        let unitStart = start - 1;
        while (unitStart > 0 && thread[unitStart]!.role === 'tool') unitStart--;
        const unit = thread.slice(unitStart, start).reduce((sum, m) => sum + m.tokens, 0);
        expect(used + unit, context).toBeGreaterThan(budget);
      }
    }
  });
});
