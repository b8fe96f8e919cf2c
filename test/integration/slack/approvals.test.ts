/**
 * Plans and approvals in Slack on the real engine: the plan card (slash command), Approve / Reject with
 * feedback / Edit, a tool approval deep in a delegation, what the policy refuses, double clicks, a
 * restart between two steps, and a modal that opens while the main Web API queue is rate limited.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { lastUserTextOf, scriptByAgent, type FakeChatRequest } from '../../support/fake-openai.js';
import type { FakeMessage } from '../../support/fake-slack.js';
import { plannerReply, until } from '../../support/plans.js';
import { delegate } from '../../support/replies.js';
import { startSlackHarness, type SlackHarness } from '../../support/slack-harness.js';

let h: SlackHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const BOT = '<@UBOT1>';
const lastUser = (req: FakeChatRequest) => req.lastUserText ?? '';
const blocksOf = (m: FakeMessage | undefined) => JSON.stringify(m?.blocks ?? []);
/** The approval id on the card's buttons, once it waits for one. */
const waitingOn = (m: FakeMessage | undefined): string | undefined => {
  for (const b of (m?.blocks ?? []) as { type: string; elements?: { action_id?: string; value?: string }[] }[]) {
    const approve = b.type === 'actions' ? b.elements?.find((e) => e.action_id === 'sb_approve') : undefined;
    if (approve?.value) return approve.value;
  }
  return undefined;
};

async function planCard(h: SlackHarness, goal: string, user = 'U1'): Promise<FakeMessage> {
  const r = await h.slack.postCommand(h.url, { command: '/switchboard', text: `plan ${goal}`, team_id: 'T1', channel_id: 'C1', user_id: user, trigger_id: 'trig-cmd', response_url: 'http://127.0.0.1:1/unused' });
  expect(r.status).toBe(200);
  return until(() => h.slack.messages.find((m) => !m.thread_ts && m.text.startsWith('Plan:') && waitingOn(m)), 'the plan card with buttons');
}

async function settle(h: SlackHarness) {
  const [plan] = await h.sb.listPlans({});
  await h.sb.waitForPlan(plan!.id);
  await h.idle();
}

describe('Slack: plans and approvals', () => {
  it('puts a plan on one top-level message, approved step by step, edited, rejected with feedback and revised, then the summary in its thread', async () => {
    h = await startSlackHarness({
      model: {
        handler: scriptByAgent({
          planner: [plannerReply(['vision_agent', 'Describe cat.png'], ['code_agent', 'Count the legs']), (req) => plannerReply(['code_agent', `Count again: ${lastUser(req).includes('Count only visible legs') ? 'visible only' : 'no feedback'}`])],
          vision_agent: [{ content: 'A cat with four legs' }],
          code_agent: [(req) => ({ content: `counted (${lastUser(req)})` })],
          proxy: [{ content: 'Summary: four legs.' }],
        }),
      },
    });
    let card = await planCard(h, 'Count the cat’s legs');
    expect(blocksOf(card)).toContain('Describe cat.png');
    await h.click('sb_approve', waitingOn(card)!, { user: 'U1', messageTs: card.ts });
    await settle(h);
    card = h.slack.messages.find((m) => m.ts === card.ts)!;
    expect(blocksOf(card)).toMatch(/approved by <@U1>/);
    expect(blocksOf(card)).toMatch(/A cat with four legs/);

    // Step 2: Reject opens a modal at once; its submission carries the feedback to the planner.
    const step2 = waitingOn(card)!;
    await h.click('sb_reject', step2, { user: 'U1', messageTs: card.ts });
    const modal = h.slack.views.at(-1)!;
    expect(modal.view.callback_id).toBe('sb_reject_modal');
    const answer = await h.submit('sb_reject_modal', modal.view.private_metadata as string, 'Count only visible legs', { user: 'U1' });
    expect(answer.body).toBeNull();
    await settle(h);
    card = h.slack.messages.find((m) => m.ts === card.ts)!;
    expect(blocksOf(card)).toMatch(/rejected by <@U1>: Count only visible legs/);
    expect(blocksOf(card)).toContain('Count again: visible only');

    // The revised step: Edit, prefilled with its action, approves the edited one.
    await h.click('sb_edit', waitingOn(card)!, { user: 'U1', messageTs: card.ts });
    const edit = h.slack.views.at(-1)!;
    expect(JSON.stringify(edit.view)).toContain('"initial_value":"Count again: visible only"');
    await h.submit('sb_edit_modal', edit.view.private_metadata as string, 'Count the visible legs twice', { user: 'U1' });
    await settle(h);
    expect(h.model.requests.filter((r) => r.agent === 'code_agent').map((r) => lastUserTextOf(r.body.messages)).at(-1)).toContain('Count the visible legs twice');
    card = h.slack.messages.find((m) => m.ts === card.ts)!;
    expect(card.text).toMatch(/completed/);
    expect(waitingOn(card)).toBeUndefined();
    expect(h.slack.messages.find((m) => m.thread_ts === card.ts && m.text.includes('Summary: four legs.'))).toBeDefined();
    // Only the plan card's own message was edited: one post, updates in place.
    expect(h.slack.callsOf('chat.postMessage').filter((c) => !c.args.thread_ts)).toHaveLength(1);
  });

  it('puts a plan the proxy makes (create_plan) into the mention’s thread, approved there by a click', async () => {
    h = await startSlackHarness({
      model: {
        handler: scriptByAgent({
          proxy: [{ toolCalls: [{ name: 'create_plan', arguments: { goal: 'Describe the cat' } }] }, { content: 'Here is my plan.' }, { content: 'Summary: an orange cat.' }],
          planner: [plannerReply(['vision_agent', 'Describe cat.png'])],
          vision_agent: [{ content: 'An orange cat.' }],
        }),
      },
    });
    const { ts } = await h.say({ user: 'U1', text: `${BOT} describe the cat, with a plan` });
    const card = await until(() => h!.slack.messages.find((m) => m.thread_ts === ts && m.text.startsWith('Plan:') && waitingOn(m)), 'the plan card in the thread');
    expect(blocksOf(card)).toContain('Describe cat.png');
    await h.click('sb_approve', waitingOn(card)!, { user: 'U1', messageTs: card.ts, threadTs: ts });
    await settle(h);
    const done = h.slack.messages.find((m) => m.ts === card.ts)!;
    expect(done.text).toMatch(/completed/);
    expect(blocksOf(done)).toMatch(/approved by <@U1>/);
    // The proxy's answer streamed in the thread; the summary follows there; nothing went top-level.
    expect(h.slack.messages.find((m) => m.stream && m.thread_ts === ts)!.text).toBe('Here is my plan.');
    expect(h.slack.messages.some((m) => m.thread_ts === ts && m.text.includes('Summary: an orange cat.'))).toBe(true);
    expect(h.slack.callsOf('chat.postMessage').filter((c) => !c.args.thread_ts)).toHaveLength(0);
  });

  it('answers a plan command it cannot carry out (the bot is not in the channel) to the person, through the command’s response_url', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ planner: [plannerReply(['vision_agent', 'Look'])] }) } });
    h.slack.failWith('chat.postMessage', 'not_in_channel');
    const r = await h.slack.postCommand(h.url, { command: '/switchboard', text: 'plan Look at it', team_id: 'T1', channel_id: 'C9', user_id: 'U1', trigger_id: 't', response_url: h.slack.responseUrl });
    expect(r.status).toBe(200);
    const answer = await until(() => h!.slack.responses[0], 'the answer at the response_url');
    expect(answer).toMatchObject({ response_type: 'ephemeral', text: 'The plan could not start: the bot is not in this channel: invite it (`/invite @switchboard`) and try again.' });
    expect(await h.sb.listPlans({})).toHaveLength(0);
  });

  it('with whole-plan approval: one set of buttons for every step, without Edit', async () => {
    h = await startSlackHarness({
      config: { approvals: { plan: 'whole_plan' } },
      model: { handler: scriptByAgent({ planner: [plannerReply(['vision_agent', 'One'], ['vision_agent', 'Two'])], vision_agent: [{ content: 'did one' }, { content: 'did two' }], proxy: [{ content: 'both done' }] }) },
    });
    const card = await planCard(h, 'Two at once');
    const actions = (card.blocks as { type: string; elements?: { action_id?: string }[] }[]).filter((b) => b.type === 'actions');
    expect(actions).toHaveLength(1);
    expect(actions[0]!.elements!.map((e) => e.action_id)).toEqual(['sb_approve', 'sb_reject']);
    await h.click('sb_approve', waitingOn(card)!, { user: 'U1', messageTs: card.ts });
    await settle(h);
    const done = h.slack.messages.find((m) => m.ts === card.ts)!;
    expect(done.text).toMatch(/completed/);
    expect(blocksOf(done)).toContain('did two');
  });

  it('answers a click the policy refuses only to the clicker, and a second click with who decided', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ planner: [plannerReply(['vision_agent', 'Look'])], vision_agent: [{ content: 'ok' }], proxy: [{ content: 'done' }] }) } });
    const card = await planCard(h, 'Look at it');
    const approval = waitingOn(card)!;
    await h.click('sb_approve', approval, { user: 'U2', messageTs: card.ts });
    const refused = h.slack.messages.find((m) => m.ephemeralTo === 'U2')!;
    expect(refused.text).toMatch(/^You may not decide this: Only the person who asked \(slack:T1:U1\)/);
    expect((await h.sb.approvalView(approval)).status).toBe('pending');

    await h.click('sb_approve', approval, { user: 'U1', messageTs: card.ts });
    await h.click('sb_approve', approval, { user: 'U1', messageTs: card.ts });
    const second = h.slack.messages.filter((m) => m.ephemeralTo === 'U1');
    expect(second).toHaveLength(1);
    expect(second[0]!.text).toBe('Already decided: Approved by <@U1>.');
    // A rejection submitted after the approval is refused on the modal's field.
    await h.click('sb_reject', approval, { user: 'U1', messageTs: card.ts });
    const r = await h.submit('sb_reject_modal', h.slack.views.at(-1)!.view.private_metadata as string, 'too late', { user: 'U1' });
    expect(r.body).toMatchObject({ response_action: 'errors', errors: { decision: 'Already decided: Approved by <@U1>.' } });
  });

  it('shows a tool call deep in a delegation as a card: which agent, which tool, the code', async () => {
    h = await startSlackHarness({
      model: {
        handler: scriptByAgent({
          proxy: [delegate('code_agent', 'Compute 6*7'), (req) => ({ content: `proxy got: ${req.toolResults[0]?.content.slice(0, 20)}` })],
          code_agent: [{ toolCalls: [{ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } }] }, { content: 'It is 42.' }],
        }),
      },
    });
    const { ts } = await h.say({ user: 'U1', text: `${BOT} what is 6*7?` });
    const card = await until(() => h!.slack.messages.find((m) => m.thread_ts === ts && waitingOn(m)), 'the tool approval card');
    expect(card.text).toMatch(/^code_agent wants to call run_code/);
    expect(blocksOf(card)).toContain('print(6*7)');
    // The stream ends before the wait (which would outlive Slack's stream); the text so far stands.
    await until(() => h!.slack.messages.filter((m) => m.stream).every((m) => m.stream === 'stopped'), 'the stream paused');
    // While a person has to act, the session is suspended and no status line is kept alive.
    const sessions = () => h!.slack.callsOf('agents.sessions.setStatus').map((c) => c.args.status);
    await until(() => sessions().at(-1) === 'suspended', 'the session suspended');
    expect(h.slack.callsOf('assistant.threads.setStatus').at(-1)!.args.status).toBe('');
    await h.click('sb_approve', waitingOn(card)!, { user: 'U1', messageTs: card.ts, threadTs: ts });
    await h.idle();
    await until(async () => (await h!.sb.listRuns({ statuses: ['in_progress', 'queued', 'requires_action'] })).length === 0, 'the run to end');
    await h.idle();
    const updated = h.slack.messages.find((m) => m.ts === card.ts)!;
    expect(blocksOf(updated)).toContain('Approved by <@U1>');
    expect(h.slack.messages.filter((m) => m.stream).map((m) => m.text).join('')).toMatch(/proxy got:/);
    // Processing again once the decision let the work go on, active at the end.
    expect(sessions()).toEqual(['processing', 'suspended', 'processing', 'active']);
  });

  it('shortens long code on a tool card and shows all of it in a modal on “See all”', async () => {
    const code = ['print(6*7)', ...Array.from({ length: 300 }, (_, i) => `# line ${i} of a long script`), 'print("the end")'].join('\n');
    h = await startSlackHarness({ model: { handler: scriptByAgent({ proxy: [delegate('code_agent', 'Run the long script')], code_agent: [{ toolCalls: [{ name: 'run_code', arguments: { language: 'python', code } }] }] }) } });
    const { ts } = await h.say({ user: 'U1', text: `${BOT} run it` });
    const card = await until(() => h!.slack.messages.find((m) => m.thread_ts === ts && waitingOn(m)), 'the tool approval card');
    expect(blocksOf(card)).not.toContain('the end');
    expect(blocksOf(card)).toContain(`See all ${code.length.toLocaleString('en')} characters`);
    await h.click('sb_view', waitingOn(card)!, { user: 'U1', messageTs: card.ts, threadTs: ts });
    const modal = JSON.stringify(h.slack.views.at(-1)!.view);
    expect(modal).toContain('# line 299 of a long script');
    expect(modal).toContain('print(\\"the end\\")');
  });

  it('keeps cards working across a restart: a click on the old card decides the next step and updates that card', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ planner: [plannerReply(['vision_agent', 'One'], ['vision_agent', 'Two'])], vision_agent: [{ content: 'did one' }, { content: 'did two' }], proxy: [{ content: 'all done' }] }) } });
    const card = await planCard(h, 'Two steps');
    await h.click('sb_approve', waitingOn(card)!, { user: 'U1', messageTs: card.ts });
    await settle(h);
    const second = waitingOn(h.slack.messages.find((m) => m.ts === card.ts))!;
    await h.restart();
    await h.click('sb_approve', second, { user: 'U1', messageTs: card.ts });
    await settle(h);
    const final = h.slack.messages.find((m) => m.ts === card.ts)!;
    expect(final.text).toMatch(/completed/);
    expect(blocksOf(final)).toContain('did two');
  });

  it('opens a modal at once while the main Web API queue waits out a 429', async () => {
    h = await startSlackHarness({ model: { handler: scriptByAgent({ planner: [plannerReply(['vision_agent', 'Look'])], vision_agent: [{ content: 'ok' }], proxy: [{ content: 'done' }] }) } });
    const card = await planCard(h, 'Look');
    // The main client of T1 is paused for an hour by this 429 (its queue waits out Retry-After).
    h.slack.rateLimit('chat.postMessage', 3_600, 1);
    const stuck = h.bot.clients.main('T1').chat.postMessage({ channel: 'C1', text: 'throttled' }).catch(() => undefined);
    await until(() => h!.slack.callsOf('chat.postMessage').length >= 2, 'the throttled call');
    await h.click('sb_reject', waitingOn(card)!, { user: 'U1', messageTs: card.ts });
    expect(h.slack.views.at(-1)!.view.callback_id).toBe('sb_reject_modal');
    void stuck;
    // A 429 on views.open itself is not waited out (the trigger would expire): the clicker is told at once.
    h.slack.rateLimit('views.open', 30, 1);
    await h.click('sb_edit', waitingOn(card)!, { user: 'U1', messageTs: card.ts });
    const told = await until(() => h!.slack.messages.find((m) => m.ephemeralTo === 'U1'), 'the answer to the clicker');
    expect(told.text).toBe('Slack did not open the form (rate limited); nothing was decided. Click the button again.');
    expect((await h.sb.approvalView(waitingOn(card)!)).status).toBe('pending');
  });
});
