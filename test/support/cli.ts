/**
 * Runs the BUILT `switchboard` binary (`node dist/cli/main.js`) as a child process, the way a
 * person would from a terminal: its own working directory, an environment we choose (never the
 * real OPENAI_API_KEY), optional piped stdin. `npm test` builds first; run `npm run build` before
 * running these tests by hand.
 */
import { spawn } from 'node:child_process';
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
