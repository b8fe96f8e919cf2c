/**
 * Reading through the face as an adapter does: a run, the runs under it, and an approval as one
 * card-ready view — each checked against the principal — and typed errors for what does not exist.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, ForbiddenError, NotFoundError, SwitchboardError, type Switchboard } from '../../src/index.js';
import { scriptByAgent } from '../support/fake-openai.js';
import { plannerReply, until } from '../support/plans.js';
import { delegate } from '../support/replies.js';
import { alice, bob, startHarness, type Harness } from '../support/switchboard.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const pending = (sb: Switchboard, conversationId: string) =>
  until(async () => (await sb.approvals({ conversationId, status: 'pending' }))[0], 'a pending approval');

describe('the face: runs', () => {
  it('gets a run and lists the runs under it, for its owner only', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [delegate('vision_agent', 'Describe cat.png'), { content: 'A cat, says the team.' }],
        vision_agent: [{ content: 'A cat.' }],
      }),
    );
    const conv = await h.sb.conversation('test:face-runs', alice);
    const root = await h.sb.wait((await h.sb.send(conv.id, { text: 'what is in cat.png?', from: alice })).id);

    expect(await h.sb.getRun(root.id, alice)).toMatchObject({ id: root.id, status: 'completed', reply: 'A cat, says the team.' });
    const children = await h.sb.listRuns({ parentRunId: root.id }, alice);
    expect(children.map((r) => [r.agent, r.depth, r.status])).toEqual([['vision_agent', 1, 'completed']]);
    expect((await h.sb.listRuns({ conversationId: conv.id })).map((r) => r.agent)).toEqual(['proxy', 'vision_agent']);

    await expect(h.sb.getRun(root.id, bob)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(h.sb.listRuns({ conversationId: conv.id }, bob)).rejects.toBeInstanceOf(ForbiddenError);
    // Without a conversation, a principal sees only the runs of conversations it may see.
    expect(await h.sb.listRuns({ parentRunId: root.id }, bob)).toEqual([]);
  });

  it('answers an unknown run with NotFoundError from getRun, wait and cancel — never a plain Error', async () => {
    h = await startHarness({ memory: true });
    for (const call of [() => h!.sb.getRun('run_nope'), () => h!.sb.wait('run_nope'), () => h!.sb.cancel('run_nope')]) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(NotFoundError);
      expect(err).toMatchObject({ code: 'not_found', kind: 'run', id: 'run_nope', message: 'No run with id "run_nope".' });
    }
    await expect(h.sb.approvalView('apr_nope')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('ends the waits under way with a typed ClosedError when it closes (wait, waitForPlan), and refuses new ones', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ planner: [plannerReply(['code_agent', 'Compute 6*7.'])], proxy: () => ({ hang: true }) }));
    const conv = await h.sb.conversation('test:face-close', alice);
    // A plan waiting for a person, and a run whose model call never answers.
    const plan = await h.sb.plan(conv.id, 'Compute a sum', alice);
    const run = await h.sb.send(conv.id, { text: 'hello', from: alice });
    await until(() => h!.fake.requests.some((r) => r.agent === 'proxy'), 'the proxy at work');
    const waits = [h.sb.waitForPlan(plan.id, { until: 'done' }), h.sb.wait(run.id)].map((p) => p.then(() => null, (e: unknown) => e));
    await h.sb.close();
    for (const err of [...(await Promise.all(waits)), await h.sb.wait(run.id).then(() => null, (e: unknown) => e)]) {
      expect(err).toBeInstanceOf(ClosedError);
      expect(err).toBeInstanceOf(SwitchboardError);
      expect(err).toMatchObject({ code: 'closed' });
    }
  });
});

describe('the face: an approval as a card', () => {
  it('a tool call deep in a delegation: who asked, which agent, the tool and its arguments, who may decide', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [delegate('code_agent', 'Compute 6*7.'), { content: 'done' }],
        code_agent: [{ toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } }] }, { content: '42' }],
      }),
    );
    const conv = await h.sb.conversation('test:face-tool', alice);
    const root = await h.sb.send(conv.id, { text: 'what is 6*7?', from: alice });
    const approval = await pending(h.sb, conv.id);

    const view = await h.sb.approvalView(approval.id, alice);
    expect(view).toMatchObject({
      kind: 'tool_call',
      status: 'pending',
      agent: 'code_agent',
      requestedBy: alice,
      tool: { name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } },
      canEdit: false,
      mayDecide: { ok: true },
    });
    expect(view.approval.id).toBe(approval.id);
    expect(view.step).toBeUndefined();
    expect(view.plan).toBeUndefined();
    // Without a principal there is no verdict; someone outside the conversation sees nothing.
    expect((await h.sb.approvalView(approval.id)).mayDecide).toBeUndefined();
    await expect(h.sb.approvalView(approval.id, bob)).rejects.toBeInstanceOf(ForbiddenError);

    await h.sb.decide(approval.id, { approve: true, by: alice });
    const decided = await h.sb.approvalView(approval.id, alice);
    expect(decided).toMatchObject({ status: 'approved', decidedBy: alice, canEdit: false, mayDecide: { ok: false, reason: expect.stringMatching(/no longer pending: it was approved by test:alice/) } });
    expect(typeof decided.decidedAt).toBe('number');
    expect((await h.sb.wait(root.id)).status).toBe('completed');
  });

  it('an approver named by the policy sees the card and may decide, though not in the conversation', async () => {
    h = await startHarness({ config: { approvals: { policy: { who: 'approvers', approvers: ['test:bob'] } } } });
    h.fake.setHandler(scriptByAgent({ code_agent: [{ toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(1)' } }] }, { content: '1' }] }));
    const conv = await h.sb.conversation('test:face-approver', alice);
    await h.sb.send(conv.id, { text: 'print 1', from: alice, agent: 'code_agent' });
    const approval = await pending(h.sb, conv.id);
    expect((await h.sb.approvalView(approval.id, bob)).mayDecide).toEqual({ ok: true });
    // Alice may see it (her conversation) but the policy says only bob decides.
    expect((await h.sb.approvalView(approval.id, alice)).mayDecide).toEqual({ ok: false, reason: expect.stringMatching(/Only the configured approvers \(test:bob\)/) });
  });

  it('a plan step: the step and its action, the plan goal, and that the action may be edited', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ planner: [plannerReply(['vision_agent', 'Describe cat.png'], ['code_agent', 'Count the legs'])] }));
    const conv = await h.sb.conversation('test:face-plan', alice);
    const plan = await h.sb.plan(conv.id, 'Count the legs of the cat', alice);
    const approval = await pending(h.sb, conv.id);

    expect(await h.sb.approvalView(approval.id, alice)).toMatchObject({
      kind: 'plan_step',
      status: 'pending',
      agent: 'vision_agent',
      requestedBy: alice,
      step: { id: plan.steps[0]!.id, index: 1, agent: 'vision_agent', action: 'Describe cat.png' },
      plan: { id: plan.id, goal: 'Count the legs of the cat' },
      canEdit: true,
      mayDecide: { ok: true },
    });
    expect((await h.sb.approvalView(approval.id, alice)).tool).toBeUndefined();
    await h.sb.cancelPlan(plan.id, alice);
    expect(await h.sb.approvalView(approval.id, alice)).toMatchObject({ status: 'cancelled', canEdit: false, mayDecide: { ok: false } });
  });
});
