import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewApproval } from '../../src/core/approvals/types.js';
import type { ApprovalStore } from '../../src/core/store/approval-store.js';
import type { PlanStore } from '../../src/core/store/plan-store.js';
import { PostgresApprovalStore } from '../../src/core/store/postgres-approvals.js';
import { SqliteApprovalStore } from '../../src/core/store/sqlite-approvals.js';
import { PostgresPlanStore } from '../../src/core/store/postgres-plans.js';
import { PostgresStore } from '../../src/core/store/postgres.js';
import { SqlitePlanStore } from '../../src/core/store/sqlite-plans.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';
import type { Principal, Store } from '../../src/core/store/types.js';
import { createSwitchboard } from '../../src/core/switchboard.js';
import { scriptByAgent, startFakeOpenAI } from '../support/fake-openai.js';
import { plannerReply, until } from '../support/plans.js';
import { describeEachSqliteDriver } from '../support/sqlite-drivers.js';

/**
 * The PlanStore contract, on SQLite always (once per SQLite driver this Node can use) and on PostgreSQL when SWITCHBOARD_TEST_POSTGRES_URL
 * names a server (each run works in a schema of its own and drops it afterwards).
 */
const url = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
if (!url) console.warn('plans-store: SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping the PostgreSQL plan store specs');

const alice: Principal = { surface: 'slack', tenant: 'T1', userId: 'U1' };
const bob: Principal = { surface: 'cli', userId: 'bob' };

interface Opened {
  store: Store;
  plans: PlanStore;
  approvals: ApprovalStore;
  close(): Promise<void>;
}

function contract(name: string, open: () => Promise<Opened>) {
  describe(name, () => {
    let o: Opened;
    let conversationId: string;
    let n = 0;
    const id = (p: string) => `${p}_${++n}_${randomBytes(3).toString('hex')}`;
    const newPlan = (extra: { originRunId?: string; originToolCallId?: string } = {}) => ({
      id: id('plan'),
      conversationId,
      goal: 'g',
      mode: 'each_step' as const,
      createdBy: alice,
      leaseOwner: 'host:1:a',
      leaseUntil: 5_000,
      now: 1_000,
      ...extra,
    });
    const toolApproval = (runId: string, toolCallId: string): NewApproval => ({
      id: id('apr'),
      conversationId,
      kind: 'tool_call',
      runId,
      toolCallId,
      agent: 'code_agent',
      toolName: 'run_code',
      summary: 'run it',
      arguments: { code: 'print(1)', args: ['a'] },
      requestedBy: alice,
      createdAt: 1_000,
    });

    beforeAll(async () => {
      o = await open();
      conversationId = (await o.store.getOrCreateConversation(id('key'), alice, id('conv'))).conversation.id;
    });
    afterAll(async () => {
      await o.close();
    });

    it('creates a plan once per origin and lists it', async () => {
      const origin = { originRunId: 'run_x', originToolCallId: 'call_1' };
      const a = await o.plans.createPlan(newPlan(origin));
      const b = await o.plans.createPlan(newPlan(origin));
      expect(a.created).toBe(true);
      expect(b).toMatchObject({ created: false, plan: { id: a.plan.id } });
      expect(a.plan).toMatchObject({ status: 'planning', revision: 0, steps: [], createdBy: alice, leaseOwner: 'host:1:a', leaseUntil: 5_000, usage: { modelCalls: 0 } });
      expect((await o.plans.listPlans({ conversationId })).map((p) => p.id)).toEqual([a.plan.id]);
      expect(await o.plans.listPlans({ conversationId, statuses: ['completed'] })).toEqual([]);
    });

    it('applies a transition atomically, or nothing when an expectation fails', async () => {
      const { plan } = await o.plans.createPlan(newPlan());
      const [s1, s2] = [id('step'), id('step')];
      const ok = await o.plans.transition({
        now: 2_000,
        plan: { id: plan.id, expect: ['planning'], expectRevision: 0, patch: { status: 'running', revision: 1, usage: { promptTokens: 5, completionTokens: 2, modelCalls: 1 } } },
        insertSteps: [
          { id: s1, planId: plan.id, agent: 'a', action: 'one', revision: 1 },
          { id: s2, planId: plan.id, agent: 'b', action: 'two', revision: 1 },
        ],
      });
      expect(ok).toBe(true);
      const apr = id('apr');
      const ask = {
        now: 3_000,
        plan: { id: plan.id, expect: ['running' as const], patch: { status: 'awaiting_approval' as const } },
        steps: [{ id: s1, expect: ['planned' as const], patch: { status: 'awaiting_approval' as const, approvalId: apr } }],
        insertApproval: { id: apr, conversationId, kind: 'plan_step' as const, planId: plan.id, stepId: s1, agent: 'a', summary: 'one', requestedBy: alice, createdAt: 3_000 },
      };
      expect(await o.plans.transition(ask)).toBe(true);
      // Decided, but the step expectation fails: the approval stays pending.
      const decide = (expectStep: 'awaiting_approval' | 'planned') => ({
        now: 4_000,
        approval: { id: apr, expect: ['pending' as const], patch: { status: 'approved' as const, decidedBy: bob, feedback: 'fine', decidedAt: 4_000 } },
        plan: { id: plan.id, expect: ['awaiting_approval' as const], patch: { status: 'running' as const } },
        steps: [{ id: s1, expect: [expectStep], patch: { status: 'approved' as const, action: 'one, edited' } }],
      });
      expect(await o.plans.transition(decide('planned'))).toBe(false);
      expect((await o.approvals.getApproval(apr))!.status).toBe('pending');
      expect((await o.plans.getPlan(plan.id))!.status).toBe('awaiting_approval');
      expect(await o.plans.transition(decide('awaiting_approval'))).toBe(true);
      expect(await o.plans.transition(decide('awaiting_approval'))).toBe(false); // once only
      expect(await o.approvals.getApproval(apr)).toMatchObject({ status: 'approved', decidedBy: bob, feedback: 'fine', decidedAt: 4_000 });
      const after = (await o.plans.getPlan(plan.id))!;
      expect(after).toMatchObject({ status: 'running', revision: 1, usage: { promptTokens: 5, completionTokens: 2, modelCalls: 1 }, updatedAt: 4_000 });
      expect(after.steps.map((s) => [s.index, s.action, s.status, s.approvalId ?? null])).toEqual([
        [1, 'one, edited', 'approved', apr],
        [2, 'two', 'planned', null],
      ]);
      expect(await o.plans.getStep(s2)).toMatchObject({ id: s2, planId: plan.id, index: 2 });

      // A revision replaces step 2 and numbers the new steps on from the last listed one.
      const s3 = id('step');
      expect(
        await o.plans.transition({
          now: 5_000,
          plan: { id: plan.id, patch: { revision: 2, replan: { kind: 'rejected', feedback: 'x', by: 'cli:bob' } } },
          supersede: [s2],
          cancelPendingApprovalsOf: plan.id,
          insertSteps: [{ id: s3, planId: plan.id, agent: 'c', action: 'three', revision: 2 }],
        }),
      ).toBe(true);
      const revised = (await o.plans.getPlan(plan.id))!;
      expect(revised.steps.map((s) => [s.index, s.id])).toEqual([
        [1, s1],
        [2, s3],
      ]);
      expect(revised.replan).toEqual({ kind: 'rejected', feedback: 'x', by: 'cli:bob' });
    });

    it('creates a tool approval once per run and call, and filters approvals', async () => {
      const first = await o.approvals.createToolApproval(toolApproval('run_t', 'call_t'));
      const again = await o.approvals.createToolApproval(toolApproval('run_t', 'call_t'));
      expect(first.created).toBe(true);
      expect(again).toMatchObject({ created: false, approval: { id: first.approval.id } });
      expect(first.approval).toMatchObject({ kind: 'tool_call', status: 'pending', arguments: { code: 'print(1)', args: ['a'] }, requestedBy: alice });
      expect((await o.approvals.listApprovals({ runId: 'run_t' })).map((a) => a.id)).toEqual([first.approval.id]);
      expect(await o.approvals.listApprovals({ runId: 'run_t', status: 'approved' })).toEqual([]);
      expect((await o.approvals.listApprovals({ conversationId, kind: 'tool_call', status: 'pending' })).length).toBeGreaterThan(0);
    });

    it('leases plans: free, expired, held, compare-and-set takeover, renew and release', async () => {
      const { plan } = await o.plans.createPlan(newPlan());
      expect(await o.plans.claimPlan(plan.id, 'host:2:b', 9_000, 2_000)).toBe(false); // held until 5_000
      expect(await o.plans.claimPlan(plan.id, 'host:1:a', 9_000, 2_000)).toBe(true); // own
      expect(await o.plans.claimPlan(plan.id, 'host:2:b', 20_000, 9_001)).toBe(true); // expired
      // Takeover from a presumed-dead owner is compare-and-set on its lease: a stale view loses.
      expect(await o.plans.claimPlan(plan.id, 'host:3:c', 30_000, 9_001)).toBe(false);
      await o.plans.renewPlanLeases('host:2:b', 40_000);
      expect((await o.plans.getPlan(plan.id))!.leaseUntil).toBe(40_000);
      await o.plans.releasePlanLeases('host:2:b');
      expect(await o.plans.getPlan(plan.id)).toMatchObject({ leaseOwner: null, leaseUntil: null });
      expect(await o.plans.claimPlan(plan.id, 'host:3:c', 50_000, 1)).toBe(true);
    });

    it('decides a tool approval by compare-and-set, with no plan involved', async () => {
      const { approval } = await o.approvals.createToolApproval(toolApproval('run_cas', 'call_cas'));
      const decision = { status: 'approved' as const, decidedBy: bob, feedback: 'ok', decidedAt: 7_000 };
      expect(await o.approvals.updateApproval(approval.id, ['pending'], decision)).toBe(true);
      expect(await o.approvals.updateApproval(approval.id, ['pending'], { status: 'rejected', decidedBy: alice, decidedAt: 8_000 })).toBe(false); // first decision stands
      expect(await o.approvals.getApproval(approval.id)).toMatchObject({ status: 'approved', decidedBy: bob, feedback: 'ok', decidedAt: 7_000 });
      expect(await o.approvals.updateApproval('apr_missing', ['pending'], decision)).toBe(false);
    });
  });
}

describeEachSqliteDriver('plans-store', (driver) => {
  contract('SqlitePlanStore', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-plans-'));
    const store = new SqliteStore({ path: join(dir, 'db.sqlite'), driver });
    await store.init();
    const plans = new SqlitePlanStore(store);
    await plans.init();
    await plans.init(); // idempotent
    const approvals = new SqliteApprovalStore(store);
    await approvals.init();
    return {
      store,
      plans,
      approvals,
      async close() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});

describe.skipIf(!url)('PostgreSQL', () => {
  const schemas: string[] = [];
  const pgStore = async () => {
    const schema = `sb_plans_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    const store = new PostgresStore({ url: url!, schema, pool: { max: 4 } });
    await store.init();
    return store;
  };
  afterAll(async () => {
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await admin.end();
  });

  contract('PostgresPlanStore', async () => {
    const store = await pgStore();
    const plans = new PostgresPlanStore(store);
    await plans.init();
    await plans.init();
    const approvals = new PostgresApprovalStore(store);
    await approvals.init();
    return { store, plans, approvals, close: () => store.close() };
  });

  it('runs a plan and a tool approval end to end on PostgreSQL, with a decision from another replica', async () => {
    const fake = await startFakeOpenAI({
      handler: scriptByAgent({
        planner: [plannerReply(['code_agent', 'Print 6*7'])],
        code_agent: [
          { toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } }] },
          (req) => ({ content: req.toolResults[0]!.content.includes('42') ? '42' : 'no' }),
        ],
        proxy: [{ content: 'It is 42.' }],
      }),
    });
    const dir = mkdtempSync(join(tmpdir(), 'sb-pg-plan-'));
    const store = await pgStore();
    const replica = new PostgresStore({ url: url!, schema: store.schema });
    const options = { env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test' }, cwd: dir, config: { workspaceDir: join(dir, 'ws') }, engine: { pollMs: 20 } };
    const a = await createSwitchboard({ ...options, store });
    const b = await createSwitchboard({ ...options, store: replica, resume: false });
    try {
      const conv = await a.conversation('cli:pg', alice);
      let plan = await a.plan(conv.id, 'Print 6*7', alice);
      expect(plan.status).toBe('awaiting_approval');
      const [step] = await b.approvals({ conversationId: conv.id, status: 'pending', principal: alice });
      await b.decide(step!.id, { approve: true, by: alice });
      const tool = await until(async () => (await b.approvals({ conversationId: conv.id, status: 'pending' })).find((x) => x.kind === 'tool_call'), 'the tool approval');
      expect(tool).toMatchObject({ agent: 'code_agent', toolName: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } });
      await b.decide(tool.id, { approve: true, by: alice });
      plan = await a.waitForPlan(plan.id, { until: 'done' });
      expect(plan).toMatchObject({ status: 'completed', summary: 'It is 42.' });
      expect(plan.steps[0]).toMatchObject({ status: 'completed', result: '42' });
    } finally {
      await b.close();
      await a.close();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});


