/**
 * Socket Mode against the fake's WebSocket endpoint: apps.connections.open with the app token, hello,
 * pings answered, an event acked only after the message is in the store, the reply streamed; and
 * Slack's native Stop for an agent session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../../support/fake-openai.js';
import { eventEnvelope } from '../../support/fake-slack.js';
import { until } from '../../support/plans.js';
import { startSlackHarness, type SlackHarness } from '../../support/slack-harness.js';

let h: SlackHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('Slack: Socket Mode', () => {
  it('connects with the app token, answers pings, acks a mention after writing it, and streams the reply', async () => {
    h = await startSlackHarness({ mode: 'socket', model: { handler: scriptByAgent({ proxy: [{ content: 'Over the socket.' }] }) } });
    await h.slack.socket.waitForConnection();
    expect(h.slack.callsOf('apps.connections.open')).toHaveLength(1);
    h.slack.socket.ping();
    await until(() => h!.slack.socket.pings > 0, 'a pong');
    const ack = await h.slack.socket.send('events_api', eventEnvelope('T1', { type: 'app_mention', user: 'U1', text: '<@UBOT1> hi', ts: '1700000500.000100', channel: 'C1' }));
    expect(ack.envelope_id).toBeTruthy();
    // By the ack, the message is a run in the store: nothing is lost if this process dies now.
    const runs = await h.sb.listRuns({});
    expect(runs.map((r) => r.idempotencyKey)).toContain('slack:T1:C1:1700000500.000100');
    await h.idle();
    expect(h.slack.messages.find((m) => m.stream)).toMatchObject({ thread_ts: '1700000500.000100', text: 'Over the socket.' });
  });
});

describe('Slack: Stop', () => {
  it('cancels the thread’s run when someone in the conversation presses Stop, and the session leaves processing', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [async () => (await hold, { content: 'too late' })] }) } });
    const { ts } = await h.say({ user: 'U1', text: '<@UBOT1> take your time' });
    await until(() => h!.model.requests.length > 0, 'the model call');
    await h.slack.postEvent(h.url, eventEnvelope('T1', { type: 'agent_session_stopped', channel: 'C1', thread_ts: ts, user: 'U1', streaming_message_ts: [] }));
    await until(async () => (await h!.sb.listRuns({})).every((r) => r.status === 'cancelled'), 'the run cancelled');
    release();
    await h.idle();
    expect(h.slack.messages.find((m) => m.stream)!.text).toMatch(/Stopped\.$/);
    expect(h.slack.callsOf('agents.sessions.setStatus').at(-1)!.args.status).toBe('active');
  });

  it('refuses Stop to someone not in the conversation: only they are told, the work goes on, and no text is lost', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [async () => (await hold, { content: 'Finished anyway.' })] }) } });
    const { ts } = await h.say({ user: 'U1', text: '<@UBOT1> take your time' });
    const stream = await until(() => h!.slack.messages.find((m) => m.stream === 'streaming'), 'the stream');
    await until(() => h!.model.requests.length > 0, 'the model call');
    // Slack's Stop ends the stream by itself, whoever pressed it.
    h.slack.endStream('C1', stream.ts);
    await h.slack.postEvent(h.url, eventEnvelope('T1', { type: 'agent_session_stopped', channel: 'C1', thread_ts: ts, user: 'U2', streaming_message_ts: [stream.ts] }));
    const told = await until(() => h!.slack.messages.find((m) => m.ephemeralTo === 'U2'), 'the answer to U2');
    expect(told.text).toMatch(/^You may not stop this conversation's work/);
    // The session stays processing: the first call is the turn's start, the second the answer to Stop.
    const sessions = await until(() => (h!.slack.callsOf('agents.sessions.setStatus').length >= 2 ? h!.slack.callsOf('agents.sessions.setStatus') : undefined), 'the session state after Stop');
    expect(sessions.map((c) => c.args.status)).toEqual(['processing', 'processing']);
    expect((await h.sb.listRuns({})).map((r) => r.status)).not.toContain('cancelled');
    release();
    await h.idle();
    expect((await h.sb.listRuns({})).every((r) => r.status === 'completed')).toBe(true);
    // The stream Slack ended is finished in a message of its own.
    expect(h.slack.messages.filter((m) => m.thread_ts === ts && !m.ephemeralTo).map((m) => m.text).join('')).toContain('Finished anyway.');
    expect(h.slack.callsOf('agents.sessions.setStatus').at(-1)!.args.status).toBe('active');
  });
});
