import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/core/runs/limiter.js';

/** A task that finishes when the test says. */
function gate() {
  let open!: () => void;
  const done = new Promise<void>((r) => (open = r));
  return { done, open };
}

describe('Limiter', () => {
  it('runs at most `size` tasks at once, the rest in the order they came', async () => {
    const limiter = new Limiter(2);
    const gates = Array.from({ length: 5 }, gate);
    const started: number[] = [];
    const all = gates.map((g, i) =>
      limiter.run(async () => {
        started.push(i);
        await g.done;
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    expect(limiter.waiting).toBe(3);
    gates[1]!.open();
    await all[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.open();
    expect(await Promise.all(all)).toEqual([0, 1, 2, 3, 4]);
    expect(limiter.waiting).toBe(0);
  });

  it('lets a waiting task go when its signal aborts, and frees the turn of a task that throws', async () => {
    const limiter = new Limiter(1);
    const first = gate();
    const running = limiter.run(() => first.done);
    const controller = new AbortController();
    const waiting = limiter.run(async () => 'never', controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    expect(limiter.waiting).toBe(0);
    first.open();
    await running;
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(async () => 'free again')).toBe('free again');
  });

  it('keeps the order of thousands of waiting tasks, skipping those that gave up', async () => {
    const limiter = new Limiter(1);
    const first = gate();
    const running = limiter.run(() => first.done);
    const order: number[] = [];
    const controllers = Array.from({ length: 3000 }, () => new AbortController());
    const waiting = controllers.map((c, i) => limiter.run(async () => void order.push(i), c.signal).catch(() => 'gave up'));
    for (let i = 0; i < 3000; i += 3) controllers[i]!.abort(new Error('gave up'));
    expect(limiter.waiting).toBe(2000);
    first.open();
    await running;
    await Promise.all(waiting);
    expect(order).toEqual(Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 3 !== 0));
    expect(limiter.waiting).toBe(0);
    expect(await limiter.run(async () => 'free again')).toBe('free again');
  });
});
