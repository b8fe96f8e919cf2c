import { describe, expect, it } from 'vitest';
import { EventBus, type SwitchboardEvent } from '../../src/core/events.js';

const event = (conversationId: string): SwitchboardEvent => ({ type: 'run.started', conversationId, runId: 'run_1', rootRunId: 'run_1', parentRunId: null, agent: 'proxy', depth: 0, at: 0 });

describe('EventBus', () => {
  it('keeps a later subscription when an earlier one unsubscribes again', () => {
    const bus = new EventBus();
    const offFirst = bus.subscribe('conv_1', () => {});
    offFirst();
    const seen: SwitchboardEvent[] = [];
    bus.subscribe('conv_1', (e) => seen.push(e));
    offFirst(); // a second call (an adapter cleaning up twice) must not take the new listener with it
    bus.emit(event('conv_1'));
    expect(seen).toHaveLength(1);
    expect(bus.hasListeners('conv_1')).toBe(true);
  });

  it('forgets a conversation once its last listener leaves', () => {
    const bus = new EventBus();
    const offA = bus.subscribe('conv_1', () => {});
    const offB = bus.subscribe('conv_1', () => {});
    offA();
    expect(bus.hasListeners('conv_1')).toBe(true);
    offB();
    expect(bus.hasListeners('conv_1')).toBe(false);
  });
});
