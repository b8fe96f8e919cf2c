import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/core/plans/types.js';
import { assertBuilt } from '../support/cli.js';
import { checkTranscript, crashSetup, type CrashSetup } from '../support/crash.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI, type FakeReply } from '../support/fake-openai.js';
import { plannerReply, until } from '../support/plans.js';

/**
 * `switchboard plan` killed with SIGKILL in the middle of a plan, and `switchboard plan --resume`
 * finishing it on the same database: every step done exactly once, nothing lost or repeated.
 */
let fake: FakeOpenAI | undefined;
let setup: CrashSetup | undefined;
beforeAll(() => assertBuilt());
afterEach(async () => {
  setup?.remove();
  setup = undefined;
  await fake?.close();
  fake = undefined;
});

const agents = () => fake!.requests.map((r) => r.agent);
const count = (agent: string) => agents().filter((a) => a === agent).length;

function threeStepScript(vision: FakeReply[] = [{ content: 'A cat on a mat.' }]) {
  return scriptByAgent({
    planner: [plannerReply(['image_agent', 'Draw a cat'], ['vision_agent', 'Describe the drawing'], ['code_agent', 'Count the legs'])],
    image_agent: [{ content: 'Saved cat.png' }],
    vision_agent: vision,
    code_agent: [{ content: '4 legs' }],
    proxy: [(req) => ({ content: req.lastUserText?.includes('Result: 4 legs') ? 'We drew a cat on a mat; it has 4 legs.' : 'results missing' })],
  });
}

/** The plan as stored, checked for exactly-once work on every thread. */
async function inspect(s: CrashSetup, finished = true): Promise<{ plan: Plan; approvals: number; threads: Record<string, { role: string }[]> }> {
  const db = s.open();
  try {
    const [plan] = await db.plans.listPlans({});
    const threads = await checkTranscript(db.store, plan!.conversationId, { finished });
    const approvals = (await db.approvals.listApprovals({ conversationId: plan!.conversationId })).length;
    return { plan: plan!, approvals, threads };
  } finally {
    db.close();
  }
}

function expectEachStepOnce(threads: Record<string, { role: string }[]>) {
  for (const agent of ['image_agent', 'vision_agent', 'code_agent']) expect(threads[agent]!.map((m) => m.role)).toEqual(['user', 'assistant']);
  expect(threads.proxy!.map((m) => m.role)).toEqual(['user', 'assistant']); // the summary, once
}

describe('crash: a plan run from the terminal', () => {
  it('between steps: killed while step 2 waits for approval, resumed, approved step by step, finished', async () => {
    fake = await startFakeOpenAI({ handler: threeStepScript() });
    setup = crashSetup(fake.url);
    const first = setup.cli(['plan', 'Draw a cat and count its legs', '--conversation', 'crash-plan']);
    await first.waitForStdout('Approve? ');
    expect(first.stdout()).toContain('1. image_agent: Draw a cat\n  2. vision_agent: Describe the drawing\n  3. code_agent: Count the legs');
    first.write('y');
    await first.waitForStdout('Step 2 of 3 — vision_agent: Describe the drawing');
    expect(first.stdout()).toContain('✓ 1. image_agent: Saved cat.png');
    await first.kill9();

    const before = await inspect(setup);
    expect(before.plan.status).toBe('awaiting_approval');
    expect(before.plan.steps.map((s) => s.status)).toEqual(['completed', 'awaiting_approval', 'planned']);
    const pendingBefore = before.plan.steps[1]!.approvalId;

    const second = setup.cli(['plan', '--resume']);
    await second.waitForStdout('Step 2 of 3');
    second.write('y');
    await second.waitForStdout('Step 3 of 3');
    second.write('y');
    const { code } = await second.exited;
    expect(second.stderr()).toBe('');
    expect(code).toBe(0);
    expect(second.stdout()).toContain(`Resuming plan ${before.plan.id} (awaiting_approval).`);
    expect(second.stdout()).toContain('✓ 2. vision_agent: A cat on a mat.');
    expect(second.stdout()).toContain('Plan completed.\n\nSummary:\nWe drew a cat on a mat; it has 4 legs.');

    const after = await inspect(setup);
    expect(after.plan.status).toBe('completed');
    expect(after.plan.steps.map((s) => s.result)).toEqual(['Saved cat.png', 'A cat on a mat.', '4 legs']);
    expect(after.plan.steps[1]!.approvalId).toBe(pendingBefore); // the same approval, decided after the restart
    expect(after.approvals).toBe(3);
    expect(agents()).toEqual(['planner', 'image_agent', 'vision_agent', 'code_agent', 'proxy']);
    expectEachStepOnce(after.threads);
  });

  it('during a step: killed while the step\'s agent waits on the model, resumed with --yes, finished', async () => {
    fake = await startFakeOpenAI({ handler: threeStepScript([{ hang: true }, { content: 'A cat on a mat.' }]) });
    setup = crashSetup(fake.url);
    const first = setup.cli(['plan', 'Draw a cat and count its legs', '--yes']);
    await until(() => count('vision_agent') === 1, 'step 2 to reach the model');
    await first.kill9();
    const before = await inspect(setup, false);
    expect(before.plan.steps.map((s) => s.status)).toEqual(['completed', 'in_progress', 'planned']);

    const second = setup.cli(['plan', '--resume', '--yes']);
    expect((await second.exited).code).toBe(0);
    expect(second.stdout()).toContain('Summary:\nWe drew a cat on a mat; it has 4 legs.');

    const after = await inspect(setup);
    expect(after.plan.status).toBe('completed');
    // The step's run was resumed, not started again: one run, its model call made again.
    expect(after.plan.steps[1]!.runId).toBe(before.plan.steps[1]!.runId);
    expect(agents()).toEqual(['planner', 'image_agent', 'vision_agent', 'vision_agent', 'code_agent', 'proxy']);
    expectEachStepOnce(after.threads);
  });

  it('while a step\'s tool call awaits approval: the approval survives and is asked again after the restart', async () => {
    fake = await startFakeOpenAI({
      handler: scriptByAgent({
        planner: [plannerReply(['code_agent', 'Print 6*7'])],
        code_agent: [
          { toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } }] },
          (req) => ({ content: req.toolResults[0]!.content.includes('42') ? '42' : 'no output' }),
        ],
        proxy: [{ content: 'It printed 42.' }],
      }),
    });
    setup = crashSetup(fake.url);
    const first = setup.cli(['plan', 'Print 6*7']);
    await first.waitForStdout('Approve? ');
    first.write('y');
    await first.waitForStdout('code_agent wants to run python code:\nprint(6*7)\nAllow it?');
    await first.kill9();
    const before = await inspect(setup, false);
    expect(before.plan.steps[0]!.status).toBe('in_progress');

    const second = setup.cli(['plan', '--resume', before.plan.id]);
    await second.waitForStdout('Allow it?');
    second.write('y');
    expect((await second.exited).code).toBe(0);
    expect(second.stdout()).toContain('Summary:\nIt printed 42.');

    const after = await inspect(setup);
    expect(after.plan.steps[0]).toMatchObject({ status: 'completed', result: '42' });
    expect(after.approvals).toBe(2); // the step's and the tool call's, each once
    expect(agents()).toEqual(['planner', 'code_agent', 'code_agent', 'proxy']);
    expect(after.threads.code_agent!.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
  });
});
