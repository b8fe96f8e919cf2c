import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSwitchboard, type Switchboard } from '../../src/core/switchboard.js';
import { assertBuilt } from '../support/cli.js';
import { crashSetup, type CrashSetup } from '../support/crash.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { plannerReply } from '../support/plans.js';

/**
 * `switchboard approvals / approve / reject` and the answers of `switchboard plan`, through the built
 * CLI, deciding for a plan that an engine in this test process carries on (another process, same file).
 */
let fake: FakeOpenAI | undefined;
let setup: CrashSetup | undefined;
let sb: Switchboard | undefined;
beforeAll(() => assertBuilt());
afterEach(async () => {
  await sb?.close();
  sb = undefined;
  setup?.remove();
  setup = undefined;
  await fake?.close();
  fake = undefined;
});

const alice = { surface: 'cli', userId: 'alice' };

async function engine(s: CrashSetup): Promise<Switchboard> {
  return createSwitchboard({ config: s.config, env: { OPENAI_BASE_URL: fake!.url, OPENAI_API_KEY: 'sk-test' }, cwd: s.dir, engine: { pollMs: 20 } });
}

describe('approvals from the command line', () => {
  it('lists, rejects with feedback (the plan is revised), approves with an edit, and says when it was already decided', async () => {
    fake = await startFakeOpenAI({
      handler: scriptByAgent({
        planner: [
          plannerReply(['code_agent', 'Delete old files']),
          (req) => (req.lastUserText?.includes('"Archive them instead."') ? plannerReply(['code_agent', 'Archive old files']) : { content: 'no' }),
        ],
        code_agent: [(req) => ({ content: `did: ${req.lastUserText?.split('Your step: ')[1]?.split('\n')[0]}` })],
        proxy: [{ content: 'Archived.' }],
      }),
    });
    setup = crashSetup(fake.url);
    sb = await engine(setup);
    const conv = await sb.conversation('cli:cleanup', alice);
    let plan = await sb.plan(conv.id, 'Clean up', alice);
    const first = plan.steps[0]!.approvalId!;

    const listed = setup.cli(['approvals', '--conversation', 'cleanup']);
    expect((await listed.exited).code).toBe(0);
    expect(listed.stdout()).toContain(`${first}  plan step  code_agent  asked by cli:alice`);
    expect(listed.stdout()).toContain('step 1 of 1 — code_agent: Delete old files');

    const reject = setup.cli(['reject', first, '--feedback', 'Archive them instead.']);
    expect((await reject.exited).code).toBe(0);
    expect(reject.stdout()).toContain(`Rejected ${first}: Plan "Clean up", step 1 of 1 — code_agent: Delete old files`);
    expect(reject.stdout()).toContain(`continue it with: switchboard plan --resume ${plan.id}`);

    plan = await sb.waitForPlan(plan.id);
    expect(plan.revision).toBe(2);
    const second = plan.steps.find((s) => s.status === 'awaiting_approval')!;
    expect(second.action).toBe('Archive old files');
    const approve = setup.cli(['approve', second.approvalId!, '--action', 'Archive files older than a year']);
    expect((await approve.exited).code).toBe(0);
    plan = await sb.waitForPlan(plan.id);
    expect(plan.status).toBe('completed');
    expect(plan.steps.at(-1)!.result).toBe('did: Archive files older than a year');

    const again = setup.cli(['reject', second.approvalId!]);
    expect((await again.exited).code).toBe(0);
    expect(again.stdout()).toBe(`${second.approvalId} was already approved by cli:alice; that decision stands and nothing changed.\n`);
    const none = setup.cli(['approvals']);
    await none.exited;
    expect(none.stdout()).toBe('No approvals are waiting for a decision.\n');
  });

  it('refuses someone the policy does not allow, with the reason, and an unknown id', async () => {
    fake = await startFakeOpenAI({ handler: scriptByAgent({ planner: [plannerReply(['code_agent', 'x'])] }) });
    setup = crashSetup(fake.url);
    sb = await engine(setup);
    const conv = await sb.conversation('cli:guarded', { surface: 'cli', userId: 'carol' });
    const plan = await sb.plan(conv.id, 'Guarded', { surface: 'cli', userId: 'carol' });
    const refused = setup.cli(['approve', plan.steps[0]!.approvalId!]);
    expect((await refused.exited).code).toBe(1);
    expect(refused.stderr()).toBe('switchboard: Only the person who asked (cli:carol) may decide this approval; cli:alice may not.\n');
    const unknown = setup.cli(['approve', 'apr_nope']);
    expect((await unknown.exited).code).toBe(1);
    expect(unknown.stderr()).toBe('switchboard: No approval with id "apr_nope".\n');
    const usage = setup.cli(['approve']);
    expect((await usage.exited).code).toBe(2);
  });
});

describe('switchboard plan answers', () => {
  it('cancels on "c", and leaves the plan waiting (exit 3) when the input ends', async () => {
    fake = await startFakeOpenAI({ handler: scriptByAgent({ planner: [plannerReply(['code_agent', 'one']), plannerReply(['code_agent', 'two'])] }) });
    setup = crashSetup(fake.url);
    const cancelled = setup.cli(['plan', 'First goal']);
    await cancelled.waitForStdout('Approve? ');
    cancelled.write('maybe');
    await cancelled.waitForStdout('Answer y, n <feedback>, e <new action> or c.');
    cancelled.write('c');
    expect((await cancelled.exited).code).toBe(1);
    expect(cancelled.stdout()).toContain('Plan cancelled: Cancelled by cli:alice.');

    const waiting = setup.cli(['plan', 'Second goal']);
    await waiting.waitForStdout('Approve? ');
    waiting.proc.stdin!.end();
    expect((await waiting.exited).code).toBe(3);
    expect(waiting.stdout()).toMatch(/Waiting for a decision on apr_\w+\. Decide it with `switchboard approve apr_\w+`/);
    expect(waiting.stdout()).toMatch(/continue with `switchboard plan --resume plan_\w+`/);
  });
});
