import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { benchUser, gc, openEngine } from '../engine.js';
import { startBenchFake } from '../fake.js';
import { fmt, median } from '../stats.js';
import type { RssThreadResult } from '../rss-thread.js';
import { metric, type Metric, type ScenarioOptions, type ScenarioResult } from '../types.js';

const BUDGET = 2_000;
/** Issue 12: resident memory after 300 turns of one conversation within 20 % of that after 60. */
const RSS_TURNS = [60, 300] as const;
const RSS_GROWTH = 0.2;

/** A 300-turn thread in a fresh process (bench/rss-thread.ts): RSS as a user starting a server sees it. */
function rssThread(url: string, budget: number | 'default'): Promise<RssThreadResult> {
  const at = [1, 30, ...RSS_TURNS, 150, 200, 250].sort((a, b) => a - b);
  // No --expose-gc, no --cpu-prof: node's defaults, nothing forcing or slowing a GC.
  const child = fork(new URL('../rss-thread.js', import.meta.url), [url, String(budget), ...at.map(String)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let answer: { result?: RssThreadResult; error?: string } | undefined;
    child.on('message', (msg: typeof answer) => (answer = msg));
    child.on('exit', (code) => (answer?.result ? resolve(answer.result) : reject(new Error(`rss-thread (budget ${budget}) exited ${code}: ${answer?.error ?? 'no result'}`))));
  });
}

function rssMetrics(r: RssThreadResult): Metric[] {
  const [a, b] = RSS_TURNS.map((t) => r.samples.find((s) => s.turn === t)!);
  const growth = b!.rssMB / a!.rssMB - 1;
  const label = `budget ${r.contextBudget}${r.contextBudget === BUDGET ? '' : ' (default)'}`;
  const anon = a!.anonMB === null ? '' : `; anonymous ${fmt(a!.anonMB)} / ${fmt(b!.anonMB!)} MB, of it malloc's main arena ${fmt(a!.mallocMainMB!)} / ${fmt(b!.mallocMainMB!)} MB`;
  return [
    metric(`RSS after turns ${RSS_TURNS.join(' / ')}, fresh process, ${label}`, `${fmt(a!.rssMB)} / ${fmt(b!.rssMB)}`, 'MB', {
      note: `V8 heap used ${fmt(a!.heapUsedMB)} / ${fmt(b!.heapUsedMB)} MB${anon}; prompt ${r.promptTokens[RSS_TURNS[0]]} / ${r.promptTokens[RSS_TURNS[1]]} tokens`,
    }),
    metric(`RSS, turn ${RSS_TURNS[1]} vs turn ${RSS_TURNS[0]}, ${label}`, `${growth >= 0 ? '+' : ''}${fmt(growth * 100)} %`, '', { target: `within ${RSS_GROWTH * 100} %`, ok: growth <= RSS_GROWTH }),
  ];
}

/** Bytes on the V8 heap after a full GC, without the code space (JIT output grows for a while in any process). */
function heapAfterGc(): number {
  gc();
  gc();
  const code = getHeapSpaceStatistics().find((s) => s.space_name === 'code_space')?.space_used_size ?? 0;
  return process.memoryUsage().heapUsed - code;
}

/**
 * 3. One conversation, many turns (the proxy answers directly, one model call a turn), with a
 * small context budget so it is reached after a couple of dozen turns: the prompt sent must stay
 * flat from then on, and the heap after GC must not grow with the thread. The process is warmed up
 * on another conversation first.
 */
export async function longThread(opts: ScenarioOptions): Promise<ScenarioResult> {
  const turns = opts.quick ? 300 : 1000;
  const warmup = opts.quick ? 100 : 300;
  const probes = [1, 10, 100, 1000].filter((t) => t <= turns);
  if (!probes.includes(turns)) probes.push(turns);
  const heapAt = [1, 10, 50, 100, 250, 500, 750, 1000].filter((t) => t < turns).concat(turns);
  const fake = await startBenchFake({ mode: 'direct', latencyMs: 0, specialists: [] });
  // First, while nothing else runs here: resident memory over 300 turns in fresh processes.
  const rss: RssThreadResult[] = [];
  try {
    for (const budget of ['default', BUDGET] as const) {
      rss.push(await rssThread(fake.url, budget));
      await fake.collect();
    }
  } catch (err) {
    await fake.close();
    throw err;
  }
  const engine = await openEngine(fake.url, { defaults: { contextBudget: BUDGET } });
  const { sb } = engine;
  try {
    // Warm the process up on another conversation first (JIT, connection pool, SQLite cache), so
    // that what the heap does afterwards is the thread's doing, not the process's first minutes.
    const warm = await sb.conversation('bench:long-thread-warmup', benchUser);
    for (let turn = 1; turn <= warmup; turn++) {
      const queued = await sb.send(warm.id, { text: `[w${turn}] Warm-up turn ${turn}: one more thing about lighthouses, briefly please.`, from: benchUser });
      await sb.wait(queued.id);
    }
    const conv = await sb.conversation('bench:long-thread', benchUser);
    const off = sb.on(conv.id, () => {});
    const prompt: number[] = [];
    const wall: number[] = [];
    const heap: { turn: number; heapMB: number }[] = [];
    for (let turn = 1; turn <= turns; turn++) {
      const t0 = performance.now();
      const queued = await sb.send(conv.id, { text: `[t${turn}] Turn ${turn}: tell me one more thing about lighthouses, briefly please.`, from: benchUser });
      const run = await sb.wait(queued.id);
      wall.push(performance.now() - t0);
      if (run.status !== 'completed') throw new Error(`turn ${turn} ended ${run.status}: ${run.error}`);
      prompt.push(run.usage.promptTokens);
      if (heapAt.includes(turn)) heap.push({ turn, heapMB: heapAfterGc() / 2 ** 20 });
    }
    off();
    const tokensAt = (t: number) => prompt[t - 1]!;
    const mid = Math.min(100, turns);
    const flat = Math.abs(tokensAt(turns) - tokensAt(mid)) / tokensAt(mid);
    const heapMid = heap.find((h) => h.turn === mid)!.heapMB;
    const heapEnd = heap.at(-1)!.heapMB;
    const growth = heapEnd - heapMid;
    const early = median(wall.slice(1, 100));
    const late = median(wall.slice(-100));
    return {
      scenario: 'long-thread',
      title: `3. long thread (${turns} turns, context budget ${BUDGET} tokens; RSS: fresh processes, ${RSS_TURNS[1]} turns)`,
      params: { turns, warmupTurns: warmup, contextBudget: BUDGET, latencyMs: 0, modelCallsPerTurn: 1, events: 'one listener', rssTurns: RSS_TURNS, rssBudgets: rss.map((r) => r.contextBudget) },
      metrics: [
        metric('prompt tokens sent on turns ' + probes.join(', '), probes.map((t) => tokensAt(t)).join(', '), 'tokens'),
        metric(`prompt tokens, turn ${turns} vs turn ${mid}`, `${fmt(flat * 100)} %`, '', { target: 'flat (< 5 %)', ok: flat < 0.05 }),
        metric('heap after GC (without JIT code) at turns ' + heap.map((h) => h.turn).join(', '), heap.map((h) => h.heapMB.toFixed(1)).join(', '), 'MB'),
        metric(`heap growth, turn ${mid} to ${turns}`, growth, 'MB', { target: '< 1 (no growth)', ok: growth < 1 }),
        metric(`wall per turn, median of turns 2-100 / last 100`, `${fmt(early)} / ${fmt(late)}`, 'ms'),
        ...rss.flatMap(rssMetrics),
      ],
      details: { promptTokens: Object.fromEntries(probes.map((t) => [t, tokensAt(t)])), heap, promptTokensEvery10: prompt.filter((_, i) => i % 10 === 0), rssThreads: rss },
    };
  } finally {
    await engine.close();
    await fake.close();
  }
}
