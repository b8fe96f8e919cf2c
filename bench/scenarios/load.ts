import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../../src/core/logger.js';
import type { SqliteStore } from '../../src/core/store/sqlite.js';
import { createSwitchboard } from '../../src/core/switchboard.js';
import { benchUser, gc } from '../engine.js';
import { startBenchFake } from '../fake.js';
import { cpuMs, fmt, quantile } from '../stats.js';
import { metric, type ScenarioOptions, type ScenarioResult } from '../types.js';

const LATENCY = 100;
const MESSAGES = 3;
const FAULT_RATE = 0.07;
/** Attempts per model call: at a 7 % fault rate, seven failures in a row are ~1e-8 per call. */
const RETRIES = 6;

/**
 * 6. Load: N conversations (10,000; `--quick` 300; `BENCH_LOAD_CONVERSATIONS` overrides) each send
 * three messages at once, which queue on the proxy's thread. Every message makes the proxy delegate
 * to a specialist with send_message (3 model calls, 100 ms each); 7 % of model calls are answered
 * 429 or 500 and retried by the client. SQLite on disk, one engine process, one events listener per
 * conversation. Far more threads are at work than the thread cache keeps idle.
 *
 * Checked in the database at the end: every message answered exactly once and in order on its
 * conversation's proxy thread, each delegation answered once on the specialist's thread, no tool
 * call with a second result, no message stored twice.
 */
export async function load(opts: ScenarioOptions): Promise<ScenarioResult> {
  const n = Number(process.env.BENCH_LOAD_CONVERSATIONS) || (opts.quick ? 300 : 10_000);
  const fake = await startBenchFake({ mode: 'delegate', latencyMs: LATENCY, specialists: ['vision_agent'], faultRate: FAULT_RATE });
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-load-'));
  const sb = await createSwitchboard({
    config: {
      store: { type: 'sqlite', path: join(dir, 'switchboard.db') },
      workspaceDir: join(dir, 'workspaces'),
      limits: { modelRetries: RETRIES },
    },
    env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-bench-not-a-real-key' },
    cwd: dir,
    // Each retry logs a warning; thousands of them would measure the terminal.
    logger: createLogger({ level: 'error' }),
  });
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
  sampler.unref();
  try {
    const convs = [];
    for (let i = 0; i < n; i++) convs.push(await sb.conversation(`bench:load-${i}`, benchUser));
    gc();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let answered = 0;
    const progress = setInterval(() => process.stderr.write(`load: ${answered} / ${n * MESSAGES} answered after ${fmt((performance.now() - t0) / 1000)} s\n`), 15_000);
    progress.unref();
    const done = await Promise.all(
      convs.map(async (conv, i) => {
        let events = 0;
        const off = sb.on(conv.id, () => events++);
        const start = performance.now();
        const runs = [];
        // Sent one after the other without waiting for answers: they queue on the proxy's thread.
        for (let k = 1; k <= MESSAGES; k++) runs.push(await sb.send(conv.id, { text: `[l${i}-m${k}] What is in picture ${k}?`, from: benchUser }));
        const ended = await Promise.all(runs.map((r) => sb.wait(r.id).finally(() => answered++)));
        const wallMs = performance.now() - start;
        off();
        return { conv, i, ended, wallMs, events };
      }),
    );
    const totalMs = performance.now() - t0;
    clearInterval(progress);
    const engineCpuMs = cpuMs(cpu0);
    const spans = await fake.collect();
    const faults = spans.filter((s) => s.status >= 400).length;
    const problems = check((sb.store as SqliteStore).db, done);
    clearInterval(sampler);
    const maxRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
    const walls = done.map((d) => d.wallMs);
    const answeredOk = n * MESSAGES - new Set(problems.map((p) => p.key)).size;
    return {
      scenario: 'load',
      title: `6. load (${n} conversations × ${MESSAGES} messages, each delegated; latency ${LATENCY} ms, ${Math.round(FAULT_RATE * 100)} % 429/500)`,
      params: { conversations: n, messagesPerConversation: MESSAGES, latencyMs: LATENCY, faultRate: FAULT_RATE, modelRetries: RETRIES, store: 'sqlite file (WAL)', processes: 1 },
      metrics: [
        metric('total wall', totalMs / 1000, 's', { note: `floor ${fmt((MESSAGES * 3 * LATENCY) / 1000)} s per conversation` }),
        metric('model calls per second', spans.length / (totalMs / 1000), 'calls/s', { note: `${spans.length} requests, ${faults} answered 429/500 (${fmt((100 * faults) / Math.max(1, spans.length))} %)` }),
        metric('per conversation (3 messages), median / p95', `${fmt(quantile(walls, 0.5) / 1000)} / ${fmt(quantile(walls, 0.95) / 1000)}`, 's'),
        metric('engine CPU per model call', engineCpuMs / Math.max(1, spans.length), 'ms'),
        metric('peak RSS', maxRss / 2 ** 20, 'MB'),
        metric('messages answered exactly once, in order', `${answeredOk} / ${n * MESSAGES}`, '', {
          target: 'all',
          ok: problems.length === 0,
          ...(problems.length ? { note: problems.slice(0, 3).map((p) => p.what).join('; ') } : {}),
        }),
      ],
      details: { problems: problems.slice(0, 50).map((p) => p.what), problemCount: problems.length, requests: spans.length, faults, peakRssMB: Math.round(maxRss / 2 ** 20) },
    };
  } finally {
    clearInterval(sampler);
    await sb.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Done {
  conv: { id: string };
  i: number;
  ended: { id: string; status: string; reply: string | null; error: string | null }[];
  events: number;
}

interface Row {
  conversation_id: string;
  agent: string;
  seq: number;
  role: string;
  content: string;
  tool_calls: string | null;
  tool_call_id: string | null;
  run_id: string | null;
}

/** Every way a conversation's threads can differ from three questions, each delegated once and answered once, in order. */
function check(db: SqliteStore['db'], done: Done[]): { key: string; what: string }[] {
  const problems: { key: string; what: string }[] = [];
  const duplicates = db
    .prepare(`SELECT thread_id, tool_call_id, COUNT(*) AS n FROM messages WHERE role = 'tool' GROUP BY thread_id, tool_call_id HAVING COUNT(*) > 1`)
    .all() as unknown as { thread_id: string; tool_call_id: string; n: number }[];
  for (const d of duplicates) problems.push({ key: `dup:${d.thread_id}:${d.tool_call_id}`, what: `tool call ${d.tool_call_id} has ${d.n} results` });
  const rows = db
    .prepare(
      `SELECT t.conversation_id, t.agent, m.seq, m.role, m.content, m.tool_calls, m.tool_call_id, m.run_id
       FROM messages m JOIN threads t ON t.id = m.thread_id ORDER BY t.conversation_id, t.agent, m.seq`,
    )
    .all() as unknown as Row[];
  const byConv = new Map<string, Row[]>();
  for (const r of rows) {
    let list = byConv.get(r.conversation_id);
    if (!list) byConv.set(r.conversation_id, (list = []));
    list.push(r);
  }
  const rootRuns = db.prepare(`SELECT conversation_id, COUNT(*) AS n FROM runs WHERE depth = 0 GROUP BY conversation_id`).all() as { conversation_id: string; n: number }[];
  const rootCount = new Map(rootRuns.map((r) => [r.conversation_id, r.n]));
  for (const d of done) {
    const list = byConv.get(d.conv.id) ?? [];
    const proxy = list.filter((r) => r.agent === 'proxy').map(shape);
    const vision = list.filter((r) => r.agent === 'vision_agent').map(shape);
    const expectProxy: string[] = [];
    const expectVision: string[] = [];
    for (let k = 1; k <= MESSAGES; k++) {
      const tag = `[l${d.i}-m${k}]`;
      expectProxy.push(`user ${tag}`, 'assistant call', 'tool', `assistant ${tag}`);
      expectVision.push(`user ${tag}`, `assistant ${tag}`);
    }
    if (rootCount.get(d.conv.id) !== MESSAGES) problems.push({ key: `runs:${d.i}`, what: `l${d.i}: ${rootCount.get(d.conv.id) ?? 0} root runs` });
    d.ended.forEach((run, k) => {
      const tag = `[l${d.i}-m${k + 1}]`;
      if (run.status !== 'completed') problems.push({ key: `${d.i}-${k}`, what: `${tag}: ${run.status} ${run.error ?? ''}` });
      else if (!run.reply?.startsWith(tag)) problems.push({ key: `${d.i}-${k}`, what: `${tag}: the reply belongs elsewhere (${run.reply?.slice(0, 20)})` });
    });
    if (proxy.join('|') !== expectProxy.join('|')) problems.push({ key: `proxy:${d.i}`, what: `l${d.i} proxy thread: ${proxy.join(', ')}` });
    if (vision.join('|') !== expectVision.join('|')) problems.push({ key: `vision:${d.i}`, what: `l${d.i} vision thread: ${vision.join(', ')}` });
    if (d.events === 0) problems.push({ key: `events:${d.i}`, what: `l${d.i}: no events` });
  }
  return problems;
}

/** One message as `user [tag]`, `assistant call`, `tool` or `assistant [tag]`. */
function shape(r: Row): string {
  if (r.role === 'tool') return 'tool';
  if (r.role === 'assistant' && r.tool_calls) return 'assistant call';
  return `${r.role} ${/^\[[^\]]+\]/.exec(r.content)?.[0] ?? '?'}`;
}
