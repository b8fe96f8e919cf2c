/**
 * A child engine process driven by a test or a benchmark: its output collected, its JSON report
 * lines parsed, its exit awaited. The crash harness and the replica harness build on it.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export interface SpawnedChild {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The JSON lines the child reported on stdout. */
  reports(): Record<string, unknown>[];
  alive(): boolean;
  /** The end of its output, for error messages. */
  describe(): string;
  /** SIGKILL, then wait until the process is gone; throws if it had ended by itself. */
  kill9(): Promise<void>;
  exited: Promise<Exit>;
}

/** Spawns `node <args>` in `cwd` with a minimal environment (PATH, HOME = cwd) plus `env`. */
export function spawnChild(args: string[], cwd: string, env: Record<string, string> = {}): SpawnedChild {
  let out = '';
  let err = '';
  const proc = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  proc.stdin!.on('error', () => {});
  const exited = new Promise<Exit>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  const describe = () => `stdout: ${out.slice(-2000)}\nstderr: ${err.slice(-4000)}`;
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    reports: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    alive: () => proc.exitCode === null && proc.signalCode === null,
    describe,
    async kill9() {
      proc.kill('SIGKILL');
      const { signal } = await exited;
      if (signal !== 'SIGKILL') throw new Error(`child ${proc.pid} ended by itself before the kill\n${describe()}`);
    },
    exited,
  };
}
