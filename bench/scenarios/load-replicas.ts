import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { PostgresStore } from '../../src/core/store/postgres.js';
import { PostgresPlanStore } from '../../src/core/store/postgres-plans.js';
import { startFakeOpenAI, type FakeHandler } from '../../test/support/fake-openai.js';
import { checkReplicas, countRuns, replicaConversations, replicaScript, resumedTwiceByOneProcess, startReplica, withSchema, type Replica } from '../../test/support/replicas.js';
import { fmt } from '../stats.js';
import { metric, type ScenarioOptions, type ScenarioResult } from '../types.js';

const PROCESSES = 3;
const MESSAGES = 3;
const LATENCY_MS = 50;
const FAIL_RATE = 0.07;
const LEASE_MS = 10_000;
/** Hang guard only: the run is reported as it stands if it has not finished by then. */
const GIVE_UP_MS = 45 * 60_000;

/**
 * 6. Three engine processes (the built dist/) on one PostgreSQL schema; N conversations split
 * between them, each sending 3 messages that the proxy delegates to a specialist (3 model calls per
 * message, 50 ms each); 7 % of model calls are answered 429 or 500. One process is SIGKILLed at a
 * random moment (when a random 20-80 % of the messages are answered). Then the database is checked:
 * every message answered exactly once, in order, no duplicated message or tool result.
 *
 * Needs PostgreSQL: BENCH_POSTGRES_URL or SWITCHBOARD_TEST_POSTGRES_URL (a fresh schema, dropped
 * afterwards). Size: BENCH_LOAD_REPLICAS_CONVERSATIONS (default 10,000; --quick 300).
 */
export async function loadReplicas(opts: ScenarioOptions): Promise<ScenarioResult> {
  const url = process.env.BENCH_POSTGRES_URL ?? process.env.SWITCHBOARD_TEST_POSTGRES_URL;
  const n = Number(process.env.BENCH_LOAD_REPLICAS_CONVERSATIONS ?? (opts.quick ? 300 : 10_000));
  const title = `7. load-replicas (${PROCESSES} processes on PostgreSQL, ${n.toLocaleString('en-US')} conversations × ${MESSAGES} messages, ${Math.round(FAIL_RATE * 100)} % model errors, one process killed)`;
  const params = { processes: PROCESSES, conversations: n, messagesPerConversation: MESSAGES, latencyMs: LATENCY_MS, failRate: FAIL_RATE, leaseMs: LEASE_MS };
  if (!url) {
    return { scenario: 'load-replicas', title, params, metrics: [metric('every message answered exactly once', null, '', { note: 'not available: set BENCH_POSTGRES_URL or SWITCHBOARD_TEST_POSTGRES_URL' })] };
  }

  let calls = 0;
  let failures = 0;
  const script = replicaScript({ latencyMs: LATENCY_MS, failRate: FAIL_RATE });
  const handler: FakeHandler = (req) => {
    const reply = script(req);
    calls++;
    if (reply.status) failures++;
    return reply;
  };
  const fake = await startFakeOpenAI({ handler });
  const schema = `sb_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-replicas-'));
  const replicas: Replica[] = [];
  const rss = new Map<number, number>();
  try {
    const store = new PostgresStore({ url, schema, pool: { max: 2 } });
    await store.init();
    await new PostgresPlanStore(store).init();
    await store.close();

    const convs = replicaConversations(n, MESSAGES, 'bench');
    const total = n * MESSAGES;
    const t0 = performance.now();
    for (let r = 0; r < PROCESSES; r++) {
      replicas.push(
        startReplica({
          url,
          schema,
          fakeUrl: fake.url,
          dir,
          engine: { leaseMs: LEASE_MS },
          conversations: convs.filter((_, i) => i % PROCESSES === r),
          config: { limits: { modelRetries: 6 } },
          logLevel: 'warn',
        }),
      );
    }
    const sample = () => {
      for (const r of replicas) rss.set(r.pid, Math.max(rss.get(r.pid) ?? 0, peakRss(r.pid)));
      fake.requests.length = 0; // the fake keeps every request: not needed here, and 10^5 bodies weigh
    };
    const sampler = setInterval(sample, 1_000);
    await Promise.all(replicas.map((r) => r.waitFor('sent')));
    const sentMs = performance.now() - t0;

    const killAt = Math.round(total * (0.2 + 0.6 * Math.random()));
    while ((await countRuns(admin, schema, `depth = 0 AND status = 'completed'`)) < killAt) await sleep(250);
    const victim = replicas[Math.floor(Math.random() * PROCESSES)]!;
    sample();
    const callsAtKill = calls;
    await victim.kill9();
    const tKill = performance.now();

    // Lease owners are `<host>:<pid>:<random>`: the dead process's runs are those with its pid.
    const deadOwner = `%:${victim.pid}:%`;
    let tTakenOver = Number.NaN;
    let open = Infinity;
    while (open > 0 && performance.now() - t0 < GIVE_UP_MS) {
      if (Number.isNaN(tTakenOver) && (await countRuns(admin, schema, `lease_owner LIKE '${deadOwner}'`)) === 0) tTakenOver = performance.now();
      open = await countRuns(admin, schema, `status IN ('queued', 'in_progress', 'requires_action')`);
      if (open > 0) await sleep(250);
    }
    const tDone = performance.now();
    clearInterval(sampler);
    const survivors = replicas.filter((r) => r !== victim);
    const closed = await Promise.all(survivors.map(async (r) => (await Promise.race([r.waitFor('answered'), sleep(30_000)]), await r.close())));
    for (const r of survivors) {
      const report = r.reports().find((x) => x.event === 'closed');
      if (typeof report?.maxRssBytes === 'number') rss.set(r.pid, Math.max(rss.get(r.pid) ?? 0, report.maxRssBytes));
    }

    const check = await withSchema(url, schema, (pool) => checkReplicas(pool, convs));
    const twice = resumedTwiceByOneProcess(replicas.map((r) => r.stderr()));
    const unhandled = survivors.flatMap((r) => r.reports().filter((x) => x.event === 'unhandled'));
    const badExits = closed.filter((e) => e.code !== 0).length;
    const wallMs = tDone - t0;
    const clean =
      check.answeredOnce === total && check.outOfOrder === 0 && check.duplicatedMessages === 0 && check.extraTurns === 0 && check.toolCallsWithoutOneResult === 0 && check.openRuns === 0;
    const peaks = [...rss.values()];
    return {
      scenario: 'load-replicas',
      title,
      params: { ...params, killedWhenAnswered: killAt },
      metrics: [
        metric('messages answered exactly once', `${check.answeredOnce} / ${total}`, '', { target: 'all', ok: check.answeredOnce === total }),
        metric('out of order / duplicated messages / extra model turns', `${check.outOfOrder} / ${check.duplicatedMessages} / ${check.extraTurns}`, '', { target: '0 / 0 / 0', ok: check.outOfOrder + check.duplicatedMessages + check.extraTurns === 0 }),
        metric('tool calls without exactly one result (max results of one call)', `${check.toolCallsWithoutOneResult} (${check.maxResultsPerCall})`, '', { target: '0 (1)', ok: check.toolCallsWithoutOneResult === 0 && check.maxResultsPerCall <= 1 }),
        metric('runs failed / still open', `${check.failedRuns} / ${check.openRuns}`, '', { target: '0 / 0', ok: check.failedRuns + check.openRuns === 0, ...(check.problems.length ? { note: check.problems.slice(0, 3).join('; ') } : {}) }),
        metric('wall time (spawn to every run ended)', wallMs, 'ms', { note: `all messages queued after ${fmt(sentMs)} ms` }),
        metric('model calls/s (429/500 included)', calls / (wallMs / 1000), 'calls/s', { note: `${calls} calls, ${failures} answered 429/500` }),
        metric('kill -> every run of the dead process taken over', tTakenOver - tKill, 'ms', { note: `lease ${LEASE_MS} ms; same host, so the dead pid is seen at the next scan (every lease / 3)` }),
        metric('kill -> every run ended', tDone - tKill, 'ms', { note: `killed after ${killAt} of ${total} messages answered, ${callsAtKill} model calls` }),
        metric('peak RSS per engine process (max / all)', `${fmt(Math.max(...peaks) / 2 ** 20)} / ${peaks.map((p) => fmt(p / 2 ** 20)).join(', ')}`, 'MB'),
        metric('survivors: unhandled errors / bad exits / runs resumed twice by one process', `${unhandled.length} / ${badExits} / ${twice.length}`, '', { target: '0 / 0 / 0', ok: unhandled.length + badExits + twice.length === 0 }),
      ],
      details: { check, runs: check.runs, clean, unhandled: unhandled.slice(0, 3), resumedTwice: twice.slice(0, 10), stderrTail: replicas.map((r) => r.stderr().slice(-1500)) },
    };
  } finally {
    for (const r of replicas) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await admin.end();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Peak resident set of a process (VmHWM, Linux); 0 when it cannot be read. */
function peakRss(pid: number): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}



const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
