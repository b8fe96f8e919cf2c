/**
 * The pids cgroups that hold a root engine's sandboxes. Several engines share one machine (CI runs
 * test files side by side): an engine starting up removes only the groups of engines that are gone,
 * never the still-empty group another live engine has just made for a run that is about to start.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pidsCgroup, sweepStaleGroups } from '../../src/core/tools/sandbox/cgroup.js';

const own = process.getuid?.() === 0 ? await pidsCgroup(8) : undefined;
const reason = process.getuid?.() !== 0 ? 'the engine makes pids cgroups only as root' : own ? undefined : 'no pids cgroup can be made on this machine';
if (reason) console.warn(`cgroup tests skipped: ${reason}`);

/** A pid that belonged to a process that has exited (and was reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe.skipIf(Boolean(reason))('sandbox pids cgroups', () => {
  it("an engine's sweep keeps a live engine's empty group and removes a dead engine's", async () => {
    const base = path.dirname(path.dirname(own!.procsFile));
    const sleeper = spawn('sleep', ['30']);
    const liveGroup = path.join(base, `switchboard-sandbox-${sleeper.pid}-0000aaaa`);
    const deadGroup = path.join(base, `switchboard-sandbox-${await deadPid()}-0000bbbb`);
    const deadProbe = path.join(base, `switchboard-sandbox-probe-${await deadPid()}-cccc`);
    try {
      for (const d of [liveGroup, deadGroup, deadProbe]) await mkdir(d);
      await sweepStaleGroups(base);
      expect(existsSync(liveGroup)).toBe(true);
      expect(existsSync(path.dirname(own!.procsFile))).toBe(true);
      expect(existsSync(deadGroup)).toBe(false);
      expect(existsSync(deadProbe)).toBe(false);
    } finally {
      sleeper.kill();
      for (const d of [liveGroup, deadGroup, deadProbe]) await rmdir(d).catch(() => undefined);
      await own!.dispose();
    }
  });
});
