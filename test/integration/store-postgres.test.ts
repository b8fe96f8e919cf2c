import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LeaseLostError } from '../../src/core/errors.js';
import { applyPgMigrations } from '../../src/core/store/postgres-migrations.js';
import { postgresPlanMigrations } from '../../src/core/store/postgres-plan-migrations.js';
import { PostgresStore, postgresMigrations, type PostgresStoreOptions } from '../../src/core/store/postgres.js';
import { bob, describeStoreContract } from '../support/store-contract.js';

/**
 * Runs against a real PostgreSQL named by SWITCHBOARD_TEST_POSTGRES_URL, e.g.
 * `postgres://postgres@127.0.0.1:5432/test`. Each run of this file works in schemas of its own
 * (`sb_test_<random>...`) and drops them afterwards.
 *
 * What every Store must do is in test/support/store-contract.ts; this file adds what is
 * PostgreSQL's own (schemas, migrations under an advisory lock, the pool).
 */
const url = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
if (!url) console.warn('store-postgres: SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping PostgreSQL tests');

const base = `sb_test_${randomBytes(5).toString('hex')}`;
const schemas = new Set<string>([base]);
const open: PostgresStore[] = [];
let now = 1_000;
const clock = () => now;

async function store(extra: Partial<PostgresStoreOptions> = {}, init = true): Promise<PostgresStore> {
  const s = new PostgresStore({ url: url!, clock, schema: base, pool: { max: 8 }, ...extra });
  schemas.add(s.schema);
  open.push(s);
  if (init) await s.init();
  return s;
}

async function closeAll(): Promise<void> {
  for (const s of open.splice(0)) await s.close();
}

describe.skipIf(!url)('PostgresStore', () => {
  let admin: pg.Pool;

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: url, max: 2 });
    const s = await store();
    await s.close();
  });

  beforeEach(async () => {
    now = 1_000;
    await admin.query(`TRUNCATE "${base}".conversations, "${base}".threads, "${base}".messages, "${base}".runs, "${base}".run_steps CASCADE`);
  });

  afterEach(closeAll);

  afterAll(async () => {
    await closeAll();
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  // The base schema, emptied before each spec; `second` is another replica's pool on it.
  describeStoreContract('store contract', async (contractClock) => {
    const connect = () => store({ clock: contractClock });
    return { store: await connect(), second: connect, cleanup: closeAll };
  });

  describe('schema and migrations', () => {
    it('applies migrations once; init twice is harmless', async () => {
      const a = await store();
      await a.init();
      // The contract's refs store may have added its own (42) to this schema.
      expect((await a.schemaVersions()).map((v) => v.version).filter((v) => v !== 42)).toEqual([1, 3, 40, 41]);
      const { conversation } = await a.getOrCreateConversation('kept', bob, 'conv_kept');
      await a.init();
      expect(await a.getConversation(conversation.id)).toEqual(conversation);
    });

    it('creates a missing schema, and two replicas initialising it at once apply each migration once', async () => {
      const schema = `${base}_race`;
      const stores = await Promise.all(Array.from({ length: 4 }, () => store({ schema }, false)));
      now = 7_000;
      await Promise.all(stores.map((s) => s.init()));
      for (const s of stores) {
        expect(await s.schemaVersions()).toEqual(
          [
            [1, 'core: conversations, threads, messages, runs, run_steps'],
            [3, 'core: the plan a run works for'],
            [40, 'intake: conversation access and participants'],
            [41, 'intake: run idempotency keys'],
          ].map(([version, name]) => ({ version, name, appliedAt: 7_000 })),
        );
      }
      // The schema isolates: nothing of the base schema is visible here, and writes land here.
      await stores[0]!.getOrCreateConversation('iso', bob, 'conv_iso');
      expect((await stores[1]!.listConversations()).map((c) => c.id)).toEqual(['conv_iso']);
      expect((await admin.query(`SELECT id FROM "${schema}".conversations`)).rows).toEqual([{ id: 'conv_iso' }]);
      expect((await admin.query(`SELECT id FROM "${base}".conversations`)).rows).toEqual([]);
    });

    it('records who took part before participants were kept: owners, run requesters and plan makers (migration 40)', async () => {
      const schema = `${base}_backfill`;
      schemas.add(schema);
      const client = await admin.connect();
      try {
        await client.query('BEGIN');
        await applyPgMigrations(client, schema, [postgresMigrations[0]!, ...postgresPlanMigrations], clock);
        const p = (userId: string, tenant?: string) => JSON.stringify({ surface: 'slack', userId, ...(tenant ? { tenant } : {}) });
        await client.query("INSERT INTO conversations (id, key, owner, owner_surface, owner_user_id, created_at) VALUES ('c1', 'k1', $1::jsonb, 'slack', 'U1', 10)", [p('U1', 'T1')]);
        await client.query("INSERT INTO threads (id, conversation_id, agent, created_at) VALUES ('t1', 'c1', 'proxy', 10)");
        for (const [id, who, at] of [['r1', p('U2', 'T1'), 30], ['r2', p('U2', 'T1'), 20], ['r3', null, 25]] as const) {
          await client.query("INSERT INTO runs (id, conversation_id, thread_id, agent, status, requested_by, created_at, progress_at) VALUES ($1, 'c1', 't1', 'proxy', 'completed', $2::jsonb, $3, $3)", [id, who, at]);
        }
        await client.query("INSERT INTO plans (id, conversation_id, goal, status, mode, created_by, created_at, updated_at) VALUES ('p1', 'c1', 'g', 'completed', 'none', $1::jsonb, 40, 40)", [p('U3')]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const s = await store({ schema });
      expect(await s.listParticipants('c1')).toEqual([
        { surface: 'slack', userId: 'U1', tenant: 'T1' },
        { surface: 'slack', userId: 'U2', tenant: 'T1' },
        { surface: 'slack', userId: 'U3' },
      ]);
      expect(await s.getConversation('c1')).toMatchObject({ access: 'private' });
    });

    it('applies extra migrations and refuses clashing versions', async () => {
      const schema = `${base}_extra`;
      const extra = { version: 100, name: 'test: widgets', sql: 'CREATE TABLE widgets (id TEXT PRIMARY KEY)' };
      const a = await store({ schema, extraMigrations: [extra] });
      const b = await store({ schema, extraMigrations: [extra] });
      expect((await b.schemaVersions()).map((v) => v.version)).toEqual([1, 3, 40, 41, 100]);
      await a.transaction((c) => c.query('INSERT INTO widgets (id) VALUES ($1)', ['w1']));
      expect((await b.pool.query('SELECT id FROM widgets')).rows).toEqual([{ id: 'w1' }]);
      expect(await a.migrate([extra])).toEqual([]);
      await expect(a.migrate([{ version: 100, name: 'test: gadgets', sql: 'CREATE TABLE gadgets (id TEXT)' }])).rejects.toThrow(/clashes/);
      expect(() => new PostgresStore({ url: url!, extraMigrations: [{ version: 1, name: 'dup', sql: '' }] })).toThrow(/share version 1/);
      expect(() => new PostgresStore({ url: url!, schema: 'bad; DROP' })).toThrow(/schema/);
    });

    it('fences step writes on the lease: a process whose run was taken over writes nothing more', async () => {
      const s = await store();
      const { conversation } = await s.getOrCreateConversation('fence', bob, 'conv_fence');
      const thread = await s.getOrCreateThread(conversation.id, 'proxy', 'thr_fence');
      const input = { content: 'hi', author: 'test:bob' };
      await s.createRun({ id: 'run_fence', conversationId: conversation.id, threadId: thread.id, agent: 'proxy', input, requestedBy: bob, parentRunId: null, parentToolCallId: null, depth: 0 });
      await s.claimNextRun(thread.id, 'A', 2_000, 1_000, 'msg_in');
      expect(await s.adoptRun('run_fence', 'B', 9_000, { leaseOwner: 'A', leaseUntil: 2_000 })).toBe(true);

      const usage = { promptTokens: 1, completionTokens: 1 };
      const answer = { id: 'msg_a', threadId: thread.id, role: 'assistant' as const, author: 'proxy', content: 'late', runId: 'run_fence' };
      const step = { id: 'step_a', runId: 'run_fence', data: {}, usage, cost: 0 };
      await expect(s.recordModelStep({ ...step, leaseOwner: 'A' }, answer)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(s.startToolStep({ id: 'step_t', runId: 'run_fence', data: {}, leaseOwner: 'A' })).rejects.toBeInstanceOf(LeaseLostError);
      const result = { ...answer, id: 'msg_t', role: 'tool' as const, toolCallId: 'call_1' };
      await expect(s.recordToolStep({ id: 'step_r', runId: 'run_fence', data: {}, status: 'completed', startedAt: 1_000, leaseOwner: 'A' }, result)).rejects.toBeInstanceOf(LeaseLostError);
      expect((await s.listMessages(thread.id)).map((m) => m.id)).toEqual(['msg_in']);
      expect(await s.listRunSteps('run_fence')).toEqual([]);

      // The holder writes; its tool step can then only be finished by the holder.
      await s.recordModelStep({ ...step, leaseOwner: 'B' }, answer);
      const started = await s.startToolStep({ id: 'step_t', runId: 'run_fence', data: {}, leaseOwner: 'B' });
      await expect(s.finishToolStep(started.id, 'completed', result, { leaseOwner: 'A' })).rejects.toBeInstanceOf(LeaseLostError);
      await s.finishToolStep(started.id, 'completed', result, { leaseOwner: 'B' });
      expect((await s.listMessages(thread.id)).map((m) => m.id)).toEqual(['msg_in', 'msg_a', 'msg_t']);
    });

    it('rolls back a failed migration and closes idempotently', async () => {
      const schema = `${base}_fail`;
      const bad = await store({ schema, extraMigrations: [{ version: 101, name: 'test: broken', sql: 'CREATE TABLE ok_table (id TEXT); SELECT * FROM no_such_table' }] }, false);
      await expect(bad.init()).rejects.toThrow(/no_such_table/);
      const good = await store({ schema });
      expect((await good.schemaVersions()).map((v) => v.version)).toEqual([1, 3, 40, 41]);
      expect((await good.pool.query("SELECT to_regclass('ok_table') AS t")).rows).toEqual([{ t: null }]);
      await good.close();
      await good.close();
    });
  });
});
