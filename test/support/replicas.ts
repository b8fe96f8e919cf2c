/**
 * Several engine processes on one PostgreSQL schema (test/support/replica-child.mjs), the model
 * script they talk to, and the check of what they left in the database. Shared by the takeover test
 * (test/integration/pg-replicas.test.ts) and the `load-replicas` benchmark.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ConfigInput } from '../../src/core/agents/spec.js';
import { spawnChild } from './child-process.js';
import type { FakeChatRequest, FakeReply } from './fake-openai.js';

export interface ReplicaConversation {
  key: string;
  /** The messages, in the order they are sent; each carries its tag `[c<i>m<k>]`. */
  texts: string[];
}

export interface ReplicaOptions {
  url: string;
  schema: string;
  fakeUrl: string;
  /** Working folder (workspaces); nothing else is written there. */
  dir: string;
  engine?: { leaseMs?: number; pollMs?: number };
  conversations: ReplicaConversation[];
  config?: ConfigInput;
  poolMax?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface Replica {
  proc: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  reports(): Record<string, unknown>[];
  /** Resolves with the first report of `event`; rejects if the process exits first. */
  waitFor(event: string): Promise<Record<string, unknown>>;
  /** Asks it to close (`sb.close()`), and resolves with how it exited. */
  close(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, then wait until the process is gone. */
  kill9(): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The child script: beside this file in the sources; from the repository root when compiled elsewhere (dist-bench). */
function childPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const candidate of [join(dir, 'replica-child.mjs'), join(dir, 'test', 'support', 'replica-child.mjs')]) if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('replica-child.mjs not found');
    dir = up;
  }
}

export function startReplica(opts: ReplicaOptions): Replica {
  const child = childPath();
  if (!existsSync(join(dirname(child), '..', '..', 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  // Options go through a file: thousands of conversations are more than one argv string may hold (E2BIG).
  const optionsFile = join(opts.dir, `replica-${randomBytes(6).toString('hex')}.json`);
  writeFileSync(optionsFile, JSON.stringify(opts));
  const c = spawnChild([child, optionsFile], opts.dir);
  const { proc, reports } = c;
  return {
    proc,
    pid: proc.pid!,
    stdout: c.stdout,
    stderr: c.stderr,
    reports,
    // No deadline: in the benchmark an event may be minutes away.
    waitFor: (event) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = reports().find((r) => r.event === event);
          if (found) return resolve(found);
          if (!c.alive()) return reject(new Error(`replica ${proc.pid} exited before "${event}"\n${c.describe()}`));
          setTimeout(check, 20);
        };
        check();
      }),
    close() {
      proc.stdin!.write('close\n');
      return c.exited;
    },
    kill9: c.kill9,
    exited: c.exited,
  };
}

const TAG = /\[(c\d+m\d+)\]/;
const tagOf = (text: string | null | undefined): string | null => (text ? (TAG.exec(text)?.[1] ?? null) : null);

/** `n` conversations of `messages` messages each: `[c<i>m<k>] ...`. */
export function replicaConversations(n: number, messages: number, prefix = 'replicas'): ReplicaConversation[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `${prefix}:c${i}`,
    texts: Array.from({ length: messages }, (_, k) => `[c${i}m${k + 1}] message ${k + 1} of conversation ${i}`),
  }));
}

/**
 * The model: the proxy delegates each message to vision_agent with send_message, then answers with
 * its reply; vision_agent answers at once. Every text carries the message's tag, so the check can
 * tell which answer belongs to which message. `failRate` of the calls are answered 429 or 500.
 */
export function replicaScript(opts: { latencyMs?: number; failRate?: number; random?: () => number } = {}): (req: FakeChatRequest) => FakeReply {
  const random = opts.random ?? Math.random;
  const latencyMs = opts.latencyMs ?? 0;
  return (req) => {
    if (opts.failRate && random() < opts.failRate) return { status: random() < 0.5 ? 429 : 500, error: 'injected', latencyMs };
    const tag = tagOf(req.lastUserText) ?? 'untagged';
    if (req.agent !== 'proxy') return { content: `[${tag}] seen by ${req.agent}`, latencyMs };
    if (req.toolResults.length > 0) return { content: `[${tag}] answer: ${req.toolResults.map((r) => r.content).join(' | ')}`, latencyMs };
    return { toolCalls: [{ name: 'send_message', arguments: { recipient: 'vision_agent', message: `[${tag}] please look` } }], latencyMs };
  };
}

export interface ReplicaCheck {
  messages: number;
  answeredOnce: number;
  answeredTwice: number;
  neverAnswered: number;
  /** Messages whose answer is not between them and the next message (or whose messages are out of sequence). */
  outOfOrder: number;
  /** The same message (role, run, content, tool calls, tool call id) stored twice on a thread. */
  duplicatedMessages: number;
  /** Runs with more model turns than the script makes (two loops each called the model). */
  extraTurns: number;
  /** Tool calls without exactly one result, and the most results one call got. */
  toolCallsWithoutOneResult: number;
  maxResultsPerCall: number;
  runs: Record<string, number>;
  openRuns: number;
  failedRuns: number;
  /** The first problems found, for a failure message. */
  problems: string[];
}

interface Row {
  conversation_key: string;
  agent: string;
  role: string;
  content: string;
  tool_calls: { id: string }[] | null;
  tool_call_id: string | null;
  run_id: string | null;
}

/** Reads the whole schema and checks every conversation of `convs` (one query per table: fine at 10,000 conversations). */
export async function checkReplicas(pool: pg.Pool, convs: ReplicaConversation[]): Promise<ReplicaCheck> {
  const c: ReplicaCheck = {
    messages: 0,
    answeredOnce: 0,
    answeredTwice: 0,
    neverAnswered: 0,
    outOfOrder: 0,
    duplicatedMessages: 0,
    extraTurns: 0,
    toolCallsWithoutOneResult: 0,
    maxResultsPerCall: 0,
    runs: {},
    openRuns: 0,
    failedRuns: 0,
    problems: [],
  };
  // A few examples of each kind: one runaway call must not hide the other kinds of problem.
  const perKind = new Map<string, number>();
  const problem = (p: string) => {
    const kind = p.replace(/\[?c\d+m?\d*\]?|\b(call|run|msg)_\w+/g, '').slice(0, 40);
    const n = (perKind.get(kind) ?? 0) + 1;
    perKind.set(kind, n);
    if (n <= 3 && c.problems.length < 30) c.problems.push(p);
  };
  const { rows } = await pool.query<Row>(
    `SELECT c.key AS conversation_key, t.agent, m.role, m.content, m.tool_calls, m.tool_call_id, m.run_id
     FROM messages m JOIN threads t ON t.id = m.thread_id JOIN conversations c ON c.id = t.conversation_id
     ORDER BY m.thread_id, m.seq`,
  );
  const threads = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.conversation_key}|${r.agent}`;
    let list = threads.get(key);
    if (!list) threads.set(key, (list = []));
    list.push(r);
  }
  for (const list of threads.values()) checkThread(list, c, problem);
  for (const conv of convs) checkConversation(conv, threads.get(`${conv.key}|proxy`) ?? [], c, problem);

  const runs = await pool.query<{ status: string; n: string }>('SELECT status, COUNT(*) AS n FROM runs GROUP BY status');
  for (const r of runs.rows) c.runs[r.status] = Number(r.n);
  c.openRuns = (c.runs.queued ?? 0) + (c.runs.in_progress ?? 0) + (c.runs.requires_action ?? 0);
  c.failedRuns = (c.runs.failed ?? 0) + (c.runs.cancelled ?? 0);
  if (c.failedRuns > 0) {
    const failed = await pool.query<{ id: string; error: string | null }>(`SELECT id, error FROM runs WHERE status IN ('failed', 'cancelled') LIMIT 3`);
    for (const f of failed.rows) problem(`run ${f.id} ended: ${f.error}`);
  }
  return c;
}

/** Any thread: no message twice, no extra model turn, every tool call answered exactly once. */
function checkThread(list: Row[], c: ReplicaCheck, problem: (p: string) => void): void {
  const seen = new Set<string>();
  const results = new Map<string, number>();
  const turns = new Map<string, number>();
  for (const m of list) {
    if (m.role === 'assistant' && m.run_id) turns.set(m.run_id, (turns.get(m.run_id) ?? 0) + 1);
    const key = `${m.role}|${m.run_id}|${m.content}|${JSON.stringify(m.tool_calls)}|${m.tool_call_id ?? ''}`;
    if (seen.has(key)) {
      c.duplicatedMessages++;
      problem(`${m.conversation_key} ${m.agent}: ${m.role} message stored twice: ${m.content.slice(0, 60)}`);
    }
    seen.add(key);
    if (m.role === 'tool' && m.tool_call_id) results.set(m.tool_call_id, (results.get(m.tool_call_id) ?? 0) + 1);
  }
  // The script: the proxy delegates once, then answers (two turns); a specialist answers at once.
  const expected = list[0]?.agent === 'proxy' ? 2 : 1;
  for (const [runId, n] of turns) {
    if (n > expected) {
      c.extraTurns++;
      problem(`${list[0]!.conversation_key} ${list[0]!.agent}: run ${runId} made ${n} model turns, not ${expected}`);
    }
  }
  for (const m of list) {
    for (const call of m.tool_calls ?? []) {
      const n = results.get(call.id) ?? 0;
      c.maxResultsPerCall = Math.max(c.maxResultsPerCall, n);
      if (n !== 1) {
        c.toolCallsWithoutOneResult++;
        problem(`${m.conversation_key} ${m.agent}: tool call ${call.id} has ${n} results`);
      }
    }
  }
}

/** The proxy thread: each message once, in order, each answered once before the next begins. */
function checkConversation(conv: ReplicaConversation, list: Row[], c: ReplicaCheck, problem: (p: string) => void): void {
  const users = list.flatMap((m, i) => (m.role === 'user' ? [{ tag: tagOf(m.content), i }] : []));
  const finals = list.flatMap((m, i) => (m.role === 'assistant' && !m.tool_calls?.length ? [{ tag: tagOf(m.content), i }] : []));
  conv.texts.forEach((text, k) => {
    c.messages++;
    const tag = tagOf(text);
    const asked = users.filter((u) => u.tag === tag);
    const answers = finals.filter((f) => f.tag === tag);
    if (answers.length === 0) {
      c.neverAnswered++;
      problem(`${conv.key}: ${tag} never answered (${asked.length} copies of the message)`);
      return;
    }
    if (answers.length === 1 && asked.length === 1) c.answeredOnce++;
    else {
      c.answeredTwice++;
      problem(`${conv.key}: ${tag} asked ${asked.length}x, answered ${answers.length}x`);
    }
    // In order: the k-th message is the k-th user message of the thread, and its answer comes before the next one.
    const at = users[k];
    const next = users[k + 1]?.i ?? Infinity;
    if (!at || at.tag !== tag || !answers.every((a) => a.i > at.i && a.i < next)) {
      c.outOfOrder++;
      problem(`${conv.key}: ${tag} out of order (thread: ${list.map((m) => `${m.role[0]}:${tagOf(m.content) ?? ''}`).join(' ')})`);
    }
  });
}

/**
 * Runs one process took over more than once (its `resuming run` log lines). Another process taking a
 * run over again is legitimate (its new owner died too, or let its lease lapse); the same one twice
 * means two loops of one process on one run.
 */
export function resumedTwiceByOneProcess(stderrs: string[]): string[] {
  const twice: string[] = [];
  for (const text of stderrs) {
    const seen = new Set<string>();
    for (const line of text.split('\n')) {
      if (!line.includes(' resuming run ')) continue;
      const id = /"runId":"([^"]+)"/.exec(line)?.[1];
      if (id && seen.has(id)) twice.push(id);
      if (id) seen.add(id);
    }
  }
  return twice;
}

/** A pool of one connection on `schema`, for reading what the replicas left; closed after `fn`. */
export async function withSchema<T>(connectionString: string, schema: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString, max: 1, options: `-c search_path=${schema}` });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

/** How many runs of `schema` match `where` (an SQL condition on the runs table). */
export async function countRuns(pool: pg.Pool, schema: string, where: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}".runs WHERE ${where}`);
  return Number(rows[0]!.n);
}
