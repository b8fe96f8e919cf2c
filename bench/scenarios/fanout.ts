import { performance } from 'node:perf_hooks';
import { bareClient, systemFor, type BareMessage } from '../bare.js';
import { benchUser, gc, openEngine } from '../engine.js';
import { startBenchFake } from '../fake.js';
import { epochNow } from '../script.js';
import { byTag, fmt, median, p95, summary, unionLength } from '../stats.js';
import { metric, type ScenarioOptions, type ScenarioResult } from '../types.js';

const SPECIALISTS = ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8'];
const LATENCY = 100;
const CRITICAL_PATH = 3 * LATENCY;
/** Issue 12: the engine's share over the critical path at most the bare client's + this many points. */
const POINTS_OVER_BARE = 2;

/**
 * 2. The proxy delegates to 8 specialists in one turn; every model call takes 100 ms. The answer
 * should take as long as its longest path: proxy 100 + specialists in parallel 100 + proxy 100.
 */
export async function fanout(opts: ScenarioOptions): Promise<ScenarioResult> {
  const warmup = opts.quick ? 2 : 5;
  const reps = opts.quick ? 8 : 40;
  const fake = await startBenchFake({ mode: 'fanout', latencyMs: LATENCY, specialists: SPECIALISTS });
  const agents = Object.fromEntries(SPECIALISTS.map((name) => [name, { description: `Specialist ${name}: answers questions about part ${name}.` }]));
  const engine = await openEngine(fake.url, { agents });
  const { sb } = engine;
  try {
    const task = async (tag: string) => {
      const conv = await sb.conversation(`bench:${tag}`, benchUser);
      const off = sb.on(conv.id, () => {});
      const t0 = performance.now();
      const start = epochNow();
      const queued = await sb.send(conv.id, { text: `[${tag}] Ask every specialist about their part.`, from: benchUser });
      const run = await sb.wait(queued.id);
      const wallMs = performance.now() - t0;
      const end = epochNow();
      off();
      if (run.status !== 'completed' || !run.reply?.includes('8 answer(s)')) throw new Error(`fan-out task ${tag} ended ${run.status}: ${run.error ?? run.reply}`);
      return { tag, wallMs, start, end };
    };
    const bare = bareFanout(fake.url);
    for (let i = 0; i < warmup; i++) {
      await task(`w${i}`);
      await bare(`bw${i}`);
    }
    await fake.collect();
    gc();
    // Engine and bare client alternate, so load from elsewhere on the machine falls on both alike.
    const samples = [];
    const bareWalls: { tag: string; wallMs: number }[] = [];
    for (let i = 0; i < reps; i++) {
      samples.push(await task(`f${i}`));
      bareWalls.push(await bare(`b${i}`));
    }
    const spans = byTag(await fake.collect());
    for (const b of bareWalls) if (spans.get(b.tag)?.length !== 10) throw new Error(`bare fan-out ${b.tag}: expected 10 model calls, the server saw ${spans.get(b.tag)?.length ?? 0}`);
    const rows = samples.map((s) => {
      const mine = spans.get(s.tag) ?? [];
      if (mine.length !== 10) throw new Error(`task ${s.tag}: expected 10 model calls, the server saw ${mine.length}`);
      const specialists = mine.filter((x) => x.agent !== 'proxy');
      const [first, second] = mine.filter((x) => x.agent === 'proxy').sort((a, b) => a.arrival - b.arrival);
      const starts = specialists.map((x) => x.arrival);
      const ends = specialists.map((x) => x.finish);
      // The task's timeline, engine and server alternating (server clocks are another process's: within ~0.1 ms).
      const phases = {
        'send -> proxy request': first!.arrival - s.start,
        'proxy in server': first!.finish - first!.arrival,
        'proxy answer -> first specialist request': Math.min(...starts) - first!.finish,
        'specialists in server (first start to last end)': Math.max(...ends) - Math.min(...starts),
        'last specialist answer -> proxy request': second!.arrival - Math.max(...ends),
        'proxy in server (2)': second!.finish - second!.arrival,
        'proxy answer -> wait() resolves': s.end - second!.finish,
      };
      return {
        ...s,
        phases,
        serverWallMs: unionLength(mine.map((x) => [x.arrival, x.finish] as const)),
        spreadMs: Math.max(...starts) - Math.min(...starts),
        slowestSpecialistMs: Math.max(...specialists.map((x) => x.finish - x.arrival)),
      };
    });
    const wall = median(rows.map((r) => r.wallMs));
    const limit = CRITICAL_PATH * 1.03;
    const bareWall = median(bareWalls.map((b) => b.wallMs));
    const over = ((wall - CRITICAL_PATH) / CRITICAL_PATH) * 100;
    const bareOver = ((bareWall - CRITICAL_PATH) / CRITICAL_PATH) * 100;
    return {
      scenario: 'fanout',
      title: '2. fan-out (proxy + 8 specialists in parallel, latency 100 ms)',
      params: { warmup, tasks: reps, specialists: SPECIALISTS.length, latencyMs: LATENCY, criticalPathMs: CRITICAL_PATH, modelCalls: 10, events: 'one listener' },
      metrics: [
        metric('wall per task, median', wall, 'ms', { target: `< ${limit.toFixed(0)}`, ok: wall < limit, note: `critical path ${CRITICAL_PATH} ms + 3 %` }),
        metric('wall per task, p95', p95(rows.map((r) => r.wallMs)), 'ms'),
        metric('over the critical path, median', `${fmt(over)} %`, '', { target: '< 3 %', ok: wall < limit }),
        metric('↳ bare openai client, same fan-out: wall per task, median', bareWall, 'ms', { note: 'proxy, 8 calls at once, proxy; same fake, no engine' }),
        metric('↳ bare client over the critical path, median', `${fmt(bareOver)} %`, ''),
        metric('engine minus bare client, over the critical path', `${fmt(over - bareOver)} points`, '', { target: `≤ ${POINTS_OVER_BARE} points`, ok: over - bareOver <= POINTS_OVER_BARE, note: 'same run, tasks alternating' }),
        metric('model server busy (union of spans), median', median(rows.map((r) => r.serverWallMs)), 'ms', { note: 'includes the fake\'s timer overshoot' }),
        metric('engine + transport on the critical path, median', median(rows.map((r) => r.wallMs - r.serverWallMs)), 'ms'),
        metric('spread of the 8 specialist request starts, median', median(rows.map((r) => r.spreadMs)), 'ms'),
        metric('slowest specialist request inside the server, median', median(rows.map((r) => r.slowestSpecialistMs)), 'ms', { note: '100 ms sleep + the fake\'s work' }),
        ...Object.keys(rows[0]!.phases).map((phase) =>
          metric(`↳ timeline: ${phase}, median`, median(rows.map((r) => r.phases[phase as keyof typeof r.phases])), 'ms'),
        ),
      ],
      details: { phases: Object.fromEntries(Object.keys(rows[0]!.phases).map((k) => [k, summary(rows.map((r) => r.phases[k as keyof typeof r.phases]))])), wall: summary(rows.map((r) => r.wallMs)), serverWall: summary(rows.map((r) => r.serverWallMs)), spread: summary(rows.map((r) => r.spreadMs)), bareWall: summary(bareWalls.map((b) => b.wallMs)) },
    };
  } finally {
    await engine.close();
    await fake.close();
  }
}

/**
 * The same fan-out as a hand-written loop on the bare openai client: the proxy's call, its 8 tool
 * calls sent at once to the specialists, then the proxy's call with the 8 answers. No engine, no store.
 */
function bareFanout(url: string): (tag: string) => Promise<{ tag: string; wallMs: number }> {
  const client = bareClient(url);
  return async (tag) => {
    const t0 = performance.now();
    const messages: BareMessage[] = [systemFor('proxy', 'You route work to the specialists.'), { role: 'user', content: `[${tag}] Ask every specialist about their part.` }];
    const first = await client.call(messages);
    const answers = await Promise.all(
      first.toolCalls.map(async (c) => {
        const args = JSON.parse(c.function.arguments) as { recipient: string; message: string };
        const reply = await client.call([systemFor(args.recipient, `Specialist ${args.recipient}.`), { role: 'user', content: args.message }]);
        return { role: 'tool' as const, tool_call_id: c.id, content: reply.text };
      }),
    );
    const last = await client.call([...messages, { role: 'assistant', content: null, tool_calls: first.toolCalls }, ...answers]);
    const wallMs = performance.now() - t0;
    if (!last.text.includes(`${answers.length} answer(s)`) || answers.length !== SPECIALISTS.length) throw new Error(`bare fan-out ${tag}: ${last.text.slice(0, 80)}`);
    return { tag, wallMs };
  };
}
