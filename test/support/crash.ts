/**
 * Crash tests: real child processes (the built engine, or the built CLI) killed with SIGKILL at a
 * chosen point, then started again on the same SQLite file. The fake model server runs in the test
 * process, so it outlives the kill and keeps counting requests across both lives.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigInput } from '../../src/core/agents/spec.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';
import { SqliteApprovalStore } from '../../src/core/store/sqlite-approvals.js';
import { SqlitePlanStore } from '../../src/core/store/sqlite-plans.js';
import type { Message } from '../../src/core/store/types.js';
import { spawnChild } from './child-process.js';
import { BIN, assertBuilt } from './cli.js';
import { until } from './plans.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'crash-child.mjs');

export interface Child {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The JSON lines the child reported. */
  reports(): Record<string, unknown>[];
  waitForReport(event: string): Promise<Record<string, unknown>>;
  waitForStdout(text: string): Promise<void>;
  write(line: string): void;
  /** SIGKILL, then wait until the process is gone. */
  kill9(): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[], cwd: string, env: Record<string, string>): Child {
  assertBuilt();
  const child = spawnChild(args, cwd, env);
  const { proc, stdout, reports, alive, describe } = child;
  return {
    proc,
    stdout,
    stderr: child.stderr,
    reports,
    waitForReport: (event) => until(() => reports().find((r) => r.event === event) ?? (alive() ? undefined : fail(`child exited before "${event}"\n${describe()}`)), `report "${event}"`),
    waitForStdout: (text) => until(() => stdout().includes(text) || (alive() ? undefined : fail(`child exited before printing "${text}"\n${describe()}`)), `stdout "${text}"`).then(() => {}),
    write: (line) => proc.stdin!.write(line + '\n'),
    kill9: child.kill9,
    exited: child.exited,
  };
}

function fail(message: string): never {
  throw new Error(message);
}

export interface CrashSetup {
  dir: string;
  config: ConfigInput;
  dbPath: string;
  /** The engine child (crash-child.mjs). */
  child(opts: { action: 'send'; conversationKey: string; text: string; agent?: string } | { action: 'resume'; runId: string }): Child;
  /** The built CLI, as the user `alice`, in `dir` (its switchboard.json names the same database). */
  cli(args: string[]): Child;
  /** The store, read from the test process. */
  open(): { store: SqliteStore; plans: SqlitePlanStore; approvals: SqliteApprovalStore; close(): void };
  remove(): void;
}

export function crashSetup(fakeUrl: string, config: ConfigInput = {}): CrashSetup {
  const dir = mkdtempSync(join(tmpdir(), 'sb-crash-'));
  const dbPath = join(dir, 'switchboard.db');
  const full: ConfigInput = { ...config, store: { type: 'sqlite', path: dbPath }, workspaceDir: join(dir, 'workspaces'), limits: { modelRetries: 0, ...config.limits } };
  writeFileSync(join(dir, 'switchboard.json'), JSON.stringify(full));
  const children: Child[] = [];
  const track = (c: Child) => (children.push(c), c);
  return {
    dir,
    config: full,
    dbPath,
    child: (opts) => track(start([CHILD, JSON.stringify({ ...opts, dir, fakeUrl, config: full })], dir, {})),
    cli: (args) => track(start([BIN, ...args], dir, { OPENAI_BASE_URL: fakeUrl, SWITCHBOARD_USER: 'alice' })),
    open() {
      const store = new SqliteStore({ path: dbPath });
      store.initSync();
      const plans = new SqlitePlanStore(store);
      void plans.init(); // synchronous underneath
      return { store, plans, approvals: new SqliteApprovalStore(store), close: () => void store.close() };
    },
    remove() {
      for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Every thread's messages are a clean history: each tool call answered exactly once, no message
 * (by content and run) twice. Mid-run (`finished: false`) a call may still wait for its result.
 * Returns the messages by agent.
 */
export async function checkTranscript(store: SqliteStore, conversationId: string, opts: { finished?: boolean } = {}): Promise<Record<string, Message[]>> {
  const out: Record<string, Message[]> = {};
  for (const thread of await store.listThreads(conversationId)) {
    const messages = await store.listMessages(thread.id);
    out[thread.agent] = messages;
    const seen = new Set<string>();
    for (const m of messages) {
      const key = `${m.role}|${m.runId}|${m.content}|${JSON.stringify(m.toolCalls ?? null)}|${m.toolCallId ?? ''}`;
      if (seen.has(key)) throw new Error(`duplicated ${m.role} message on ${thread.agent}'s thread: ${m.content.slice(0, 80)}`);
      seen.add(key);
    }
    const calls = messages.flatMap((m) => m.toolCalls ?? []).map((c) => c.id);
    const results = messages.filter((m) => m.role === 'tool').map((m) => m.toolCallId);
    if (opts.finished !== false && JSON.stringify([...calls].sort()) !== JSON.stringify([...results].sort())) {
      throw new Error(`tool calls and results do not pair up on ${thread.agent}'s thread: ${calls.join(',')} vs ${results.join(',')}`);
    }
  }
  return out;
}
