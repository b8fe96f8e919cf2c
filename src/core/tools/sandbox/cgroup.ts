/**
 * A process-count limit for an engine running as root. The kernel exempts root's own uid from
 * RLIMIT_NPROC even inside a user namespace (the sandbox's processes still belong to uid 0 outside),
 * so for root the sandbox goes into a fresh `pids` cgroup instead: cgroup v1's pids hierarchy, or a
 * cgroup v2 folder whose parent already delegates the pids controller. One cgroup per run, removed
 * when the run ends; empty ones a killed engine left behind are removed by the next engine.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

const PREFIX = 'switchboard-sandbox-';

export interface PidsCgroup {
  /** Write a pid here to move that process (and its future children) into the cgroup. */
  procsFile: string;
  /** Removes the cgroup once its processes are gone (best effort). */
  dispose(): Promise<void>;
}

/** Folders where this process may create a child cgroup with a `pids.max`. */
async function candidates(): Promise<string[]> {
  const text = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [, controllers = '', where = ''] = line.split(':');
    if (controllers.split(',').includes('pids')) out.push(path.join('/sys/fs/cgroup', controllers, where), path.join('/sys/fs/cgroup/pids', where));
    else if (controllers === '' && where) out.push(path.join('/sys/fs/cgroup', where));
  }
  return [...new Set(out)];
}

/** The engine that made a group, from its name (`switchboard-sandbox-<pid>-…` or `…-probe-<pid>-…`). */
function ownerPid(name: string): number | undefined {
  const m = /^switchboard-sandbox-(?:probe-)?(\d+)-/.exec(name);
  return m ? Number(m[1]) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function sweepStaleGroups(base: string): Promise<void> {
  const names = await readdir(base).catch(() => [] as string[]);
  // Only groups of engines that are gone: a live engine's group is empty between its mkdir and the
  // moment the sandbox's shell joins it, and removing it then fails that engine's run.
  const stale = names.filter((n) => {
    const pid = ownerPid(n);
    return pid !== undefined && pid !== process.pid && !alive(pid);
  });
  await Promise.all(stale.map((n) => rmdir(path.join(base, n)).catch(() => undefined)));
}

async function usableBase(): Promise<string | undefined> {
  for (const base of await candidates()) {
    const test = path.join(base, `${PREFIX}probe-${process.pid}-${randomBytes(3).toString('hex')}`);
    try {
      await mkdir(test);
    } catch {
      continue;
    }
    const ok = existsSync(path.join(test, 'pids.max'));
    await rmdir(test).catch(() => undefined);
    if (ok) {
      await sweepStaleGroups(base);
      return base;
    }
  }
  return undefined;
}

let base: Promise<string | undefined> | undefined;

/** A fresh pids cgroup limited to `max` tasks, or undefined where none can be made. */
export async function pidsCgroup(max: number): Promise<PidsCgroup | undefined> {
  base ??= usableBase();
  const root = await base;
  if (!root) return undefined;
  const dir = path.join(root, `${PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(dir);
    await writeFile(path.join(dir, 'pids.max'), String(max));
  } catch {
    await rmdir(dir).catch(() => undefined);
    return undefined;
  }
  return {
    procsFile: path.join(dir, 'cgroup.procs'),
    async dispose() {
      // The namespace's processes are being killed: retry briefly while the kernel reaps them.
      for (let i = 0; i < 40; i++) {
        try {
          await rmdir(dir);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
  };
}
