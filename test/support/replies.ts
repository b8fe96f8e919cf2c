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
