/**
 * The Web API calls, in order, for a mention that delegates and for a plan step approved by a click:
 * what a workspace pays per turn (the closing note of issue 10 quotes these).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../../support/fake-openai.js';
import { plannerReply, until } from '../../support/plans.js';
import { delegate } from '../../support/replies.js';
import { startSlackHarness, type SlackHarness } from '../../support/slack-harness.js';

let h: SlackHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const sequence = (h: SlackHarness, from = 0) => h.slack.calls.slice(from).map((c) => c.method);

describe('Slack: Web API calls per turn', () => {
  it('a mention that delegates', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [delegate('vision_agent', 'Describe the cat'), { content: 'The cat is orange.' }], vision_agent: [{ content: 'An orange cat.' }] }) } });
    const before = h.slack.calls.length;
    await h.say({ user: 'U1', text: '<@UBOT1> what colour is the cat?' });
    await h.idle();
    const calls = sequence(h, before);
    console.log('mention that delegates:', calls.join(' → '));
    // Session to processing, status line and the stream start together; one stream; status cleared and session active at the end.
    expect(new Set(calls.slice(0, 3))).toEqual(new Set(['agents.sessions.setStatus', 'assistant.threads.setStatus', 'chat.startStream']));
    expect(calls.filter((m) => m === 'chat.startStream')).toHaveLength(1);
    expect(calls.filter((m) => m === 'chat.stopStream')).toHaveLength(1);
    expect(new Set(calls.slice(-2))).toEqual(new Set(['agents.sessions.setStatus', 'assistant.threads.setStatus']));
    expect(calls.length).toBeLessThanOrEqual(12);
  });

  it('a plan step approved by a click', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ planner: [plannerReply(['vision_agent', 'Look'], ['code_agent', 'Count'])], vision_agent: [{ content: 'looked' }], proxy: [{ content: 'done' }] }) } });
    await h.slack.postCommand(h.url, { command: '/switchboard', text: 'plan Look and count', team_id: 'T1', channel_id: 'C1', user_id: 'U1', trigger_id: 't' });
    const card = await until(() => h!.slack.messages.find((m) => !m.thread_ts && JSON.stringify(m.blocks).includes('sb_approve')), 'the card');
    const approval = /"value":"(apr_[^"]+)"/.exec(JSON.stringify(card.blocks))![1]!;
    await h.idle();
    const before = h.slack.calls.length;
    await h.click('sb_approve', approval, { user: 'U1', messageTs: card.ts });
    const [plan] = await h.sb.listPlans({});
    await until(async () => (await h!.sb.getPlan(plan!.id)).steps[1]!.status === 'awaiting_approval', 'step 2 to wait');
    await h.idle();
    const calls = sequence(h, before);
    console.log('plan step approved by a click:', calls.join(' → '));
    // Only the card is edited, in place; bursts of step changes share updates (one per second per message).
    expect(calls.every((m) => m === 'chat.update')).toBe(true);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThanOrEqual(4);
  });
});
