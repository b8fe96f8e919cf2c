/**
 * Adaptive Cards beyond the happy path: the policy with Teams principals (`teams:<tenant>:<aadObjectId>`),
 * a refused click and per-user refresh answered to that user only, a real double click (two concurrent
 * invokes), a click that reaches another replica, and a user's Stop (403) on a personal-chat stream.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../support/fake-openai.js';
import { ALICE, BOB, teamsActivity, type ConnectorCall } from '../support/fake-teams.js';
import { plannerReply, until } from '../support/plans.js';
import { runCodeScript, startTeamsHarness, twoStepPlanScript, type TeamsHarness } from '../support/teams-harness.js';
import { cardOf, cardText, verbsOf } from '../support/teams-harness-views.js';

let t: TeamsHarness | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

type Invoke = { statusCode: number; type: string; value: unknown };
const GROUP = { id: '19:group-chat@thread.v2', conversationType: 'groupChat', isGroup: true };
const message = (text: RegExp) => (c: ConnectorCall) => c.body.type === 'message' && text.test(String(c.body.text ?? ''));
const approveData = (c: ConnectorCall) => JSON.parse(/"verb":"approve","data":(\{[^}]*\})/.exec(JSON.stringify(cardOf(c.body)))![1]!) as { on: string; id: string; approvalId: string };

async function click(tt: TeamsHarness, conversation: Record<string, unknown>, user: typeof ALICE, verb: string, data: Record<string, unknown>, endpoint?: string): Promise<Invoke> {
  const res = await tt.teams.post(teamsActivity.invoke(tt.teams, { ...conversation, tenantId: tt.teams.tenantId }, user, verb, data), endpoint ? { endpoint } : {});
  expect(res.status).toBe(200);
  return res.body as Invoke;
}

const onePlan = () =>
  scriptByAgent({
    planner: [plannerReply(['code_agent', 'write the notes'])],
    code_agent: [{ content: 'notes written' }],
    proxy: [{ content: 'Hi Bob.' }, { content: 'The notes are written.' }],
  });

const PERSONAL = { id: 'a:personal-aad-alice', conversationType: 'personal' };

/** Alice's two-step plan in her personal chat, its card waiting on step 1; the data of that card's Approve. */
async function twoStepPlanWaiting() {
  const tt = (t = await startTeamsHarness());
  tt.h.fake.setHandler(twoStepPlanScript());
  await tt.teams.post(teamsActivity.personal(tt.teams, 'plan Ship the notes'));
  const first = approveData(await tt.teams.waitFor((c) => verbsOf(cardOf(c.body)).includes('approve'), 'step 1 waiting'));
  return { tt, personal: PERSONAL, first };
}

describe('Teams cards: who decides', () => {
  it('approvers named as teams:<tenant>:<aadObjectId>: a refused click and refresh answer only the clicker; a double click decides once', async () => {
    t = await startTeamsHarness({ config: { approvals: { policy: { who: 'approvers', approvers: ['teams:tenant-1:aad-bob'] } } } as never });
    t.h.fake.setHandler(onePlan());
    await t.teams.post(teamsActivity.group(t.teams, 'hi', BOB));
    await t.teams.waitFor(message(/Hi Bob/), 'the reply to Bob');
    await t.teams.post(teamsActivity.group(t.teams, 'plan Ship the notes', ALICE));
    const ready = await t.teams.waitFor((c) => verbsOf(cardOf(c.body)).includes('approve'), 'the plan card with buttons');
    await t.idle();
    // The base card refreshes itself for the people of the chat, to buttons of their own.
    expect(cardOf(ready.body)!.refresh).toMatchObject({ action: { type: 'Action.Execute', verb: 'refresh' }, userIds: expect.arrayContaining(['29:alice', '29:bob']) });
    const data = approveData(ready);
    const before = t.teams.calls.length;

    const refused = await click(t, GROUP, ALICE, 'approve', data);
    expect(refused.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(cardText(refused.value)).toContain('You cannot decide this: Only the configured approvers (teams:tenant-1:aad-bob) may decide approvals; teams:tenant-1:aad-alice is not one of them.');
    expect(verbsOf(refused.value)).toEqual([]);
    expect(verbsOf((await click(t, GROUP, ALICE, 'refresh', { on: 'plan', id: data.id })).value)).toEqual([]);
    expect(verbsOf((await click(t, GROUP, BOB, 'refresh', { on: 'plan', id: data.id })).value)).toEqual(['approve', 'reject', 'edit']);
    await t.idle();
    // Nothing was sent or edited for anyone else, and the step still waits.
    expect(t.teams.calls).toHaveLength(before);
    expect((await t.sb.getPlan(data.id)).steps[0]!.status).toBe('awaiting_approval');

    const answers = await Promise.all([click(t, GROUP, BOB, 'approve', data), click(t, GROUP, BOB, 'approve', data)]);
    const texts = answers.map((a) => cardText(a.value));
    expect(texts.filter((x) => x.includes('Already approved by Bob'))).toHaveLength(1);
    expect(texts.filter((x) => !x.includes('Already') && /write the notes\n.*approved by Bob/.test(x))).toHaveLength(1);
    await until(async () => (await t!.sb.getPlan(data.id)).status === 'completed' || undefined, 'the plan to complete');
    await t.teams.waitFor((c) => c.method === 'PUT' && c.activityId === ready.activityId && /Status: completed/.test(cardText(cardOf(c.body))), 'the base card completed');
    expect(t.h.fake.requests.filter((r) => r.agent === 'code_agent')).toHaveLength(1);
    expect((await t.sb.approvalView(data.approvalId)).decidedBy).toMatchObject({ surface: 'teams', tenant: 'tenant-1', userId: 'aad-bob' });
  });

  it('a click on a step decided already says who decided, and still offers the buttons of the step waiting now', async () => {
    const { tt, personal, first } = await twoStepPlanWaiting();
    await click(tt, personal, ALICE, 'approve', first);
    await until(async () => (await tt.sb.getPlan(first.id)).steps[1]!.status === 'awaiting_approval' || undefined, 'step 2 waiting');
    const second = (await tt.sb.getPlan(first.id)).steps[1]!.approvalId!;

    const stale = await click(tt, personal, ALICE, 'approve', first);
    expect(cardText(stale.value)).toContain('Already approved by Alice');
    expect(verbsOf(stale.value)).toEqual(['approve', 'reject', 'edit']);
    expect(JSON.stringify(stale.value)).toContain(`"approvalId":"${second}"`);
    expect((await tt.sb.approvalView(second)).status).toBe('pending');
  });

  it('a card claimed by a process that stopped before posting it is posted by the next event; a fresh claim is left to its poster', async () => {
    const { tt, personal, first } = await twoStepPlanWaiting();
    await tt.idle();
    const target = { serviceUrl: tt.teams.serviceUrl, conversationId: personal.id, tenantId: tt.teams.tenantId };
    const posts = () => tt.teams.calls.filter((c) => c.method === 'POST' && cardOf(c.body));
    expect(posts()).toHaveLength(1);

    // Someone is posting the card right now (claimed a moment ago): the click's edit leaves it to them.
    await tt.sb.refs.put('teams', 'plan', first.id, { activityId: null, target, claimedAt: Date.now() });
    await click(tt, personal, ALICE, 'approve', first);
    await until(async () => (await tt.sb.getPlan(first.id)).steps[1]!.status === 'awaiting_approval' || undefined, 'step 2 waiting');
    await tt.idle();
    expect(posts()).toHaveLength(1);

    // The claim is old and nothing was posted: the next change posts the card, and later edits go to it.
    await tt.sb.refs.put('teams', 'plan', first.id, { activityId: null, target, claimedAt: Date.now() - 10 * 60_000 });
    // (No card shows step 2's buttons: every edit since the fresh claim was left to its poster.)
    await click(tt, personal, ALICE, 'approve', { on: 'plan', id: first.id, approvalId: (await tt.sb.getPlan(first.id)).steps[1]!.approvalId! });
    const reposted = await tt.teams.waitFor((c) => c.method === 'POST' && cardOf(c.body) !== null && c.seq > posts()[0]!.seq, 'the card posted again');
    await tt.teams.waitFor((c) => c.method === 'PUT' && c.activityId === reposted.responseId && /Status: completed/.test(cardText(cardOf(c.body))), 'the new card completed');
    expect(posts()).toHaveLength(2);
  });

  it('a click that reaches another replica decides, and the one card posted by the first is edited to the end', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(onePlan());
    const other = await t.replica();
    await t.teams.post(teamsActivity.personal(t.teams, 'plan Ship the notes'));
    const posted = await t.teams.waitFor((c) => c.method === 'POST' && cardOf(c.body) !== null, 'the plan card');
    const ready = await t.teams.waitFor((c) => verbsOf(cardOf(c.body)).includes('approve'), 'the plan card with buttons');
    await t.idle();
    const data = approveData(ready);
    const personal = { id: 'a:personal-aad-alice', conversationType: 'personal' };
    const answer = await click(t, personal, ALICE, 'approve', data, other.endpoint);
    expect(cardText(answer.value)).toMatch(/write the notes\n.*approved by Alice/);
    await until(async () => (await t!.sb.getPlan(data.id)).status === 'completed' || undefined, 'the plan to complete');
    await t.teams.waitFor((c) => c.method === 'PUT' && c.activityId === posted.responseId && /Status: completed/.test(cardText(cardOf(c.body))), 'the first replica’s card completed');
    await t.idle();
    await other.bot.idle();
    expect(t.teams.calls.filter((c) => c.method === 'POST' && cardOf(c.body))).toEqual([posted]);
    expect(t.teams.calls.filter((c) => c.method === 'PUT').every((c) => c.activityId === posted.responseId)).toBe(true);
  });
});

const streamType = (c: ConnectorCall) => (c.body.channelData as { streamType?: string } | undefined)?.streamType;

/** A personal chat whose answer streams for a few seconds; Teams answers its first streaming update with 403 and this message. */
async function refusedStream(message: string) {
  t = await startTeamsHarness();
  const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
  t.h.fake.setHandler(scriptByAgent({ proxy: [{ content: long, chunkSize: 8, chunkIntervalMs: 50 }] }));
  t.teams.inject({ status: 403, body: { error: { code: 'ContentStreamNotAllowed', message } }, match: (c) => c.body.type === 'typing' && (c.body.channelData as { streamType?: string }).streamType === 'streaming', times: 1 });
  await t.teams.post(teamsActivity.personal(t.teams, 'tell me everything'));
  return { long, refused: await t.teams.waitFor((c) => c.status === 403, 'the 403') };
}

describe('Teams: personal streams that cannot go on', () => {
  it('a tool approval deep in a delegation ends the stream; the card follows, and after the click the answer comes as a normal message', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(runCodeScript());
    await t.teams.post(teamsActivity.personal(t.teams, 'what is 6*7?'));
    const card = await t.teams.waitFor((c) => verbsOf(cardOf(c.body)).includes('approve') && /run_code/.test(cardText(cardOf(c.body))), 'the tool approval card');
    const ended = t.teams.calls.find((c) => streamType(c) === 'final')!;
    expect(ended).toBeDefined();
    expect(ended.seq).toBeLessThan(card.seq);
    expect(ended.body).toMatchObject({ type: 'message', text: 'Waiting for a decision…' });
    const answer = await click(t, { id: 'a:personal-aad-alice', conversationType: 'personal' }, ALICE, 'approve', approveData(card));
    expect(cardText(answer.value)).toMatch(/approved by Alice/);
    const reply = await t.teams.waitFor(message(/The answer is 42/), 'the answer');
    expect(reply.body.channelData).toBeUndefined();
    expect(reply.body.entities).toEqual([expect.objectContaining({ additionalType: ['AIGeneratedContent'] })]);
    expect(t.teams.calls.filter((c) => streamType(c) === 'final')).toEqual([ended]);
  });

  it('a 403 that is not a Stop (the 2-minute limit) ends the stream, not the run: the rest of the answer follows as a normal message', async () => {
    const { long, refused } = await refusedStream('Content stream finished due to exceeded streaming time.');
    const rest = await t!.teams.waitFor((c) => c.body.type === 'message' && c.seq > refused.seq, 'the rest as a message');
    expect(rest.body.channelData).toBeUndefined();
    expect(rest.body.entities).toEqual([expect.objectContaining({ additionalType: ['AIGeneratedContent'] })]);
    const shown = t!.teams.calls.filter((c) => streamType(c) === 'streaming' && c.status === 200).map((c) => String(c.body.text)).at(-1) ?? '';
    expect(`${shown} ${String(rest.body.text)}`.trim()).toBe(long);
    expect((await t!.sb.listRuns({ statuses: ['completed'] })).length).toBe(1);
    await t!.idle();
    expect(t!.teams.calls.at(-1)).toBe(rest);
  });

  it('a 403 on a streaming update is the user’s Stop: the run is cancelled and nothing more is sent', async () => {
    const { refused: stopped } = await refusedStream('Content stream was cancelled by user.');
    const run = await until(async () => (await t!.sb.listRuns({ statuses: ['cancelled'] }))[0], 'the run to be cancelled');
    expect(run.status).toBe('cancelled');
    await t!.idle();
    expect(t!.teams.calls.at(-1)).toBe(stopped);
    expect(t!.teams.calls.some((c) => c.body.type === 'message')).toBe(false);
  });
});
