import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ForbiddenError, SwitchboardError } from '../../src/core/errors.js';
import { IdempotencyConflictError } from '../../src/core/store/intake-errors.js';
import { PostgresStore } from '../../src/core/store/postgres.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';
import { openPersistence } from '../../src/core/store/persistence.js';
import { sqlitePersistence } from '../../src/core/store/sqlite-persistence.js';
import { createSwitchboard, mayAccess, type Switchboard } from '../../src/core/switchboard.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { until } from '../support/plans.js';
import { delegate, failureOf } from '../support/replies.js';
import { alice, bob, startHarness, type Harness } from '../support/switchboard.js';

/**
 * Shared conversations, idempotent intake and surface references through the face, on SQLite (and on
 * PostgreSQL with two engines when SWITCHBOARD_TEST_POSTGRES_URL is set).
 */

const carol = { surface: 'test', userId: 'carol' } as const;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** proxy -> code_agent -> run_code, which needs approval; both answer with what they got back. */
const approvalScript = () =>
  scriptByAgent({
    proxy: [delegate('code_agent', 'Compute 6*7.'), (req) => ({ content: `proxy got: ${req.toolResults[0]?.content ?? ''}` })],
    code_agent: [{ toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } }] }, { content: 'declined, fine' }],
  });

async function pendingApproval(sb: Switchboard, conversationId: string) {
  return until(async () => (await sb.approvals({ conversationId, status: 'pending' }))[0], 'a pending approval');
}

describe('shared and private conversations', () => {
  it('admits everyone the surface vouches for to a shared conversation, and only them', async () => {
    h = await startHarness();
    const key = 'slack:T1:C1:1700000000.000100';
    const conv = await h.sb.conversation(key, alice, { access: 'shared', title: 'release thread' });
    expect(conv).toMatchObject({ access: 'shared', title: 'release thread', owner: alice });
    expect(await h.sb.conversation(key, bob, { access: 'shared' })).toEqual(conv);
    expect(await h.sb.getConversation(conv.id, bob)).toEqual(conv);
    await expect(h.sb.getConversation(conv.id, carol)).rejects.toThrow(ForbiddenError);
    expect(await h.sb.participants(conv.id)).toEqual([alice, bob]);
    expect(mayAccess(conv, bob, await h.sb.participants(conv.id))).toBe(true);
    expect(mayAccess(conv, carol, await h.sb.participants(conv.id))).toBe(false);
  });

  it('keeps a private conversation its owner\'s alone', async () => {
    h = await startHarness();
    const conv = await h.sb.conversation('cli:notes', alice);
    expect(conv.access).toBe('private');
    await expect(h.sb.conversation('cli:notes', bob)).rejects.toThrow(ForbiddenError);
    // Asking for it as shared does not open it up: access is decided when it is created.
    await expect(h.sb.conversation('cli:notes', bob, { access: 'shared' })).rejects.toThrow(ForbiddenError);
    await expect(h.sb.getConversation(conv.id, bob)).rejects.toThrow(ForbiddenError);
    expect(mayAccess(conv, bob, [alice, bob])).toBe(false);
    // Nor by sending into it: the message is refused, not queued, and bob is not recorded.
    expect(await failureOf(h.sb.send(conv.id, { text: 'let me in', from: bob }))).toBeInstanceOf(ForbiddenError);
    expect(await h.sb.store.listRuns({ conversationId: conv.id })).toEqual([]);
    expect(await h.sb.participants(conv.id)).toEqual([alice]);
  });

  it('lets any participant of a shared conversation decide with `who: conversation`, and nobody else', async () => {
    h = await startHarness({ config: { approvals: { policy: { who: 'conversation' } } } });
    h.fake.setHandler(approvalScript());
    const conv = await h.sb.conversation('slack:T1:C2:1.2', alice, { access: 'shared' });
    await h.sb.conversation('slack:T1:C2:1.2', bob, { access: 'shared' });
    const run = await h.sb.send(conv.id, { text: 'what is 6*7?', from: alice });
    const approval = await pendingApproval(h.sb, conv.id);
    expect(approval.requestedBy).toEqual(alice);
    expect(await failureOf(h.sb.decide(approval.id, { approve: true, by: carol }))).toBeInstanceOf(ForbiddenError);
    expect((await h.sb.approvals({ conversationId: conv.id, principal: bob })).map((a) => a.id)).toEqual([approval.id]);
    expect(await h.sb.approvals({ conversationId: conv.id, principal: carol })).toEqual([]);
    const { approval: decided } = await h.sb.decide(approval.id, { approve: false, feedback: 'not now', by: bob });
    expect(decided).toMatchObject({ status: 'rejected', decidedBy: bob });
    expect((await h.sb.wait(run.id)).status).toBe('completed');
  });

  it('lets only the owner decide in a private conversation with `who: conversation`, even someone recorded in it', async () => {
    h = await startHarness({ config: { approvals: { policy: { who: 'conversation' } } } });
    h.fake.setHandler(approvalScript());
    const conv = await h.sb.conversation('cli:private', alice);
    const run = await h.sb.send(conv.id, { text: 'what is 6*7?', from: alice });
    const approval = await pendingApproval(h.sb, conv.id);
    expect(await failureOf(h.sb.decide(approval.id, { approve: true, by: bob }))).toBeInstanceOf(ForbiddenError);
    // A participant row in a private conversation (written before participants were kept, or by hand) admits nobody.
    await h.sb.store.addParticipant(conv.id, carol);
    expect(await failureOf(h.sb.decide(approval.id, { approve: true, by: carol }))).toBeInstanceOf(ForbiddenError);
    expect(await h.sb.approvals({ conversationId: conv.id, principal: carol })).toEqual([]);
    await h.sb.decide(approval.id, { approve: false, by: alice });
    expect((await h.sb.wait(run.id)).status).toBe('completed');
  });

  it('records whoever sends into a shared conversation as a participant', async () => {
    h = await startHarness();
    h.fake.setHandler(() => ({ content: 'hello' }));
    const conv = await h.sb.conversation('slack:T1:C3:1.3', alice, { access: 'shared' });
    await h.sb.wait((await h.sb.send(conv.id, { text: 'hi', from: carol })).id);
    expect(await h.sb.participants(conv.id)).toEqual([alice, carol]);
    expect(await h.sb.getConversation(conv.id, carol)).toEqual(conv);
  });
});

describe('idempotent send', () => {
  it('returns the same run for the same key, once, and refuses the key in another conversation', async () => {
    h = await startHarness();
    h.fake.setHandler(() => ({ content: 'pong' }));
    const conv = await h.sb.conversation('slack:T1:C1:9.9', alice, { access: 'shared' });
    const key = 'slack:T1:C1:1700000000.000100';
    const [first, second] = await Promise.all([h.sb.send(conv.id, { text: 'ping', from: alice, idempotencyKey: key }), h.sb.send(conv.id, { text: 'ping', from: alice, idempotencyKey: key })]);
    expect(second.id).toBe(first.id);
    expect(first.idempotencyKey).toBe(key);
    expect((await h.sb.wait(first.id)).reply).toBe('pong');
    const redelivered = await h.sb.send(conv.id, { text: 'ping', from: alice, idempotencyKey: key });
    expect(redelivered).toMatchObject({ id: first.id, status: 'completed' });
    expect(await h.sb.store.listRuns({ conversationId: conv.id })).toHaveLength(1);
    expect(h.fake.requests).toHaveLength(1);
    // One run, told once: the sends that found it queued announce nothing of their own.
    const events = await h.sb.bus.log!.readAfter(conv.id, 0);
    expect(events.map((e) => e.type)).toEqual(['run.queued', 'run.started', 'message', 'run.completed']);
    const other = await h.sb.conversation('cli:other', alice);
    const err = await failureOf(h.sb.send(other.id, { text: 'ping', from: alice, idempotencyKey: key }));
    expect(err).toBeInstanceOf(IdempotencyConflictError);
    expect(err).toMatchObject({ code: 'idempotency_conflict', runId: first.id });
  });
});

describe('persistence', () => {
  it('keeps events and artifacts beside the store, artifact bytes in the folder it is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-intake-'));
    const p = await openPersistence({ type: 'sqlite', path: 'db.sqlite' }, dir, { artifactsDir: join(dir, 'shared') });
    try {
      await p.init();
      const { conversation } = await p.store.getOrCreateConversation('cli:p', alice, 'conv_p');
      const art = await p.artifacts.put({ id: 'art_p1', conversationId: conversation.id, runId: null, mediaType: 'image/png', name: null, bytes: new Uint8Array([1, 2, 3]), now: 1 });
      expect(readdirSync(join(dir, 'shared')).join()).toContain(art.id);
      expect([...(await p.artifacts.read(art.id))!.bytes]).toEqual([1, 2, 3]);
      const event = { type: 'run.queued', conversationId: conversation.id, runId: 'run_p', rootRunId: 'run_p', parentRunId: null, agent: 'proxy', depth: 0, at: 1 } as const;
      expect(await p.events.append(event as never)).toBe(1);
      expect((await p.events.readAfter(conversation.id, 0)).map((e) => e.seq)).toEqual([1]);
    } finally {
      await p.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs tool approvals on a persistence without plans', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-intake-'));
    const fake: FakeOpenAI = await startFakeOpenAI({ handler: approvalScript() });
    const { store, approvals, refs, init, close } = sqlitePersistence(new SqliteStore({ path: join(dir, 'db.sqlite') }));
    const sb = await createSwitchboard({
      persistence: { store, approvals, refs, init, close },
      env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test' },
      cwd: dir,
      config: { workspaceDir: join(dir, 'ws') },
      engine: { pollMs: 20 },
    });
    try {
      const conv = await sb.conversation('cli:no-plans', alice);
      const run = await sb.send(conv.id, { text: 'what is 6*7?', from: alice });
      const approval = await pendingApproval(sb, conv.id);
      await sb.decide(approval.id, { approve: false, by: alice });
      expect((await sb.wait(run.id)).status).toBe('completed');
      // Face errors are rejections: calling without a plan store returns a promise that rejects, it does not throw.
      let planCall: Promise<unknown> | undefined;
      expect(() => (planCall = sb.plan(conv.id, 'anything', alice))).not.toThrow();
      const noPlans = await failureOf(planCall!);
      expect(noPlans).toBeInstanceOf(SwitchboardError);
      expect(noPlans).toMatchObject({ code: 'plans_unavailable' });
      for (const call of [() => sb.getPlan('plan_x'), () => sb.listPlans({}), () => sb.approvalForStep('step_x'), () => sb.waitForPlan('plan_x')]) {
        let pending: Promise<unknown> | undefined;
        expect(() => (pending = call())).not.toThrow();
        await expect(pending).rejects.toMatchObject({ code: 'plans_unavailable' });
      }
      await sb.refs.put('slack', 'run', run.id, { ts: '1.2' });
      expect(await sb.refs.get('slack', 'run', run.id)).toEqual({ ts: '1.2' });
    } finally {
      await sb.close();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const url = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
if (!url) console.warn('intake: SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping the PostgreSQL specs');

describe.skipIf(!url)('PostgreSQL, two engines on one database', () => {
  const schema = `sb_intake_${randomBytes(5).toString('hex')}`;
  afterAll(async () => {
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('starts one run for one key sent to both, shares participants and references', async () => {
    const fake = await startFakeOpenAI({ handler: () => ({ content: 'pong' }) });
    const dir = mkdtempSync(join(tmpdir(), 'sb-intake-pg-'));
    const options = { env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test' }, cwd: dir, config: { workspaceDir: join(dir, 'ws') }, engine: { pollMs: 20 } };
    const a = await createSwitchboard({ ...options, store: new PostgresStore({ url: url!, schema }) });
    const b = await createSwitchboard({ ...options, store: new PostgresStore({ url: url!, schema }) });
    try {
      const conv = await a.conversation('teams:19:channel;messageid=1', alice, { access: 'shared' });
      expect(await b.conversation('teams:19:channel;messageid=1', bob, { access: 'shared' })).toEqual(conv);
      expect(await a.getConversation(conv.id, bob)).toEqual(conv);
      for (let round = 0; round < 5; round++) {
        const key = `teams:activity-${round}`;
        const runs = await Promise.all([a, b, a, b].map((sb) => sb.send(conv.id, { text: `ping ${round}`, from: bob, idempotencyKey: key })));
        expect(new Set(runs.map((r) => r.id)).size).toBe(1);
        expect((await b.wait(runs[0]!.id)).reply).toBe('pong');
      }
      expect(await a.store.listRuns({ conversationId: conv.id })).toHaveLength(5);
      // Each run told once, whichever of the four sends created it.
      const queued = (await a.bus.log!.readAfter(conv.id, 0)).filter((e) => e.type === 'run.queued');
      expect(queued).toHaveLength(5);
      expect(await b.participants(conv.id)).toEqual([alice, bob]);
      const claims = await Promise.all([a, b].map((sb, i) => sb.refs.claim('teams', 'conversation', conv.id, { activityId: `act-${i}` })));
      expect(claims.filter((c) => c.claimed)).toHaveLength(1);
      expect(await b.refs.get('teams', 'conversation', conv.id)).toEqual(claims.find((c) => c.claimed)!.data);
    } finally {
      await b.close();
      await a.close();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
