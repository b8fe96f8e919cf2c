import { hostname } from 'node:os';

/** A lease as runs and plans store it. */
export interface Lease {
  leaseOwner: string | null;
  leaseUntil: number | null;
}

/**
 * Lease owners name their process: `<hostname>:<pid>:<random>`. A process restarted after a crash
 * (SIGKILL, power loss of a container that keeps its volume) would otherwise wait out the whole
 * lease of its dead predecessor; on the same host it can tell that the owner is gone.
 */
export function newLeaseOwner(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * True when `owner` is a process on this host that no longer exists. False when it lives, runs
 * elsewhere, is this very process (another engine in it may still be working), or cannot be told.
 */
export function isDeadLocalOwner(owner: string | null): boolean {
  if (!owner) return false;
  const parts = owner.split(':');
  if (parts.length < 3) return false;
  const pid = Number(parts[parts.length - 2]);
  const host = parts.slice(0, -2).join(':');
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Whether a lease seen at `now` may be taken over: nobody holds it, it expired, or its owner is a
 * process on this host that no longer exists. The taking itself is a compare-and-set on exactly the
 * lease judged here (`Store.adoptRun`), so a decision made on a stale view loses instead of
 * taking a lease someone renewed or took in the meantime.
 */
export function isAdoptable(lease: Lease, now: number): boolean {
  if (lease.leaseOwner === null || lease.leaseUntil === null || lease.leaseUntil < now) return true;
  return isDeadLocalOwner(lease.leaseOwner);
}

/**
 * The `now` to pass to a time-based compare-and-set adoption (`claimPlan`): the real time when
 * the lease expired, or just past the dead owner's lease, so that only a lease still held by that
 * dead owner is taken (a process that adopted it first has written a later lease).
 */
export function adoptionTime(lease: Lease, now: number): number | null {
  if (lease.leaseUntil === null || lease.leaseUntil < now || lease.leaseOwner === null) return now;
  if (isDeadLocalOwner(lease.leaseOwner)) return lease.leaseUntil + 1;
  return null;
}
