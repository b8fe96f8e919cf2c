import { performance } from 'node:perf_hooks';
import { benchUser, gc, openEngine } from '../engine.js';
import { startBenchFake } from '../fake.js';
import { machine } from '../report.js';
import { byTag, cpuMs, fmt, median, p95, summary } from '../stats.js';
import { metric, type ScenarioOptions, type ScenarioResult } from '../types.js';

const LATENCY = 200;
const CALLS = 3;
/** Issue 12's targets at 1,000 conversations on 2 cores. */
const CALLS_PER_S = 1_500;
const PEAK_RSS_MB = 250;

/**
 * 4. Many conversations each send one message at the same moment; the proxy delegates to a
 * specialist and answers (3 model calls, 200 ms each, so 600 ms is the floor for each). Each
 * conversation has one events listener, as a bot serving it would.
 */
export async function concurrency(opts: ScenarioOptions): Promise<ScenarioResult> {
  const n = opts.quick ? 200 : 1000;
  const rounds = opts.quick ? 1 : 3;
  const fake = await startBenchFake({ mode: 'delegate', latencyMs: LATENCY, specialists: ['vision_agent'] });
  const engine = await openEngine(fake.url);
  const { sb } = engine;
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 10);
  try {
    const round = async (r: number, size: number) => {
      const convs = [];
      for (let i = 0; i < size; i++) convs.push(await sb.conversation(`bench:c${r}-${i}`, benchUser));
      gc();
      const fakeCpu0 = await fake.cpu();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const done = await Promise.all(
        convs.map(async (conv, i) => {
          const tag = `c${r}-${i}`;
          let events = 0;
          const off = sb.on(conv.id, () => events++);
          const start = performance.now();
          const queued = await sb.send(conv.id, { text: `[${tag}] What is in the picture at https://example.com/${i}.png?`, from: benchUser });
          const run = await sb.wait(queued.id);
          const wallMs = performance.now() - start;
          off();
          return { conv, tag, run, wallMs, events };
        }),
      );
      const totalMs = performance.now() - t0;
      const engineCpu = cpuMs(cpu0);
      const fakeCpu1 = await fake.cpu();
      const fakeCpuMs = (fakeCpu1.user - fakeCpu0.user + fakeCpu1.system - fakeCpu0.system) / 1000;

      // Every conversation got exactly one answer, its own.
      const spans = byTag(await fake.collect());
      const problems: string[] = [];
      for (const d of done) {
        const runs = await sb.store.listRuns({ conversationId: d.conv.id });
        const roots = runs.filter((x) => x.depth === 0);
        const transcript = await sb.transcript(d.conv.id);
        const proxy = transcript.find((t) => t.thread.agent === 'proxy');
        const answers = proxy?.messages.filter((m) => m.role === 'assistant' && !m.toolCalls?.length) ?? [];
        const calls = spans.get(d.tag)?.length ?? 0;
        if (d.run.status !== 'completed') problems.push(`${d.tag}: ${d.run.status} ${d.run.error ?? ''}`);
        else if (roots.length !== 1 || answers.length !== 1 || !answers[0]!.content.startsWith(`[${d.tag}]`) || d.run.reply !== answers[0]!.content) {
          problems.push(`${d.tag}: ${roots.length} runs, ${answers.length} answers`);
        } else if (calls !== CALLS) problems.push(`${d.tag}: ${calls} model calls`);
        else if (d.events === 0) problems.push(`${d.tag}: no events`);
      }
      const walls = done.map((d) => d.wallMs);
      return { totalMs, walls, problems, engineCpuMs: engineCpu, fakeCpuMs, calls: size * CALLS };
    };

    await round(0, Math.min(100, n)); // warm-up
    const results = [];
    for (let r = 1; r <= rounds; r++) results.push(await round(r, n));
    clearInterval(sampler);
    const maxRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
    const byTotal = [...results].sort((a, b) => a.totalMs - b.totalMs);
    const mid = byTotal[Math.floor((byTotal.length - 1) / 2)]!;
    const problems = results.flatMap((r) => r.problems);
    const allWalls = results.flatMap((r) => r.walls);
    const throughput = mid.calls / (mid.totalMs / 1000);
    const peakMB = maxRss / 2 ** 20;
    return {
      scenario: 'concurrency',
      title: `4. concurrency (${n} conversations at once, 3 calls each, latency ${LATENCY} ms)`,
      params: { conversations: n, rounds, modelCallsPerConversation: CALLS, latencyMs: LATENCY, floorPerConversationMs: CALLS * LATENCY, events: 'one listener per conversation' },
      metrics: [
        metric(`total wall (median of ${rounds} round${rounds > 1 ? 's' : ''})`, mid.totalMs, 'ms', { note: `floor ${CALLS * LATENCY} ms` }),
        metric('throughput', throughput, 'model calls/s', { target: `≥ ${CALLS_PER_S}`, ok: throughput >= CALLS_PER_S, note: `${machine().cores} cores` }),
        metric('per conversation, median / p95', `${fmt(median(allWalls))} / ${fmt(p95(allWalls))}`, 'ms'),
        metric('engine CPU per model call', mid.engineCpuMs / mid.calls, 'ms', { note: `model server used ${fmt(mid.fakeCpuMs)} ms CPU in its own process` }),
        metric('peak RSS', peakMB, 'MB', { target: `≤ ${PEAK_RSS_MB}`, ok: peakMB <= PEAK_RSS_MB }),
        metric(
          `conversations with exactly one answer`,
          `${results.reduce((s, r) => s + r.walls.length, 0) - problems.length} / ${n * rounds}`,
          '',
          { target: 'all', ok: problems.length === 0, ...(problems.length ? { note: problems.slice(0, 3).join('; ') } : {}) },
        ),
      ],
      details: {
        rounds: results.map((r) => ({ totalMs: Math.round(r.totalMs), engineCpuMs: Math.round(r.engineCpuMs), fakeCpuMs: Math.round(r.fakeCpuMs), perConversation: summary(r.walls), problems: r.problems.slice(0, 20) })),
        peakRssMB: Math.round(maxRss / 2 ** 20),
      },
    };
  } finally {
    clearInterval(sampler);
    await engine.close();
    await fake.close();
  }
}
