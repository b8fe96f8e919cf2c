import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElicitRequestSchema, type ElicitRequest, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { scriptByAgent, type FakeChatRequest } from '../support/fake-openai.js';
import { connectStdio, startWorld, textOf, type McpWorld, type StdioSession } from '../support/mcp-harness.js';
import { plannerReply } from '../support/plans.js';
import type { PlanOutput } from '../../src/mcp/plan-schemas.js';
import type { RunOutput } from '../../src/mcp/schemas.js';

const lastUser = (req: FakeChatRequest) => req.lastUserText ?? '';
const plan = (r: unknown) => (r as { structuredContent: PlanOutput }).structuredContent;
const run = (r: unknown) => (r as { structuredContent: RunOutput }).structuredContent;
/** The code agent runs node code (which needs approval), then reports what the tool said. */
const runNode = (code: string) => [{ toolCalls: [{ name: 'run_code', arguments: { language: 'node', code } }] }, (req: FakeChatRequest) => ({ content: `Tool said: ${req.toolResults[0]!.content}` })];

describe('plans and approvals through MCP tools (a host without elicitation)', () => {
  let world: McpWorld;
  let s: StdioSession;
  beforeAll(async () => {
    world = await startWorld();
    s = await connectStdio(world);
  });
  afterAll(async () => {
    await s?.close();
    await world?.close();
  });

  it('plans a task, and a person approves each step with approve_step (one with an edited action) until the summary', async () => {
    world.fake.setHandler(
      scriptByAgent({
        planner: [plannerReply(['vision_agent', 'Describe cat.png'], ['code_agent', 'Count the legs'])],
        vision_agent: [{ content: 'A cat with four legs.' }],
        code_agent: [(req) => ({ content: lastUser(req).includes('Count the legs twice') ? '4, and again 4' : 'not edited' })],
        proxy: [{ content: 'Summary: the cat has 4 legs.' }],
      }),
    );
    const started = plan(await s.client.callTool({ name: 'plan_task', arguments: { goal: 'Describe cat.png and count its legs' } }));
    expect(started.status).toBe('awaiting_approval');
    expect(started.steps.map((x) => [x.index, x.agent, x.status])).toEqual([
      [1, 'vision_agent', 'awaiting_approval'],
      [2, 'code_agent', 'planned'],
    ]);
    expect(started.pending_approvals).toEqual([expect.objectContaining({ kind: 'plan_step', step_id: started.steps[0]!.step_id })]);
    expect(world.fake.requests.filter((r) => r.agent === 'vision_agent')).toHaveLength(0);

    const first = plan(await s.client.callTool({ name: 'approve_step', arguments: { step_id: started.steps[0]!.step_id } }));
    expect(['running', 'awaiting_approval']).toContain(first.status);
    let now = plan(await s.client.callTool({ name: 'get_plan', arguments: { plan_id: started.plan_id, wait_seconds: 20 } }));
    expect(now.status).toBe('awaiting_approval');
    expect(now.steps[0]).toMatchObject({ status: 'completed', result: 'A cat with four legs.' });

    await s.client.callTool({ name: 'approve_step', arguments: { step_id: now.steps[1]!.step_id, action: 'Count the legs twice' } });
    now = plan(await s.client.callTool({ name: 'get_plan', arguments: { plan_id: started.plan_id, wait_seconds: 20 } }));
    expect(now.status).toBe('completed');
    expect(now.steps[1]).toMatchObject({ action: 'Count the legs twice', status: 'completed', result: '4, and again 4' });
    expect(now.summary).toBe('Summary: the cat has 4 legs.');

    // The plan is a resource too.
    const read = await s.client.readResource({ uri: `switchboard://plans/${started.plan_id}` });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({ plan_id: started.plan_id, status: 'completed' });
  });

  it('revises the plan from reject_step feedback, and cancels with cancel_plan', async () => {
    world.fake.setHandler(
      scriptByAgent({
        planner: [plannerReply(['image_agent', 'Draw a dog']), (req) => plannerReply(['image_agent', lastUser(req).includes('a cat, please') ? 'Draw a cat' : 'Draw a dog again'])],
      }),
    );
    const started = plan(await s.client.callTool({ name: 'plan_task', arguments: { goal: 'A picture for my sister' } }));
    const rejected = plan(await s.client.callTool({ name: 'reject_step', arguments: { step_id: started.steps[0]!.step_id, feedback: 'She likes cats: a cat, please' } }));
    expect(rejected.steps[0]!.status).toBe('rejected');
    const revised = plan(await s.client.callTool({ name: 'get_plan', arguments: { plan_id: started.plan_id, wait_seconds: 20 } }));
    expect(revised).toMatchObject({ status: 'awaiting_approval', revision: 2 });
    expect(revised.steps.map((x) => x.action)).toContain('Draw a cat');

    const cancelled = plan(await s.client.callTool({ name: 'cancel_plan', arguments: { plan_id: started.plan_id } }));
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.pending_approvals).toEqual([]);
  });

  it('hands a tool approval back as requires_action; decide_approval lets the run go on', async () => {
    world.fake.setHandler(scriptByAgent({ code_agent: runNode('console.log(6 * 7)') }));
    const asked = run(await s.client.callTool({ name: 'ask_code_agent', arguments: { message: 'What is 6 times 7? Compute it.' } }));
    expect(asked.status).toBe('requires_action');
    expect(asked.pending_approvals).toEqual([expect.objectContaining({ kind: 'tool_call', summary: expect.stringContaining('console.log(6 * 7)') })]);
    const decided = await s.client.callTool({ name: 'decide_approval', arguments: { approval_id: asked.pending_approvals![0]!.approval_id, approve: true } });
    expect(decided.structuredContent).toMatchObject({ status: 'approved', already_decided: false, run_id: expect.any(String) });
    const done = run(await s.client.callTool({ name: 'get_run', arguments: { run_id: asked.run_id, wait_seconds: 20 } }));
    expect(done).toMatchObject({ status: 'completed', reply: expect.stringContaining('42') });
  });

  it('says clearly what is wrong with unknown plans, steps and approvals', async () => {
    const noPlan = await s.client.callTool({ name: 'get_plan', arguments: { plan_id: 'plan_nope' } });
    expect(noPlan.isError).toBe(true);
    expect(textOf(noPlan)).toMatch(/No plan with id "plan_nope"/);
    const noStep = await s.client.callTool({ name: 'approve_step', arguments: { step_id: 'step_nope' } });
    expect(textOf(noStep)).toMatch(/No plan step with id "step_nope"/);
    const noApproval = await s.client.callTool({ name: 'decide_approval', arguments: { approval_id: 'apr_nope', approve: true } });
    expect(noApproval.isError).toBe(true);
    expect(textOf(noApproval)).toMatch(/No approval with id "apr_nope"/);
    const badFeedback = await s.client.callTool({ name: 'reject_step', arguments: { step_id: 'x', feedback: '' } });
    expect(textOf(badFeedback)).toMatch(/feedback must not be empty/);
  });
});

describe('approvals through elicitation (a host that answers forms)', () => {
  let world: McpWorld;
  let s: StdioSession;
  const asked: ElicitRequest['params'][] = [];
  let answer: (req: ElicitRequest['params']) => ElicitResult = () => ({ action: 'accept', content: { decision: 'approve' } });
  beforeAll(async () => {
    world = await startWorld();
    s = await connectStdio(world, { capabilities: { elicitation: {} } }); // 2025-06-18 style: {} means form
    s.client.setRequestHandler(ElicitRequestSchema, (req) => {
      asked.push(req.params);
      return answer(req.params);
    });
  });
  afterAll(async () => {
    await s?.close();
    await world?.close();
  });

  it('asks for each plan step inline and carries the plan to its end in one plan_task call', async () => {
    world.fake.setHandler(
      scriptByAgent({
        planner: [plannerReply(['vision_agent', 'Describe cat.png'], ['image_agent', 'Draw the cat again'])],
        vision_agent: [{ content: 'A grey cat.' }],
        image_agent: [{ content: 'Saved grey-cat.png' }],
        proxy: [{ content: 'Done: described and redrawn.' }],
      }),
    );
    asked.length = 0;
    answer = () => ({ action: 'accept', content: { decision: 'approve' } });
    const result = plan(await s.client.callTool({ name: 'plan_task', arguments: { goal: 'Describe and redraw cat.png' } }));
    expect(result.status).toBe('completed');
    expect(result.summary).toBe('Done: described and redrawn.');
    expect(asked.map((p) => p.message)).toEqual([expect.stringMatching(/step 1 of 2\b.*vision_agent\b.*Describe cat\.png/), expect.stringMatching(/step 2 of 2\b.*image_agent\b.*Draw the cat again/)]);
    const schema = (asked[0] as { requestedSchema: { properties: Record<string, unknown> } }).requestedSchema;
    expect(Object.keys(schema.properties)).toEqual(['decision', 'feedback', 'action']);
  });

  it('asks for a tool approval deep in a delegation inline; a rejection with feedback reaches the agent', async () => {
    world.fake.setHandler(
      scriptByAgent({
        proxy: [{ toolCalls: [{ name: 'send_message', arguments: { recipient: 'code_agent', message: 'Compute 6*7' } }] }, (req) => ({ content: `Team: ${req.toolResults[0]!.content}` })],
        code_agent: runNode('console.log(6 * 7)'),
      }),
    );
    asked.length = 0;
    answer = () => ({ action: 'accept', content: { decision: 'reject', feedback: 'No code today, do it in your head' } });
    const result = run(await s.client.callTool({ name: 'ask_team', arguments: { message: 'What is 6*7?' } }));
    expect(result.status).toBe('completed');
    expect(asked).toHaveLength(1);
    expect(asked[0]!.message).toContain('code_agent (asked by proxy) wants to run node code');
    expect(result.reply).toMatch(/Team: Tool said: A person declined this call.*No code today, do it in your head/);
  });
});
