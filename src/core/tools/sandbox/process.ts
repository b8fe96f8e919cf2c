/**
 * Runs one child process for `run_code`: collects capped stdout/stderr, enforces the time limit and
 * cancellation, and always resolves — even when something the child left behind holds the pipes open.
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { InternalError } from '../../errors.js';

/** After the child exits, how long its pipes may stay open (for the last output) before we stop reading. */
const DRAIN_MS = 500;
/** After a kill, how long to wait for the exit before resolving anyway (a process stuck in the kernel). */
const KILL_GRACE_MS = 3000;

export interface SpawnPlan {
  command: string;
  argv: string[];
  cwd?: string;
  env: Record<string, string>;
  /** Written to extra pipes, the first on fd 3 (bwrap reads its arguments and files from them). */
  inputs?: readonly string[];
}

export interface Collected {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  stdout: string;
  stderr: string;
  droppedStdout: number;
  droppedStderr: number;
  timedOut: boolean;
  cancelled: boolean;
}

/** `buf` without a UTF-8 character cut off at its end. */
export function trimPartialUtf8(buf: Buffer): Buffer {
  for (let back = 1; back <= Math.min(4, buf.length); back++) {
    const byte = buf[buf.length - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? buf.subarray(0, buf.length - back) : buf;
  }
  return buf;
}

/**
 * SIGKILL to the child and its process group. For a bwrap sandbox that is enough for the whole
 * tree: bwrap's namespace init dies with it (`--die-with-parent`), and the kernel kills every
 * process in a PID namespace when its init dies — setsid or double-fork cannot escape that.
 */
function killTree(pid: number | undefined): void {
  if (pid === undefined) return;
  for (const target of process.platform === 'win32' ? [pid] : [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

export function runProcess(plan: SpawnPlan, opts: { timeoutMs: number; outputBytes: number; signal: AbortSignal }): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const inputs = plan.inputs ?? [];
    let child;
    try {
      child = spawn(plan.command, plan.argv, {
        cwd: plan.cwd,
        env: plan.env,
        stdio: ['ignore', 'pipe', 'pipe', ...inputs.map(() => 'pipe' as const)],
        detached: process.platform !== 'win32',
        windowsHide: true,
      });
    } catch (err) {
      reject(err);
      return;
    }
    const pid = child.pid;
    const { stdout, stderr } = child;
    if (!stdout || !stderr) {
      killTree(pid);
      reject(new InternalError('the sandboxed child process has no output pipes'));
      return;
    }
    inputs.forEach((data, i) => {
      const pipe = child.stdio[3 + i] as Writable | null;
      // The reader may die before it reads (a bad sandbox): that shows in its exit, not as EPIPE here.
      pipe?.on('error', () => undefined);
      pipe?.end(data);
    });
    // Each stream keeps at most `cap` bytes (then stops collecting but keeps draining, so the
    // child never blocks on a full pipe); the two are cut to `cap` together at the end.
    const cap = opts.outputBytes;
    const out = { chunks: [] as Buffer[], kept: 0, dropped: 0 };
    const err = { chunks: [] as Buffer[], kept: 0, dropped: 0 };
    let timedOut = false;
    let cancelled = false;
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const timers: NodeJS.Timeout[] = [];

    const take = (chunk: Buffer, into: typeof out): void => {
      const room = cap - into.kept;
      const keep = chunk.length <= room ? chunk : chunk.subarray(0, Math.max(0, room));
      if (keep.length) into.chunks.push(keep);
      into.kept += keep.length;
      into.dropped += chunk.length - keep.length;
    };
    stdout.on('data', (chunk: Buffer) => take(chunk, out));
    stderr.on('data', (chunk: Buffer) => take(chunk, err));

    const settle = (): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      opts.signal.removeEventListener('abort', onAbort);
      // Stop reading: whatever still holds the pipes open gets no more of our attention.
      stdout.destroy();
      stderr.destroy();
      // Combined cap: stderr (where the error is) keeps at least half when both overflow.
      const errShare = Math.min(err.kept, Math.max(Math.floor(cap / 2), cap - out.kept));
      const outShare = Math.min(out.kept, cap - errShare);
      const decode = (s: typeof out, share: number) => {
        const all = Buffer.concat(s.chunks);
        let buf: Buffer = all.subarray(0, share);
        // When the cap cut the stream, do not end on half a character.
        if (s.dropped > 0 || buf.length < all.length) buf = trimPartialUtf8(buf);
        return { text: buf.toString('utf8'), dropped: s.dropped + all.length - buf.length };
      };
      const o = decode(out, outShare);
      const e = decode(err, errShare);
      resolve({
        exitCode: exit?.code ?? null,
        signal: exit ? exit.signal : 'SIGKILL',
        durationMs: Math.round(performance.now() - started),
        stdout: o.text,
        stderr: e.text,
        droppedStdout: o.dropped,
        droppedStderr: e.dropped,
        timedOut,
        cancelled,
      });
    };
    const kill = (): void => {
      killTree(pid);
      timers.push(setTimeout(settle, KILL_GRACE_MS));
    };

    timers.push(
      setTimeout(() => {
        timedOut = true;
        kill();
      }, opts.timeoutMs),
    );
    const onAbort = (): void => {
      cancelled = true;
      kill();
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });

    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      opts.signal.removeEventListener('abort', onAbort);
      killTree(pid);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Anything left in the group goes too; then give the pipes a moment to deliver the last
      // output and stop reading, so a descendant holding them open cannot hold up the call.
      killTree(pid);
      timers.push(setTimeout(settle, DRAIN_MS));
    });
    child.on('close', settle);
    if (opts.signal.aborted) onAbort();
  });
}
