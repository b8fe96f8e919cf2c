/**
 * `switchboard chat` through the built binary, with piped input, against the scripted fake OpenAI
 * server. Each line is a message; the command exits once every line has been answered.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli, startCli, STACK_LINE, tempDir, type RunningCli } from '../support/cli.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { delegate } from '../support/replies.js';
import { CUT_TEXT } from '../support/fake-openai-faults.js';

let fake: FakeOpenAI | undefined;
let cwd: ReturnType<typeof tempDir> | undefined;
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  cwd?.remove();
  cwd = undefined;
});


async function setup(files: Record<string, string> = {}) {
  fake = await startFakeOpenAI();
  cwd = tempDir(files);
  return { fake, dir: cwd.dir, env: { OPENAI_BASE_URL: fake.url } };
}

describe('switchboard chat with piped input', () => {
  it('answers each line in order, shows the delegation, and exits 0 after the last line', async () => {
    const { fake, dir, env } = await setup();
    fake.setHandler(
      scriptByAgent({
        proxy: [
          delegate('vision_agent', 'What is in cat.png?'),
          (req) => ({ content: `The team says: ${req.toolResults[0]!.content}` }),
          { content: 'There is no dog in it.' },
        ],
        vision_agent: [{ content: 'A black cat.' }],
      }),
    );
    const out = await runCli(['chat'], { cwd: dir, env, input: 'Describe cat.png\nAnd the dog?\n' });

    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const lines = out.stdout.split('\n').filter(Boolean);
    expect(lines).toEqual(['  → vision_agent: What is in cat.png?', '  ← vision_agent answered', 'proxy> The team says: A black cat.', 'proxy> There is no dog in it.']);
    // The second line was sent after the first was answered, in the same conversation.
    const second = fake.requests.at(-1)!.body.messages.filter((m) => m.role === 'user' || (m.role === 'assistant' && !m.tool_calls));
    expect(second.map((m) => m.content)).toEqual(['Describe cat.png', 'The team says: A black cat.', 'And the dog?']);
  });

  it('streams the reply to stdout while the team is still working', async () => {
    const { fake, dir, env } = await setup();
    const running: { cli?: RunningCli } = {};
    fake.setHandler(
      scriptByAgent({
        proxy: [
          { content: 'Let me ask the vision agent. ', toolCalls: [{ name: 'send_message', arguments: { recipient: 'vision_agent', message: 'Look.' } }] },
          { content: 'It is a cat.', chunkSize: 3 },
        ],
        // The specialist answers only once the proxy's first words have reached the terminal.
        vision_agent: [
          async () => {
            await running.cli!.waitForStdout('proxy> Let me ask the vision agent.');
            return { content: 'A cat.' };
          },
        ],
      }),
    );
    running.cli = startCli(['chat'], { cwd: dir, env, input: 'What is this?\n' });
    const out = await running.cli.done;

    expect(out.code).toBe(0);
    expect(out.stdout).toContain('proxy> Let me ask the vision agent. ');
    expect(out.stdout.match(/It is a cat\./g)).toHaveLength(1);
    expect(out.stdout.trimEnd().endsWith('It is a cat.')).toBe(true);
    expect(fake.requests.every((r) => r.body.stream === true)).toBe(true);
  });

  it('continues a named conversation, also one that `run` started', async () => {
    const { fake, dir, env } = await setup();
    fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `reply to ${req.lastUserText}` }) }));
    await runCli(['run', 'My cat is called Tom.', '--conversation', 'pets'], { cwd: dir, env });
    const out = await runCli(['chat', '--conversation', 'pets'], { cwd: dir, env, input: 'What is my cat called?\n' });

    expect(out.code).toBe(0);
    expect(out.stdout).toBe('proxy> reply to What is my cat called?\n');
    expect(fake.requests[1]!.body.messages.filter((m) => m.role !== 'system').map((m) => m.content)).toEqual([
      'My cat is called Tom.',
      'reply to My cat is called Tom.',
      'What is my cat called?',
    ]);
  });

  it('says so when a streamed answer broke off and was asked again, then prints the whole retried answer', async () => {
    const { fake, dir, env } = await setup();
    fake.failNext(1, 'cut_mid_stream');
    fake.setHandler(scriptByAgent({ proxy: [{ content: 'The whole answer.' }] }));
    const out = await runCli(['chat'], { cwd: dir, env, input: 'hi\n' });

    expect(out.code).toBe(0);
    const lines = out.stdout.split('\n').filter(Boolean);
    expect(lines).toEqual([`proxy> ${CUT_TEXT}`, '  (the answer broke off; asking the model again)', 'proxy> The whole answer.']);
  });

  it('skips empty lines and stops at /exit', async () => {
    const { fake, dir, env } = await setup();
    fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `reply to ${req.lastUserText}` }) }));
    const out = await runCli(['chat'], { cwd: dir, env, input: '\n  \nhello\n/exit\nnever sent\n' });

    expect(out.code).toBe(0);
    expect(out.stdout).toBe('proxy> reply to hello\n');
    expect(fake.requests).toHaveLength(1);
  });

  it('answers a last line that has no newline', async () => {
    const { fake, dir, env } = await setup();
    fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `reply to ${req.lastUserText}` }) }));
    const out = await runCli(['chat'], { cwd: dir, env, input: 'one\ntwo' });
    expect(out.stdout).toBe('proxy> reply to one\nproxy> reply to two\n');
  });

  it('reports a failed line on stderr, goes on with the next, and exits 1', async () => {
    const { fake, dir, env } = await setup({ 'switchboard.yaml': 'limits:\n  modelRetries: 0\n' });
    fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `reply to ${req.lastUserText}` }) }));
    fake.failNext(1, 500);
    const out = await runCli(['chat'], { cwd: dir, env, input: 'first\nsecond\n' });

    expect(out.code).toBe(1);
    expect(out.stdout).toBe('proxy> reply to second\n');
    expect(out.stderr).toMatch(/^switchboard: proxy run failed: .*injected failure 500\n$/);
    expect(out.stderr).not.toMatch(STACK_LINE);
  });

  it('reports a message the engine refuses and answers the lines after it', async () => {
    const { fake, dir, env } = await setup({ 'switchboard.yaml': 'limits:\n  maxMessageChars: 20\n' });
    fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `reply to ${req.lastUserText}` }) }));
    const out = await runCli(['chat'], { cwd: dir, env, input: `${'x'.repeat(30)}\nshort one\n` });

    expect(out.code).toBe(1);
    expect(out.stderr).toBe('switchboard: The message has 30 characters; the limit is 20.\n');
    expect(out.stdout).toBe('proxy> reply to short one\n');
  });

  it('exits 0 at once on empty input', async () => {
    const { fake, dir, env } = await setup();
    const out = await runCli(['chat'], { cwd: dir, env, input: '' });
    expect(out.code).toBe(0);
    expect(out.stdout).toBe('');
    expect(fake.requests).toHaveLength(0);
  });

  it('exits 2 and says what to set when no model API is configured', async () => {
    cwd = tempDir();
    const out = await runCli(['chat'], { cwd: cwd.dir, env: {}, input: 'hello\n' });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('OPENAI_API_KEY');
    expect(out.stderr).toContain('OPENAI_BASE_URL');
    expect(out.stderr).toContain('AZURE_OPENAI_ENDPOINT');
  });

  it('rejects a message argument: chat reads its messages from the terminal', async () => {
    cwd = tempDir();
    const out = await runCli(['chat', 'hello'], { cwd: cwd.dir, env: {} });
    expect(out.code).toBe(2);
    expect(out.stderr).toBe('switchboard: unexpected argument "hello" for \'chat\': it takes options only (see switchboard chat --help)\n');
  });
});
