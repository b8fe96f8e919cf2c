import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaseKeeper } from '../../src/core/leases/keeper.js';
import { createLogger } from '../../src/core/logger.js';

/** The keeper's timer runs on vitest's fake timers; its clock is the test's, moved by hand. */
function keeper(leaseMs = 300) {
  let now = 1_000;
  const k = new LeaseKeeper({ leaseMs, pollMs: 10, clock: () => now, logger: createLogger({ level: 'error' }) });
  const advance = async (ms: number) => {
    now += ms;
    await vi.advanceTimersByTimeAsync(10);
  };
  return { k, advance, now: () => now };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('LeaseKeeper', () => {
  it('renews every kept kind with one owner on one beat, when a third of the lease has passed by its clock', async () => {
    vi.useFakeTimers();
    const { k, advance, now } = keeper();
    const renewed: string[] = [];
    k.keep('runs', { renew: async (owner, until) => void renewed.push(`runs ${owner} ${until - now()}`) });
    k.keep('plans', { renew: async (owner, until) => void renewed.push(`plans ${owner} ${until - now()}`) });
    await advance(0);
    expect(renewed).toEqual([`runs ${k.owner} 300`, `plans ${k.owner} 300`]);
    // The timer ticks, but the clock stands still: no renewal is due.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(renewed).toHaveLength(2);
    await advance(100);
    expect(renewed).toHaveLength(2);
    await advance(1);
    expect(renewed).toHaveLength(4);
    await k.close();
  });

  it('drop waits for the renewal in flight and renews that kind no more', async () => {
    vi.useFakeTimers();
    const { k, advance } = keeper();
    let release!: () => void;
    let calls = 0;
    k.keep('runs', { renew: () => (calls++, new Promise<void>((r) => (release = r))) });
    await advance(0);
    expect(calls).toBe(1);
    let dropped = false;
    const drop = k.drop('runs').then(() => (dropped = true));
    await Promise.resolve();
    expect(dropped).toBe(false);
    release();
    await drop;
    expect(dropped).toBe(true);
    await advance(1_000);
    expect(calls).toBe(1);
  });

  it('never stacks a slow adoption scan, and a slow scan never holds up renewals', async () => {
    vi.useFakeTimers();
    const { k, advance } = keeper();
    let scans = 0;
    let renewals = 0;
    k.keep('plans', { renew: async () => void renewals++, adopt: () => (scans++, new Promise<void>(() => {})) });
    await advance(0);
    await advance(200);
    await advance(200);
    expect({ scans, renewals }).toEqual({ scans: 1, renewals: 3 });
  });

  it('adopts expired and ownerless leases, claims its own, and leaves live ones alone', () => {
    const { k, now } = keeper();
    expect(k.mayAdopt({ leaseOwner: null, leaseUntil: null })).toBe(true);
    expect(k.mayAdopt({ leaseOwner: 'elsewhere:1:abc', leaseUntil: now() - 1 })).toBe(true);
    expect(k.mayAdopt({ leaseOwner: 'elsewhere:1:abc', leaseUntil: now() + 1 })).toBe(false);
    expect(k.claimTime({ leaseOwner: k.owner, leaseUntil: now() + 100 })).toBe(now());
    expect(k.claimTime({ leaseOwner: 'elsewhere:1:abc', leaseUntil: now() + 100 })).toBeNull();
    expect(k.until()).toBe(now() + 300);
  });
});
