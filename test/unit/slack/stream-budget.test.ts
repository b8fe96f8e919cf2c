/**
 * chat.startStream and chat.stopStream are Tier 2 (20+ a minute), chat.appendStream Tier 4 (100+ a
 * minute), each per workspace and per method. A burst of new conversations must not start more streams a
 * minute than the tier allows; every start still happens (in order), and text that arrives while a
 * stream's append waits goes out whole in one later append. Time is a fake clock; no timing assertions.
 *
 * The Web API client is replaced by a recorder of its chat.* calls (Slack's SDK, not our module): the
 * budget sits between our stream and the client, which is what is tested here.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebClient } from '@slack/web-api';
import { silentLogger } from '../../../src/index.js';
import { BUDGET_WINDOW_MS, UpdateQueue, type StreamMethod } from '../../../src/bots/slack/clients.js';
import { ReplyStream } from '../../../src/bots/slack/stream.js';

interface Call {
  method: string;
  at: number;
  args: { channel: string; thread_ts?: string; ts?: string; chunks?: { type: string; text?: string }[] };
}

function recorder() {
  const calls: Call[] = [];
  let n = 0;
  const record = (method: string) => async (args: Call['args']) => {
    calls.push({ method, at: Date.now(), args });
    return { ok: true, ts: method === 'startStream' ? `1700000000.${String(++n).padStart(6, '0')}` : args.ts };
  };
  const client = { chat: { startStream: record('startStream'), appendStream: record('appendStream'), stopStream: record('stopStream') } } as unknown as WebClient;
  return { client, calls };
}

/** The most calls of one method in any 60-second window. */
function busiestMinute(calls: Call[], method: string): number {
  const at = calls.filter((c) => c.method === method).map((c) => c.at);
  let most = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i]! - at[j]! >= 60_000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

const TIERS: Record<StreamMethod, number> = { start: 20, append: 100, stop: 20 };

describe('streaming calls share per-method workspace budgets', () => {
  let budgets: Record<StreamMethod, UpdateQueue>;
  beforeEach(() => {
    vi.useFakeTimers();
    const now = () => Date.now();
    budgets = { start: new UpdateQueue(TIERS.start, silentLogger, now, 0), append: new UpdateQueue(TIERS.append, silentLogger, now, 0), stop: new UpdateQueue(TIERS.stop, silentLogger, now, 0) };
  });
  afterEach(() => {
    for (const q of Object.values(budgets)) q.close();
    vi.useRealTimers();
  });

  it('spreads 300 stream starts in one workspace to the Tier 2 rate, losing none', async () => {
    const { client, calls } = recorder();
    const streams = Array.from({ length: 300 }, (_, i) => new ReplyStream(client, budgets.append, { team: 'T1', channel: 'C1', threadTs: `1700000000.${i}`, user: 'U1' }, { flushMs: 800, logger: silentLogger, budgets }));
    const started = streams.map((s) => s.start('Thinking…'));
    await vi.advanceTimersByTimeAsync(0);
    // The first minute's budget goes out at once; the rest wait their turn.
    expect(calls.filter((c) => c.method === 'startStream')).toHaveLength(TIERS.start);
    expect(budgets.start.waiting).toBe(300 - TIERS.start);
    // 300 starts at 20 a minute take 15 budget windows (a minute and a margin): step through them one at a time.
    for (let minute = 1; minute < 15; minute++) {
      await vi.advanceTimersByTimeAsync(BUDGET_WINDOW_MS);
      expect(calls.filter((c) => c.method === 'startStream')).toHaveLength(TIERS.start * (minute + 1));
    }
    await Promise.all(started);
    const starts = calls.filter((c) => c.method === 'startStream');
    expect(starts).toHaveLength(300);
    expect(busiestMinute(calls, 'startStream')).toBe(TIERS.start);
    // Every stream started once, in the order the conversations came.
    expect(starts.map((c) => c.args.thread_ts)).toEqual(streams.map((_, i) => `1700000000.${i}`));
    expect(streams.every((s) => s.state === 'streaming')).toBe(true);
  });

  it('gathers text that arrives while an append waits for budget into one append, losing none', async () => {
    const { client, calls } = recorder();
    // Another conversation spent this minute's append budget.
    const busy = new ReplyStream(client, budgets.append, { team: 'T1', channel: 'C1', threadTs: 'busy', user: 'U1' }, { flushMs: 800, logger: silentLogger, budgets });
    const stream = new ReplyStream(client, budgets.append, { team: 'T1', channel: 'C2', threadTs: 'mine', user: 'U2' }, { flushMs: 800, logger: silentLogger, budgets });
    await Promise.all([busy.start('Thinking…'), stream.start('Thinking…')]);
    for (let i = 0; i < TIERS.append; i++) {
      busy.task(`t${i}`, `step ${i}`, 'in_progress');
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(calls.filter((c) => c.method === 'appendStream')).toHaveLength(TIERS.append);
    stream.text('Hello');
    for (const word of [' there', ',', ' world', '.']) {
      await vi.advanceTimersByTimeAsync(1_000);
      stream.text(word);
    }
    await vi.advanceTimersByTimeAsync(1_000);
    const mine = () => calls.filter((c) => c.method === 'appendStream' && c.args.channel === 'C2');
    // Still within the minute: nothing of this stream went out, nothing was dropped.
    expect(mine()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(BUDGET_WINDOW_MS);
    await stream.settled();
    const texts = mine().map((c) => (c.args.chunks ?? []).filter((k) => k.type === 'markdown_text').map((k) => k.text).join(''));
    // The first text waited alone; everything after it joined the buffer and went out together.
    expect(texts.join('')).toBe('Hello there, world.');
    expect(mine().length).toBeLessThanOrEqual(2);
    await stream.finish();
    expect(stream.written).toBe('Hello there, world.');
    expect(calls.filter((c) => c.method === 'stopStream' && c.args.channel === 'C2')).toHaveLength(1);
  });

  it('sends the first text at once and later text on the flush timer, without waiting for the end', async () => {
    const { client, calls } = recorder();
    const stream = new ReplyStream(client, budgets.append, { team: 'T1', channel: 'C1', threadTs: 'timer', user: 'U1' }, { flushMs: 800, logger: silentLogger, budgets });
    await stream.start('Thinking…');
    stream.text('First');
    await vi.advanceTimersByTimeAsync(0);
    const texts = () => calls.filter((c) => c.method === 'appendStream').map((c) => (c.args.chunks ?? []).map((k) => k.text ?? '').join(''));
    expect(texts()).toEqual(['First']);
    stream.text(' words');
    stream.text(' arrive');
    await vi.advanceTimersByTimeAsync(799);
    // Held for the timer (one append for both deltas), not for the SDK's 256 characters or the end.
    expect(texts()).toEqual(['First']);
    await vi.advanceTimersByTimeAsync(1);
    expect(texts()).toEqual(['First', ' words arrive']);
    await stream.finish();
    expect(stream.written).toBe('First words arrive');
  });
});
