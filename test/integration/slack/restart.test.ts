/**
 * A restart in the middle of a reply: the stream ends with the text so far, the run goes on in the new
 * process, and the rest of the answer reaches the thread when the run ends (not lost to the deploy); a
 * retry of the mention after the restart is the same message, answered once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../support/plans.js';
import { startSlackHarness, type SlackHarness } from '../../support/slack-harness.js';

let h: SlackHarness | undefined;
let release: () => void = () => undefined;
afterEach(async () => {
  release();
  await h?.close();
  h = undefined;
});

describe('Slack: a restart during a reply', () => {
  it('posts the rest of the answer once the run ends in the new process', async () => {
    const hold = new Promise<void>((r) => (release = r));
    let calls = 0;
    // The first model call never answers before the restart; the new process asks again and gets the answer.
    h = await startSlackHarness({ model: { handler: async () => (++calls === 1 ? (await hold, { content: 'too late' }) : { content: 'The answer, after the restart.' }) } });
    const { ts } = await h.say({ user: 'U1', text: '<@UBOT1> a long job' });
    await until(() => h!.model.requests.length === 1 && h!.slack.messages.find((m) => m.stream === 'streaming'), 'the reply to be under way');
    await h.restart();
    // Slack retries the mention after the restart (its first delivery looked slow): the store knows the message.
    await h.say({ user: 'U1', text: '<@UBOT1> a long job', ts, retryNum: 1, message: false });
    await until(async () => (await h!.sb.listRuns({ statuses: ['completed'] })).length === 1, 'the run to complete in the new process');
    const answer = await until(() => h!.slack.messages.find((m) => m.thread_ts === ts && !m.stream && m.text.includes('The answer, after the restart.')), 'the answer in the thread');
    expect(answer.text).toBe('The answer, after the restart.');
    await h.idle();
    // The first stream was ended at shutdown (not left to Slack's timeout); the session is at rest.
    expect(h.slack.messages.filter((m) => m.stream).map((m) => m.stream)).toEqual(['stopped']);
    expect(h.slack.callsOf('agents.sessions.setStatus').at(-1)!.args.status).toBe('active');
    expect(h.slack.callsOf('assistant.threads.setStatus').at(-1)!.args.status).toBe('');
    // Posted once, though the old and the new process both followed the run.
    expect(h.slack.messages.filter((m) => m.text.includes('The answer, after the restart.'))).toHaveLength(1);
    expect((await h.sb.listRuns({})).map((r) => r.idempotencyKey)).toEqual([`slack:T1:C1:${ts}`]);
    expect(h.slack.callsOf('chat.startStream')).toHaveLength(1);
  });

  it('posts the answer of a message whose process died between the ack and the reply (never claimed)', async () => {
    h = await startSlackHarness({ section: { replyBeatMs: 20 }, model: { handler: async () => ({ content: 'Answered by whoever saw it end.' }) } });
    // What intake wrote before the ack, and nothing after it: the conversation, its references, the run.
    const ts = '1700000777.000100';
    const who = { surface: 'slack', tenant: 'T1', userId: 'U1' };
    const conv = await h.sb.conversation(`slack:T1:C1:${ts}`, who, { access: 'shared' });
    await h.sb.refs.put('slack', 'conversation', `slack:T1:C1:${ts}`, { conversationId: conv.id });
    await h.sb.refs.put('slack', 'conversation', conv.id, { team: 'T1', channel: 'C1', threadTs: ts });
    await h.sb.send(conv.id, { text: 'hello', from: who, idempotencyKey: `slack:T1:C1:${ts}` });
    const answer = await until(() => h!.slack.messages.find((m) => m.thread_ts === ts && m.text === 'Answered by whoever saw it end.'), 'the answer in the thread');
    expect(answer.channel).toBe('C1');
    await h.idle();
    expect(h.slack.messages.filter((m) => m.thread_ts === ts)).toHaveLength(1);
  });
});
