/**
 * One long conversation in a process of its own, measuring resident memory the way a user who
 * starts a server sees it: no warm-up, no forced GC, node's default flags. Scenario 3 forks it
 * (once per context budget) and gets the samples over IPC.
 *
 * Usage: rss-thread.js MODEL_URL BUDGET|default TURN... (the last turn is the thread's length)
 */
import { readFileSync } from 'node:fs';
import { benchUser, openEngine } from './engine.js';

export interface RssSample {
  turn: number;
  rssMB: number;
  heapTotalMB: number;
  heapUsedMB: number;
  externalMB: number;
  arrayBuffersMB: number;
  /** Linux: resident anonymous memory (V8's heap pages, malloc arenas, buffers): RSS without mapped files. */
  anonMB: number | null;
  /** Linux: resident part of the main malloc arena (the `[heap]` mapping). */
  mallocMainMB: number | null;
}

export interface RssThreadResult {
  contextBudget: number;
  samples: RssSample[];
  promptTokens: Record<number, number>;
}

const MB = (bytes: number) => bytes / 2 ** 20;

/** Resident anonymous memory and the resident part of the `[heap]` mapping, from /proc (null off Linux). */
function procMemory(): { anonMB: number; mallocMainMB: number } | null {
  try {
    const rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const anon = Number(/^Anonymous:\s+(\d+) kB/m.exec(rollup)?.[1] ?? NaN);
    const smaps = readFileSync('/proc/self/smaps', 'utf8');
    const at = smaps.indexOf('[heap]');
    const heap = at < 0 ? 0 : Number(/Rss:\s+(\d+) kB/.exec(smaps.slice(at))?.[1] ?? 0);
    return Number.isFinite(anon) ? { anonMB: anon / 1024, mallocMainMB: heap / 1024 } : null;
  } catch {
    return null;
  }
}

function sample(turn: number): RssSample {
  const m = process.memoryUsage();
  const proc = procMemory();
  return {
    turn,
    rssMB: MB(m.rss),
    heapTotalMB: MB(m.heapTotal),
    heapUsedMB: MB(m.heapUsed),
    externalMB: MB(m.external),
    arrayBuffersMB: MB(m.arrayBuffers),
    anonMB: proc?.anonMB ?? null,
    mallocMainMB: proc?.mallocMainMB ?? null,
  };
}

async function main(): Promise<RssThreadResult> {
  const [url, budgetArg, ...atArgs] = process.argv.slice(2);
  const at = atArgs.map(Number);
  const turns = Math.max(...at);
  const budget = budgetArg === 'default' ? undefined : Number(budgetArg);
  const engine = await openEngine(url!, budget ? { defaults: { contextBudget: budget } } : {});
  const { sb } = engine;
  try {
    const conv = await sb.conversation('bench:rss-thread', benchUser);
    const off = sb.on(conv.id, () => {});
    const samples: RssSample[] = [];
    const promptTokens: Record<number, number> = {};
    for (let turn = 1; turn <= turns; turn++) {
      const queued = await sb.send(conv.id, { text: `[r${turn}] Turn ${turn}: tell me one more thing about lighthouses, briefly please.`, from: benchUser });
      const run = await sb.wait(queued.id);
      if (run.status !== 'completed') throw new Error(`turn ${turn} ended ${run.status}: ${run.error}`);
      if (at.includes(turn)) {
        samples.push(sample(turn));
        promptTokens[turn] = run.usage.promptTokens;
      }
    }
    off();
    return { contextBudget: sb.config.defaults.contextBudget, samples, promptTokens };
  } finally {
    await engine.close();
  }
}

main().then(
  (result) => process.send!({ result }, () => process.exit(0)),
  (err: unknown) => process.send!({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () => process.exit(1)),
);
