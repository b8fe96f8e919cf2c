/**
 * The Web API calls, in order, for a mention that delegates and for a plan approved by a click: what a
 * workspace pays per turn. The closing note of issue 10 quotes these sequences as captured here
 * (SWITCHBOARD_SLACK_CALLS=FILE writes them, one line per call with its key arguments).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../../support/fake-openai.js';
import type { SlackCall } from '../../support/fake-slack.js';
import { plannerReply, until } from '../../support/plans.js';
import { delegate } from '../../support/replies.js';
import { callLine, recordSequence } from '../../support/slack-calls.js';
import { startSlackHarness, type SlackHarness } from '../../support/slack-harness.js';

let h: SlackHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const json = (v: unknown) => (typeof v === 'string' ? (JSON.parse(v) as unknown) : v);
const indexOf = (calls: SlackCall[], pred: (c: SlackCall) => boolean) => calls.findIndex(pred);
const lastIndexOf = (calls: SlackCall[], pred: (c: SlackCall) => boolean) => calls.map(pred).lastIndexOf(true);

describe('Slack: Web API calls per turn', () => {
  it('a mention that delegates: one stream for the asker, the status line naming the specialist, the session processing then active', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [delegate('vision_agent', 'Describe the cat'), { content: 'The cat is orange.' }], vision_agent: [{ content: 'An orange cat.' }] }) } });
    const before = h.slack.calls.length;
    const { ts } = await h.say({ user: 'U1', text: '<@UBOT1> what colour is the cat?' });
    await h.idle();
    const calls = h.slack.calls.slice(before);
    recordSequence('(a) A mention that delegates (app_mention + its message twin, signed HTTP; the proxy delegates to vision_agent)', [
      `← Slack: app_mention + message (twin), channel=C1 ts=${ts} user=U1 "<@UBOT1> what colour is the cat?" — both acked after the durable write`,
      ...calls.map(callLine),
    ]);
    const methods = calls.map((c) => c.method);
    // The reply is the stream alone: no message posted or edited beside it.
    expect(new Set(methods)).toEqual(new Set(['agents.sessions.setStatus', 'assistant.threads.setStatus', 'chat.startStream', 'chat.appendStream', 'chat.stopStream']));
    const start = indexOf(calls, (c) => c.method === 'chat.startStream');
    const stop = indexOf(calls, (c) => c.method === 'chat.stopStream');
    expect(methods.filter((m) => m === 'chat.startStream')).toHaveLength(1);
    expect(methods.filter((m) => m === 'chat.stopStream')).toHaveLength(1);
    // Every append lies between the start and the stop of the one stream.
    expect(indexOf(calls, (c) => c.method === 'chat.appendStream')).toBeGreaterThan(start);
    expect(lastIndexOf(calls, (c) => c.method === 'chat.appendStream')).toBeLessThan(stop);
    // The stream is in the mention's thread, live for the person who asked, and shows a task at once.
    expect(calls[start]!.args).toMatchObject({ channel: 'C1', thread_ts: ts, recipient_team_id: 'T1', recipient_user_id: 'U1' });
    expect((json(calls[start]!.args.chunks) as { type: string; title?: string }[])[0]).toMatchObject({ type: 'task_update', title: 'Thinking…' });
    expect(JSON.stringify(calls[stop]!.args.blocks)).toContain('feedback_buttons');
    // The session: processing (titled, with its initiator) first, active last; the status line names the specialist, then is cleared.
    const sessions = calls.filter((c) => c.method === 'agents.sessions.setStatus').map((c) => c.args);
    expect(sessions).toHaveLength(2);
    expect(sessions[0]).toMatchObject({ channel_id: 'C1', thread_ts: ts, status: 'processing', title: 'what colour is the cat?', initiator_user_id: 'U1' });
    expect(sessions[1]).toMatchObject({ status: 'active' });
    const lines = calls.filter((c) => c.method === 'assistant.threads.setStatus').map((c) => String(c.args.status));
    expect(lines[0]).toBe('is thinking…');
    expect(lines.some((l) => l.includes('vision_agent'))).toBe(true);
    expect(lines.at(-1)).toBe('');
    expect(lastIndexOf(calls, (c) => c.method === 'assistant.threads.setStatus')).toBeGreaterThan(stop);
    expect(calls.length).toBeLessThanOrEqual(12);
  });

  it('a plan approved by a click: one top-level card edited in place, the summary in its thread', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ planner: [plannerReply(['vision_agent', 'Describe cat.png'])], vision_agent: [{ content: 'An orange cat.' }], proxy: [{ content: 'Summary: the cat is orange.' }] }) } });
    const before = h.slack.calls.length;
    await h.slack.postCommand(h.url, { command: '/switchboard', text: 'plan Describe the cat', team_id: 'T1', channel_id: 'C1', user_id: 'U1', trigger_id: 't' });
    const card = await until(() => h!.slack.messages.find((m) => !m.thread_ts && JSON.stringify(m.blocks).includes('sb_approve')), 'the card');
    const approval = /"value":"(apr_[^"]+)"/.exec(JSON.stringify(card.blocks))![1]!;
    await h.idle();
    const clickedAt = h.slack.calls.length;
    await h.click('sb_approve', approval, { user: 'U1', messageTs: card.ts });
    const [plan] = await h.sb.listPlans({});
    await h.sb.waitForPlan(plan!.id);
    await until(() => h!.slack.messages.some((m) => m.thread_ts === card.ts && m.text.includes('Summary')), 'the summary');
    await h.idle();
    const calls = h.slack.calls.slice(before);
    const split = clickedAt - before;
    recordSequence('(b) A plan approved by a click (`/switchboard plan Describe the cat`, one step, Approve clicked by the asker)', [
      '← Slack: slash command /switchboard "plan Describe the cat" channel=C1 user=U1 — acked at once',
      ...calls.slice(0, split).map(callLine),
      `← Slack: block_actions sb_approve value=${approval} user=U1 (on the card ts=${card.ts}) — acked at once, decided through the policy`,
      ...calls.slice(split).map(callLine),
    ]);
    // Before the click: the top-level message, then the card drawn into it (steps and buttons).
    expect(calls[0]).toMatchObject({ method: 'chat.postMessage', args: { channel: 'C1' } });
    expect(calls[0]!.args.thread_ts).toBeUndefined();
    const drawn = calls.slice(1, split);
    expect(drawn.length).toBeGreaterThanOrEqual(1);
    expect(drawn.every((c) => c.method === 'chat.update' && c.args.ts === card.ts)).toBe(true);
    expect(JSON.stringify(drawn.at(-1)!.args.blocks)).toContain('sb_approve');
    // After the click: only the card is edited (no ephemeral: the click was allowed) and one summary goes into its thread.
    const after = calls.slice(split);
    const summaries = after.filter((c) => c.method === 'chat.postMessage');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.args).toMatchObject({ channel: 'C1', thread_ts: card.ts });
    const edits = after.filter((c) => c.method !== 'chat.postMessage');
    expect(edits.length).toBeGreaterThanOrEqual(1);
    expect(edits.length).toBeLessThanOrEqual(3);
    expect(edits.every((c) => c.method === 'chat.update' && c.args.ts === card.ts)).toBe(true);
    expect(String(edits.at(-1)!.args.text)).toMatch(/completed/);
    // The card shows the end first; the summary follows it.
    expect(after.at(-1)).toBe(summaries[0]);
    const final = JSON.stringify(h.slack.messages.find((m) => m.ts === card.ts)!.blocks);
    expect(final).toMatch(/approved by <@U1>/);
    expect(final).not.toContain('sb_approve');
  });
});
