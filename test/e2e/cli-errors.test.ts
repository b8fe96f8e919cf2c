/**
 * How failures reach the terminal, through the built binary: one line of our own on stderr and the
 * README's exit status (1 failure, 2 bad usage or configuration); the stack only with --verbose or
 * SWITCHBOARD_LOG_LEVEL=debug. Command-line mistakes, and stores that cannot be opened.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli, STACK_LINE, tempDir } from '../support/cli.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';

let cwd: ReturnType<typeof tempDir> | undefined;
let fake: FakeOpenAI | undefined;
beforeAll(() => assertBuilt());
afterEach(async () => {
  cwd?.remove();
  cwd = undefined;
  await fake?.close();
  fake = undefined;
});

/** A model address nothing listens on: these commands fail before any model call. */
const NO_MODEL = { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' };

function sb(args: string[], env: Record<string, string> = {}) {
  cwd ??= tempDir();
  return runCli(args, { cwd: cwd.dir, env: { ...NO_MODEL, ...env } });
}

/** One line on stderr, no stack trace. */
function oneLine(stderr: string): string {
  expect(stderr).not.toMatch(STACK_LINE);
  expect(stderr.endsWith('\n')).toBe(true);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  return stderr.trimEnd();
}

describe('command-line mistakes get a short message of our own, exit 2', () => {
  it.each([
    [['run', '--bogus', 'hi'], "switchboard: unknown option --bogus for 'run' (see switchboard run --help)"],
    [['plan', '-z', 'goal'], "switchboard: unknown option -z for 'plan' (see switchboard plan --help)"],
    [['approve', 'apr_1', '--bogus=1'], "switchboard: unknown option --bogus for 'approve' (see switchboard approve --help)"],
    [['serve', '--prot', '80'], "switchboard: unknown option --prot for 'serve' (see switchboard serve --help)"],
    [['run', 'hi', '--conversation'], "switchboard: --conversation needs a value for 'run' (see switchboard run --help)"],
    [['run', '--agent', '--verbose', 'hi'], "switchboard: --agent needs a value for 'run' (see switchboard run --help)"],
    [['approvals', '--json=yes'], "switchboard: --json takes no value for 'approvals' (see switchboard approvals --help)"],
    [['chat', 'hello'], 'switchboard: unexpected argument "hello" for \'chat\': it takes options only (see switchboard chat --help)'],
    [['agents', '--', '--json'], 'switchboard: unexpected argument "--json" for \'agents\': it takes options only (see switchboard agents --help)'],
    [['--bogus', 'run', 'hi'], 'switchboard: unknown option --bogus before the command (see switchboard --help)'],
    [['--config'], 'switchboard: --config needs a value (see switchboard --help)'],
  ])('%j', async (args, message) => {
    const out = await sb(args);
    expect(oneLine(out.stderr)).toBe(message);
    expect(out.stdout).toBe('');
    expect(out.code).toBe(2);
  });

  it('accepts the common options before the command', async () => {
    fake = await startFakeOpenAI({ handler: scriptByAgent({ proxy: (req) => ({ content: `reply to ${req.lastUserText}` }) }) });
    cwd = tempDir({ 'other.yaml': 'agents:\n  proxy:\n    model: from-other-yaml\n' });
    const env = { OPENAI_BASE_URL: fake.url };
    const first = await sb(['--config', 'other.yaml', '--conversation', 'early', 'run', 'hi'], env);
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe('reply to hi\n');
    expect(first.code).toBe(0);
    expect(fake.requests[0]!.body.model).toBe('from-other-yaml');
    // The same conversation, named after the command this time: the first exchange is in its history.
    const second = await sb(['--config=other.yaml', 'run', '--conversation', 'early', 'again'], env);
    expect(second.stdout).toBe('reply to again\n');
    expect(fake.requests[1]!.body.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['hi', 'again']);

    const agents = await sb(['--config', 'other.yaml', 'agents', '--json']);
    expect(agents.code).toBe(0);
    expect((JSON.parse(agents.stdout) as { name: string; model: string }[]).find((a) => a.name === 'proxy')!.model).toBe('from-other-yaml');
  });
});

describe('a mistake in an adapter\'s config section is reported by that adapter, at its file and line', () => {
  it('`mcp` and `serve` refuse a broken mcp: section (exit 2); `agents` does not care about it', async () => {
    cwd = tempDir({ 'switchboard.yaml': 'defaults:\n  model: gpt-4o-mini\nmcp:\n  askTimeoutMs: soon\n' });
    const file = join(cwd.dir, 'switchboard.yaml');
    for (const args of [['mcp'], ['serve', '--port', '0']]) {
      const out = await sb(args);
      expect(out.stderr).not.toMatch(STACK_LINE);
      expect(out.stderr.trimEnd().split('\n')).toEqual([`switchboard: Invalid config ${file}:`, `  ${file}:4 mcp.askTimeoutMs: Invalid input: expected number, received string`]);
      expect(out.stdout).toBe('');
      expect(out.code).toBe(2);
    }
    const agents = await sb(['agents', '--json']);
    expect(agents.code).toBe(0);
  });
});

describe('a store that cannot be opened: one line saying what to check, exit 1', () => {
  const config = (store: object) => JSON.stringify({ store });

  it('PostgreSQL that refuses connections, never printing the password', async () => {
    cwd = tempDir({ 'switchboard.json': config({ type: 'postgres', url: 'postgres://bob:s3cret-pw@127.0.0.1:1/x' }) });
    for (const args of [['run', 'hi'], ['approvals'], ['plan', '--list']]) {
      const out = await sb(args);
      expect(oneLine(out.stderr), args.join(' ')).toBe('switchboard: cannot reach PostgreSQL at 127.0.0.1:1 (connection refused) — is it running? check store.url');
      expect(out.code).toBe(1);
    }
    const verbose = await sb(['run', 'hi', '--verbose']);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr.split('\n')[0]).toBe('switchboard: cannot reach PostgreSQL at 127.0.0.1:1 (connection refused) — is it running? check store.url');
    expect(verbose.stderr).toMatch(STACK_LINE);
    expect(verbose.stderr).toContain('ECONNREFUSED'); // the driver's own error, as the cause
    expect(verbose.stderr).not.toContain('s3cret-pw');
    const debug = await sb(['approvals'], { SWITCHBOARD_LOG_LEVEL: 'debug' });
    expect(debug.stderr).toMatch(STACK_LINE);

    const doctor = await sb(['doctor']);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain('FAIL  store postgres: cannot reach PostgreSQL at 127.0.0.1:1 (connection refused)');
  });

  it('a SQLite path whose folder cannot be made (a file is in the way)', async () => {
    cwd = tempDir({ 'switchboard.json': config({ type: 'sqlite', path: 'taken/switchboard.db' }), taken: 'a file, not a folder' });
    const out = await sb(['run', 'hi']);
    expect(oneLine(out.stderr)).toBe(
      `switchboard: cannot open the SQLite store ${join(cwd.dir, 'taken/switchboard.db')} (a file is in the way of its folder) — set store.path to a path inside a folder`,
    );
    expect(out.code).toBe(1);
  });

  it('a SQLite path that is a folder', async () => {
    cwd = tempDir({ 'switchboard.json': config({ type: 'sqlite', path: 'db-folder' }) });
    mkdirSync(join(cwd.dir, 'db-folder'));
    const out = await sb(['approvals']);
    expect(oneLine(out.stderr)).toMatch(/^switchboard: cannot open the SQLite store .*db-folder \(cannot create or open the file\) — /);
    expect(out.code).toBe(1);
  });

  it('a file that is not a SQLite database; the stack with --verbose', async () => {
    cwd = tempDir({ 'switchboard.json': config({ type: 'sqlite', path: 'state.db' }) });
    writeFileSync(join(cwd.dir, 'state.db'), 'not a database, '.repeat(512));
    const expected = `switchboard: cannot open the SQLite store ${join(cwd.dir, 'state.db')} (the file is not a SQLite database, or is damaged) — move it aside to start afresh, or point store.path at the right file`;
    const out = await sb(['run', 'hi']);
    expect(oneLine(out.stderr)).toBe(expected);
    expect(out.code).toBe(1);
    const verbose = await sb(['run', '--verbose', 'hi']);
    expect(verbose.stderr.split('\n')[0]).toBe(expected);
    expect(verbose.stderr).toMatch(STACK_LINE);
    expect(verbose.stderr).toContain('SqliteError');
    expect(verbose.code).toBe(1);
  });
});

const PG = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
describe.skipIf(!PG)('a PostgreSQL server that refuses us (SWITCHBOARD_TEST_POSTGRES_URL)', () => {
  const withPath = (path: string, user?: string) => {
    const u = new URL(PG!);
    u.pathname = path;
    if (user) {
      u.username = user;
      u.password = 'pw-not-shown';
    }
    return u.toString();
  };

  it('names a database that does not exist, and a login it refuses', async () => {
    cwd = tempDir({ 'switchboard.json': JSON.stringify({ store: { type: 'postgres', url: withPath('/switchboard_no_such_db') } }) });
    const missing = await sb(['approvals']);
    expect(oneLine(missing.stderr)).toMatch(/^switchboard: PostgreSQL at .+ has no database "switchboard_no_such_db" — create it \(createdb switchboard_no_such_db\) or fix store\.url$/);
    expect(missing.code).toBe(1);

    cwd.write('switchboard.json', JSON.stringify({ store: { type: 'postgres', url: withPath(new URL(PG!).pathname, 'switchboard_no_such_role') } }));
    const refused = await sb(['approvals']);
    expect(oneLine(refused.stderr)).toMatch(/^switchboard: PostgreSQL at .+ refused the login of user switchboard_no_such_role/);
    expect(refused.stderr).not.toContain('pw-not-shown');
    expect(refused.code).toBe(1);
  });
});
