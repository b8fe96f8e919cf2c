import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError, NotFoundError } from '../../src/core/errors.js';
import { lastUserTextOf, scriptByAgent, type RecordedRequest } from '../support/fake-openai.js';
import { plannerReply } from '../support/plans.js';
import { alice, bob, startHarness, type Harness } from '../support/switchboard.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const carol = { surface: 'slack', tenant: 'T1', userId: 'U3' } as const;
const said = (r: RecordedRequest | undefined) => lastUserTextOf(r!.body.messages) ?? '';

describe('plans: approval modes', () => {
  it('whole_plan: one approval for every step; a rejection revises the whole plan', async () => {
    h = await startHarness({ config: { approvals: { plan: 'whole_plan' } } });
    h.fake.setHandler(
      scriptByAgent({
        planner: [
          plannerReply(['code_agent', 'a'], ['vision_agent', 'b']),
          (req) => (req.lastUserText?.includes('rejected the plan with this feedback: "Shorter."') ? plannerReply(['code_agent', 'just c']) : { content: 'no' }),
        ],
        code_agent: [{ content: 'c done' }],
        proxy: [{ content: 'summary' }],
      }),
    );
    const conv = await h.sb.conversation('test:whole', alice);
    let plan = await h.sb.plan(conv.id, 'Goal', alice);
    expect(plan.mode).toBe('whole_plan');
    expect(plan.steps.map((s) => s.status)).toEqual(['awaiting_approval', 'awaiting_approval']);
    const [first] = await h.sb.approvals({ conversationId: conv.id, status: 'pending' });
    expect(first).toMatchObject({ kind: 'plan', planId: plan.id, agent: 'planner' });
    expect(first!.summary).toContain('1. code_agent: a\n2. vision_agent: b');
    expect((await h.sb.approvalForStep(plan.steps[1]!.id))?.id).toBe(first!.id);
    await expect(h.sb.decide(first!.id, { approve: true, action: 'edited', by: alice })).rejects.toThrow(InvalidInputError);

    await h.sb.decide(first!.id, { approve: false, feedback: 'Shorter.', by: alice });
    plan = await h.sb.waitForPlan(plan.id);
    expect(plan.revision).toBe(2);
    expect(plan.steps.map((s) => [s.index, s.action, s.status])).toEqual([[1, 'just c', 'awaiting_approval']]);
    const [second] = await h.sb.approvals({ conversationId: conv.id, status: 'pending' });
    await h.sb.decide(second!.id, { approve: true, by: alice });
    plan = await h.sb.waitForPlan(plan.id);
    expect(plan).toMatchObject({ status: 'completed', summary: 'summary' });
    expect(h.fake.requests.filter((r) => r.agent === 'vision_agent')).toHaveLength(0);
  });

  it('none: the plan runs without asking anyone', async () => {
    h = await startHarness({ config: { approvals: { plan: 'none' } } });
    h.fake.setHandler(
      scriptByAgent({
        planner: [plannerReply(['code_agent', 'one'], ['code_agent', 'two'])],
        code_agent: [{ content: '1' }, { content: '2' }],
        proxy: [{ content: 'both done' }],
      }),
    );
    const conv = await h.sb.conversation('test:none', alice);
    const plan = await h.sb.plan(conv.id, 'Count', alice);
    expect(['running', 'completed']).toContain(plan.status);
    const done = await h.sb.waitForPlan(plan.id, { until: 'done' });
    expect(done.steps.map((s) => [s.status, s.result, s.approvalId])).toEqual([
      ['completed', '1', undefined],
      ['completed', '2', undefined],
    ]);
    expect(done.summary).toBe('both done');
    expect(await h.sb.approvals({ conversationId: conv.id })).toEqual([]);
  });
});

describe('plans: the planner', () => {
  it('sends an invalid plan back with what is wrong, and accepts the corrected one', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        planner: [
          { content: 'Sure! Here is the plan: step one...' },
          plannerReply(['painter', 'paint']),
          { content: '```json\n' + JSON.stringify({ steps: [{ agent: 'image_agent', action: 'Paint a boat' }] }) + '\n```' },
        ],
      }),
    );
    const conv = await h.sb.conversation('test:planner-retry', alice);
    const plan = await h.sb.plan(conv.id, 'A boat picture', alice);
    expect(plan.steps.map((s) => [s.agent, s.action])).toEqual([['image_agent', 'Paint a boat']]);
    expect(plan.usage.modelCalls).toBe(3);
    const [, second, third] = h.fake.requests;
    expect(said(second)).toMatch(/That is not a valid plan: The answer is not valid JSON/);
    expect(said(third)).toContain('Step 1 names the unknown agent "painter". Valid agents: image_agent, vision_agent, code_agent.');
    // The planner sees its earlier answers and the corrections.
    expect(third!.body.messages.filter((m) => m.role === 'assistant')).toHaveLength(2);
  });

  it('fails the plan with the reason after a bounded number of invalid answers', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ planner: [{ content: '{}' }, { content: '{"steps": []}' }, { content: 'nope' }] }));
    const conv = await h.sb.conversation('test:planner-gives-up', alice);
    const plan = await h.sb.plan(conv.id, 'Impossible', alice);
    expect(plan.status).toBe('failed');
    expect(plan.error).toMatch(/^The planner did not produce a valid plan in 3 attempts\. Last problem: The answer is not valid JSON/);
    expect(h.fake.requests).toHaveLength(3);
    expect(said(h.fake.requests[1])).toContain('steps');
    expect(said(h.fake.requests[2])).toContain('The plan has no steps');
  });

  it('fails the plan, without a retry storm, when the planner cannot be reached', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ planner: [{ status: 401, error: 'bad key' }] }));
    const conv = await h.sb.conversation('test:planner-down', alice);
    const plan = await h.sb.plan(conv.id, 'Anything', alice);
    expect(plan.status).toBe('failed');
    expect(plan.error).toMatch(/^The planner could not answer: .*bad key/);
  });

  it('validates the goal and finds plans and steps by id', async () => {
    h = await startHarness();
    const conv = await h.sb.conversation('test:plan-input', alice);
    await expect(h.sb.plan(conv.id, '   ', alice)).rejects.toThrow(InvalidInputError);
    await expect(h.sb.plan('conv_missing', 'x', alice)).rejects.toThrow(NotFoundError);
    await expect(h.sb.getPlan('plan_missing')).rejects.toThrow(NotFoundError);
    await expect(h.sb.getApproval('apr_missing')).rejects.toThrow(NotFoundError);
    await expect(h.sb.approvalForStep('step_missing')).rejects.toThrow(NotFoundError);
    await expect(h.sb.decide('apr_missing', { approve: true, by: alice })).rejects.toThrow(NotFoundError);
  });
});

describe('plans: who may decide', () => {
  it('approvers: only the configured principals', async () => {
    h = await startHarness({ config: { approvals: { policy: { who: 'approvers', approvers: ['slack:T1:U3'] } } } });
    h.fake.setHandler(scriptByAgent({ planner: [plannerReply(['code_agent', 'x'])], code_agent: [{ content: 'ok' }], proxy: [{ content: 'done' }] }));
    const conv = await h.sb.conversation('test:approvers', alice);
    const plan = await h.sb.plan(conv.id, 'Guarded', alice);
    const [approval] = await h.sb.approvals({ conversationId: conv.id, status: 'pending' });
    await expect(h.sb.decide(approval!.id, { approve: true, by: alice })).rejects.toThrow(
      'Only the configured approvers (slack:T1:U3) may decide approvals; test:alice is not one of them.',
    );
    expect(await h.sb.approvals({ principal: carol })).toHaveLength(1);
    // An approver may see the plan even though it is someone else's conversation.
    expect((await h.sb.getPlan(plan.id, carol)).id).toBe(plan.id);
    await h.sb.decide(approval!.id, { approve: true, by: carol });
    expect((await h.sb.waitForPlan(plan.id)).status).toBe('completed');
  });

  it('conversation: anyone who takes part in the (shared) conversation', async () => {
    h = await startHarness({ config: { approvals: { policy: { who: 'conversation' } } } });
    h.fake.setHandler(scriptByAgent({ planner: [plannerReply(['code_agent', 'x'])], code_agent: [{ content: 'ok' }], proxy: [{ content: 'hello bob' }, { content: 'done' }] }));
    const conv = await h.sb.conversation('test:members', alice, { access: 'shared' });
    const plan = await h.sb.plan(conv.id, 'Shared', alice);
    const [approval] = await h.sb.approvals({ conversationId: conv.id, status: 'pending' });
    await expect(h.sb.decide(approval!.id, { approve: true, by: bob })).rejects.toThrow(
      'Only people taking part in this conversation may decide its approvals; test:bob has not taken part in it.',
    );
    await h.sb.wait((await h.sb.send(conv.id, { text: 'hi, I am in this too', from: bob })).id);
    const { approval: decided } = await h.sb.decide(approval!.id, { approve: true, by: bob });
    expect(decided.decidedBy).toEqual(bob);
    expect((await h.sb.waitForPlan(plan.id)).status).toBe('completed');
  });
});

describe('plans: create_plan, the proxy\'s tool', () => {
  it('lets the proxy make a plan that the user approves; the proxy summarises it on its thread', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [
          { toolCalls: [{ name: 'create_plan', arguments: { goal: 'Draw a cat, then describe it' } }] },
          (req) => ({ content: `Here is my plan. ${req.toolResults[0]!.content.split('\n')[0]}` }),
          (req) => ({ content: `Summary for you: ${req.lastUserText?.includes('Result: a drawn cat') ? 'cat drawn and described' : '?'}` }),
        ],
        planner: [plannerReply(['image_agent', 'Draw a cat'], ['vision_agent', 'Describe it'])],
        image_agent: [{ content: 'a drawn cat' }],
        vision_agent: [{ content: 'it is cute' }],
      }),
    );
    const conv = await h.sb.conversation('test:create-plan', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'Draw a cat and describe it', from: alice })).id);
    expect(run.status).toBe('completed');
    const [plan] = await h.sb.listPlans({ conversationId: conv.id, principal: alice });
    expect(run.reply).toBe(`Here is my plan. Plan ${plan!.id} (awaiting_approval): Draw a cat, then describe it`);
    expect(plan).toMatchObject({ createdBy: alice, status: 'awaiting_approval', goal: 'Draw a cat, then describe it' });
    const proxyTools = h.fake.requests[0]!.body.tools!.map((t) => t.function.name);
    expect(proxyTools).toEqual(['send_message', 'create_plan']);

    let current = plan!;
    while (current.status === 'awaiting_approval') {
      const [pending] = await h.sb.approvals({ conversationId: conv.id, status: 'pending', principal: alice });
      await h.sb.decide(pending!.id, { approve: true, by: alice });
      current = await h.sb.waitForPlan(current.id);
    }
    expect(current).toMatchObject({ status: 'completed', summary: 'Summary for you: cat drawn and described' });
    const proxyThread = (await h.sb.transcript(conv.id)).find((t) => t.thread.agent === 'proxy')!.messages;
    expect(proxyThread.at(-1)!.content).toBe('Summary for you: cat drawn and described');
    expect(proxyThread.at(-2)!.author).toBe('planner');
  });
});
