/**
 * Runs the BUILT `switchboard` binary (`node dist/cli/main.js`) as a child process, the way a
 * person would from a terminal: its own working directory, an environment we choose (never the
 * real OPENAI_API_KEY), optional piped stdin. `npm test` builds first; run `npm run build` before
 * running these tests by hand.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'dist/cli/main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  /** The whole environment of the child (PATH and HOME are added when missing). */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed. Without it stdin is closed at once (not a TTY). */
  input?: string;
  /** Kills the child after this long; a safety net, never a timing assertion. */
  killAfterMs?: number;
}

/** Fails early, with what to do, when the binary has not been built. */
export function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} does not exist: run \`npm run build\` before the CLI tests.`);
}

export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  return startCli(args, opts).done;
}

export interface RunningCli {
  done: Promise<CliResult>;
  /** What the child has written to stdout so far. */
  stdout(): string;
  /** Resolves once stdout matches; rejects if the child exits first. */
  waitForStdout(pattern: RegExp | string): Promise<void>;
}

/** Starts the binary and lets the test watch its output while it runs. */
export function startCli(args: string[], opts: CliOptions): RunningCli {
  assertBuilt();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: opts.cwd,
    SWITCHBOARD_USER: 'tester',
    ...opts.env,
  };
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of watchers) w();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliResult>((resolvePromise, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const w of watchers) w();
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
  child.stdin.on('error', () => {}); // the child may exit before reading all of it
  child.stdin.end(opts.input ?? '');
  const matches = (pattern: RegExp | string) => (typeof pattern === 'string' ? stdout.includes(pattern) : pattern.test(stdout));
  return {
    done,
    stdout: () => stdout,
    waitForStdout: (pattern) =>
      new Promise<void>((resolveWait, reject) => {
        const check = () => {
          if (matches(pattern)) {
            watchers.delete(check);
            resolveWait();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            watchers.delete(check);
            reject(new Error(`switchboard exited before stdout matched ${String(pattern)}; stdout: ${JSON.stringify(stdout)}; stderr: ${JSON.stringify(stderr)}`));
          }
        };
        watchers.add(check);
        check();
      }),
  };
}

/** A temporary working directory for one test, with optional files in it. */
export function tempDir(files: Record<string, string> = {}): { dir: string; write(name: string, text: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  for (const [name, text] of Object.entries(files)) write(name, text);
  return { dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A stack trace line, as Node prints them. */
export const STACK_LINE = /^\s+at .+[:(]/m;

/** A long-running `switchboard` (serve, slack --socket): what it wrote to stderr, and a stop that waits for its exit. */
export interface ServingCli {
  stderr(): string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
  /** Kills it with `signal` (a crash: SIGKILL) and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts the binary in `cwd` with exactly `env` (plus PATH and HOME) and leaves it running. */
export function spawnServing(args: string[], cwd: string, env: Record<string, string>): ServingCli {
  assertBuilt();
  let stderr = '';
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('close', r));
    child.kill(signal);
    await exited;
  };
  return { stderr: () => stderr, stop: () => kill('SIGTERM'), kill };
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

/** Waits until `serve` on `port` answers /healthz; returns its base URL. */
export async function servingAt(port: number, cli: ServingCli): Promise<string> {
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if ((await fetch(`${base}/healthz`).catch(() => null))?.ok) return base;
    if (i >= 400) throw new Error(`serve did not listen on ${base}; stderr: ${cli.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
