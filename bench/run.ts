/**
 * `npm run bench [-- SCENARIO... ] [--quick] [--profile] [--write | --no-write]`
 *
 * Runs each scenario in a fresh node process (with --expose-gc), prints the table, and, after a
 * full run (every scenario, not --quick), writes bench/results.json and the README's table.
 * --profile adds --cpu-prof to each scenario process and prints the top self-time functions,
 * mapped back to the TypeScript sources.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, setPriority } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { summarizeProfile } from './profile.js';
import { describeMachine, machine, markdownTable, textTable } from './report.js';
import { round } from './stats.js';
import { ON_DEMAND, SCENARIOS, type ScenarioName, type ScenarioResult } from './types.js';

const HELP = `Usage: npm run bench -- [${SCENARIOS.join('|')} ...] [--quick] [--profile] [--write|--no-write]

  --quick     fewer repetitions (a smoke test; numbers are noisier)
  --profile   run each scenario under --cpu-prof and print the top self-time functions
  --write     write bench/results.json and the README table even for a partial or quick run
  --no-write  never write them (a full run writes them by default)
  --priority  run at a raised scheduling priority (needs root; shields the numbers from other load)`;

interface Args {
  names: ScenarioName[];
  quick: boolean;
  profile: boolean;
  write: boolean | undefined;
  priority: boolean;
}

function parseArgs(argv: string[]): Args {
  const names: ScenarioName[] = [];
  const args: Args = { names, quick: false, profile: false, write: undefined, priority: false };
  for (const a of argv) {
    if (a === '--quick') args.quick = true;
    else if (a === '--profile') args.profile = true;
    else if (a === '--write') args.write = true;
    else if (a === '--no-write') args.write = false;
    else if (a === '--priority') args.priority = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(HELP + '\n');
      process.exit(0);
    } else if ((SCENARIOS as readonly string[]).includes(a)) names.push(a as ScenarioName);
    else {
      process.stderr.write(`bench: unknown argument "${a}"\n${HELP}\n`);
      process.exit(2);
    }
  }
  return args;
}

function runScenario(name: ScenarioName, args: Args, profileDir: string): Promise<ScenarioResult> {
  const execArgv = ['--expose-gc', ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`] : [])];
  const child = fork(new URL('./scenario-main.js', import.meta.url), [name, ...(args.quick ? ['--quick'] : [])], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // Settles on exit, not on the message: a --cpu-prof profile is written as the process exits.
  return new Promise((resolve, reject) => {
    let answer: { result?: ScenarioResult; error?: string } | undefined;
    child.on('message', (msg: { result?: ScenarioResult; error?: string }) => (answer = msg));
    child.on('exit', (code, signal) => {
      if (answer?.result) resolve(answer.result);
      else if (answer?.error) reject(new Error(`scenario ${name} failed:\n${answer.error}`));
      else reject(new Error(`scenario ${name} exited (${signal ?? code}) without a result`));
    });
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const everything = SCENARIOS.filter((s) => !ON_DEMAND.includes(s));
  const names = args.names.length > 0 ? args.names : everything;
  const full = everything.every((s) => names.includes(s)) && !args.quick;
  const write = args.write ?? full;
  const root = repoRoot();
  const profileDir = join(root, 'dist-bench', 'profiles');
  if (args.profile) rmSync(profileDir, { recursive: true, force: true });
  const m = machine();
  process.stderr.write(`bench: ${describeMachine(m)}${args.quick ? ' (quick)' : ''}\n`);
  if (args.priority) {
    try {
      setPriority(-10); // inherited by the scenario and model server processes
    } catch (err) {
      process.stderr.write(`bench: --priority: ${(err as Error).message}; running at normal priority\n`);
      args.priority = false;
    }
  }
  const loadBefore = loadavg()[0]!;
  if (loadBefore > 0.5 * m.cores) {
    process.stderr.write(`bench: warning: load average ${loadBefore.toFixed(1)} on ${m.cores} cores: other work will inflate the numbers\n`);
  }

  const results: ScenarioResult[] = [];
  let failed = 0;
  for (const name of names) {
    process.stderr.write(`bench: ${name} ...`);
    try {
      const r = await runScenario(name, args, profileDir);
      results.push(r);
      process.stderr.write(` ${((r.durationMs ?? 0) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      failed++;
      process.stderr.write(`\n${(err as Error).message}\n`);
    }
    if (args.profile) {
      const dir = join(profileDir, name);
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
      for (const f of files) process.stdout.write(`\nProfile of ${name} (${join('dist-bench', 'profiles', name, f)}):\n${summarizeProfile(join(dir, f), root)}\n`);
    }
  }

  const date = new Date().toISOString();
  const conditions = { loadAverageBefore: round(loadBefore, 2), loadAverageAfter: round(loadavg()[0]!, 2), raisedPriority: args.priority };
  const loadNote = `load average ${conditions.loadAverageBefore} before, ${conditions.loadAverageAfter} after${args.priority ? ', raised priority' : ''}`;
  process.stdout.write(`\nSwitchboard benchmarks, ${date.slice(0, 10)}, ${describeMachine(m)}${args.quick ? ' (quick mode)' : ''}; ${loadNote}\n\n`);
  process.stdout.write(textTable(results) + '\n');

  if (write && results.length > 0) {
    const doc = { date, quick: args.quick, machine: m, conditions, results };
    writeFileSync(join(root, 'bench', 'results.json'), JSON.stringify(doc, null, 2) + '\n');
    updateReadme(join(root, 'README.md'), date, `${describeMachine(m)}; ${loadNote}`, args.quick, markdownTable(results));
    process.stderr.write('bench: wrote bench/results.json and the Benchmarks table in README.md\n');
  }
  return failed > 0 ? 1 : 0;
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** Replaces the table between the markers of the README's Benchmarks section (added by hand). */
function updateReadme(path: string, date: string, machineText: string, quick: boolean, table: string): void {
  const text = readFileSync(path, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) {
    process.stderr.write(`bench: README.md has no ${START} ... ${END} markers; table not written there\n`);
    return;
  }
  const block = `${START}\nLatest run: ${date.slice(0, 10)}, ${machineText}${quick ? ' (quick mode)' : ''}.\n\n${table}\n\n`;
  writeFileSync(path, text.slice(0, from) + block + text.slice(to));
}

mkdirSync(join(repoRoot(), 'dist-bench'), { recursive: true });
main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
