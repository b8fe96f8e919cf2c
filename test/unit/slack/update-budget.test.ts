/**
 * chat.update is Tier 3 per workspace: the budget spends at most `perMinute` calls in any minute across
 * all messages, and a message updated again while waiting costs one call (latest wins). Time is a fake clock.
 */
import { describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../../src/index.js';
import { BUDGET_WINDOW_MS, UpdateQueue } from '../../../src/bots/slack/clients.js';

describe('UpdateQueue', () => {
  it('spends at most perMinute calls a minute and sends only the latest state of a waiting message', async () => {
    vi.useFakeTimers();
    try {
      let now = 0;
      const q = new UpdateQueue(3, silentLogger, () => now);
      const sent: string[] = [];
      const done = [];
      for (let i = 0; i < 3; i++) done.push(q.schedule(`m${i}`, async () => void sent.push(`m${i}`)));
      // Budget spent: these wait, and m9 is replaced twice while waiting.
      done.push(q.schedule('m9', async () => void sent.push('m9:v1')));
      done.push(q.schedule('m9', async () => void sent.push('m9:v2')));
      done.push(q.schedule('m9', async () => void sent.push('m9:v3')));
      await Promise.resolve();
      expect(sent).toEqual(['m0', 'm1', 'm2']);
      expect(q.waiting).toBe(1);
      // Slack's minute is not enough: the budget waits out its margin too (calls reach Slack after they leave).
      now = 60_000;
      await vi.advanceTimersByTimeAsync(60_000);
      expect(sent).toEqual(['m0', 'm1', 'm2']);
      now = BUDGET_WINDOW_MS;
      await vi.advanceTimersByTimeAsync(BUDGET_WINDOW_MS - 60_000);
      await Promise.all(done);
      expect(sent).toEqual(['m0', 'm1', 'm2', 'm9:v3']);
      expect(q.calls).toBe(4);
      q.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('updates one message at most once per gap, sending only its latest state', async () => {
    vi.useFakeTimers();
    try {
      let now = 0;
      const q = new UpdateQueue(50, silentLogger, () => now, 1_000);
      const sent: string[] = [];
      await q.schedule('card', async () => void sent.push('v1'));
      const later = [q.schedule('card', async () => void sent.push('v2')), q.schedule('card', async () => void sent.push('v3'))];
      // Another message is not held back by this one's gap.
      await q.schedule('other', async () => void sent.push('other'));
      expect(sent).toEqual(['v1', 'other']);
      now = 1_000;
      await vi.advanceTimersByTimeAsync(1_000);
      await Promise.all(later);
      expect(sent).toEqual(['v1', 'other', 'v3']);
      q.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('when told to stop waiting (shutdown), sends what has room now and drops what would wait', async () => {
    const q = new UpdateQueue(2, silentLogger, () => 0, 0);
    const sent: string[] = [];
    await q.schedule('a', async () => void sent.push('a'));
    // One slot left in this minute: c takes it; d then waits for the next window.
    const waiting = q.schedule('c', async () => void sent.push('c'));
    expect(q.waiting).toBe(0);
    await waiting;
    expect(sent).toEqual(['a', 'c']);
    const d = q.schedule('d', async () => void sent.push('d'));
    expect(q.waiting).toBe(1);
    q.stopWaiting();
    await d;
    await q.schedule('e', async () => void sent.push('e'));
    expect(sent).toEqual(['a', 'c']);
    await q.drained();
    q.close();
  });
});
