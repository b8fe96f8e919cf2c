import type { FakeReply } from './fake-openai.js';

/** A scripted model turn that delegates with send_message. */
export const delegate = (recipient: string, message: string, id?: string): FakeReply => ({
  toolCalls: [{ name: 'send_message', arguments: { recipient, message }, id }],
});

/** The error a promise rejects with; fails the test when it resolves. */
export async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

/**
 * A meeting point for `n` requests: each caller waits until all `n` have arrived. A fake handler
 * that awaits it answers only requests that were in flight together, so "these ran concurrently"
 * holds by construction instead of by timing (an engine that serialised them would never answer).
 */
export function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return () => {
    if (++arrived >= n) release();
    return all;
  };
}
