import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/core/store/postgres.js';
import { PostgresPlanStore } from '../../src/core/store/postgres-plans.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { until } from '../support/plans.js';
import { checkReplicas, countRuns, replicaConversations, replicaScript, resumedTwiceByOneProcess, startReplica, withSchema, type Replica } from '../support/replicas.js';

/**
 * Two engine processes (the built dist/) share one PostgreSQL schema; conversations are split
 * between them, each sending three messages that the proxy delegates. One process is SIGKILLed once
 * a third of the messages have been answered; the other must take over its work so that, in the
 * database, every message is answered exactly once and in order, every tool call has exactly one
 * result and every run has ended — and it must then close cleanly.
 *
 * Needs SWITCHBOARD_TEST_POSTGRES_URL (e.g. `postgres://postgres@127.0.0.1:5432/test`); works in a
 * schema of its own and drops it afterwards.
 */
const url = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
if (!url) console.warn('pg-replicas: SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping the PostgreSQL multi-process takeover test');

const CONVERSATIONS = 30;
const MESSAGES = 3;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
  cleanup = [];
});

describe.skipIf(!url)('PostgreSQL replicas', () => {
  it('one killed mid-way: the other answers every message exactly once, in order, and closes cleanly', { timeout: 180_000 }, async () => {
    const schema = `sb_replicas_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Pool({ connectionString: url, max: 2 });
    cleanup.push(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    });
    // Tables first, so the replicas start on a ready schema.
    const store = new PostgresStore({ url: url!, schema, pool: { max: 2 } });
    await store.init();
    await new PostgresPlanStore(store).init();
    await store.close();

    const fake: FakeOpenAI = await startFakeOpenAI({ handler: replicaScript({ latencyMs: 20 }) });
    cleanup.push(() => fake.close());
    const dir = mkdtempSync(join(tmpdir(), 'sb-replicas-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));

    const convs = replicaConversations(CONVERSATIONS, MESSAGES);
    const replicas: Replica[] = [0, 1].map((r) =>
      startReplica({
        url: url!,
        schema,
        fakeUrl: fake.url,
        dir,
        // A short lease: on a busy machine a live replica's heartbeat may come too late, and its
        // run be taken over; fencing must keep that from showing in the thread as well.
        engine: { leaseMs: 2_000, pollMs: 50 },
        conversations: convs.filter((_, i) => i % 2 === r),
        config: { limits: { modelRetries: 0 } },
      }),
    );
    cleanup.push(async () => void replicas.forEach((r) => r.proc.kill('SIGKILL')));
    const [victim, survivor] = replicas as [Replica, Replica];
    await Promise.all(replicas.map((r) => r.waitFor('sent')));

    // The kill comes once a third of the messages are answered: both replicas are mid-way through their queues.
    const total = CONVERSATIONS * MESSAGES;
    await until(async () => (await countRuns(admin, schema, `depth = 0 AND status = 'completed'`)) >= total / 3, 'a third of the messages answered', 120_000);
    await victim.kill9();

    await survivor.waitFor('answered');
    await until(async () => (await countRuns(admin, schema, `status IN ('queued', 'in_progress', 'requires_action')`)) === 0, 'every run to end after the kill', 120_000);
    const exit = await survivor.close();

    const check = await withSchema(url!, schema, (pool) => checkReplicas(pool, convs));
    // Compared whole, so that a failure shows every count at once.
    expect({ ...check, runs: undefined }).toEqual({
      messages: total,
      answeredOnce: total,
      answeredTwice: 0,
      neverAnswered: 0,
      outOfOrder: 0,
      duplicatedMessages: 0,
      extraTurns: 0,
      toolCallsWithoutOneResult: 0,
      maxResultsPerCall: 1,
      runs: undefined,
      openRuns: 0,
      failedRuns: 0,
      problems: [],
    });
    expect(resumedTwiceByOneProcess(replicas.map((r) => r.stderr()))).toEqual([]);
    expect(survivor.reports().filter((r) => r.event === 'unhandled')).toEqual([]);
    expect(survivor.stderr()).not.toMatch(/Cannot use a pool/);
    expect(exit).toEqual({ code: 0, signal: null });
  });
});
