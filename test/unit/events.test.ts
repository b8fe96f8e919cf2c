import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventBus, type EventInput, type SwitchboardEvent } from '../../src/core/events.js';
import { SqliteEventLog } from '../../src/core/store/sqlite-events.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';

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

  it('stores and delivers a conversation’s events in emission order, also behind one whose run tree takes a lookup', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-bus-'));
    const store = new SqliteStore({ path: join(dir, 'sb.db') });
    try {
      await store.init();
      const log = new SqliteEventLog(store);
      await log.init();
      const bus = new EventBus();
      // The tree of an unknown run is found late (a store read, in the engine).
      bus.attach(log, { resolve: (runId) => new Promise((r) => setTimeout(() => r({ rootRunId: `root_of_${runId}`, parentRunId: 'parent' }), 20)) });
      bus.rememberRun({ id: 'known', parentRunId: null }, 'known');
      const seen: SwitchboardEvent[] = [];
      bus.subscribe('c1', (e) => seen.push(e));
      const message = (runId: string, content: string, tree: { rootRunId?: string; parentRunId?: string | null } = {}): EventInput => ({ type: 'message', content, conversationId: 'c1', runId, agent: 'a', depth: 0, at: 1, ...tree });
      await Promise.all([
        bus.emit(message('known', 'first')),
        bus.emit(message('unknown', 'looked up')),
        bus.emit(message('known', 'behind the lookup')),
        bus.emit(message('whole', 'complete', { rootRunId: 'whole', parentRunId: null })),
      ]);
      await bus.emit(message('known', 'after'));
      const got = seen.map((e) => [(e as { content: string }).content, e.seq, e.rootRunId]);
      expect(got).toEqual([
        ['first', 1, 'known'],
        ['looked up', 2, 'root_of_unknown'],
        ['behind the lookup', 3, 'known'],
        ['complete', 4, 'whole'],
        ['after', 5, 'known'],
      ]);
      expect((await log.readAfter('c1', 0)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the trees of the newest runs when more runs are in flight than it keeps, and forgets a run that ended', () => {
    const bus = new EventBus();
    const n = 100_050;
    for (let i = 0; i < n; i++) bus.rememberRun({ id: `run_${i}`, parentRunId: null }, `run_${i}`);
    expect(bus.treeOf('run_0')).toBeUndefined();
    expect(bus.treeOf('run_60')?.rootRunId).toBe('run_60');
    expect(bus.treeOf(`run_${n - 1}`)?.rootRunId).toBe(`run_${n - 1}`);
    bus.forgetRun(`run_${n - 1}`);
    expect(bus.treeOf(`run_${n - 1}`)).toBeUndefined();
  });
});
