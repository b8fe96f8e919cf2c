/**
 * For the run_code tests: whether this machine can build the bubblewrap sandbox (and why not), and
 * a look at the host's /proc for processes still carrying a marker the test put in their argv.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { bubblewrap } from '../../src/core/tools/sandbox/bubblewrap.js';

/** Undefined when bubblewrap works here; otherwise the reason (printed once by the caller). */
export async function sandboxUnavailableReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `bubblewrap needs Linux (this is ${process.platform})`;
  return bubblewrap().then(
    () => undefined,
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
}

/** Host pids of live (not zombie) processes whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (!cmdline.includes(marker)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      found.push(Number(name));
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

/** Waits (up to a generous bound, for a busy machine) until no process carries `marker`; returns the survivors. */
export async function eventuallyNoneWith(marker: string): Promise<number[]> {
  let left = processesWith(marker);
  for (let i = 0; i < 200 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left = processesWith(marker);
  }
  return left;
}

/** Waits until `check` holds (a file appeared, a process started), failing after a generous bound. */
export async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
