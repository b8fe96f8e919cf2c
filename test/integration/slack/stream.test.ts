/**
 * The reply stream against the fake Slack with the real WebClient: something shows at once, text is
 * not held back for the SDK's 256-character buffer, a stream Slack ended early is finished in a
 * continuation message without losing text, and a pause ends the stream so later text starts anew.
 */
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/index.js';
import { UpdateQueue } from '../../../src/bots/slack/clients.js';
import { ReplyStream } from '../../../src/bots/slack/stream.js';
import { startFakeSlack, DEFAULT_TEAM, type FakeSlack } from '../../support/fake-slack.js';

let slack: FakeSlack;
let client: WebClient;
const target = { team: 'T1', channel: 'C1', threadTs: '1700000000.000100', user: 'U1' };
// A flush timer far beyond any test: text goes out only when the stream decides to send it at once.
const opts = { flushMs: 3_600_000, logger: silentLogger };

beforeEach(async () => {
  slack = await startFakeSlack();
  client = new WebClient(DEFAULT_TEAM.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
});
afterEach(() => slack.close());

describe('ReplyStream', () => {
  it('starts with a task chunk for the person who asked, sends the first text at once and stops with the rest', async () => {
    const s = new ReplyStream(client, new UpdateQueue(50, silentLogger), target, opts);
    await s.start('Thinking…');
    const start = slack.callsOf('chat.startStream')[0]!;
    expect(start.args).toMatchObject({ channel: 'C1', thread_ts: target.threadTs, recipient_user_id: 'U1', recipient_team_id: 'T1' });
    expect(JSON.parse(start.args.chunks as string)).toEqual([{ type: 'task_update', id: 'turn', title: 'Thinking…', status: 'in_progress' }]);
    s.text('Hel');
    await s.settled();
    // The first text is visible at once, not held until 256 characters (the flush timer is an hour away).
    expect(slack.textOf('C1', s.messages[0]!)).toBe('Hel');
    s.text('lo');
    await s.settled();
    expect(slack.callsOf('chat.appendStream')).toHaveLength(1);
    await s.finish();
    const stop = JSON.parse(slack.callsOf('chat.stopStream')[0]!.args.chunks as string) as { type: string; text?: string }[];
    expect(stop).toContainEqual({ type: 'markdown_text', text: 'lo' });
    expect(slack.textOf('C1', s.messages[0]!)).toBe('Hello');
    expect(slack.messages[0]!.stream).toBe('stopped');
  });

  it('finishes a stream Slack ended by itself in a continuation message, losing no text', async () => {
    const s = new ReplyStream(client, new UpdateQueue(50, silentLogger), target, opts);
    await s.start('Thinking…');
    s.text('First part. ');
    await s.settled();
    slack.endStream('C1', s.messages[0]!);
    s.text('Second part, ');
    // A task goes out at once: the append fails with message_not_in_streaming_state.
    s.task('t1', 'code_agent → run_code', 'in_progress');
    await s.settled();
    s.text('and the end.');
    await s.finish();
    expect(s.messages).toHaveLength(2);
    const shown = s.messages.map((ts) => slack.textOf('C1', ts)).join('');
    expect(shown).toBe('First part. Second part, and the end.');
    expect(s.written).toBe(shown);
    expect(slack.methods().filter((m) => m.startsWith('chat.'))).toEqual(['chat.startStream', 'chat.appendStream', 'chat.appendStream', 'chat.postMessage', 'chat.update']);
  });

  it('starts a new stream after a pause (an approval wait would outlive the first)', async () => {
    const s = new ReplyStream(client, new UpdateQueue(50, silentLogger), target, opts);
    await s.start('Thinking…');
    s.text('Before the approval. ');
    await s.pause();
    s.text('After it.');
    await s.finish();
    expect(s.messages).toHaveLength(2);
    expect(s.messages.map((ts) => slack.textOf('C1', ts))).toEqual(['Before the approval. ', 'After it.']);
    expect(slack.messages.every((m) => m.stream === 'stopped')).toBe(true);
  });

  it('completes from the stored reply without repeating text whose send is still in flight', async () => {
    const s = new ReplyStream(client, new UpdateQueue(50, silentLogger), target, opts);
    await s.start('Thinking…');
    s.text('The cat ');
    // The first text is on its way (not yet acknowledged) when the run's reply arrives.
    s.complete('The cat is orange.');
    await s.finish();
    expect(slack.textOf('C1', s.messages[0]!)).toBe('The cat is orange.');
  });

  it('ends a failed turn with a short plain reason', async () => {
    const s = new ReplyStream(client, new UpdateQueue(50, silentLogger), target, opts);
    await s.start('Thinking…');
    s.text('Working on it');
    await s.finish({ error: 'The model is unavailable.' });
    expect(slack.textOf('C1', s.messages[0]!)).toBe('Working on it\n\n:warning: The model is unavailable.');
  });
});
