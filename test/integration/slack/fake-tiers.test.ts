/**
 * The fake Slack enforces rate tiers per workspace and method when asked (the Slack bench relies on it
 * to show that no call goes beyond a tier): beyond `perMinute` calls in 60 s it answers 429 with a
 * Retry-After, and another workspace or method is not affected.
 */
import { ErrorCode, WebClient, type WebAPIRateLimitedError } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../../support/fake-slack.js';

let slack: FakeSlack | undefined;
afterEach(() => slack?.close());

describe('fake Slack rate tiers', () => {
  it('answers 429 beyond a method’s tier in one workspace only', async () => {
    const teams = [
      { id: 'T1', botToken: 'xoxb-t1-token', botUserId: 'UBOT1', botId: 'B1' },
      { id: 'T2', botToken: 'xoxb-t2-token', botUserId: 'UBOT2', botId: 'B2' },
    ];
    slack = await startFakeSlack({ teams, limits: { 'chat.startStream': 2 } });
    const client = (token: string) => new WebClient(token, { slackApiUrl: slack!.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
    const t1 = client('xoxb-t1-token');
    const start = (c: WebClient) => c.chat.startStream({ channel: 'D1', thread_ts: '1.1' });
    await start(t1);
    await start(t1);
    const err = (await start(t1).catch((e: unknown) => e)) as WebAPIRateLimitedError;
    expect(err.code).toBe(ErrorCode.RateLimitedError);
    expect(err.retryAfter).toBeGreaterThan(0);
    // Another workspace has its own window; another method has no limit here.
    await start(client('xoxb-t2-token'));
    await t1.chat.postMessage({ channel: 'C1', text: 'not limited' });
    expect(slack.throttled.map((c) => `${c.team} ${c.method}`)).toEqual(['T1 chat.startStream']);
  });
});
