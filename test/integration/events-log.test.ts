import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/core/agents/spec.js';
import type { SwitchboardEvent } from '../../src/core/events.js';
import { PostgresStore } from '../../src/core/store/postgres.js';
import { sqliteEventLog } from '../../src/core/store/sqlite-events.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';
import type { Store } from '../../src/core/store/types.js';
import { createSwitchboard, type Switchboard } from '../../src/core/switchboard.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { delegatingScript } from '../support/events.js';
import { plannerReply } from '../support/plans.js';
import { alice } from '../support/switchboard.js';

const url = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
if (!url) console.warn('events-log: SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping its PostgreSQL cases');

/** Two "processes" on one database: separate connections (and event log origins), as two replicas have. */
interface Dialect {
  name: string;
  skip: boolean;
  open(): Promise<{ stores: () => Store; cleanup(): Promise<void> }>;
}

const dialects: Dialect[] = [
  {
    name: 'sqlite',
    skip: false,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'sb-events-'));
      return { stores: () => new SqliteStore({ path: join(dir, 'sb.db') }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    skip: !url,
    async open() {
      const schema = `sb_events_${randomBytes(4).toString('hex')}`;
      return {
        stores: () => new PostgresStore({ url: url!, schema, pool: { max: 4 } }),
        async cleanup() {
          const admin = new pg.Client({ connectionString: url });
          await admin.connect();
          await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await admin.end();
        },
      };
    },
  },
];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(stores: () => Store, fake: FakeOpenAI, dir: string, config: ConfigInput = {}): Promise<Switchboard> {
  const sb = await createSwitchboard({
    config: { workspaceDir: join(dir, 'ws'), ...config },
    store: stores(),
    env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test-events' },
    cwd: dir,
    engine: { pollMs: 20 },
  });
  cleanups.push(() => sb.close());
  return sb;
}

/** The proxy delegates to vision_agent, which answers (once `vision` resolves); then the proxy answers with its reply. */
function delegating(fake: FakeOpenAI, vision?: () => Promise<void>): void {
  fake.setHandler(
    delegatingScript(async () => {
      await vision?.();
      return { content: 'seen' };
    }),
  );
}

/** A fake model, a database and a workspace folder, all removed after the test. */
async function setUp(d: Dialect) {
  const fake = await startFakeOpenAI();
  cleanups.push(() => fake.close());
  const db = await d.open();
  cleanups.push(db.cleanup);
  const dir = mkdtempSync(join(tmpdir(), 'sb-events-ws-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return { fake, db, dir };
}

async function collect(it: AsyncIterable<SwitchboardEvent>, until: (e: SwitchboardEvent) => boolean): Promise<SwitchboardEvent[]> {
  const seen: SwitchboardEvent[] = [];
  for await (const e of it) {
    seen.push(e);
    if (until(e)) break;
  }
  return seen;
}

/** proxy -> code_agent -> run_code, which waits for a person; both answer with what they got back. */
const approvalScript = () =>
  scriptByAgent({
    proxy: (req) => (req.toolResults.length > 0 ? { content: `proxy got: ${req.toolResults[0]!.content}` } : { toolCalls: [{ name: 'send_message', arguments: { recipient: 'code_agent', message: 'compute' } }] }),
    code_agent: (req) =>
      req.toolResults.length > 0 ? { content: `code said: ${req.toolResults[0]!.content.split('\n').join(' | ')}` } : { toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } }] },
  });

const stored = (events: SwitchboardEvent[]) => events.filter((e) => e.seq !== undefined);

for (const d of dialects) {
  describe.skipIf(d.skip)(`stored events (${d.name})`, () => {
    it('numbers lifecycle events per conversation, replays from a cursor, and follows a run tree to its end', async () => {
      const { fake, db, dir } = await setUp(d);
      const sb = await start(db.stores, fake, dir);
      delegating(fake);
      const conv = await sb.conversation('test:events-seq', alice);
      const run = await sb.send(conv.id, { text: 'hello', from: alice });
      const followed = await collect(sb.follow(run.id), () => false);
      expect(followed.at(-1)).toMatchObject({ type: 'run.completed', runId: run.id, reply: 'answer: seen' });

      const all = await collect(sb.events(conv.id, { after: 0 }), (e) => e.type === 'run.completed' && e.runId === run.id);
      expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
      const child = all.find((e) => e.type === 'run.queued' && e.depth === 1)!;
      expect(child).toMatchObject({ agent: 'vision_agent', parentRunId: run.id, rootRunId: run.id });
      expect(all.filter((e) => e.runId === run.id).every((e) => e.rootRunId === run.id && e.parentRunId === null)).toBe(true);
      // The parent's delegation.started and the delegate's start race each other: compared as a set, ends checked apart.
      expect(all.map((e) => `${e.agent}:${e.type}`).sort()).toEqual([
        'proxy:run.queued', 'proxy:run.started', 'proxy:tool.call', 'vision_agent:run.queued', 'proxy:delegation.started',
        'vision_agent:run.started', 'vision_agent:message', 'vision_agent:run.completed', 'proxy:delegation.finished',
        'proxy:tool.result', 'proxy:message', 'proxy:run.completed',
      ].sort());
      // follow saw the same stored events, in the same order.
      expect(stored(followed).map((e) => e.seq)).toEqual(all.map((e) => e.seq));

      const fromFive = await collect(sb.events(conv.id, { after: 5 }), (e) => e.seq === all.length);
      expect(fromFive.map((e) => e.seq)).toEqual(all.slice(5).map((e) => e.seq));
    });

    it('puts the plan on every stored event of its runs and on its plan.updated, and none on a run outside it', async () => {
      const { fake, db, dir } = await setUp(d);
      const sb = await start(db.stores, fake, dir, { approvals: { plan: 'none' } });
      fake.setHandler(scriptByAgent({ planner: [plannerReply(['code_agent', 'Compute 6*7.'])], code_agent: [{ content: '42' }], proxy: [{ content: 'summary: 42' }, { content: 'hi' }] }));
      const conv = await sb.conversation('test:events-plan', alice);
      const plan = await sb.plan(conv.id, 'Compute', alice);
      expect((await sb.waitForPlan(plan.id, { until: 'done' })).status).toBe('completed');
      const other = await sb.send(conv.id, { text: 'hello', from: alice });
      // Replayed, then live (the live tail may carry best-effort text deltas: only stored events are looked at).
      const all = stored(await collect(sb.events(conv.id, { after: 0 }), (e) => e.type === 'run.completed' && e.runId === other.id));
      expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
      const planRuns = new Set((await sb.listRuns({ conversationId: conv.id })).filter((r) => r.planId === plan.id).map((r) => r.id));
      expect(planRuns.size).toBe(2); // the step's and the summary's
      const ofPlan = all.filter((e) => planRuns.has(e.runId) || e.type === 'plan.updated');
      expect(new Set(ofPlan.map((e) => e.type))).toEqual(new Set(['plan.updated', 'run.queued', 'run.started', 'message', 'run.completed']));
      expect(ofPlan.filter((e) => e.planId !== plan.id).map((e) => `${e.agent}:${e.type}`)).toEqual([]);
      const ofOther = all.filter((e) => e.runId === other.id);
      expect(ofOther.map((e) => e.type)).toEqual(['run.queued', 'run.started', 'message', 'run.completed']);
      expect(ofOther.filter((e) => 'planId' in e)).toEqual([]);
    });

    it('replays then follows live across two engines on one database, without gaps or repeats', async () => {
      const { fake, db, dir } = await setUp(d);
      const a = await start(db.stores, fake, dir);
      const b = await start(db.stores, fake, dir);
      delegating(fake);
      const conv = await a.conversation('test:events-two', alice);
      const first = await b.send(conv.id, { text: 'one', from: alice });
      await b.wait(first.id);
      // A follows from the start while B runs a second message: the first run is replayed, the second seen live.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      delegating(fake, () => gate);
      const stream = a.events(conv.id, { after: 0 });
      const second = await b.send(conv.id, { text: 'two', from: alice });
      const seen: SwitchboardEvent[] = [];
      for await (const e of stream) {
        seen.push(e);
        if (e.type === 'run.started' && e.agent === 'vision_agent' && e.rootRunId === second.id) release();
        if (e.type === 'run.completed' && e.runId === second.id) break;
      }
      const seqs = stored(seen).map((e) => e.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(seen.filter((e) => e.type === 'run.completed').map((e) => e.runId)).toEqual([expect.any(String), first.id, expect.any(String), second.id]);
      // A waiter in A for a run B executes is woken.
      expect((await a.wait(second.id)).status).toBe('completed');
    });
  });
}

for (const d of dialects) {
  describe.skipIf(d.skip)(`approval decisions across engines (${d.name})`, () => {
    it(d.name === 'postgres' ? 'a decision made on B wakes the run waiting on A, through the notification (no poll would come in time), and is stored once' : 'a decision made on B wakes the run waiting on A, and is stored once', async () => {
      const { fake, db, dir } = await setUp(d);
      const open = (resume: boolean) =>
        createSwitchboard({
          config: { workspaceDir: join(dir, 'ws'), sandbox: { type: 'none' } },
          store: db.stores(),
          env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test-events' },
          cwd: dir,
          // PostgreSQL: polls every minute at best, so only the pushed event can wake A's waiter before the test
          // times out. SQLite has no push: A's waiter hears B's stored event through the event log's poll.
          engine: { pollMs: d.name === 'postgres' ? 60_000 : 20 },
          resume,
        });
      const a = await open(true);
      cleanups.push(() => a.close());
      const b = await open(false);
      cleanups.push(() => b.close());
      fake.setHandler(approvalScript());
      const conv = await a.conversation('test:events-approval', alice);
      const root = await a.send(conv.id, { text: 'what is 6*7?', from: alice });
      const requested = await collect(a.events(conv.id, { after: 0 }), (e) => e.type === 'approval.requested');
      const approvalId = (requested.at(-1) as Extract<SwitchboardEvent, { type: 'approval.requested' }>).approvalId;
      await b.decide(approvalId, { approve: true, by: alice });
      const run = await a.wait(root.id);
      expect(run.status).toBe('completed');
      expect(run.reply).toContain('42');
      // B stored the decision's event; A, whose run it woke, did not store it a second time.
      const log = await collect(a.events(conv.id, { after: 0 }), (e) => e.type === 'run.completed' && e.runId === root.id);
      expect(log.filter((e) => e.type === 'approval.decided').map((e) => (e as Extract<SwitchboardEvent, { type: 'approval.decided' }>).approvalId)).toEqual([approvalId]);
      expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    });
  });
}

describe('a decision made by another process on SQLite', () => {
  it('reaches the listeners of the process whose run it wakes before that run goes on, stored once', async () => {
    const { fake, db, dir } = await setUp(dialects[0]!);
    fake.setHandler(approvalScript());
    const open = (store: SqliteStore, resume: boolean, eventLog?: ReturnType<typeof sqliteEventLog>) =>
      createSwitchboard({
        config: { workspaceDir: join(dir, 'ws'), sandbox: { type: 'none' } },
        store,
        eventLog,
        env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test-events' },
        cwd: dir,
        engine: { pollMs: 20 },
        resume,
      });
    // A's waiter looks at the approval every 20 ms, but A's event log would find B's events only once a minute:
    // what A's listeners hear of B's decision, they hear because A's waiter had the log catch up first.
    const storeA = db.stores() as SqliteStore;
    const a = await open(storeA, true, sqliteEventLog(storeA, { pollMs: 60_000 }));
    cleanups.push(() => a.close());
    const b = await open(db.stores() as SqliteStore, false);
    cleanups.push(() => b.close());
    const conv = await a.conversation('test:events-decided-first', alice);
    const seen: SwitchboardEvent[] = [];
    a.on(conv.id, (e) => seen.push(e));
    const root = await a.send(conv.id, { text: 'what is 6*7?', from: alice });
    const requested = await collect(a.events(conv.id, { after: 0 }), (e) => e.type === 'approval.requested');
    const approvalId = (requested.at(-1) as Extract<SwitchboardEvent, { type: 'approval.requested' }>).approvalId;
    await b.decide(approvalId, { approve: true, by: alice });
    expect((await a.wait(root.id)).status).toBe('completed');
    const order = seen.filter((e) => e.seq !== undefined).map((e) => `${e.agent}:${e.type}`);
    expect(order.filter((t) => t.endsWith('approval.decided'))).toEqual(['code_agent:approval.decided']);
    expect(order.indexOf('code_agent:approval.decided')).toBeLessThan(order.indexOf('code_agent:tool.result'));
    const decided = (await a.bus.log!.readAfter(conv.id, 0)).filter((e) => e.type === 'approval.decided');
    expect(decided).toHaveLength(1);
    expect(decided[0]).toMatchObject({ approvalId, approved: true, by: 'test:alice', agent: 'code_agent', rootRunId: root.id, parentRunId: root.id, depth: 1 });
  });
});

for (const d of dialects) {
  describe.skipIf(d.skip)(`a parent waiting on a delegate another engine runs (${d.name})`, () => {
    it('is kept alive by the delegate\'s progress there, and sees it finish', async () => {
      const { fake, db, dir } = await setUp(d);
      const stall = 30_000;
      let t = Date.now();
      const open = (clock?: () => number) =>
        createSwitchboard({
          config: { workspaceDir: join(dir, 'ws'), limits: { stallTimeoutMs: stall } },
          store: db.stores(),
          env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test-events' },
          cwd: dir,
          clock,
          // Long leases: A's clock runs ahead of B's, and neither may take the other's runs.
          engine: { pollMs: 20, leaseMs: 600_000 },
        });
      // A's clock is driven by the test: its stall check sees exactly the time the test lets pass.
      const a = await open(() => t);
      cleanups.push(() => a.close());
      const b = await open();
      cleanups.push(() => b.close());
      const gate = () => {
        let open!: () => void;
        const p = new Promise<void>((r) => (open = r));
        return { p, open };
      };
      const blocker = gate();
      const turn1 = gate();
      const turn2 = gate();
      fake.setHandler(
        scriptByAgent({
          proxy: (req) => (req.toolResults.length > 0 ? { content: `answer: ${req.toolResults[0]!.content}` } : { toolCalls: [{ name: 'send_message', arguments: { recipient: 'code_agent', message: 'child' } }] }),
          code_agent: async (req) => {
            if (req.lastUserText === 'block') return blocker.p.then(() => ({ content: 'unblocked' }));
            if (req.toolResults.length === 0) return turn1.p.then(() => ({ toolCalls: [{ name: 'list_files', arguments: {} }] }));
            return turn2.p.then(() => ({ content: 'done' }));
          },
        }),
      );
      const seenInA: SwitchboardEvent[] = [];
      const waitInA = (test: (e: SwitchboardEvent) => boolean) =>
        new Promise<void>((resolve) => {
          if (seenInA.some(test)) return resolve();
          const off = a.on('*', (e) => {
            if (test(e)) {
              off();
              resolve();
            }
          });
        });
      a.on('*', (e) => seenInA.push(e));
      const conv = await a.conversation('test:events-remote-child', alice);
      // B runs code_agent's thread, so the delegation A queues there waits for B, and B runs it next.
      await b.send(conv.id, { text: 'block', from: alice, agent: 'code_agent' });
      const root = await a.send(conv.id, { text: 'go', from: alice });
      await waitInA((e) => e.type === 'delegation.started' && e.runId === root.id);
      blocker.open();
      await waitInA((e) => e.type === 'run.started' && e.parentRunId === root.id);
      t += stall * 0.6;
      turn1.open();
      await waitInA((e) => e.type === 'tool.result' && e.parentRunId === root.id);
      // 1.2 stall limits since the parent last did anything itself, 0.6 since its delegate did.
      t += stall * 0.6;
      await new Promise((r) => setTimeout(r, 200)); // a few of A's heartbeats look at it now
      turn2.open();
      const ended = await a.wait(root.id);
      expect(ended).toMatchObject({ status: 'completed', reply: 'answer: done' });
      const child = seenInA.find((e) => e.type === 'run.started' && e.parentRunId === root.id)!;
      expect((await a.store.getRun(child.runId))?.leaseOwner).toBeNull();
      expect(b.engine.owner).not.toBe(a.engine.owner);
    });
  });
}
