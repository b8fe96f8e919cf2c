/**
 * Two replicas of the bot on one database (SQLite file shared by two engines): a retry that reaches the
 * other replica is answered once, and a click on either replica decides the approval and updates the one
 * card — posted once, by the replica that claimed it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../../support/fake-openai.js';
import { eventEnvelope } from '../../support/fake-slack.js';
import { plannerReply, until } from '../../support/plans.js';
import { startSlackHarness, type SlackHarness } from '../../support/slack-harness.js';

let a: SlackHarness | undefined;
let b: SlackHarness | undefined;
afterEach(async () => {
  await b?.close();
  await a?.close();
  a = b = undefined;
});

describe('Slack: two replicas', () => {
  it('answers a mention once when its retry reaches the other replica', async () => {
    a = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [{ content: 'Only once.' }] }) } });
    b = await startSlackHarness({ replicaOf: a });
    const body = eventEnvelope('T1', { type: 'app_mention', user: 'U1', text: '<@UBOT1> hi', ts: '1700000700.000100', channel: 'C1', channel_type: 'channel' }, 'EvR1');
    expect((await a.slack.postEvent(a.url, body)).status).toBe(200);
    expect((await a.slack.postEvent(b.url, body, { retryNum: 1 })).status).toBe(200);
    await a.idle();
    await b.idle();
    expect(a.slack.messages.filter((m) => m.stream)).toHaveLength(1);
    expect(a.model.requests).toHaveLength(1);
  });

  it('decides a click that reaches the other replica and keeps one card', async () => {
    a = await startSlackHarness({ model: { handler: scriptByAgent({ planner: [plannerReply(['vision_agent', 'One'], ['vision_agent', 'Two'])], vision_agent: [{ content: 'did one' }, { content: 'did two' }], proxy: [{ content: 'all done' }] }) } });
    b = await startSlackHarness({ replicaOf: a });
    await a.slack.postCommand(a.url, { command: '/switchboard', text: 'plan Two steps', team_id: 'T1', channel_id: 'C1', user_id: 'U1', trigger_id: 't' });
    const waiting = (ts?: string) => {
      const m = a!.slack.messages.find((x) => (ts ? x.ts === ts : !x.thread_ts) && JSON.stringify(x.blocks ?? []).includes('sb_approve'));
      return m ? { ts: m.ts, approval: /"value":"(apr_[^"]+)"/.exec(JSON.stringify(m.blocks))![1]! } : undefined;
    };
    const first = await until(() => waiting(), 'the card');
    await b.click('sb_approve', first.approval, { user: 'U1', messageTs: first.ts });
    const second = await until(() => {
      const w = waiting(first.ts);
      return w && w.approval !== first.approval ? w : undefined;
    }, 'the card to wait on step 2', 20_000);
    await a.click('sb_approve', second.approval, { user: 'U1', messageTs: first.ts });
    const [plan] = await a.sb.listPlans({});
    await until(async () => (await a!.sb.getPlan(plan!.id)).status === 'completed', 'the plan to complete', 20_000);
    await until(() => a!.slack.messages.find((m) => m.ts === first.ts)!.text.includes('completed'), 'the card to say completed', 20_000);
    // One top-level card, edited in place; one summary in its thread.
    expect(a.slack.messages.filter((m) => !m.thread_ts)).toHaveLength(1);
    await until(() => a!.slack.messages.filter((m) => m.thread_ts === first.ts && m.text.includes('all done')).length === 1, 'one summary');
  });
});
