import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { INTERRUPTED_RESULT } from '../../src/core/runs/tool-calls.js';
import type { Run } from '../../src/core/store/types.js';
import { assertBuilt } from '../support/cli.js';
import { checkTranscript, crashSetup, type CrashSetup } from '../support/crash.js';
import { scriptByAgent, startFakeOpenAI, type FakeChatRequest, type FakeOpenAI } from '../support/fake-openai.js';
import { until } from '../support/plans.js';
import { delegate } from '../support/replies.js';

/**
 * Runs killed with SIGKILL at a chosen point and resumed by a fresh process on the same database.
 * The second process resumes at once: the lease of its dead predecessor (same host, pid gone) does
 * not have to run out (30 s).
 */
let fake: FakeOpenAI | undefined;
let setup: CrashSetup | undefined;
const cleanups: (() => void)[] = [];
beforeAll(() => assertBuilt());
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  setup?.remove();
  setup = undefined;
  await fake?.close();
  fake = undefined;
});

const toolResult = (req: FakeChatRequest) => req.toolResults[0]?.content ?? '';
const agents = () => fake!.requests.map((r) => r.agent);
const count = (agent: string) => agents().filter((a) => a === agent).length;

async function resumeAndFinish(s: CrashSetup, runId: string): Promise<Run> {
  const child = s.child({ action: 'resume', runId });
  const done = await child.waitForReport('done');
  expect((await child.exited).code).toBe(0);
  return done.run as Run;
}

describe('crash: SIGKILL and restart', () => {
  it('during a model call deep in a delegation: the call is made again, nothing before it is repeated', async () => {
    fake = await startFakeOpenAI({
      handler: scriptByAgent({
        proxy: [delegate('vision_agent', 'Describe cat.png'), (req) => ({ content: `proxy: ${toolResult(req)}` })],
        vision_agent: [{ hang: true }, { content: 'A black cat.' }],
      }),
    });
    setup = crashSetup(fake.url);
    const first = setup.child({ action: 'send', conversationKey: 'cli:crash-model', text: 'What is in cat.png?' });
    const { runId, conversationId } = (await first.waitForReport('queued')) as { runId: string; conversationId: string };
    await until(() => count('vision_agent') === 1, 'the specialist call to reach the model');
    await first.kill9();

    const run = await resumeAndFinish(setup, runId);
    expect(run).toMatchObject({ status: 'completed', reply: 'proxy: A black cat.' });
    // The proxy's first call (the delegation) was not repeated; the specialist's killed call was.
    expect(agents()).toEqual(['proxy', 'vision_agent', 'vision_agent', 'proxy']);
    const db = setup.open();
    try {
      const threads = await checkTranscript(db.store, conversationId);
      expect(threads.proxy!.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
      expect(threads.vision_agent!.map((m) => [m.role, m.content])).toEqual([
        ['user', 'Describe cat.png'],
        ['assistant', 'A black cat.'],
      ]);
      expect(await db.store.listRuns({ conversationId })).toHaveLength(2); // one delegation, not two
      expect((await db.store.listRunSteps(runId)).map((s) => `${s.type}:${s.status}`)).toEqual(['model_call:completed', 'tool_call:completed', 'model_call:completed']);
    } finally {
      db.close();
    }
  });

  it('during a tool call that is not idempotent: it is not run again, and the model is told it was interrupted', async () => {
    fake = await startFakeOpenAI({
      handler: scriptByAgent({
        code_agent: [
          {
            toolCalls: [
              { name: 'run_code', arguments: { language: 'python', code: 'import os, time\nopen("ran.log", "a").write("ran\\n")\nopen("pid.txt", "w").write(str(os.getpid()))\ntime.sleep(30)' } },
            ],
          },
          (req) => ({ content: `after the crash: ${toolResult(req).slice(0, 40)}` }),
        ],
      }),
    });
    setup = crashSetup(fake.url, { agents: { code_agent: { autoApproveTools: ['run_code'] } } });
    const first = setup.child({ action: 'send', conversationKey: 'cli:crash-tool', text: 'Run it', agent: 'code_agent' });
    const { runId, conversationId } = (await first.waitForReport('queued')) as { runId: string; conversationId: string };
    const workspace = join(setup.dir, 'workspaces', conversationId);
    const pidFile = join(workspace, 'pid.txt');
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0, 'the code to be running');
    const codePid = Number(readFileSync(pidFile, 'utf8'));
    cleanups.push(() => {
      try {
        process.kill(-codePid, 'SIGKILL'); // the code ran in its own process group, which outlives its parent
      } catch {
        // already gone
      }
    });
    await first.kill9();

    const run = await resumeAndFinish(setup, runId);
    expect(run).toMatchObject({ status: 'completed', reply: `after the crash: ${INTERRUPTED_RESULT.slice(0, 40)}` });
    expect(readFileSync(join(workspace, 'ran.log'), 'utf8')).toBe('ran\n'); // once
    expect(agents()).toEqual(['code_agent', 'code_agent']);
    const db = setup.open();
    try {
      const threads = await checkTranscript(db.store, conversationId);
      expect(threads.code_agent!.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
      expect(threads.code_agent![2]).toMatchObject({ content: INTERRUPTED_RESULT, isError: true });
      const steps = await db.store.listRunSteps(runId);
      expect(steps.map((s) => `${s.type}:${s.status}`)).toEqual(['model_call:completed', 'tool_call:interrupted', 'model_call:completed']);
    } finally {
      db.close();
    }
  });

  it('during a tool call that is idempotent: it is run again and its result is used', async () => {
    fake = await startFakeOpenAI({
      handler: scriptByAgent({
        echoer: [{ toolCalls: [{ name: 'slow_echo', arguments: { text: 'hello' } }] }, (req) => ({ content: `got ${toolResult(req)}` })],
      }),
    });
    setup = crashSetup(fake.url, { agents: { echoer: { description: 'Echoes.', tools: ['slow_echo'] } } });
    const log = () => (existsSync(join(setup!.dir, 'slow_echo.log')) ? readFileSync(join(setup!.dir, 'slow_echo.log'), 'utf8').trim().split('\n') : []);
    const first = setup.child({ action: 'send', conversationKey: 'cli:crash-idem', text: 'Echo hello', agent: 'echoer' });
    const { runId, conversationId } = (await first.waitForReport('queued')) as { runId: string; conversationId: string };
    await until(() => log().length === 1, 'the tool to start');
    await first.kill9();
    writeFileSync(join(setup.dir, 'release'), '');

    const run = await resumeAndFinish(setup, runId);
    expect(run).toMatchObject({ status: 'completed', reply: 'got echo: hello' });
    expect(log()).toHaveLength(2); // started in each life
    expect(agents()).toEqual(['echoer', 'echoer']);
    const db = setup.open();
    try {
      const threads = await checkTranscript(db.store, conversationId);
      expect(threads.echoer!.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    } finally {
      db.close();
    }
  });

  it('while awaiting approval: the approval stays pending, is decided from the CLI, and the run finishes', async () => {
    fake = await startFakeOpenAI({
      handler: scriptByAgent({
        proxy: [delegate('code_agent', 'Compute 6*7'), (req) => ({ content: `proxy: ${toolResult(req)}` })],
        code_agent: [
          { toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } }] },
          (req) => ({ content: toolResult(req).includes('42') ? 'It is 42.' : `unexpected: ${toolResult(req)}` }),
        ],
      }),
    });
    setup = crashSetup(fake.url);
    const first = setup.child({ action: 'send', conversationKey: 'cli:crash-approval', text: 'What is 6*7?' });
    const { runId, conversationId } = (await first.waitForReport('queued')) as { runId: string; conversationId: string };
    const db = setup.open();
    try {
      const approval = await until(async () => (await db.approvals.listApprovals({ conversationId, status: 'pending' }))[0], 'the approval to be asked');
      await first.kill9();
      expect((await db.approvals.getApproval(approval.id))!.status).toBe('pending');
      expect((await db.store.getRun(approval.runId!))!.status).toBe('requires_action');

      // A new process resumes the run, which waits for the same approval (not a new one) ...
      const second = setup.child({ action: 'resume', runId });
      await second.waitForReport('ready');
      // ... and a person decides it from another terminal.
      const listed = setup.cli(['approvals']);
      expect((await listed.exited).code).toBe(0);
      expect(listed.stdout()).toContain(`${approval.id}  tool call  code_agent · run_code  asked by cli:alice`);
      expect(listed.stdout()).toContain('code_agent (asked by proxy) wants to run python code:\n    print(6*7)');
      const approve = setup.cli(['approve', approval.id]);
      expect((await approve.exited).code).toBe(0);
      expect(approve.stdout()).toContain(`Approved ${approval.id}: code_agent (asked by proxy) wants to run python code:`);

      const done = await second.waitForReport('done');
      expect(done.run).toMatchObject({ status: 'completed', reply: 'proxy: It is 42.' });
      expect(agents()).toEqual(['proxy', 'code_agent', 'code_agent', 'proxy']);
      expect(await db.approvals.listApprovals({ conversationId })).toHaveLength(1);
      const threads = await checkTranscript(db.store, conversationId);
      expect(threads.code_agent!.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
      expect(threads.proxy!.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    } finally {
      db.close();
    }
  });

  it('a restarted process does not wait out the dead process\'s lease', async () => {
    fake = await startFakeOpenAI({ handler: scriptByAgent({ proxy: [{ hang: true }, { content: 'back' }] }) });
    setup = crashSetup(fake.url);
    const first = setup.child({ action: 'send', conversationKey: 'cli:crash-lease', text: 'hi' });
    const { runId } = (await first.waitForReport('queued')) as { runId: string };
    await until(() => count('proxy') === 1, 'the model call');
    await first.kill9();
    const db = setup.open();
    try {
      const held = (await db.store.getRun(runId))!;
      expect(held.leaseUntil! - Date.now()).toBeGreaterThan(20_000); // still "held" for a long while
    } finally {
      db.close();
    }
    const run = await resumeAndFinish(setup, runId);
    expect(run).toMatchObject({ status: 'completed', reply: 'back' });
    expect(readdirSync(setup.dir)).toContain('switchboard.db');
  });
});
