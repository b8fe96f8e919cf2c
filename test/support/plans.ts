import type { FakeReply } from './fake-openai.js';

/** A planner answer: `plannerReply(['vision_agent', 'describe cat.png'], ...)`. */
export function plannerReply(...steps: [agent: string, action: string][]): FakeReply {
  return { content: JSON.stringify({ steps: steps.map(([agent, action]) => ({ agent, action })) }) };
}

/** Polls `check` until it returns a value that is not undefined/false (a condition in the DB, a request at the fake). */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}
