/**
 * The thread's status line against the fake Slack: set when work starts, sent again while it lasts
 * (Slack clears a status after two minutes; here the refresh interval is short), cleared at the end,
 * with the agent session going processing -> active; and the bot doing so in a channel thread.
 */
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/index.js';
import { ThreadStatus } from '../../../src/bots/slack/status.js';
import { DEFAULT_TEAM, startFakeSlack, type FakeSlack } from '../../support/fake-slack.js';
import { scriptByAgent } from '../../support/fake-openai.js';
import { until } from '../../support/plans.js';
import { startSlackHarness } from '../../support/slack-harness.js';

let slack: FakeSlack;
beforeEach(async () => {
  slack = await startFakeSlack();
});
afterEach(() => slack.close());

describe('ThreadStatus', () => {
  it('keeps the status line alive until the turn ends, then clears it', async () => {
    const client = new WebClient(DEFAULT_TEAM.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    const status = new ThreadStatus(client, { channel: 'C1', threadTs: '1.000100' }, { refreshMs: 25, logger: silentLogger, title: 'Cats', user: 'U1' });
    await status.begin('is thinking…');
    await status.set('vision_agent is looking at the image…');
    const lines = () => slack.callsOf('assistant.threads.setStatus').map((c) => c.args.status);
    await until(() => lines().filter((l) => l === 'vision_agent is looking at the image…').length >= 3, 'the status to be sent again');
    await status.end();
    const after = slack.calls.length;
    expect(lines().at(-1)).toBe('');
    expect(slack.callsOf('agents.sessions.setStatus').map((c) => [c.args.status, c.args.title ?? null])).toEqual([['processing', 'Cats'], ['active', null]]);
    // Nothing more once ended (the refresh timer is gone).
    await new Promise((r) => setTimeout(r, 100));
    expect(slack.calls.length).toBe(after);
  });
});

describe('the bot’s status line in a channel thread', () => {
  it('is sent again while a turn lasts, before Slack would clear it, and cleared at the end', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const h = await startSlackHarness({ section: { statusRefreshMs: 30 }, model: { handler: scriptByAgent({ proxy: [async () => (await hold, { content: 'Done.' })] }) } });
    try {
      const { ts } = await h.say({ user: 'U1', text: '<@UBOT1> slow one' });
      const lines = () => h.slack.callsOf('assistant.threads.setStatus').filter((c) => c.args.channel_id === 'C1' && c.args.thread_ts === ts).map((c) => c.args.status);
      await until(() => lines().filter((l) => l === 'is thinking…').length >= 3, 'the status line sent again');
      release();
      await h.idle();
      expect(lines().at(-1)).toBe('');
      expect(h.slack.messages.find((m) => m.stream)!.text).toBe('Done.');
    } finally {
      release();
      await h.close();
    }
  });
});
