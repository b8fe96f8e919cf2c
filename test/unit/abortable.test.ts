import { describe, expect, it } from 'vitest';
import { abortable } from '../../src/core/plans/abortable.js';

/** Rejections nobody handled while `body` ran and a few turns after it (vitest would report them only at the end). */
async function unhandledDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await body();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return seen;
}

describe('abortable: a wait a plan driver can give up', () => {
  it('resolves with the promise, or rejects with its error, while the signal stays quiet', async () => {
    await expect(abortable(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7);
    await expect(abortable(Promise.reject(new Error('run failed')), new AbortController().signal)).rejects.toThrow('run failed');
  });

  it('rejects with the abort reason once the signal aborts, before the promise settles', async () => {
    const controller = new AbortController();
    const waiting = abortable(new Promise<never>(() => {}), controller.signal);
    controller.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
  });

  it('leaves no unhandled rejection when the signal had aborted already and the promise rejects too (a close: the engine refuses the wait)', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    const seen = await unhandledDuring(async () => {
      const refused = Promise.reject(new Error('Switchboard is closed'));
      await expect(abortable(refused, controller.signal)).rejects.toThrow('shutting down');
    });
    expect(seen).toEqual([]);
  });
});
