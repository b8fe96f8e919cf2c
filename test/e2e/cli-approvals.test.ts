/**
 * `run` and `chat` when work waits for a person, through the built binary: what waits is shown with
 * its id and the commands that decide it; at a terminal (a real pty, through `script`) it is asked
 * inline; an interrupted conversation is carried through to the new message's answer.
 */
import { spawn, spawnSync } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, assertBuilt } from '../support/cli.js';
import { crashSetup, type CrashSetup } from '../support/crash.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI, type FakeChatRequest, type FakeReply } from '../support/fake-openai.js';
import { plannerReply, until } from '../support/plans.js';
import { delegate } from '../support/replies.js';

let fake: FakeOpenAI | undefined;
let setup: CrashSetup | undefined;
const ttys: { kill(): void }[] = [];
beforeAll(() => assertBuilt());
afterEach(async () => {
  for (const t of ttys.splice(0)) t.kill();
  setup?.remove();
  setup = undefined;
  await fake?.close();
  fake = undefined;
});

const CODE = 'print(6 * 7)';

/**
 * The proxy hands "compute" to the code agent, which wants to run code (an approval); after the
 * decision it reports the tool's answer. Any other message gets a plain reply. `slowAfterDecision`
 * delays the code agent's answer: long enough for the engine's heartbeat to look while a resumed
 * run is still working (the moment bug 1 needed).
 */
function team(opts: { slowAfterDecision?: boolean } = {}) {
  const last = (req: FakeChatRequest) => req.messages.filter((m) => m.role === 'user').at(-1)?.content;
  return scriptByAgent({
    proxy: (req): FakeReply => {
      if (req.toolResults.length > 0) return { content: `proxy: ${req.toolResults[0]!.content}` };
      return last(req) === 'compute' ? delegate('code_agent', 'Compute 6*7 with python.') : { content: `proxy: ${String(last(req))}` };
    },
    code_agent: (req): FakeReply =>
      req.toolResults.length === 0
        ? { toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: CODE } }] }
        : { content: `code agent: ${req.toolResults[0]!.content}`, latencyMs: opts.slowAfterDecision ? 600 : 0 },
  });
}

/** What the agent's last model call got back from its tool. */
function lastToolResult(f: FakeOpenAI, agent: string): string {
  const messages = f.requests.filter((r) => r.agent === agent).at(-1)?.body.messages ?? [];
  return String(messages.filter((m) => m.role === 'tool').at(-1)?.content);
}

const approvalIn = (text: string) => /switchboard approve (apr_\w+)/.exec(text)?.[1];

describe('switchboard run, when work waits for an approval', () => {
  it('answers a follow-up in a conversation whose interrupted run was rejected from another terminal', async () => {
    fake = await startFakeOpenAI({ handler: team({ slowAfterDecision: true }) });
    setup = crashSetup(fake.url);
    const first = setup.cli(['run', '--conversation', 'calc', 'compute']);
    const id = await until(() => approvalIn(first.stderr()), 'the approval on stderr');
    await first.kill9();

    const reject = setup.cli(['reject', id, '--feedback', 'no code today']);
    expect((await reject.exited).code).toBe(0);
    // The whole of what was decided, the code too — not a head line ending in a colon.
    expect(reject.stdout()).toContain(`Rejected ${id}: code_agent (asked by proxy) wants to run python code:\n    ${CODE}\n`);

    const followUp = setup.cli(['run', '--conversation', 'calc', 'follow-up']);
    const { code } = await followUp.exited;
    expect(followUp.stderr()).toBe('');
    expect(followUp.stdout()).toBe('proxy: follow-up\n');
    expect(code).toBe(0);
    const { store, close } = setup.open();
    try {
      const runs = await store.listRuns({});
      expect(runs.filter((r) => r.status !== 'completed').map((r) => `${r.agent} ${r.status}`)).toEqual([]);
    } finally {
      close();
    }
    // The interrupted work was carried through first: the code agent heard the feedback, the proxy answered it.
    expect(lastToolResult(fake, 'code_agent')).toContain('no code today');
  });

  it('shows what waits, its id and the commands (piped), and finishes once it is decided elsewhere', async () => {
    fake = await startFakeOpenAI({ handler: team() });
    setup = crashSetup(fake.url);
    const run = setup.cli(['run', '--conversation', 'shown', 'compute']);
    const id = await until(() => approvalIn(run.stderr()), 'the approval on stderr');
    expect(run.stderr()).toBe(
      `switchboard: ${id} waits for a decision: code_agent (asked by proxy) wants to run python code:\n` +
        `    ${CODE}\n` +
        `  approve: switchboard approve ${id}\n` +
        `  reject:  switchboard reject ${id} --feedback "why, and what instead"\n`,
    );
    expect(run.stdout()).toBe('');
    const reject = setup.cli(['reject', id, '--feedback', 'use the calculator']);
    expect((await reject.exited).code).toBe(0);
    const { code } = await run.exited;
    expect(run.stdout()).toMatch(/^proxy: code agent: .*use the calculator/);
    expect(code).toBe(0);
  });

  it('chat with piped input shows the approval the same way and never takes a line for the answer', async () => {
    fake = await startFakeOpenAI({ handler: team() });
    setup = crashSetup(fake.url);
    const chat = setup.cli(['chat', '--conversation', 'piped']);
    chat.write('compute');
    chat.write('y'); // a message of its own, asked after the first is answered — not a decision
    chat.proc.stdin!.end();
    const id = await until(() => approvalIn(chat.stderr()), 'the approval on stderr');
    expect(chat.stderr()).toContain(`switchboard: ${id} waits for a decision: code_agent (asked by proxy) wants to run python code:\n    ${CODE}\n`);
    expect((await setup.cli(['reject', id, '--feedback', 'piped no']).exited).code).toBe(0);
    const { code } = await chat.exited;
    expect(chat.stdout()).toMatch(/proxy> proxy: code agent: .*piped no/);
    expect(chat.stdout()).toContain('proxy> proxy: y\n');
    expect(code).toBe(0);
  });

  it('shows an approval an interrupted run left pending before answering the new message behind it', async () => {
    fake = await startFakeOpenAI({ handler: team() });
    setup = crashSetup(fake.url);
    const first = setup.cli(['run', '--conversation', 'left', 'compute']);
    const id = await until(() => approvalIn(first.stderr()), 'the approval on stderr');
    await first.kill9();

    const second = setup.cli(['run', '--conversation', 'left', 'and then?']);
    await until(() => approvalIn(second.stderr()), 'the earlier approval on the new run’s stderr');
    expect(second.stderr()).toContain(`switchboard: ${id} waits for a decision: code_agent (asked by proxy) wants to run python code:`);
    expect((await setup.cli(['reject', id]).exited).code).toBe(0);
    const { code } = await second.exited;
    expect(second.stdout()).toBe('proxy: and then?\n');
    expect(code).toBe(0);
  });
});

/** `script` gives the CLI a real terminal (a pty) as stdin and stdout. */
const HAS_SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

function startTty(s: CrashSetup, args: string[]) {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, BIN, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    cwd: s.dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: s.dir, SHELL: '/bin/sh', TERM: 'dumb', OPENAI_BASE_URL: fake!.url, SWITCHBOARD_USER: 'alice' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  ttys.push({ kill: () => child.kill('SIGKILL') });
  // Terminal output: CRLF line ends and readline's cursor codes, which the assertions do not care about.
  const text = () => stripVTControlCharacters(out).replace(/\r/g, '');
  return {
    text,
    type: (line: string) => child.stdin.write(`${line}\r`),
    waitFor: (needle: string) => until(() => text().includes(needle), `"${needle}" on the terminal; so far: ${JSON.stringify(text())}`, 15_000),
    exited,
  };
}

describe.skipIf(!HAS_SCRIPT)('at a terminal, the approval is asked inline', () => {
  it('run: "n <feedback>" rejects it and the reply follows', async () => {
    fake = await startFakeOpenAI({ handler: team() });
    setup = crashSetup(fake.url);
    const tty = startTty(setup, ['run', '--conversation', 'inline', 'compute']);
    await tty.waitFor('Allow it? [y]es / [n]o <feedback>: ');
    expect(tty.text()).toMatch(/\? code_agent \(asked by proxy\) wants to run python code:\n {4}print\(6 \* 7\)\n {2}\(apr_\w+; it can also be decided from another terminal\)\n/);
    tty.type('n use a calculator');
    expect(await tty.exited).toBe(0);
    expect(tty.text()).toMatch(/proxy: code agent: .*use a calculator/);
    const { approvals, close } = setup.open();
    try {
      expect((await approvals.listApprovals({})).map((a) => `${a.status} ${a.decidedBy?.userId} ${a.feedback}`)).toEqual(['rejected alice use a calculator']);
    } finally {
      close();
    }
  });

  it('run: a decision made in another terminal first withdraws the question', async () => {
    fake = await startFakeOpenAI({ handler: team() });
    setup = crashSetup(fake.url);
    const tty = startTty(setup, ['run', '--conversation', 'elsewhere', 'compute']);
    await tty.waitFor('Allow it? [y]es / [n]o <feedback>: ');
    const id = /\((apr_\w+); it can also be decided/.exec(tty.text())![1]!;
    expect((await setup.cli(['reject', id, '--feedback', 'decided elsewhere']).exited).code).toBe(0);
    expect(await tty.exited).toBe(0);
    expect(tty.text()).toContain(`${id} was rejected by cli:alice elsewhere.`);
    expect(tty.text()).toMatch(/proxy: code agent: .*decided elsewhere/);
  });

  it('chat: shows its prompt and what is typed, and asks about the approval in the conversation', async () => {
    fake = await startFakeOpenAI({ handler: team() });
    setup = crashSetup(fake.url);
    const tty = startTty(setup, ['chat', '--conversation', 'talk']);
    await tty.waitFor('you> ');
    tty.type('compute');
    await tty.waitFor('Allow it? [y]es / [n]o <feedback>: ');
    expect(tty.text()).toContain('you> compute\n'); // echoed as typed
    tty.type('maybe');
    await tty.waitFor('Answer y, or n with what to do instead.');
    tty.type('n not now');
    await tty.waitFor('proxy> proxy: code agent:');
    tty.type('/exit');
    expect(await tty.exited).toBe(0);
    expect(lastToolResult(fake, 'code_agent')).toContain('not now');
  });
});

describe.skipIf(!HAS_SCRIPT)('chat at a terminal, in a conversation an interrupted run left waiting', () => {
  it('asks about the pending approval at once, then carries the interrupted work to its reply', async () => {
    fake = await startFakeOpenAI({ handler: team() });
    setup = crashSetup(fake.url);
    const first = setup.cli(['run', '--conversation', 'again', 'compute']);
    const id = await until(() => approvalIn(first.stderr()), 'the approval on stderr');
    await first.kill9();

    const tty = startTty(setup, ['chat', '--conversation', 'again']);
    await tty.waitFor('Allow it? [y]es / [n]o <feedback>: ');
    expect(tty.text()).toContain(`(${id}; it can also be decided from another terminal)`);
    tty.type('n too late');
    // The resumed proxy run's reply, streamed: waited for until it has come whole.
    await until(() => /proxy> proxy: code agent: .*too late/.test(tty.text()), 'the whole reply on the terminal', 15_000);
    await tty.waitFor('you> ');
    tty.type('/exit');
    expect(await tty.exited).toBe(0);
    // "n too late" was the answer, not a message of its own.
    expect(fake.requests.filter((r) => r.agent === 'proxy').flatMap((r) => r.body.messages).some((m) => m.role === 'user' && m.content === 'n too late')).toBe(false);
  });
});

describe('plan steps approved with an edited action', () => {
  it('the step line shows the edited action, and approve --action says what will run instead', async () => {
    fake = await startFakeOpenAI({
      handler: scriptByAgent({
        planner: [plannerReply(['vision_agent', 'Look at the picture'], ['code_agent', 'Count the legs'])],
        vision_agent: [{ content: 'A cat.' }],
        code_agent: (req) => ({ content: `counted (${String(req.messages.at(-1)?.content).split('Your step: ')[1]?.split('\n')[0]})` }),
        proxy: [{ content: 'Done.' }],
      }),
    });
    setup = crashSetup(fake.url);
    const plan = setup.cli(['plan', 'Look and count']);
    await plan.waitForStdout('Approve? ');
    plan.write('y');
    await plan.waitForStdout('Step 2 of 2');
    plan.proc.stdin!.end(); // leave step 2 waiting (exit 3), to approve it from "another terminal"
    expect((await plan.exited).code).toBe(3);
    const id = /Waiting for a decision on (apr_\w+)/.exec(plan.stdout())![1]!;

    const approve = setup.cli(['approve', id, '--action', 'Count the legs twice']);
    expect((await approve.exited).code).toBe(0);
    expect(approve.stdout()).toContain(
      `Approved ${id} with the edited action: Count the legs twice\n  (instead of: Plan "Look and count", step 2 of 2 — code_agent: Count the legs)\n`,
    );
    const resumed = setup.cli(['plan', '--resume']);
    expect((await resumed.exited).code).toBe(0);
    expect(resumed.stdout()).toContain('✓ 2. code_agent (edited: Count the legs twice): counted (Count the legs twice)');
  });
});
