import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredEvent, SwitchboardEvent } from '../../src/core/events.js';
import { PostgresEventLog } from '../../src/core/store/postgres-events.js';
import { PostgresStore } from '../../src/core/store/postgres.js';

const url = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
if (!url) console.warn('events-pg-reconnect: SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const event = (conversationId: string, n: number): SwitchboardEvent => ({
  type: 'message', content: `m${n}`, conversationId, runId: 'run_1', rootRunId: 'run_1', parentRunId: null, agent: 'proxy', depth: 0, at: n,
});

describe.skipIf(!url)('PostgreSQL event log', () => {
  it('numbers appends per conversation atomically, and its listener comes back after its connection is killed', async () => {
    const schema = `sb_evpg_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    cleanups.push(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    });
    const open = async () => {
      const store = new PostgresStore({ url: url!, schema, pool: { max: 4 } });
      await store.init();
      const log = new PostgresEventLog(store);
      await log.init();
      cleanups.push(async () => {
        await log.close();
        await store.close();
      });
      return log;
    };
    const a = await open();
    const b = await open();

    // Concurrent appends from two "replicas": every number once, per conversation.
    const seqs = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append(event(i % 4 ? 'conv_x' : 'conv_y', i))));
    const x = seqs.filter((_, i) => i % 4 !== 0).sort((p, q) => p - q);
    expect(x).toEqual(x.map((_, i) => i + 1));
    expect((await a.readAfter('conv_x', 25)).map((e) => e.seq)).toEqual([26, 27, 28, 29, 30]);

    const heard: StoredEvent[] = [];
    a.remote((e) => heard.push(e));
    await a.listening();
    const nextHeard = (content: string) =>
      new Promise<void>((resolve) => {
        const check = () => (heard.some((e) => e.type === 'message' && e.content === content) ? resolve() : setTimeout(check, 10));
        check();
      });
    await b.append(event('conv_z', 100));
    await nextHeard('m100');
    // Kill A's LISTEN connection: it reconnects and reads what was appended while it was away.
    const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'switchboard-listen' AND pid <> pg_backend_pid() AND query LIKE 'LISTEN "switchboard_events_${schema}"%'`);
    expect(killed.rows).toEqual([{ pg_terminate_backend: true }]);
    await b.append(event('conv_z', 101));
    await b.append(event('conv_z', 102));
    await nextHeard('m102');
    const z = heard.filter((e) => e.conversationId === 'conv_z');
    expect(z.map((e) => e.seq)).toEqual([1, 2, 3]);
    // A's own appends are not "remote".
    await a.append(event('conv_z', 103));
    await b.append(event('conv_z', 104));
    await nextHeard('m104');
    expect(heard.filter((e) => e.conversationId === 'conv_z').map((e) => e.seq)).toEqual([1, 2, 3, 5]);
  });
});
