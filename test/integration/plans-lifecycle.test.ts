import { afterEach, describe, expect, it } from 'vitest';
import { NotAwaitingApprovalError } from '../../src/core/approvals/errors.js';
import { ForbiddenError } from '../../src/core/errors.js';
import type { SwitchboardEvent } from '../../src/core/events.js';
import type { Plan } from '../../src/core/plans/types.js';
import { scriptByAgent, type FakeChatRequest } from '../support/fake-openai.js';
import { plannerReply, until } from '../support/plans.js';
import { delegate } from '../support/replies.js';
import { alice, bob, startHarness, type Harness } from '../support/switchboard.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const lastUser = (req: FakeChatRequest) => req.lastUserText ?? '';

/** Approves whatever the plan waits for, until it ends. */
async function approveAll(plan: Plan): Promise<Plan> {
  while (plan.status === 'awaiting_approval') {
    const [pending] = await h!.sb.approvals({ conversationId: plan.conversationId, status: 'pending' });
    await h!.sb.decide(pending!.id, { approve: true, by: alice });
    plan = await h!.sb.waitForPlan(plan.id);
  }
  return plan;
}

async function pendingStepApproval(plan: Plan) {
  const step = plan.steps.find((s) => s.status === 'awaiting_approval')!;
  const approval = await h!.sb.approvalForStep(step.id);
  expect(approval).not.toBeNull();
  return { step, approval: approval! };
}

describe('plans: the lifecycle', () => {
  it('asks for each step in turn, runs it on its agent thread, stores the reply, and the proxy summarises', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        planner: [plannerReply(['image_agent', 'Draw a cat'], ['vision_agent', 'Describe the drawing'], ['code_agent', 'Count the legs'])],
        image_agent: [{ content: 'Saved cat.png' }],
        vision_agent: [(req) => ({ content: lastUser(req).includes('Saved cat.png') ? 'A cat with four legs' : 'no context' })],
        code_agent: [{ content: '4' }],
        proxy: [(req) => ({ content: `Summary: ${lastUser(req).includes('Result: 4') ? 'the cat has 4 legs' : 'missing results'}` })],
      }),
    );
    const conv = await h.sb.conversation('test:plan-all', alice);
    const events: SwitchboardEvent[] = [];
    h.sb.on(conv.id, (e) => events.push(e));

    let plan = await h.sb.plan(conv.id, 'Draw a cat and count its legs', alice);
    expect(plan.status).toBe('awaiting_approval');
    expect(plan.revision).toBe(1);
    expect(plan.steps.map((s) => [s.index, s.agent, s.status])).toEqual([
      [1, 'image_agent', 'awaiting_approval'],
      [2, 'vision_agent', 'planned'],
      [3, 'code_agent', 'planned'],
    ]);
    // Nothing runs before a person approves.
    expect(h.fake.requests.map((r) => r.agent)).toEqual(['planner']);
    const planner = h.fake.requests[0]!;
    expect(planner.body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'plan' } });

    for (let i = 0; i < 3; i++) {
      const { step, approval } = await pendingStepApproval(plan);
      expect(step.index).toBe(i + 1);
      expect(approval).toMatchObject({ kind: 'plan_step', planId: plan.id, stepId: step.id, agent: step.agent, status: 'pending', requestedBy: alice });
      expect(approval.summary).toContain(step.action);
      const { alreadyDecided } = await h.sb.decide(approval.id, { approve: true, by: alice });
      expect(alreadyDecided).toBe(false);
      plan = await h.sb.waitForPlan(plan.id);
      expect(plan.steps[i]!.status).toBe('completed');
    }
    expect(plan.status).toBe('completed');
    expect(plan.steps.map((s) => s.result)).toEqual(['Saved cat.png', 'A cat with four legs', '4']);
    expect(plan.summary).toBe('Summary: the cat has 4 legs');

    // Each step ran once, on its agent's own thread in the conversation, as a run of its own.
    expect(h.fake.requests.map((r) => r.agent)).toEqual(['planner', 'image_agent', 'vision_agent', 'code_agent', 'proxy']);
    const transcript = await h.sb.transcript(conv.id);
    const threadOf = (agent: string) => transcript.find((t) => t.thread.agent === agent)!.messages;
    expect(threadOf('code_agent').map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(threadOf('code_agent')[0]!.content).toContain('Your step: Count the legs');
    expect(threadOf('proxy').at(-1)!.content).toBe('Summary: the cat has 4 legs');
    for (const step of plan.steps) expect((await h.sb.store.getRun(step.runId!))?.status).toBe('completed');

    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === 'approval.requested')).toHaveLength(3);
    expect(types.filter((t) => t === 'approval.decided')).toHaveLength(3);
    const planEvents = events.filter((e) => e.type === 'plan.updated');
    expect(planEvents.at(-1)).toMatchObject({ planId: plan.id, status: 'completed' });
    expect(planEvents.some((e) => e.type === 'plan.updated' && e.stepStatus === 'in_progress')).toBe(true);
  });

  it('revises the remaining steps when a step is rejected with feedback', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        planner: [
          plannerReply(['vision_agent', 'Describe photo.jpg'], ['image_agent', 'Draw a dog']),
          (req) => {
            expect(lastUser(req)).toContain('rejected step 2 with this feedback: "A cat, not a dog."');
            expect(lastUser(req)).toMatch(/1\. \[completed\] vision_agent: Describe photo\.jpg → A sofa/);
            return plannerReply(['image_agent', 'Draw a cat on the sofa']);
          },
        ],
        vision_agent: [{ content: 'A sofa' }],
        image_agent: [(req) => ({ content: `drew: ${lastUser(req).split('Your step: ')[1]?.split('\n')[0]}` })],
        proxy: [{ content: 'Done.' }],
      }),
    );
    const conv = await h.sb.conversation('test:plan-reject', alice);
    let plan = await h.sb.plan(conv.id, 'Describe the photo, then draw', alice);
    await h.sb.decide((await pendingStepApproval(plan)).approval.id, { approve: true, by: alice });
    plan = await h.sb.waitForPlan(plan.id);
    const rejected = await pendingStepApproval(plan);
    await h.sb.decide(rejected.approval.id, { approve: false, feedback: 'A cat, not a dog.', by: alice });
    plan = await h.sb.waitForPlan(plan.id);

    expect(plan.revision).toBe(2);
    expect(plan.steps.map((s) => [s.index, s.agent, s.status, s.action])).toEqual([
      [1, 'vision_agent', 'completed', 'Describe photo.jpg'],
      [2, 'image_agent', 'rejected', 'Draw a dog'],
      [3, 'image_agent', 'awaiting_approval', 'Draw a cat on the sofa'],
    ]);
    expect(await h.sb.getApproval(rejected.approval.id)).toMatchObject({ status: 'rejected', feedback: 'A cat, not a dog.', decidedBy: alice });
    plan = await approveAll(plan);
    expect(plan.status).toBe('completed');
    expect(plan.steps[2]!.result).toBe('drew: Draw a cat on the sofa');
    // The rejected action never reached the agent.
    expect(h.fake.requests.filter((r) => r.agent === 'image_agent')).toHaveLength(1);
  });

  it('runs the edited action when a step is approved with an edit', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        planner: [plannerReply(['code_agent', 'Compute 2 + 2'])],
        code_agent: [(req) => ({ content: lastUser(req).includes('Your step: Compute 3 + 3') ? '6' : 'wrong action' })],
        proxy: [{ content: 'It is 6.' }],
      }),
    );
    const conv = await h.sb.conversation('test:plan-edit', alice);
    let plan = await h.sb.plan(conv.id, 'Compute', alice);
    const { approval } = await pendingStepApproval(plan);
    const { approval: decided } = await h.sb.decide(approval.id, { approve: true, action: 'Compute 3 + 3', by: alice });
    expect(decided).toMatchObject({ status: 'approved', action: 'Compute 3 + 3' });
    plan = await h.sb.waitForPlan(plan.id);
    expect(plan.status).toBe('completed');
    expect(plan.steps[0]).toMatchObject({ action: 'Compute 3 + 3', result: '6', status: 'completed' });
  });

  it('reports a failed step and lets a person have the rest revised, or stop the plan', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        planner: [
          plannerReply(['code_agent', 'Parse data.csv'], ['vision_agent', 'Chart it']),
          (req) => {
            expect(lastUser(req)).toMatch(/Step 1 failed: .*broken model.*Feedback: "Try the JSON file instead."|Step 1 failed: .*their feedback: "Try the JSON file instead\."/s);
            return plannerReply(['code_agent', 'Parse data.json']);
          },
          plannerReply(['code_agent', 'Parse data.csv']),
        ],
        code_agent: [{ status: 400, error: 'broken model' }, { content: 'parsed' }, { status: 400, error: 'broken again' }],
        proxy: [{ content: 'Parsed the JSON.' }],
      }),
    );
    const conv = await h.sb.conversation('test:plan-fail', alice);
    let plan = await h.sb.plan(conv.id, 'Chart the data', alice);
    await h.sb.decide((await pendingStepApproval(plan)).approval.id, { approve: true, by: alice });
    plan = await h.sb.waitForPlan(plan.id);

    expect(plan.status).toBe('awaiting_approval');
    expect(plan.steps[0]).toMatchObject({ status: 'failed' });
    expect(plan.steps[0]!.error).toContain('broken model');
    const [recovery] = await h.sb.approvals({ conversationId: conv.id, status: 'pending' });
    expect(recovery).toMatchObject({ kind: 'plan', planId: plan.id, stepId: plan.steps[0]!.id });
    expect(recovery!.summary).toMatch(/Step 1 \(code_agent\) failed: .*broken model/);

    await h.sb.decide(recovery!.id, { approve: true, feedback: 'Try the JSON file instead.', by: alice });
    plan = await h.sb.waitForPlan(plan.id);
    expect(plan.revision).toBe(2);
    expect(plan.steps.map((s) => [s.action, s.status])).toEqual([
      ['Parse data.csv', 'failed'],
      ['Parse data.json', 'awaiting_approval'],
    ]);
    plan = await approveAll(plan);
    expect(plan).toMatchObject({ status: 'completed', summary: 'Parsed the JSON.' });

    // A second plan whose step fails, stopped by the person.
    let second = await h.sb.plan(conv.id, 'Chart the data again', alice);
    await h.sb.decide((await pendingStepApproval(second)).approval.id, { approve: true, by: alice });
    second = await h.sb.waitForPlan(second.id);
    const [stop] = await h.sb.approvals({ conversationId: conv.id, status: 'pending' });
    await h.sb.decide(stop!.id, { approve: false, feedback: 'Not worth it.', by: alice });
    second = await h.sb.waitForPlan(second.id, { until: 'done' });
    expect(second.status).toBe('failed');
    expect(second.error).toMatch(/Step 1 \(code_agent\) failed: .*broken again.*test:alice stopped the plan: Not worth it\./s);
  });

  it('cancels a plan mid-step: the running step run is cancelled and no more steps run', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        planner: [plannerReply(['code_agent', 'Work for a long time'], ['vision_agent', 'Never happens'])],
        code_agent: [{ hang: true }],
      }),
    );
    const conv = await h.sb.conversation('test:plan-cancel', alice);
    let plan = await h.sb.plan(conv.id, 'Long work', alice);
    await h.sb.decide((await pendingStepApproval(plan)).approval.id, { approve: true, by: alice });
    await until(() => h!.fake.requests.some((r) => r.agent === 'code_agent'), 'the step to reach the model');

    await expect(h.sb.cancelPlan(plan.id, bob)).rejects.toThrow(ForbiddenError);
    plan = await h.sb.cancelPlan(plan.id, alice);
    expect(plan.status).toBe('cancelled');
    expect(plan.error).toBe('Cancelled by test:alice.');
    expect(plan.steps.map((s) => s.status)).toEqual(['failed', 'skipped']);
    const run = await h.sb.wait(plan.steps[0]!.runId!);
    expect(run.status).toBe('cancelled');
    expect((await h.sb.waitForPlan(plan.id, { until: 'done' })).status).toBe('cancelled');
    expect(h.fake.requests.some((r) => r.agent === 'vision_agent')).toBe(false);
    // Cancelling again is harmless.
    expect((await h.sb.cancelPlan(plan.id, alice)).status).toBe('cancelled');
  });

  it('refuses a decision on a step that no longer awaits one, with a typed error', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ planner: [plannerReply(['code_agent', 'a'], ['code_agent', 'b'])] }));
    const conv = await h.sb.conversation('test:plan-cancel-pending', alice);
    const plan = await h.sb.plan(conv.id, 'Two steps', alice);
    const { approval } = await pendingStepApproval(plan);
    await h.sb.cancelPlan(plan.id, alice);
    expect(await h.sb.getApproval(approval.id)).toMatchObject({ status: 'cancelled' });
    const refused = h.sb.decide(approval.id, { approve: true, by: alice });
    await expect(refused).rejects.toThrow(NotAwaitingApprovalError);
    await expect(refused).rejects.toThrow(/no longer awaiting a decision: it was cancelled/);
    expect(h.fake.requests.some((r) => r.agent === 'code_agent')).toBe(false);
  });

  it('refuses a person the policy does not allow, saying why, and lets the requester decide', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ planner: [plannerReply(['code_agent', 'x'])], code_agent: [{ content: 'ok' }], proxy: [{ content: 'done' }] }));
    const conv = await h.sb.conversation('test:plan-policy', alice);
    const plan = await h.sb.plan(conv.id, 'Something', alice);
    const { approval } = await pendingStepApproval(plan);

    await expect(h.sb.decide(approval.id, { approve: true, by: bob })).rejects.toThrow(
      'Only the person who asked (test:alice) may decide this approval; test:bob may not.',
    );
    expect(await h.sb.approvals({ status: 'pending', principal: bob })).toEqual([]);
    expect((await h.sb.approvals({ status: 'pending', principal: alice })).map((a) => a.id)).toEqual([approval.id]);
    await expect(h.sb.getPlan(plan.id, bob)).rejects.toThrow(ForbiddenError);
    expect(await h.sb.listPlans({ conversationId: conv.id, principal: bob })).toEqual([]);
    expect(await h.sb.getApproval(approval.id)).toMatchObject({ status: 'pending' });

    await h.sb.decide(approval.id, { approve: true, by: alice });
    expect((await h.sb.waitForPlan(plan.id)).status).toBe('completed');
  });

  it('treats a second decision as harmless: the first stands and the step runs once', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ planner: [plannerReply(['code_agent', 'x'])], code_agent: [{ content: 'ran' }], proxy: [{ content: 'done' }] }));
    const conv = await h.sb.conversation('test:plan-twice', alice);
    const plan = await h.sb.plan(conv.id, 'Once', alice);
    const { approval } = await pendingStepApproval(plan);

    const [first, second] = await Promise.all([
      h.sb.decide(approval.id, { approve: true, by: alice }),
      h.sb.decide(approval.id, { approve: false, feedback: 'changed my mind', by: alice }),
    ]);
    expect(first.alreadyDecided).toBe(false);
    expect(second.alreadyDecided).toBe(true);
    expect(second.approval).toMatchObject({ status: 'approved', decidedBy: alice });
    expect(second.approval.feedback).toBeUndefined();
    const third = await h.sb.decide(approval.id, { approve: true, by: alice });
    expect(third).toMatchObject({ alreadyDecided: true, approval: { status: 'approved' } });

    const done = await h.sb.waitForPlan(plan.id, { until: 'done' });
    expect(done.status).toBe('completed');
    expect(h.fake.requests.filter((r) => r.agent === 'code_agent')).toHaveLength(1);
    expect(h.fake.requests.filter((r) => r.agent === 'planner')).toHaveLength(1);
  });

  it('puts the plan on every event of a step run and of its delegations, stored ones included, and on no other run', async () => {
    h = await startHarness({ config: { approvals: { plan: 'none' }, agents: { relay: { description: 'relays', tools: ['send_message'] } } } });
    h.fake.setHandler(
      scriptByAgent({
        planner: [plannerReply(['relay', 'Have the sum computed'])],
        relay: [delegate('code_agent', 'Compute 6*7.'), (req) => ({ content: `relay got: ${req.toolResults[0]?.content ?? ''}` })],
        // run_code waits for a person: its approval is an event of the delegated run.
        code_agent: [{ toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } }] }, { content: '42, without running it' }],
        proxy: [{ content: 'Summary: 42' }, { content: 'not a plan' }],
      }),
    );
    const conv = await h.sb.conversation('test:plan-events', alice);
    const events: SwitchboardEvent[] = [];
    h.sb.on(conv.id, (e) => events.push(e));
    const plan = await h.sb.plan(conv.id, 'Compute a sum', alice);
    const pending = await until(async () => (await h!.sb.approvals({ conversationId: conv.id, status: 'pending' }))[0], 'the run_code approval');
    await h.sb.decide(pending.id, { approve: false, by: alice });
    const done = await h.sb.waitForPlan(plan.id, { until: 'done' });
    expect(done.status).toBe('completed');
    const other = await h.sb.wait((await h.sb.send(conv.id, { text: 'hi', from: alice })).id);

    const stepRun = done.steps[0]!.runId!;
    const runs = await h.sb.listRuns({ conversationId: conv.id });
    const child = runs.find((r) => r.parentRunId === stepRun)!;
    expect(child).toMatchObject({ agent: 'code_agent', planId: plan.id });
    expect(runs.find((r) => r.id === other.id)?.planId).toBeNull();
    const planRuns = new Set(runs.filter((r) => r.id !== other.id).map((r) => r.id));
    expect(planRuns.size).toBe(3); // the step's, its delegation's, the summary's

    const stored = await h.sb.bus.log!.readAfter(conv.id, 0);
    for (const seen of [events, stored]) {
      const ofPlanRuns = seen.filter((e) => planRuns.has(e.runId));
      expect([...new Set(ofPlanRuns.map((e) => e.type))]).toEqual(
        expect.arrayContaining(['run.queued', 'run.started', 'tool.call', 'tool.result', 'delegation.started', 'delegation.finished', 'approval.requested', 'run.requires_action', 'approval.decided', 'message', 'run.completed', 'plan.updated']),
      );
      expect(ofPlanRuns.filter((e) => e.planId !== plan.id).map((e) => `${e.type} ${e.agent}`)).toEqual([]);
      const ofOther = seen.filter((e) => e.runId === other.id);
      expect(ofOther.length).toBeGreaterThan(0);
      expect(ofOther.filter((e) => e.planId !== undefined)).toEqual([]);
    }
  });
});
