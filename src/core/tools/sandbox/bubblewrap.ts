/**
 * The bubblewrap sandbox for `run_code`. bwrap (a small setuid-free tool kept by the Flatpak
 * project) builds the boundary from kernel namespaces; this file only decides what is inside:
 *
 * - a new user namespace (uid 1000 "sandbox", no capabilities, no further user namespaces), PID
 *   namespace (its own /proc: only its own processes), IPC, UTS and — unless allowed — network
 *   namespace (not even loopback);
 * - read-only: /usr (and /bin, /lib… as on the host), the few /etc files a runtime reads, and the
 *   runtime's own folders; read-write: the workspace, mounted at /workspace; a private /tmp;
 * - nothing else: not the engine's environment, the store, other workspaces or the host's /home.
 *
 * Its options go through a pipe (`--args 3`), so not even /proc/1/cmdline inside names host paths.
 */
import { accessSync, constants, lstatSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ToolError } from '../../errors.js';
import { runProcess } from './process.js';

/** Where the workspace appears inside the sandbox. */
export const SANDBOX_WORKSPACE = '/workspace';
const SANDBOX_UID = 1000;

const NONE_HINT = 'or set `sandbox: { type: none }` in the config to run code without any isolation (it can then read everything the engine can)';

/** `run_code` cannot run because there is no usable sandbox; the message says what to install or change. */
export class SandboxUnavailableError extends ToolError {}

export interface Bubblewrap {
  path: string;
  /** Optional flags this bwrap version knows (0.8 added --disable-userns; --size came in 0.7). */
  disableUserns: boolean;
  tmpfsSize: boolean;
}

export interface SandboxRequest {
  /** The workspace's real host path. */
  workspace: string;
  command: string;
  args: string[];
  /** Host folders the runtime needs, shown read-only at the same path. */
  runtimeDirs: string[];
  env: Record<string, string>;
  network: boolean;
  memoryMb: number;
  maxProcesses: number;
}

/** Files under /etc a runtime may read; only what names no secret. The network adds resolver and CA files. */
const ETC_ALWAYS = ['ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'alternatives', 'localtime', 'timezone', 'mime.types', 'locale.alias'];
const ETC_NETWORK = ['resolv.conf', 'hosts', 'nsswitch.conf', 'host.conf', 'gai.conf', 'ssl', 'ca-certificates', 'pki', 'crypto-policies'];
/** Top-level system folders: bound read-only when they are folders, recreated when they are symlinks (merged /usr). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/**
 * Sets the memory and process limits inside the sandbox, then runs the command. Inside, not on
 * bwrap itself: RLIMIT_NPROC counts per user (and per user namespace), so set after the new user
 * namespace exists it counts only the sandbox's own processes. dash spells the process limit -p.
 */
const LIMITS_SCRIPT =
  'ulimit -c 0 && ulimit -d "$1" && { ulimit -u "$2" 2>/dev/null || ulimit -p "$2"; } ' +
  '|| { echo "sandbox: could not set resource limits" >&2; exit 126; }; shift 2; exec "$@"';

function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function kind(p: string): 'dir' | 'link' | undefined {
  try {
    const s = lstatSync(p);
    return s.isSymbolicLink() ? 'link' : s.isDirectory() ? 'dir' : undefined;
  } catch {
    return undefined;
  }
}

/** The files bwrap writes into the sandbox's /etc: a user for the sandbox's uid, and no host accounts. */
export function sandboxEtcFiles(): { passwd: string; group: string } {
  return {
    passwd: `sandbox:x:${SANDBOX_UID}:${SANDBOX_UID}:sandbox:${SANDBOX_WORKSPACE}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `sandbox:x:${SANDBOX_UID}:\nnogroup:x:65534:\n`,
  };
}

export interface BubblewrapCall {
  /** bwrap's options, passed NUL-separated on fd 3 (`--args 3`); fds 4 and 5 carry /etc/passwd and /etc/group. */
  options: string[];
  /** What runs inside: bwrap takes the command from its real argv only. */
  command: string[];
}

export function bubblewrapArgs(bw: Bubblewrap, req: SandboxRequest): BubblewrapCall {
  const a: string[] = ['--unshare-user', '--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_UID)];
  a.push('--unshare-ipc', '--unshare-pid', '--unshare-uts', '--hostname', 'sandbox', '--unshare-cgroup-try');
  if (!req.network) a.push('--unshare-net');
  // --die-with-parent: the sandbox dies with the engine, even a SIGKILLed one (PR_SET_PDEATHSIG).
  // --new-session: no TIOCSTI into the engine's terminal.
  a.push('--die-with-parent', '--new-session', '--cap-drop', 'ALL');
  if (bw.disableUserns) a.push('--disable-userns');

  const bound: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    const k = kind(dir);
    if (k === 'dir') {
      a.push('--ro-bind', dir, dir);
      bound.push(dir);
    } else if (k === 'link') {
      a.push('--symlink', readlinkSync(dir), dir);
    }
  }
  for (const name of [...ETC_ALWAYS, ...(req.network ? ETC_NETWORK : [])]) a.push('--ro-bind-try', `/etc/${name}`, `/etc/${name}`);
  a.push('--ro-bind-data', '4', '/etc/passwd', '--ro-bind-data', '5', '/etc/group');

  // Runtime folders, shortest first so a folder inside one already shown is skipped.
  const underTmp: string[] = [];
  for (const dir of [...new Set(req.runtimeDirs.map((d) => path.resolve(d)))].sort((x, y) => x.length - y.length)) {
    if (bound.some((b) => isInside(b, dir))) continue;
    if (dir === '/' || isInside(dir, req.workspace)) {
      throw new SandboxUnavailableError(
        `The runtime folder ${dir} holds the workspaces, so showing it to the sandbox would show every conversation's files. Install the runtime elsewhere (e.g. under /usr), ${NONE_HINT}.`,
      );
    }
    // Under /tmp (a runtime unpacked into a temp folder, as CI's node@24 is) it must go on top of the
    // private /tmp below, or that tmpfs would hide it.
    if (isInside('/tmp', dir)) underTmp.push(dir);
    else a.push('--ro-bind', dir, dir);
    bound.push(dir);
  }
  // Workspaces kept under a folder shown read-only (say /usr/local/…) would all be readable.
  const workspaces = path.dirname(req.workspace);
  const exposed = bound.find((b) => isInside(b, workspaces));
  if (exposed) {
    throw new SandboxUnavailableError(
      `The workspaces folder is inside ${exposed}, which the sandbox shows read-only, so the code could read every conversation's files. Set \`workspaceDir\` to a folder outside ${exposed}, ${NONE_HINT}.`,
    );
  }

  a.push('--proc', '/proc', '--dev', '/dev');
  if (bw.tmpfsSize) a.push('--size', String(req.memoryMb * 1024 * 1024));
  a.push('--tmpfs', '/tmp');
  for (const dir of underTmp) a.push('--ro-bind', dir, dir);
  a.push('--bind', req.workspace, SANDBOX_WORKSPACE, '--chdir', SANDBOX_WORKSPACE);
  // The sandbox's root is a tmpfs bwrap built; freeze it, so only /workspace and /tmp take writes.
  a.push('--remount-ro', '/');
  a.push('--clearenv');
  for (const [k, v] of Object.entries(req.env)) a.push('--setenv', k, v);
  const command = ['/bin/sh', '-c', LIMITS_SCRIPT, 'sandbox-limits', String(req.memoryMb * 1024), String(req.maxProcesses), req.command, ...req.args];
  return { options: a, command };
}

/** bwrap's argv and its inputs: the NUL-separated options (fd 3), then /etc/passwd and /etc/group. */
export function bubblewrapSpawn(call: BubblewrapCall): { argv: string[]; inputs: string[] } {
  const etc = sandboxEtcFiles();
  return { argv: ['--args', '3', '--', ...call.command], inputs: [call.options.map((x) => `${x}\0`).join(''), etc.passwd, etc.group] };
}

function findOnPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/**
 * Checks that `bwrap` (a path, or undefined when none was found) can build the sandbox run_code
 * uses; rejects with SandboxUnavailableError saying what to install or change.
 */
export async function probeBubblewrap(bwrap: string | undefined): Promise<Bubblewrap> {
  if (!bwrap) {
    throw new SandboxUnavailableError(
      'run_code runs code in a bubblewrap sandbox, and `bwrap` is not installed. Install bubblewrap ' +
        `(Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap; Alpine: apk add bubblewrap), ${NONE_HINT}.`,
    );
  }
  const never = new AbortController().signal;
  const help = await runProcess({ command: bwrap, argv: ['--help'], env: {} }, { timeoutMs: 10_000, outputBytes: 65_536, signal: never });
  const text = help.stdout + help.stderr;
  const bw: Bubblewrap = { path: bwrap, disableUserns: text.includes('--disable-userns'), tmpfsSize: text.includes('--size') };
  // A real sandbox, as run_code builds it (namespaces, /proc, the limits), running only the shell.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-sandbox-probe-'));
  try {
    const args = bubblewrapArgs(bw, {
      workspace: path.join(dir, 'probe'),
      command: '/bin/sh',
      args: ['-c', 'exit 0'],
      runtimeDirs: [],
      env: { PATH: '/usr/bin:/bin' },
      network: false,
      memoryMb: 256,
      maxProcesses: 64,
    });
    await mkdir(path.join(dir, 'probe'));
    const r = await runProcess({ command: bwrap, env: {}, ...bubblewrapSpawn(args) }, { timeoutMs: 20_000, outputBytes: 4096, signal: never });
    if (r.exitCode !== 0) {
      const why = (r.stderr || r.stdout).trim().split('\n')[0] || `exit ${r.exitCode ?? r.signal}`;
      throw new SandboxUnavailableError(
        `run_code runs code in a bubblewrap sandbox, and ${bwrap} cannot create one here: ${why}. ` +
          'Allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0 and kernel.unprivileged_userns_clone=1; ' +
          'on Ubuntu 23.10+ the AppArmor profile that ships with bubblewrap; in Docker, a seccomp profile that allows namespaces), ' +
          `${NONE_HINT}.`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return bw;
}

let found: Promise<Bubblewrap> | undefined;

/**
 * A working bubblewrap, checked once per process; rejects with SandboxUnavailableError saying what to
 * do. A failure is not kept: once someone installs bwrap (or the machine was just too busy to fork),
 * the next call checks again.
 */
export function bubblewrap(): Promise<Bubblewrap> {
  const attempt = (found ??= probeBubblewrap(findOnPath('bwrap')));
  attempt.catch(() => {
    if (found === attempt) found = undefined;
  });
  return attempt;
}
