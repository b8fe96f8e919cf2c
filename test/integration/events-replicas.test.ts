import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchboardEvent } from '../../src/core/events.js';
import { PostgresStore } from '../../src/core/store/postgres.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';
import type { Store } from '../../src/core/store/types.js';
import { createSwitchboard, type Switchboard } from '../../src/core/switchboard.js';
import { spawnChild, type SpawnedChild } from '../support/child-process.js';
import { delegatingScript } from '../support/events.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { alice } from '../support/switchboard.js';

/**
 * Events crossing processes: engine A runs in this process and follows a conversation; engine B is
 * a child process (test/support/events-child.mjs, built from dist/) that sends the message and runs it.
 */
const url = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
if (!url) console.warn('events-replicas: SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping the PostgreSQL case');
const childScript = join(dirname(fileURLToPath(import.meta.url)), '..', 'support', 'events-child.mjs');
const built = existsSync(join(dirname(childScript), '..', '..', 'dist', 'index.js'));
if (!built) console.warn('events-replicas: dist/ is missing (run `npm run build`); skipping');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

function spawnB(dir: string, options: Record<string, unknown>): SpawnedChild & { report(event: string): Promise<Record<string, unknown>> } {
  const file = join(dir, `child-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify({ dir, ...options }));
  const c = spawnChild([childScript, file], dir);
  cleanups.push(async () => {
    if (c.alive()) c.proc.kill('SIGKILL');
    await c.exited;
  });
  return {
    ...c,
    report: (event) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = c.reports().find((r) => r.event === event);
          if (found) return resolve(found);
          if (!c.alive()) return reject(new Error(`child exited before "${event}"\n${c.describe()}`));
          setTimeout(check, 20);
        };
        check();
      }),
  };
}

/** A PostgreSQL schema of its own, dropped after the test. */
function pgSchema(): string {
  const schema = `sb_evrep_${randomBytes(4).toString('hex')}`;
  cleanups.push(async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });
  return schema;
}

/** A folder and a fake model, removed after the test. */
async function setUp(prefix: string): Promise<{ dir: string; fake: FakeOpenAI }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const fake = await startFakeOpenAI();
  cleanups.push(() => fake.close());
  return { dir, fake };
}

async function startA(store: Store, fake: FakeOpenAI, dir: string, engine: { leaseMs?: number; pollMs?: number }): Promise<Switchboard> {
  const sb = await createSwitchboard({ config: { workspaceDir: join(dir, 'ws') }, store, env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test-events' }, cwd: dir, engine });
  cleanups.push(() => sb.close());
  return sb;
}

/** Follows in the background; `seen` fills as events arrive, `ended` resolves after the run's end. */
function follow(events: AsyncIterable<SwitchboardEvent>, rootRunId: () => string | undefined) {
  const seen: SwitchboardEvent[] = [];
  const waiters: { test: (e: SwitchboardEvent) => boolean; resolve: () => void }[] = [];
  const ended = (async () => {
    for await (const e of events) {
      seen.push(e);
      for (const w of waiters.filter((w) => w.test(e))) w.resolve();
      if (e.type === 'run.completed' && e.runId === rootRunId()) return;
    }
  })();
  const sees = (test: (e: SwitchboardEvent) => boolean) => (seen.some(test) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ test, resolve })));
  return { seen, ended, sees };
}

const label = (e: SwitchboardEvent) => `${e.agent}:${e.type}`;
/** Stored events numbered 1, 2, 3… without gaps or repeats (text.delta of A's own runs is best-effort, unnumbered). */
function expectNumbered(events: SwitchboardEvent[]): void {
  const lifecycle = events.filter((e) => e.seq !== undefined);
  expect(lifecycle.map((e) => `${e.seq}:${label(e)}`)).toEqual(lifecycle.map((e, i) => `${i + 1}:${label(e)}`));
}

/**
 * A follows a conversation; B (a child process) sends a message and runs it; B is killed while its
 * delegate works; A takes the runs over and finishes them; A's follower sees every event, in order.
 */
async function takeoverFollowed(a: Switchboard, fake: FakeOpenAI, key: string, spawn: (options: Record<string, unknown>) => ReturnType<typeof spawnB>): Promise<void> {
  let killed = false;
  // B's call never answers: B is killed while the delegate works. A's call (after takeover) answers.
  fake.setHandler(delegatingScript(() => (killed ? { content: 'seen' } : { hang: true })));
  const conv = await a.conversation(key, alice);
  const ids: { root?: string } = {};
  const f = follow(a.events(conv.id, { after: 0 }), () => ids.root);
  // B's lease is long (a loaded machine must not see a live B's lease lapse); dead, on this host, B's
  // runs are taken over at A's next scan (every leaseMs / 3), whatever the lease says.
  const b = spawn({ key, text: 'hello', engine: { leaseMs: 60_000, pollMs: 20 } });
  const root = (ids.root = (await b.report('sent')).runId as string);
  // B's delegate has started (seen live in A, from B's process): B is mid-run. The delegation's start comes
  // right after the delegate's (both before the delegate's model call, which hangs): wait for both.
  await f.sees((e) => e.type === 'run.started' && e.agent === 'vision_agent');
  await f.sees((e) => e.type === 'delegation.started');
  const beforeKill = f.seen.map(label);
  expect([...beforeKill].sort()).toEqual(['proxy:run.queued', 'proxy:run.started', 'proxy:tool.call', 'vision_agent:run.queued', 'proxy:delegation.started', 'vision_agent:run.started'].sort());
  const holder = await a.store.getRun(root);
  expect(holder?.leaseOwner).toContain(`:${b.proc.pid}:`);
  killed = true;
  await b.kill9();

  await f.ended;
  expectNumbered(f.seen);
  expect(f.seen.at(-1)).toMatchObject({ type: 'run.completed', runId: root, reply: 'answer: seen' });
  // A resumed both runs: their second start is A's.
  expect(f.seen.slice(beforeKill.length).map(label)).toContain('vision_agent:run.started');
  const ended = await a.wait(root);
  expect(ended.status).toBe('completed');
  expect(ended.leaseOwner).toBeNull();
}

/** proxy -> code_agent -> run_code, which waits for a person; both answer with what they got back. */
const approvalScript = () =>
  scriptByAgent({
    proxy: (req) => (req.toolResults.length > 0 ? { content: `proxy got: ${req.toolResults[0]!.content}` } : { toolCalls: [{ name: 'send_message', arguments: { recipient: 'code_agent', message: 'compute' } }] }),
    code_agent: (req) =>
      req.toolResults.length > 0 ? { content: `code said: ${req.toolResults[0]!.content.split('\n').join(' | ')}` } : { toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } }] },
  });

/**
 * B (a child process) runs a message whose delegate's tool call waits for a person; A (this process)
 * follows the conversation, sees the request and decides; B's run goes on and finishes, A sees it all.
 */
async function decideInA(a: Switchboard, key: string, spawn: (options: Record<string, unknown>) => ReturnType<typeof spawnB>): Promise<void> {
  const conv = await a.conversation(key, alice);
  const ids: { root?: string } = {};
  const f = follow(a.events(conv.id, { after: 0 }), () => ids.root);
  const b = spawn({ key, text: 'what is 6*7?', config: { sandbox: { type: 'none' } } });
  const root = (ids.root = (await b.report('sent')).runId as string);
  await f.sees((e) => e.type === 'approval.requested');
  const requested = f.seen.find((e) => e.type === 'approval.requested') as Extract<SwitchboardEvent, { type: 'approval.requested' }>;
  expect(requested).toMatchObject({ toolName: 'run_code', agent: 'code_agent', rootRunId: root });
  expect((await a.getRun(requested.runId))?.leaseOwner).toContain(`:${b.proc.pid}:`);
  const { approval } = await a.decide(requested.approvalId, { approve: true, by: alice });
  expect(approval.status).toBe('approved');
  expect(await b.report('answered')).toMatchObject({ status: 'completed', reply: expect.stringContaining('42') });
  await f.ended;
  expectNumbered(f.seen);
  const decided = f.seen.filter((e) => e.type === 'approval.decided');
  expect(decided).toHaveLength(1);
  expect(decided[0]).toMatchObject({ approvalId: requested.approvalId, approved: true, by: 'test:alice' });
  // Everything after the decision is B's work: its delegate ran the code and both answered.
  expect(f.seen.slice(f.seen.indexOf(decided[0]!)).map(label)).toEqual(
    expect.arrayContaining(['code_agent:tool.result', 'code_agent:run.completed', 'proxy:delegation.finished', 'proxy:run.completed']),
  );
}

describe.skipIf(!url || !built)('events across PostgreSQL replicas', () => {
  it('A follows a conversation whose run B executes; B is killed mid-run, A takes over, and A sees it finish', { timeout: 120_000 }, async () => {
    const schema = pgSchema();
    const { dir, fake } = await setUp('sb-evrep-');
    const a = await startA(new PostgresStore({ url: url!, schema, pool: { max: 4 } }), fake, dir, { leaseMs: 3_000, pollMs: 20 });
    await (a.bus.log as unknown as { listening(): Promise<void> }).listening();
    await takeoverFollowed(a, fake, 'test:events-replicas', (o) => spawnB(dir, { pg: { url, schema }, fakeUrl: fake.url, ...o }));
  });

  // B looks at the store every 10 minutes at best: only the notification can wake its run before the test times out.
  it('a decision made in A reaches the run waiting for it in B, by notification (B polls every 10 minutes at best)', { timeout: 60_000 }, async () => {
    const schema = pgSchema();
    const { dir, fake } = await setUp('sb-evrep-');
    fake.setHandler(approvalScript());
    const a = await startA(new PostgresStore({ url: url!, schema, pool: { max: 4 } }), fake, dir, { pollMs: 20 });
    await decideInA(a, 'test:events-replicas-approval', (o) => spawnB(dir, { pg: { url, schema }, fakeUrl: fake.url, engine: { pollMs: 600_000 }, ...o }));
  });
});

describe.skipIf(!built)('events across SQLite processes sharing one file', () => {
  it('A sees every stored event of a run B executes, in order', async () => {
    const { dir, fake } = await setUp('sb-evsql-');
    fake.setHandler(delegatingScript(() => ({ content: 'seen' })));
    const path = join(dir, 'shared.db');
    const a = await startA(new SqliteStore({ path }), fake, dir, { pollMs: 20 });
    const conv = await a.conversation('test:events-sqlite', alice);
    const ids: { root?: string } = {};
    const f = follow(a.events(conv.id, { after: 0 }), () => ids.root);
    const b = spawnB(dir, { sqlite: path, fakeUrl: fake.url, key: 'test:events-sqlite', text: 'hello', engine: { pollMs: 20 } });
    const root = (ids.root = (await b.report('sent')).runId as string);
    await f.ended;
    expectNumbered(f.seen);
    expect(f.seen.map(label).sort()).toEqual([
      'proxy:run.queued', 'proxy:run.started', 'proxy:tool.call', 'vision_agent:run.queued', 'proxy:delegation.started',
      'vision_agent:run.started', 'vision_agent:message', 'vision_agent:run.completed', 'proxy:delegation.finished',
      'proxy:tool.result', 'proxy:message', 'proxy:run.completed',
    ].sort());
    expect(f.seen.at(-1)).toMatchObject({ type: 'run.completed', runId: root, reply: 'answer: seen' });
    await b.report('answered');
  });

  it('A follows a conversation whose run B executes; B is killed mid-run, A takes over, and A sees it finish', { timeout: 120_000 }, async () => {
    const { dir, fake } = await setUp('sb-evsql-');
    const path = join(dir, 'shared.db');
    const a = await startA(new SqliteStore({ path }), fake, dir, { leaseMs: 3_000, pollMs: 20 });
    await takeoverFollowed(a, fake, 'test:events-sqlite-takeover', (o) => spawnB(dir, { sqlite: path, fakeUrl: fake.url, ...o }));
  });

  it('a decision made in A reaches the run waiting for it in B', async () => {
    const { dir, fake } = await setUp('sb-evsql-');
    fake.setHandler(approvalScript());
    const path = join(dir, 'shared.db');
    const a = await startA(new SqliteStore({ path }), fake, dir, { pollMs: 20 });
    await decideInA(a, 'test:events-sqlite-approval', (o) => spawnB(dir, { sqlite: path, fakeUrl: fake.url, engine: { pollMs: 20 }, ...o }));
  });
});
