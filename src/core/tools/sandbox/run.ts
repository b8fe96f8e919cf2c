/**
 * Runs a script for `run_code` the way the config says: in a bubblewrap sandbox (the default), or —
 * only when the config says `sandbox: { type: none }` — as a plain child process of the engine.
 *
 * Why a restarted engine finds no sandboxed orphans: every process of a run lives in one PID
 * namespace. bwrap runs with --die-with-parent, so the kernel sends it SIGKILL when the engine
 * thread that spawned it exits — however the engine dies, SIGKILL included (Node spawns from its main
 * thread) — and bwrap's namespace init gets SIGKILL when bwrap goes. When a PID namespace's init
 * dies, the kernel kills everything else in it; setsid, double forks and reparenting stay inside.
 * The only leftovers can be empty `pids` cgroups (engine as root), which the next engine removes.
 * With `sandbox: none` there is no such guarantee: only the process group is killed, on the normal paths.
 */
import path from 'node:path';
import type { SandboxConfig } from '../../agents/spec.js';
import { InternalError, ToolError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { bubblewrap, bubblewrapArgs, bubblewrapSpawn, SANDBOX_WORKSPACE } from './bubblewrap.js';
import { pidsCgroup } from './cgroup.js';
import type { Collected, SpawnPlan } from './process.js';
import { runProcess } from './process.js';
import type { Language } from './runtimes.js';
import { resolveRuntime } from './runtimes.js';

export const DEFAULT_SANDBOX: SandboxConfig = { type: 'bubblewrap', network: false, memoryMb: 1024, maxProcesses: 128 };

export interface SandboxedRun {
  language: Language;
  /** The script, relative to the workspace. */
  script: string;
  args: string[];
  /** The workspace's real host path. */
  workspace: string;
  sandbox: SandboxConfig;
  /** The agent's own network setting, which wins over the sandbox's. */
  agentNetwork: boolean | undefined;
  timeoutMs: number;
  outputBytes: number;
  signal: AbortSignal;
  logger: Logger;
}

export interface SandboxedResult extends Collected {
  /** How the workspace path appears in the code's output (to show it as "."). */
  workspaceShownAs: string;
}

/** The only environment the code sees: never the engine's. */
function childEnv(home: string, runtimeCommand: string): Record<string, string> {
  const bin = path.isAbsolute(runtimeCommand) ? [path.dirname(runtimeCommand)] : [];
  return {
    PATH: [...new Set([...bin, '/usr/local/bin', '/usr/bin', '/bin'])].join(':'),
    HOME: home,
    TMPDIR: '/tmp',
    USER: 'sandbox',
    LOGNAME: 'sandbox',
    LANG: 'C.UTF-8',
    PYTHONIOENCODING: 'utf-8',
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    NO_COLOR: '1',
  };
}

let warnedNoProcessLimit = false;

export async function runSandboxed(r: SandboxedRun): Promise<SandboxedResult> {
  // Both are checked once per engine; the first run need not wait for one after the other.
  const [runtime, bw] = await Promise.all([resolveRuntime(r.language), r.sandbox.type === 'none' ? undefined : bubblewrap()]);
  if (!path.isAbsolute(runtime.command)) {
    throw new ToolError(`Cannot run ${r.language}: ${runtime.command} is not installed on this machine.`);
  }
  // A relative script path keeps tracebacks short; "./" stops a name like "-x" being read as a flag.
  const scriptArg = r.script.startsWith('-') ? `./${r.script}` : r.script;
  const argv = [...runtime.flags, scriptArg, ...r.args];
  const limits = { timeoutMs: r.timeoutMs, outputBytes: r.outputBytes, signal: r.signal };

  if (r.sandbox.type === 'none') {
    const plan: SpawnPlan = { command: runtime.command, argv, cwd: r.workspace, env: { ...childEnv(r.workspace, runtime.command), TMPDIR: process.env.TMPDIR ?? '/tmp' } };
    return { ...(await runProcess(plan, limits)), workspaceShownAs: r.workspace };
  }

  if (!bw) throw new InternalError('a bubblewrap sandbox was chosen without a bubblewrap binary');
  const args = bubblewrapArgs(bw, {
    workspace: r.workspace,
    command: runtime.command,
    args: argv,
    runtimeDirs: runtime.dirs,
    env: childEnv(SANDBOX_WORKSPACE, runtime.command),
    network: r.agentNetwork ?? r.sandbox.network,
    memoryMb: r.sandbox.memoryMb,
    maxProcesses: r.sandbox.maxProcesses,
  });
  const { argv: bwrapArgv, inputs } = bubblewrapSpawn(args);
  let plan: SpawnPlan = { command: bw.path, argv: bwrapArgv, env: {}, inputs };
  const cgroup = process.getuid?.() === 0 ? await pidsCgroup(r.sandbox.maxProcesses) : undefined;
  if (cgroup) {
    // The shell joins the cgroup, then becomes bwrap: every process of the sandbox is born inside it.
    plan = { ...plan, command: '/bin/sh', argv: ['-c', 'echo $$ > "$0" && exec "$@"', cgroup.procsFile, bw.path, ...bwrapArgv] };
  } else if (process.getuid?.() === 0 && !warnedNoProcessLimit) {
    warnedNoProcessLimit = true;
    r.logger.warn('run_code: the engine runs as root and no pids cgroup can be made, so sandbox.maxProcesses is not enforced (the kernel exempts root from RLIMIT_NPROC); run the engine as an ordinary user');
  }
  try {
    return { ...(await runProcess(plan, limits)), workspaceShownAs: SANDBOX_WORKSPACE };
  } finally {
    await cgroup?.dispose();
  }
}
