import { performance } from 'node:perf_hooks';
import type { Switchboard } from '../../src/core/switchboard.js';
import { bareClient, systemFor } from '../bare.js';
import { benchUser, gc, openEngine } from '../engine.js';
import { startBenchFake, type BenchFake } from '../fake.js';
import { inProcessModel } from '../inproc-model.js';
import { byTag, cpuMs, fmt, median, p95, round, serverMs, summary } from '../stats.js';
import { metric, type ScenarioOptions, type ScenarioResult } from '../types.js';

const TARGET = 0.5;
/** Issue 12: the engine's overhead per model call at most this many times the bare client's, same run. */
const FLOOR_RATIO = 1.2;

interface Sample {
  tag: string;
  listener: boolean;
  wallMs: number;
  cpuMs: number;
}

/** Runs `n` delegate tasks one after another, each in a new conversation; even ones with one events listener. */
async function tasks(sb: Switchboard, prefix: string, n: number, counter: { events: number }): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const tag = `${prefix}${i}`;
    const listener = i % 2 === 0;
    const conv = await sb.conversation(`bench:${tag}`, benchUser);
    const off = listener ? sb.on(conv.id, () => counter.events++) : () => {};
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const queued = await sb.send(conv.id, { text: `[${tag}] What is in the picture at https://example.com/cat.png?`, from: benchUser });
    const run = await sb.wait(queued.id);
    const wallMs = performance.now() - t0;
    const cpu = cpuMs(cpu0);
    off();
    if (run.status !== 'completed' || !run.reply?.startsWith(`[${tag}]`)) throw new Error(`delegate task ${tag} ended ${run.status}: ${run.error ?? run.reply}`);
    out.push({ tag, listener, wallMs, cpuMs: cpu });
  }
  return out;
}

const pick = <S extends { listener: boolean }>(rows: S[], listener: boolean) => rows.filter((r) => r.listener === listener);
const medianOf = <S>(rows: S[], f: (s: S) => number) => median(rows.map(f));
const p95Of = <S>(rows: S[], f: (s: S) => number) => p95(rows.map(f));

/**
 * 1. The proxy delegates to one specialist and answers: three model calls, latency 0, SQLite on
 * disk. Tasks alternate between one events listener on the conversation (as the CLI with
 * --verbose, the MCP server and the bots run it: deltas are built and delivered) and none.
 *
 * Measured three ways: (a) end to end against the fake server through the openai client, the
 * issue's definition; (b) the bare openai client making the same calls (the transport floor);
 * (c) the engine with an in-process model client (no HTTP): the engine's own cost.
 */
export async function delegate(opts: ScenarioOptions): Promise<ScenarioResult> {
  const warmup = opts.quick ? 60 : 200;
  const reps = opts.quick ? 200 : 1000;
  const counter = { events: 0 };
  const fake = await startBenchFake({ mode: 'delegate', latencyMs: 0, specialists: ['vision_agent'] });
  try {
    // (a) end to end
    const engine = await openEngine(fake.url);
    let samples: Sample[];
    try {
      await tasks(engine.sb, 'w', warmup, counter);
      await fake.collect();
      gc();
      samples = await tasks(engine.sb, 'd', reps, counter);
    } finally {
      await engine.close();
    }
    const spans = byTag(await fake.collect());
    const rows = samples.map((s) => {
      const mine = spans.get(s.tag) ?? [];
      if (mine.length !== 3) throw new Error(`task ${s.tag}: expected 3 model calls, the server saw ${mine.length}`);
      const server = serverMs(mine);
      return { ...s, serverMs: server, overheadMs: (s.wallMs - server) / mine.length };
    });

    // (b) the transport floor
    const floor = await transportFloor(fake, opts.quick ? 100 : 300);

    // (c) the engine alone
    const local = await openEngine(fake.url, {}, inProcessModel('vision_agent'));
    let engineOnly: Sample[];
    try {
      await tasks(local.sb, 'lw', warmup, counter);
      gc();
      engineOnly = await tasks(local.sb, 'l', reps, counter);
    } finally {
      await local.close();
    }
    const perCall = (s: Sample) => s.wallMs / 3;

    const on = pick(rows, true);
    const off = pick(rows, false);
    const overhead = medianOf(on, (r) => r.overheadMs);
    const floorMs = median(floor);
    const localOn = pick(engineOnly, true);
    const localOff = pick(engineOnly, false);
    const own = medianOf(localOn, perCall);
    const ratio = overhead / floorMs;
    return {
      scenario: 'delegate',
      title: '1. delegate (3 model calls, latency 0, SQLite on disk)',
      params: { warmup, tasks: reps, modelCalls: 3, latencyMs: 0, store: 'sqlite file (WAL)', events: 'half the tasks with one listener, alternating' },
      metrics: [
        metric('overhead per model call, median (1 listener)', overhead, 'ms', { target: `< ${TARGET}`, ok: overhead < TARGET, note: '(wall - time in model server) / calls' }),
        metric('overhead per model call, p95 (1 listener)', p95Of(on, (r) => r.overheadMs), 'ms'),
        metric('overhead per model call, median (no listener)', medianOf(off, (r) => r.overheadMs), 'ms'),
        metric('↳ transport floor: bare openai client, same calls', floorMs, 'ms', { note: 'SDK + fetch + loopback, no engine' }),
        metric('overhead per model call / transport floor (1 listener)', `${fmt(ratio)}×`, '', { target: `≤ ${FLOOR_RATIO}×`, ok: ratio <= FLOOR_RATIO, note: 'medians, same run' }),
        metric('↳ engine alone, in-process model, median (1 listener)', own, 'ms', { target: `< ${TARGET}`, ok: own < TARGET, note: 'no HTTP; store on disk' }),
        metric('↳ engine alone, in-process model, p95 / no listener', `${fmt(p95Of(localOn, perCall))} / ${fmt(medianOf(localOff, perCall))}`, 'ms'),
        metric('wall per task, median / p95 (1 listener)', `${fmt(medianOf(on, (r) => r.wallMs))} / ${fmt(p95Of(on, (r) => r.wallMs))}`, 'ms'),
        metric('CPU per task, median / p95 (1 listener)', `${fmt(medianOf(on, (r) => r.cpuMs))} / ${fmt(p95Of(on, (r) => r.cpuMs))}`, 'ms', { note: 'engine process only' }),
        metric('wall / CPU per task, median (no listener)', `${fmt(medianOf(off, (r) => r.wallMs))} / ${fmt(medianOf(off, (r) => r.cpuMs))}`, 'ms'),
        metric('time inside the model server per task, median', medianOf(rows, (r) => r.serverMs), 'ms'),
      ],
      details: {
        eventsDelivered: counter.events,
        endToEnd: {
          overheadPerCall: { listener: summary(on.map((r) => r.overheadMs)), none: summary(off.map((r) => r.overheadMs)) },
          wall: { listener: summary(on.map((r) => r.wallMs)), none: summary(off.map((r) => r.wallMs)) },
          cpu: { listener: summary(on.map((r) => r.cpuMs)), none: summary(off.map((r) => r.cpuMs)) },
          serverPerTask: summary(rows.map((r) => r.serverMs)),
        },
        transportFloorPerCall: summary(floor),
        overheadOverFloor: round(ratio, 3),
        engineOnly: {
          perCall: { listener: summary(localOn.map(perCall)), none: summary(localOff.map(perCall)) },
          cpuPerTask: { listener: summary(localOn.map((r) => r.cpuMs)), none: summary(localOff.map((r) => r.cpuMs)) },
        },
      },
    };
  } finally {
    await fake.close();
  }
}

/**
 * The same three-call pattern made with the bare openai client (no engine, no store): what the
 * SDK, fetch and the loopback cost per call. It is part of the overhead above, not subtracted.
 */
async function transportFloor(fake: BenchFake, reps: number): Promise<number[]> {
  const client = bareClient(fake.url);
  const call = (tag: string) =>
    client.call([systemFor('vision_agent', 'You analyse images.'), { role: 'user', content: `[${tag}] What is in the picture at https://example.com/cat.png?` }]);
  for (let i = 0; i < 60; i++) await call(`fw${i}`);
  await fake.collect();
  const walls: { tag: string; wallMs: number }[] = [];
  for (let i = 0; i < reps; i++) {
    const tag = `f${i}`;
    const t0 = performance.now();
    for (let k = 0; k < 3; k++) await call(tag);
    walls.push({ tag, wallMs: performance.now() - t0 });
  }
  const spans = byTag(await fake.collect());
  return walls.map((w) => (w.wallMs - serverMs(spans.get(w.tag) ?? [])) / 3);
}
