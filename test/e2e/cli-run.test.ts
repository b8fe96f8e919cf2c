/**
 * `switchboard run`, `agents`, `--help` and the command line's errors, through the built binary
 * against the scripted fake OpenAI server. Every process gets a fresh working directory (so its own
 * SQLite store) and an environment we choose: never the real OPENAI_API_KEY.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { builtinAgents } from '../../src/core/agents/defaults.js';
import { assertBuilt, runCli, STACK_LINE, tempDir } from '../support/cli.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { delegate } from '../support/replies.js';

let fake: FakeOpenAI | undefined;
let cwd: ReturnType<typeof tempDir> | undefined;
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  cwd?.remove();
  cwd = undefined;
});


/** A fake server, a fresh working directory, and a `switchboard` pointed at both. */
async function setup(files: Record<string, string> = {}) {
  fake = await startFakeOpenAI();
  cwd = tempDir(files);
  const env = { OPENAI_BASE_URL: fake.url };
  const sb = (args: string[], extraEnv: Record<string, string> = {}) => runCli(args, { cwd: cwd!.dir, env: { ...env, ...extraEnv } });
  return { fake, dir: cwd.dir, sb };
}

describe('switchboard run "text"', () => {
  it('delegates to a specialist and prints only the final reply on stdout', async () => {
    const { fake, sb } = await setup();
    fake.setHandler(
      scriptByAgent({
        proxy: [delegate('vision_agent', 'What is in cat.png?'), (req) => ({ content: `The team says: ${req.toolResults[0]!.content}` })],
        vision_agent: [{ content: 'A black cat on a red sofa.' }],
      }),
    );
    const out = await sb(['run', 'Describe cat.png']);

    expect(out.stderr).toBe('');
    expect(out.stdout).toBe('The team says: A black cat on a red sofa.\n');
    expect(out.code).toBe(0);
    expect(fake.requests.map((r) => r.agent)).toEqual(['proxy', 'vision_agent', 'proxy']);
    expect(fake.requests[0]!.body.messages.at(-1)).toMatchObject({ role: 'user', content: 'Describe cat.png' });
  });

  it('sends no API key it was not given: a local server gets a placeholder', async () => {
    const { fake, sb } = await setup();
    fake.setHandler(scriptByAgent({ proxy: [{ content: 'hi' }] }));
    const out = await sb(['run', 'hello']);
    expect(out.code).toBe(0);
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer not-needed');
  });

  it('continues a conversation by name, and starts a new one for a new name', async () => {
    const { fake, sb } = await setup();
    fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `reply to ${req.lastUserText}` }) }));

    expect((await sb(['run', 'My cat is called Tom.', '--conversation', 'pets'])).stdout).toBe('reply to My cat is called Tom.\n');
    expect((await sb(['run', '--conversation', 'pets', 'What is my cat called?'])).stdout).toBe('reply to What is my cat called?\n');
    expect((await sb(['run', 'Who am I?', '--conversation', 'other'])).stdout).toBe('reply to Who am I?\n');

    const history = (i: number) => fake.requests[i]!.body.messages.filter((m) => m.role !== 'system').map((m) => [m.role, m.content]);
    // The second process reads the first exchange back from the store in the working directory.
    expect(history(1)).toEqual([
      ['user', 'My cat is called Tom.'],
      ['assistant', 'reply to My cat is called Tom.'],
      ['user', 'What is my cat called?'],
    ]);
    expect(history(2)).toEqual([['user', 'Who am I?']]);
  });

  it('starts a fresh conversation each time without --conversation', async () => {
    const { fake, sb } = await setup();
    fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `reply to ${req.lastUserText}` }) }));
    await sb(['run', 'one']);
    await sb(['run', 'two']);
    expect(fake.requests[1]!.body.messages.filter((m) => m.role !== 'system')).toEqual([{ role: 'user', content: 'two' }]);
  });

  it('sends to one agent directly with --agent', async () => {
    const { fake, sb } = await setup();
    fake.setHandler(scriptByAgent({ vision_agent: [{ content: 'A dog.' }] }));
    const out = await sb(['run', '--agent', 'vision_agent', 'What is in dog.png?']);
    expect(out.stdout).toBe('A dog.\n');
    expect(fake.requests.map((r) => r.agent)).toEqual(['vision_agent']);
  });

  it('retries a 429 and then answers', async () => {
    const { fake, sb } = await setup();
    fake.setHandler(scriptByAgent({ proxy: [{ content: 'answered after a retry' }] }));
    fake.failNext(1, 429);
    const out = await sb(['run', 'hello']);

    expect(out.stdout).toBe('answered after a retry\n');
    expect(out.code).toBe(0);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('mentions a retried model call on stderr only with --verbose', async () => {
    const { fake, sb } = await setup();
    fake.setHandler(scriptByAgent({ proxy: [{ content: 'quiet' }, { content: 'verbose' }] }));
    fake.failNext(1, 429);
    const quiet = await sb(['run', 'hello']);
    expect(quiet.stdout).toBe('quiet\n');
    expect(quiet.stderr).toBe('');
    fake.failNext(1, 429);
    const verbose = await sb(['run', '--verbose', 'hello']);
    expect(verbose.stdout).toBe('verbose\n');
    expect(verbose.stderr).toMatch(/model call failed; retrying .*"status":429/);
  });

  it('exits 1 with a one-line reason on stderr, and no stack trace, when the model keeps failing', async () => {
    const { fake, sb } = await setup({ 'switchboard.yaml': 'limits:\n  modelRetries: 1\n' });
    fake.failNext(10, 500);
    const out = await sb(['run', 'hello']);

    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).not.toMatch(STACK_LINE);
    const lines = out.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^switchboard: proxy run failed: .*500/);
    expect(lines[0]).toContain('injected failure 500');
    expect(fake.requests).toHaveLength(2);
  });

  it('exits 1 with a one-line reason, printing no partial answer, when the stream keeps being cut', async () => {
    const { fake, sb } = await setup({ 'switchboard.yaml': 'limits:\n  modelRetries: 1\n' });
    fake.failNext(2, 'cut_mid_stream');
    const out = await sb(['run', 'hello']);

    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(
      `switchboard: proxy run failed: Model API at ${fake.url} ended the stream before the answer was complete (no finish_reason, no [DONE]) (after 2 attempts).\n`,
    );
  });

  it('exits 1 and names the agent that could not answer when a specialist fails inside a delegation', async () => {
    const { fake, sb } = await setup({ 'switchboard.yaml': 'limits:\n  modelRetries: 0\n' });
    fake.setHandler(
      scriptByAgent({
        proxy: [delegate('vision_agent', 'look'), (req) => ({ content: `could not: ${req.toolResults[0]!.content}` })],
        vision_agent: [{ status: 500, error: 'vision is down' }],
      }),
    );
    const out = await sb(['run', 'look at it']);
    // The proxy is told and answers the user; the run itself completes.
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^could not: .*vision is down/);
  });

  it('exits 2 and says what to set when no model API is configured', async () => {
    cwd = tempDir();
    const out = await runCli(['run', 'hello'], { cwd: cwd.dir, env: { PATH: process.env.PATH ?? '', HOME: cwd.dir } });

    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/^switchboard: No model API is configured\./);
    for (const name of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'AZURE_OPENAI_ENDPOINT']) expect(out.stderr).toContain(name);
    expect(out.stderr).not.toMatch(STACK_LINE);
  });

  it('runs when every agent names a configured provider and the default one is unused', async () => {
    fake = await startFakeOpenAI({ handler: scriptByAgent({ lead: [{ content: 'from the local server' }] }) });
    cwd = tempDir({
      'switchboard.yaml': [
        'builtinAgents: false',
        'providers:',
        '  local:',
        '    type: openai',
        `    baseURL: ${fake.url}`,
        'agents:',
        '  lead:',
        '    role: proxy',
        '    description: Talks with people.',
        '    provider: local',
        '',
      ].join('\n'),
    });
    const out = await runCli(['run', 'hello'], { cwd: cwd.dir, env: {} });
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe('from the local server\n');
  });

  it('exits 2 and says what to set when Azure OpenAI has an endpoint but no key', async () => {
    cwd = tempDir();
    const out = await runCli(['run', 'hello'], { cwd: cwd.dir, env: { AZURE_OPENAI_ENDPOINT: 'https://acme.openai.azure.com' } });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('AZURE_OPENAI_API_KEY');
  });

  it('exits 2 naming the file, the line and the path of a mistake in switchboard.yaml, without a stack trace', async () => {
    const { fake, dir, sb } = await setup({
      'switchboard.yaml': ['agents:', '  vision_agent:', '    model: gpt-4o', '  helper:', '    description: Helps.', '    maxTurns: lots', ''].join('\n'),
    });
    const out = await sb(['run', 'hello']);

    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`${dir}/switchboard.yaml:6 agents.helper.maxTurns:`);
    expect(out.stderr).not.toMatch(STACK_LINE);
    expect(fake.requests).toHaveLength(0);
  });

  it('exits 2 for a YAML syntax error, naming the line', async () => {
    const { dir, sb } = await setup({ 'switchboard.yaml': 'defaults:\n  model: a\n  model: b\n' });
    const out = await sb(['run', 'hello']);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(`switchboard: ${dir}/switchboard.yaml:3: Map keys must be unique\n`);
  });

  it('exits 2 with one line, and no stack trace, for a YAML alias bomb', async () => {
    const bomb = ['x0: &x0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let i = 1; i <= 9; i++) bomb.push(`x${i}: &x${i} [${Array.from({ length: 9 }, () => `*x${i - 1}`).join(', ')}]`);
    const { fake, dir, sb } = await setup({ 'switchboard.yaml': bomb.join('\n') + '\n' });
    const out = await sb(['run', 'hello']);

    expect(out.code).toBe(2);
    expect(out.stderr).toBe(
      `switchboard: ${dir}/switchboard.yaml:2: too many aliases: expanding its anchors would repeat data more than 100 times (a "billion laughs" document?)\n`,
    );
    expect(fake.requests).toHaveLength(0);
  });

  it('reads the file --config or SWITCHBOARD_CONFIG names, and exits 2 when it does not exist', async () => {
    const { fake, dir, sb } = await setup({ 'team.yaml': 'agents:\n  proxy:\n    model: team-model\n' });
    fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `model ${req.model}` }) }));

    expect((await sb(['run', 'hi', '--config', 'team.yaml'])).stdout).toBe('model team-model\n');
    expect((await sb(['run', 'hi'], { SWITCHBOARD_CONFIG: 'team.yaml' })).stdout).toBe('model team-model\n');
    const missing = await sb(['run', 'hi', '--config', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`switchboard: Config file not found: ${dir}/nope.yaml\n`);
  });

  it('shows the team at work on stderr with --verbose, the reply alone on stdout', async () => {
    const { fake, sb } = await setup();
    fake.setHandler(
      scriptByAgent({
        proxy: [delegate('vision_agent', 'What is in cat.png?'), { content: 'A cat.' }],
        vision_agent: [{ content: 'A black cat.' }],
      }),
    );
    const out = await sb(['run', '--verbose', 'Describe cat.png']);

    expect(out.code).toBe(0);
    expect(out.stdout).toBe('A cat.\n');
    expect(out.stderr).toContain('→ vision_agent: What is in cat.png?');
    expect(out.stderr).toContain('← vision_agent answered');
    expect(out.stderr.indexOf('→ vision_agent')).toBeLessThan(out.stderr.indexOf('← vision_agent'));
  });

  it('exits 2 when there is nothing to send', async () => {
    const { sb } = await setup();
    const out = await sb(['run']);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^switchboard: Nothing to send\. Usage: switchboard run "message"/);
  });

  it('exits 2 for a message over the configured limit, sending nothing', async () => {
    const { fake, sb } = await setup({ 'switchboard.yaml': 'limits:\n  maxMessageChars: 20\n' });
    const out = await sb(['run', 'x'.repeat(30)]);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe('switchboard: The message has 30 characters; the limit is 20.\n');
    expect(fake.requests).toHaveLength(0);
  });

  it('exits 2 naming an unknown --agent and the valid ones', async () => {
    const { fake, sb } = await setup();
    const out = await sb(['run', '--agent', 'painter', 'paint']);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe('switchboard: Unknown agent "painter". Valid agents: proxy, image_agent, vision_agent, code_agent, planner.\n');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('switchboard agents', () => {
  it('lists the built-in agents with their roles, models and tools, without needing credentials', async () => {
    cwd = tempDir();
    const out = await runCli(['agents'], { cwd: cwd.dir, env: {} });

    expect(out.code).toBe(0);
    const rows = out.stdout.split('\n').map((l) => l.split(/\s{2,}/));
    expect(rows[0]).toEqual(['AGENT', 'ROLE', 'MODEL', 'TOOLS']);
    expect(rows.slice(1, 6)).toEqual([
      ['proxy', 'proxy', 'gpt-4o-mini', builtinAgents.proxy!.tools!.join(', ')],
      ['image_agent', 'specialist', 'gpt-4o-mini', 'generate_image'],
      ['vision_agent', 'specialist', 'gpt-4o-mini', 'analyze_image'],
      ['code_agent', 'specialist', 'gpt-4o-mini', 'write_file, read_file, list_files, run_code'],
      ['planner', 'planner', 'gpt-4o-mini', '-'],
    ]);
    expect(out.stdout).toMatch(/^vision_agent: Analyses images/m);
  });

  it('shows agents and overrides from switchboard.yaml', async () => {
    cwd = tempDir({
      'switchboard.yaml': [
        'providers:',
        '  azure:',
        '    type: azure',
        '    endpoint: https://acme.openai.azure.com',
        'agents:',
        '  translator:',
        '    description: Translates text between languages.',
        '    tools: [read_file]',
        '  vision_agent:',
        '    model: gpt-4o',
        '    provider: azure',
        '',
      ].join('\n'),
    });
    const out = await runCli(['agents'], { cwd: cwd.dir, env: {} });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^translator\s+specialist\s+gpt-4o-mini\s+read_file$/m);
    expect(out.stdout).toMatch(/^vision_agent\s+specialist\s+gpt-4o @azure\s+analyze_image$/m);
    expect(out.stdout).toContain('translator: Translates text between languages.');
  });

  it('prints JSON with --json', async () => {
    cwd = tempDir();
    const out = await runCli(['agents', '--json'], { cwd: cwd.dir, env: {} });
    const list = JSON.parse(out.stdout) as { name: string; role: string; tools: string[]; model: string }[];
    expect(list.map((a) => a.name)).toEqual(['proxy', 'image_agent', 'vision_agent', 'code_agent', 'planner']);
    expect(list[0]).toMatchObject({ role: 'proxy', tools: builtinAgents.proxy!.tools, model: 'gpt-4o-mini' });
    expect(list[0]!.tools).toContain('send_message');
  });

  it('exits 2 for a bad config, naming file and line', async () => {
    cwd = tempDir({ 'switchboard.yaml': 'agents:\n  helper:\n    model: x\n' });
    const out = await runCli(['agents'], { cwd: cwd.dir, env: {} });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`${cwd.dir}/switchboard.yaml:2 agents.helper.description: is required`);
    expect(out.stderr).not.toMatch(STACK_LINE);
  });
});

describe('the command line', () => {
  it.each([
    ['run', /^Usage: switchboard run "message"/],
    ['chat', /^Usage: switchboard chat/],
    ['agents', /^Usage: switchboard agents/],
  ])('explains `%s --help` on stdout and exits 0', async (command, usage) => {
    cwd = tempDir();
    for (const flag of ['--help', '-h']) {
      const out = await runCli([command, flag], { cwd: cwd.dir, env: {} });
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(usage);
      expect(out.stderr).toBe('');
    }
  });

  it('lists the commands with --help', async () => {
    cwd = tempDir();
    const out = await runCli(['--help'], { cwd: cwd.dir, env: {} });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^Usage: switchboard <command>/);
    for (const command of ['chat', 'run', 'agents']) expect(out.stdout).toMatch(new RegExp(`^  ${command}\\s`, 'm'));
  });

  it('prints the version with --version', async () => {
    cwd = tempDir();
    const out = await runCli(['--version'], { cwd: cwd.dir, env: {} });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('without a command, shows the usage on stderr and exits 2', async () => {
    cwd = tempDir();
    const out = await runCli([], { cwd: cwd.dir, env: {} });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^Usage: switchboard <command>/);
    expect(out.stdout).toBe('');
  });

  it('exits 2 for an unknown command, listing the commands', async () => {
    cwd = tempDir();
    const out = await runCli(['frobnicate'], { cwd: cwd.dir, env: {} });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^switchboard: unknown command "frobnicate"\. Commands: .*chat.*run.*agents/);
    expect(out.stderr).toContain('--help');
    expect(out.stderr).not.toMatch(STACK_LINE);
  });

  it('exits 2 for an unknown flag, naming it', async () => {
    cwd = tempDir();
    for (const args of [['run', '--frobnicate', 'hi'], ['agents', '--frobnicate'], ['chat', '--frobnicate']]) {
      const out = await runCli(args, { cwd: cwd.dir, env: {} });
      expect(out.code, args.join(' ')).toBe(2);
      expect(out.stderr, args.join(' ')).toBe(`switchboard: unknown option --frobnicate for '${args[0]}' (see switchboard ${args[0]} --help)\n`);
      expect(out.stderr).not.toMatch(STACK_LINE);
    }
  });

  it('exits 2 for a flag that misses its value', async () => {
    cwd = tempDir();
    const out = await runCli(['run', 'hi', '--conversation'], { cwd: cwd.dir, env: {} });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^switchboard: .*--conversation/);
  });
});
