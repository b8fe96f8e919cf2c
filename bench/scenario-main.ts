/**
 * Runs one scenario in this (fresh) process and sends its result to the runner over IPC: each
 * scenario gets its own heap, JIT state and peak RSS. Usage (from run.js): scenario-main.js NAME [--quick]
 */
import { performance } from 'node:perf_hooks';
import { scenarios } from './scenarios/index.js';
import { SCENARIOS, type ScenarioName } from './types.js';

const name = process.argv[2] as ScenarioName;
const quick = process.argv.includes('--quick');

function reply(message: unknown): Promise<void> {
  return new Promise((resolve) => {
    if (process.send) process.send(message, () => resolve());
    else {
      process.stdout.write(JSON.stringify(message, null, 2) + '\n');
      resolve();
    }
  });
}

try {
  if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario "${name}"; known: ${SCENARIOS.join(', ')}`);
  const t0 = performance.now();
  const result = await scenarios[name]({ quick });
  result.durationMs = Math.round(performance.now() - t0);
  await reply({ result });
  process.exit(0);
} catch (err) {
  await reply({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
}
