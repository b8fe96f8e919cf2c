import { describe, expect, it } from 'vitest';
import type { EventListener, StoredEvent, SwitchboardEvent } from '../../src/core/events.js';
import { FollowStream } from '../../src/core/events/stream.js';

const ev = (seq: number | undefined, type: SwitchboardEvent['type'] = 'message'): SwitchboardEvent =>
  ({ type, content: `e${seq}`, delta: 'x', conversationId: 'c', runId: 'r', rootRunId: 'r', parentRunId: null, agent: 'proxy', depth: 0, at: 0, seq }) as SwitchboardEvent;

/** A log in memory and its live feed, which the test drives event by event. */
function source() {
  const log: StoredEvent[] = [];
  const listeners = new Set<EventListener>();
  return {
    log,
    push: (e: SwitchboardEvent) => [...listeners].forEach((l) => l(e)),
    src: {
      subscribe: (l: EventListener) => (listeners.add(l), () => listeners.delete(l)),
      readAfter: async (after: number, limit: number) => log.filter((e) => e.seq > after).slice(0, limit),
    },
  };
}

describe('FollowStream', () => {
  it('replays after the cursor, drops live events it replayed, and fills a gap from the log before going on', async () => {
    const s = source();
    for (let i = 1; i <= 3; i++) s.log.push(ev(i) as StoredEvent);
    const stream = new FollowStream(s.src, { after: 1 });
    s.push(ev(3)); // arrived live while the replay ran: a repeat
    const got: (number | string)[] = [];
    const take = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const { value } = await stream.next();
        got.push(value.seq ?? value.type);
      }
    };
    await take(2);
    s.log.push(ev(4) as StoredEvent, ev(5) as StoredEvent);
    s.push(ev(undefined, 'text.delta')); // best-effort: passes through
    s.push(ev(5)); // 4 is still on its way from another process: read from the log first
    s.push(ev(4)); // then arrives: a repeat
    s.log.push(ev(6) as StoredEvent);
    s.push(ev(6));
    await take(4);
    expect(got).toEqual([2, 3, 'text.delta', 4, 5, 6]);
    await stream.return();
    expect((await stream.next()).done).toBe(true);
  });

  it('without a cursor follows live only, still without repeats', async () => {
    const s = source();
    s.log.push(ev(1) as StoredEvent, ev(2) as StoredEvent);
    const abort = new AbortController();
    const stream = new FollowStream(s.src, { signal: abort.signal });
    s.push(ev(2));
    s.push(ev(2));
    s.push(ev(3));
    expect((await stream.next()).value.seq).toBe(2);
    expect((await stream.next()).value.seq).toBe(3);
    abort.abort();
    expect((await stream.next()).done).toBe(true);
  });
});
