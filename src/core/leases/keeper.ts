import type { Logger } from '../logger.js';
import { adoptionTime, isAdoptable, newLeaseOwner, type Lease } from './owner.js';

/** One kind of lease this process holds (runs, plans): how to renew them all, and how to look for orphans. */
export interface LeaseHolder {
  /** Extends every lease of this kind that `owner` holds to `until`. */
  renew(owner: string, until: number): Promise<unknown>;
  /** Looks for work of this kind a dead process left and takes it over; on the same beat as renewals. */
  adopt?(): Promise<unknown>;
}

export interface LeaseKeeperOptions {
  /** How long a lease holds without renewal (another process may take the work over after). */
  leaseMs?: number;
  /** How often the keeper looks at the clock; renewals happen every leaseMs/3 of it. */
  pollMs?: number;
  clock: () => number;
  logger: Logger;
}

interface Held {
  holder: LeaseHolder;
  /** Renewal and adoption in flight: never stacked on a slow one, awaited by `drop`. */
  tasks: Map<'renew' | 'adopt', Promise<void>>;
}

/**
 * The leases of one process, for runs and plans alike: one owner id, one renewal beat, one adoption
 * rule. Each kind registers a holder while it has work (`keep`) and leaves with `drop`, which waits
 * for its renewal in flight so that a release written after it is not undone by a late renewal.
 * The clock decides when a renewal is due (a test's clock that stands still never lets a lease
 * expire by its own measure); the timer only looks at it, and never keeps the process alive.
 */
export class LeaseKeeper {
  /** Identifies this process's leases: `<hostname>:<pid>:<random>`. */
  readonly owner = newLeaseOwner();
  readonly leaseMs: number;
  readonly #every: number;
  readonly #clock: () => number;
  readonly #logger: Logger;
  readonly #held = new Map<string, Held>();
  #timer: NodeJS.Timeout | null = null;
  #lastBeat = -Infinity;

  constructor(opts: LeaseKeeperOptions) {
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.#every = Math.max(10, Math.min(opts.pollMs ?? 200, Math.floor(this.leaseMs / 3)));
    this.#clock = opts.clock;
    this.#logger = opts.logger;
  }

  /** The end of a lease taken or renewed at `now`. */
  until(now: number = this.#clock()): number {
    return now + this.leaseMs;
  }

  /**
   * Whether a lease seen at `now` may be taken over by a compare-and-set on exactly that lease
   * (`Store.adoptRun`): nobody holds it, it expired, or its owner is a dead process on this host.
   * A lease of this process is never adoptable (another engine in it may be working).
   */
  mayAdopt(lease: Lease, now: number = this.#clock()): boolean {
    return isAdoptable(lease, now);
  }

  /**
   * The `now` for a time-based compare-and-set claim (`PlanStore.claimPlan`): `now` for a lease of
   * this process (renewing it) or an expired one, just past a dead local owner's lease, else null.
   */
  claimTime(lease: Lease, now: number = this.#clock()): number | null {
    return lease.leaseOwner === this.owner ? now : adoptionTime(lease, now);
  }

  /** Renews `name`'s leases (and runs its adoption) on the beat from now on; idempotent. */
  keep(name: string, holder: LeaseHolder): void {
    if (!this.#held.has(name)) this.#held.set(name, { holder, tasks: new Map() });
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#beat(), this.#every);
    this.#timer.unref();
  }

  /** Stops renewing `name`'s leases; resolves once its renewal and adoption in flight have finished. */
  async drop(name: string): Promise<void> {
    const held = this.#held.get(name);
    if (!held) return;
    this.#held.delete(name);
    if (this.#held.size === 0) this.#stop();
    await Promise.allSettled([...held.tasks.values()]);
  }

  /** Drops every holder (what each kind releases is up to it). */
  async close(): Promise<void> {
    await Promise.all([...this.#held.keys()].map((name) => this.drop(name)));
    this.#stop();
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  #beat(): void {
    const now = this.#clock();
    if (now - this.#lastBeat <= this.leaseMs / 3) return;
    this.#lastBeat = now;
    for (const [name, held] of this.#held) {
      // Each its own task: a slow adoption scan never delays a renewal.
      this.#task(name, held, 'renew', () => held.holder.renew(this.owner, now + this.leaseMs));
      if (held.holder.adopt) this.#task(name, held, 'adopt', held.holder.adopt);
    }
  }

  #task(name: string, held: Held, kind: 'renew' | 'adopt', fn: () => Promise<unknown>): void {
    if (held.tasks.has(kind)) return;
    const p = fn()
      .then(() => {}, (err: unknown) => {
        if (this.#held.get(name) === held) this.#logger.warn('lease heartbeat failed', { leases: name, task: kind, error: err });
      })
      .finally(() => held.tasks.delete(kind));
    held.tasks.set(kind, p);
  }
}
