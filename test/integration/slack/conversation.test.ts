/**
 * The Slack bot on the real engine, over signed HTTP from the fake Slack: mentions, threads, the twin
 * and retries, what is ignored, the agent view, images, several workspaces.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { lastUserTextOf, scriptByAgent, TINY_PNG_B64 } from '../../support/fake-openai.js';
import { eventEnvelope, type FakeTeam } from '../../support/fake-slack.js';
import { until } from '../../support/plans.js';
import { delegate } from '../../support/replies.js';
import { startSlackHarness, type SlackHarness } from '../../support/slack-harness.js';

let h: SlackHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const BOT = '<@UBOT1>';
const streamed = (h: SlackHarness) => h.slack.messages.filter((m) => m.stream);

describe('Slack: conversations in threads', () => {
  it('answers a mention with a streamed reply in its thread, delegations shown as tasks, for the person who asked', async () => {
    h = await startSlackHarness({
      model: { handler: scriptByAgent({ proxy: [delegate('vision_agent', 'Describe the cat'), { content: 'The cat is orange.' }], vision_agent: [{ content: 'An orange cat.' }] }) },
    });
    const { ts, statuses } = await h.say({ user: 'U1', text: `${BOT} what colour is the cat?` });
    expect(statuses).toEqual([200, 200]);
    await h.idle();
    const [reply, ...more] = streamed(h);
    expect(more).toHaveLength(0);
    expect(reply).toMatchObject({ channel: 'C1', thread_ts: ts, recipient: 'U1', stream: 'stopped', text: 'The cat is orange.' });
    const tasks = reply!.chunks.filter((c) => (c as { type: string }).type === 'task_update') as { title: string; status: string }[];
    expect(tasks[0]).toMatchObject({ title: 'Thinking…', status: 'in_progress' });
    expect(tasks.some((t) => t.title.startsWith('vision_agent: Describe the cat') && t.status === 'in_progress')).toBe(true);
    expect(tasks.some((t) => t.title === 'vision_agent: done' && t.status === 'complete')).toBe(true);
    // The thread showed who worked, and the session went back to active.
    const statusLines = h.slack.callsOf('assistant.threads.setStatus').map((c) => c.args.status);
    expect(statusLines[0]).toBe('is thinking…');
    expect(statusLines.some((s) => String(s).includes('vision_agent'))).toBe(true);
    expect(statusLines.at(-1)).toBe('');
    // The finished reply carries feedback buttons naming its run.
    expect(JSON.stringify(reply!.blocks)).toMatch(/"type":"feedback_buttons".*"value":"run_[^"]+:good"/);
    expect(h.slack.callsOf('agents.sessions.setStatus').map((c) => c.args.status)).toEqual(['processing', 'active']);
    // The person's words reached the proxy without the mention.
    expect(lastUserTextOf(h.model.requests.find((r) => r.agent === 'proxy')!.body.messages)).toBe('what colour is the cat?');
  });

  it('streams the reply even when Slack throttles the status calls (they never pause the reply’s queue)', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [{ content: 'Still here.' }] }) } });
    h.slack.rateLimit('assistant.threads.setStatus', 3_600, 1);
    h.slack.rateLimit('agents.sessions.setStatus', 3_600, 1);
    await h.say({ user: 'U1', text: `${BOT} hi` });
    await h.idle();
    expect(streamed(h)[0]).toMatchObject({ stream: 'stopped', text: 'Still here.' });
  });

  it('ends a failed turn with a short plain reason, never a key or a stack', async () => {
    h = await startSlackHarness({ model: { handler: () => ({ status: 400, error: 'Invalid request for key sk-test-secret-key: context too long' }) } });
    await h.say({ user: 'U1', text: `${BOT} hi` });
    await h.idle();
    const text = streamed(h)[0]!.text;
    expect(text).toMatch(/^:warning: /);
    expect(text).not.toContain('sk-test-secret-key');
    expect(text).not.toMatch(/\n\s+at /);
    expect(text.length).toBeLessThan(400);
    expect(h.slack.callsOf('agents.sessions.setStatus')[0]!.args.title).toBe('hi');
  });

  it('continues the thread without a mention, and ignores channel chatter outside its threads', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [{ content: 'First answer.' }, (req) => ({ content: `Second: ${req.lastUserText}` })] }) } });
    const { ts } = await h.say({ user: 'U1', text: `${BOT} hello` });
    await h.idle();
    await h.say({ user: 'U2', text: 'and a follow-up', threadTs: ts });
    await h.say({ user: 'U2', text: 'unrelated top-level chatter' });
    await h.say({ user: 'U2', text: 'a reply in someone else’s thread', threadTs: '1699999999.000001' });
    await h.idle();
    expect(streamed(h).map((m) => m.text)).toEqual(['First answer.', 'Second: and a follow-up']);
    expect(streamed(h)[1]).toMatchObject({ thread_ts: ts, recipient: 'U2' });
    expect(h.model.requests.filter((r) => r.agent === 'proxy')).toHaveLength(2);
  });

  it('answers a mention once, though it arrives twice (app_mention + message) and Slack retries it', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [{ content: 'Once.' }] }) } });
    const ts = '1700000123.000100';
    await h.say({ user: 'U1', text: `${BOT} hi`, ts, eventId: 'Ev1', message: false });
    // Slack's HTTP ack (the 200) left only after the message was a run in the store: nothing is lost after it.
    expect((await h.sb.listRuns({})).map((r) => r.idempotencyKey)).toEqual(['slack:T1:C1:1700000123.000100']);
    await h.say({ user: 'U1', text: `${BOT} hi`, ts, eventId: 'Ev1', mention: false });
    await h.say({ user: 'U1', text: `${BOT} hi`, ts, eventId: 'Ev1', retryNum: 1, message: false });
    await h.idle();
    expect(streamed(h)).toHaveLength(1);
    expect(h.model.requests).toHaveLength(1);
    const runs = await h.sb.listRuns({ parentRunId: undefined });
    expect(runs.filter((r) => r.idempotencyKey === 'slack:T1:C1:1700000123.000100')).toHaveLength(1);
  });

  it('shuts down at once while a reply waits for its rate budget (the waiting call is dropped, the text so far stands)', async () => {
    h = await startSlackHarness({ section: { streamsPerMinute: { start: 1, append: 100, stop: 20 } }, model: { handler: scriptByAgent({ proxy: [{ content: 'One.' }, { content: 'Two.' }] }) } });
    await h.say({ user: 'U1', text: `${BOT} one` });
    await h.say({ user: 'U1', text: `${BOT} two`, channel: 'C2' });
    await until(async () => (await h!.sb.listRuns({ statuses: ['completed'] })).length === 2, 'both runs to complete');
    await until(() => streamed(h!).find((m) => m.stream === 'stopped'), 'the first reply');
    // The second reply's chat.startStream waits for the next minute of the workspace's Tier 2 budget.
    expect(h.slack.callsOf('chat.startStream')).toHaveLength(1);
    const closing = h;
    h = undefined;
    // Without dropping the waiting call this would wait out the budget's minute (beyond the test's timeout).
    await closing.close();
    expect(streamed(closing)[0]!.text).toMatch(/^(One|Two)\.$/);
  });

  it('starts nothing for bots (itself included), edits, deletions and joins', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [{ content: 'no' }] }) } });
    const post = (event: Record<string, unknown>) => h!.slack.postEvent(h!.url, eventEnvelope('T1', { channel: 'C1', channel_type: 'channel', ts: '1700000200.000100', ...event }));
    expect((await post({ type: 'message', user: 'UBOT1', bot_id: 'B1', text: `${BOT} echo` })).status).toBe(200);
    await post({ type: 'message', subtype: 'bot_message', bot_id: 'B9', text: `${BOT} other bot` });
    await post({ type: 'message', subtype: 'message_changed', message: { user: 'U1', text: `${BOT} edited` } });
    await post({ type: 'message', subtype: 'message_deleted', previous_message: { user: 'U1' } });
    await post({ type: 'message', subtype: 'channel_join', user: 'U3', text: '<@U3> has joined' });
    await h.idle();
    expect(h.model.requests).toHaveLength(0);
    expect(h.slack.methods().filter((m) => m !== 'auth.test')).toEqual([]);
  });

  it('refuses a bad signature and a stale timestamp with 401, and starts nothing', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [{ content: 'no' }] }) } });
    const body = eventEnvelope('T1', { type: 'app_mention', user: 'U1', text: `${BOT} hi`, ts: '1700000300.000100', channel: 'C1' });
    expect((await h.slack.postEvent(h.url, body, { secret: 'not-the-secret' })).status).toBe(401);
    expect((await h.slack.postEvent(h.url, body, { timestamp: Math.floor(Date.now() / 1000) - 10 * 60 })).status).toBe(401);
    await h.idle();
    expect(h.model.requests).toHaveLength(0);
  });

  it('in the agent view: suggested prompts when the Messages tab opens, a private conversation per DM thread, its session titled and its status shown', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [{ content: 'Hi there.' }] }) } });
    // People opening the tab can hit its rate limit: a throttled prompt must not pause the replies' queue for its Retry-After.
    h.slack.rateLimit('assistant.threads.setSuggestedPrompts', 3_600, 1);
    await h.slack.postEvent(h.url, eventEnvelope('T1', { type: 'app_home_opened', user: 'U2', channel: 'D2', tab: 'messages' }));
    await h.slack.postEvent(h.url, eventEnvelope('T1', { type: 'app_home_opened', user: 'U1', channel: 'D1', tab: 'messages' }));
    const prompts = h.slack.callsOf('assistant.threads.setSuggestedPrompts')[1]!;
    expect(prompts.args.channel_id).toBe('D1');
    // Agent apps must not pass thread_ts (the call would silently fail).
    expect(prompts.args).not.toHaveProperty('thread_ts');
    expect(JSON.parse(prompts.args.prompts as string).length).toBeGreaterThan(0);
    const { ts } = await h.say({ user: 'U1', text: 'hello', channel: 'D1' });
    await h.idle();
    expect(streamed(h)[0]).toMatchObject({ channel: 'D1', thread_ts: ts, text: 'Hi there.' });
    const conv = await h.sb.conversation(`slack:T1:D1:${ts}`, { surface: 'slack', tenant: 'T1', userId: 'U1' });
    expect(conv.access).toBe('private');
    // The agent session of that thread: titled by the message, processing while agents work, then active; the status line shown and cleared.
    const inThread = (m: string) => h!.slack.callsOf(m).filter((c) => c.args.channel_id === 'D1' && c.args.thread_ts === ts).map((c) => c.args);
    expect(inThread('agents.sessions.setStatus')).toEqual([expect.objectContaining({ status: 'processing', title: 'hello', initiator_user_id: 'U1' }), expect.objectContaining({ status: 'active' })]);
    expect(inThread('assistant.threads.setStatus').map((a) => a.status)).toEqual(['is thinking…', '']);
  });

  it('sends an attached image to the vision agent (bot token to Slack’s file host only) and uploads images the agents make', async () => {
    h = await startSlackHarness({
      model: {
        handler: scriptByAgent({
          proxy: [(req) => ({ content: `saw ${req.messages.some((m) => Array.isArray(m.content) && m.content.some((p) => p.type === 'image_url')) ? 'an image' : 'no image'}` }), delegate('image_agent', 'Draw a cat'), { content: 'Here is your cat.' }],
          image_agent: [{ toolCalls: [{ name: 'generate_image', arguments: { prompt: 'a cat' } }] }, { content: 'Drew it.' }],
        }),
      },
    });
    const png = Buffer.from(TINY_PNG_B64, 'base64');
    const file = h.slack.hostFile('T1', png, 'image/png', 'cat.png');
    const elsewhere = { id: 'F9', name: 'x.png', mimetype: 'image/png', url_private: 'http://127.0.0.2:1/files-pri/F9' };
    await h.say({ user: 'U1', text: `${BOT} what is this?`, files: [file, elsewhere] });
    await h.idle();
    expect(h.slack.downloads).toEqual([{ fileId: file.id, authorized: true }]);
    expect(streamed(h)[0]!.text).toMatch(/^saw an image/);
    const { ts } = await h.say({ user: 'U1', text: `${BOT} draw a cat` });
    await h.idle();
    expect(h.slack.uploads).toHaveLength(1);
    expect(h.slack.uploads[0]).toMatchObject({ channel: 'C1', thread_ts: ts });
    expect(h.slack.uploads[0]!.bytes.subarray(0, 4)).toEqual(png.subarray(0, 4));
    expect(h.slack.methods()).toEqual(expect.arrayContaining(['files.getUploadURLExternal', 'files.completeUploadExternal']));
  });

  it('works in two workspaces with their own tokens, and forgets one whose bot token was revoked or that uninstalled the app', async () => {
    const teams: FakeTeam[] = [
      { id: 'T1', botToken: 'xoxb-t1-token', botUserId: 'UBOT1', botId: 'B1' },
      { id: 'T2', botToken: 'xoxb-t2-token', botUserId: 'UBOT2', botId: 'B2' },
    ];
    h = await startSlackHarness({ teams, model: { handler: (req) => ({ content: `hello ${req.lastUserText}` }) } });
    await h.say({ team: 'T1', user: 'U1', text: `${BOT} one` });
    await h.say({ team: 'T2', user: 'U9', text: '<@UBOT2> two', channel: 'C2' });
    await h.idle();
    const starts = h.slack.callsOf('chat.startStream');
    expect(starts.map((c) => [c.team, c.args.channel])).toEqual([['T1', 'C1'], ['T2', 'C2']]);
    // A user's token revoked in T1 leaves the bot there working; T2's bot token revoked drops T2.
    await h.slack.postEvent(h.url, eventEnvelope('T1', { type: 'tokens_revoked', tokens: { oauth: ['U1'] } }));
    await h.slack.postEvent(h.url, eventEnvelope('T2', { type: 'tokens_revoked', tokens: { bot: ['UBOT2'] } }));
    await h.say({ team: 'T2', user: 'U9', text: '<@UBOT2> again', channel: 'C2' });
    await h.say({ team: 'T1', user: 'U1', text: `${BOT} still there?` });
    await h.idle();
    expect(h.slack.callsOf('chat.startStream').map((c) => c.team)).toEqual(['T1', 'T2', 'T1']);
    // Uninstalled from T1 too: its events start nothing any more (and are still acked).
    expect((await h.slack.postEvent(h.url, eventEnvelope('T1', { type: 'app_uninstalled' }))).status).toBe(200);
    const { statuses } = await h.say({ team: 'T1', user: 'U1', text: `${BOT} gone?` });
    await h.idle();
    expect(statuses).toEqual([200, 200]);
    expect(h.slack.callsOf('chat.startStream')).toHaveLength(3);
    expect(h.bot.installations.teams()).toEqual([]);
  });
});
