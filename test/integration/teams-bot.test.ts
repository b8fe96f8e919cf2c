/**
 * The Teams bot end to end: the real engine on a fake model server, the bot behind a real HTTP
 * server, and the fake Bot Framework channel posting activities and recording every connector call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../support/fake-clock.js';
import { TINY_PNG_B64, scriptByAgent, textOf } from '../support/fake-openai.js';
import { ALICE, BOB, teamsActivity, type ConnectorCall } from '../support/fake-teams.js';
import { plannerReply, until } from '../support/plans.js';
import { delegate } from '../support/replies.js';
import { runCodeScript, startTeamsHarness, type TeamsHarness } from '../support/teams-harness.js';
import { callLine, cardOf, cardText, verbsOf } from '../support/teams-harness-views.js';

let t: TeamsHarness | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const streamType = (c: ConnectorCall) => (c.body.channelData as { streamType?: string } | undefined)?.streamType;
const finalMessage = (text: RegExp) => (c: ConnectorCall) => c.body.type === 'message' && text.test(String(c.body.text ?? ''));
const personalConversation = (teams: TeamsHarness['teams'], user = ALICE) => ({ id: `a:personal-${user.aadObjectId}`, conversationType: 'personal', tenantId: teams.tenantId });

async function click(tt: TeamsHarness, conversation: Record<string, unknown>, user: typeof ALICE, verb: string, data: Record<string, unknown>) {
  const res = await tt.teams.post(teamsActivity.invoke(tt.teams, conversation, user, verb, data));
  expect(res.status).toBe(200);
  return res.body as { statusCode: number; type: string; value: unknown };
}

/** The data of the button with this verb on the newest card (sent or updated) matching `pred`. */
function buttonData(tt: TeamsHarness, verb: string, pred: (text: string) => boolean = () => true): Record<string, unknown> {
  for (const c of [...tt.teams.calls].reverse()) {
    const card = cardOf(c.body);
    if (!card || !pred(cardText(card))) continue;
    let found: Record<string, unknown> | null = null;
    const walk = (n: unknown) => {
      if (found || !n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(walk);
      const o = n as Record<string, unknown>;
      if (o.type === 'Action.Execute' && o.verb === verb) found = o.data as Record<string, unknown>;
      Object.values(o).forEach(walk);
    };
    walk(card);
    if (found) return found;
  }
  throw new Error(`no ${verb} button on any card; calls: ${tt.teams.calls.map(callLine).join(' | ')}`);
}

describe('Teams bot: replies', () => {
  it('personal chat: a delegating reply streams — informative update, growing text, final message with the AI label', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(
      scriptByAgent({
        proxy: [{ content: 'Let me ask vision_agent.', ...delegate('vision_agent', 'Describe the picture') }, { content: 'It is a small cat sitting on a mat.', chunkSize: 6 }],
        // Slow enough for a second informative update (at most one update a second).
        vision_agent: [{ content: 'a cat on a mat', latencyMs: 1_500 }],
      }),
    );
    expect((await t.teams.post(teamsActivity.personal(t.teams, 'what is in the picture?'))).status).toBe(200);
    await t.teams.waitFor(finalMessage(/small cat/), 'the final message');
    await t.idle();
    const calls = t.teams.calls;
    const lines = calls.map(callLine);
    expect(lines[0]).toBe('send typing informative');
    expect(lines.at(-1)).toBe('send message final');
    const informative = calls.filter((c) => streamType(c) === 'informative');
    expect(informative[0]!.raw).toContain('"streamType":"informative","streamSequence":1');
    expect(informative[0]!.body.text).toBe('proxy is working');
    const final = calls.at(-1)!;
    const streamId = calls[0]!.responseId;
    expect(final.body.channelData).toEqual({ streamType: 'final', streamId });
    expect(final.body.entities).toContainEqual(expect.objectContaining({ type: 'streaminfo', streamType: 'final', streamId }));
    expect(final.body.entities).toContainEqual(expect.objectContaining({ additionalType: ['AIGeneratedContent'] }));
    const streaming = calls.filter((x) => streamType(x) === 'streaming');
    expect(String(streaming.at(-1)!.body.text)).toContain('Let me ask vision_agent.');
    for (const c of streaming) {
      expect(c.body.entities).toEqual([expect.objectContaining({ type: 'streaminfo', streamType: 'streaming', streamId })]);
      expect(String(final.body.text).startsWith(String(c.body.text))).toBe(true);
    }
  });

  it('personal chat: a delegation that outlasts the 2-minute stream ends it and the answer follows as a normal message', async () => {
    const clock = new FakeClock();
    t = await startTeamsHarness({ clock });
    t.h.fake.setHandler(
      scriptByAgent({
        proxy: [delegate('vision_agent', 'Look closely'), { content: 'Finally: a cat.' }],
        vision_agent: [{ content: 'a cat', latencyMs: 1_500 }],
      }),
    );
    await t.teams.post(teamsActivity.personal(t.teams, 'take your time'));
    await t.teams.waitFor((c) => streamType(c) === 'informative', 'the informative update');
    await clock.advance(1_000);
    const delegating = await t.teams.waitFor((c) => streamType(c) === 'informative' && /vision_agent/.test(String(c.body.text)), 'the delegation as an informative update');
    expect(delegating.body.text).toBe('proxy → vision_agent: Look closely');
    await clock.advance(114_000);
    const ended = await t.teams.waitFor((c) => streamType(c) === 'final', 'the stream ended at the limit');
    expect(ended.body.type).toBe('message');
    const after = await t.teams.waitFor(finalMessage(/Finally: a cat/), 'the answer as a normal message');
    expect(after.body.channelData).toBeUndefined();
    expect(after.body.entities).toContainEqual(expect.objectContaining({ additionalType: ['AIGeneratedContent'] }));
    expect(t.teams.calls.indexOf(ended)).toBeLessThan(t.teams.calls.indexOf(after));
  });

  it('channel mention: every mention of the bot is removed and the reply goes into the thread', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'Hello channel.' }, { content: 'Follow-up answered.' }] }));
    const a = teamsActivity.channel(t.teams, 'summarise this thread', ALICE, '1700000000001');
    expect((await t.teams.post(a)).status).toBe(200);
    const reply = await t.teams.waitFor(finalMessage(/Hello channel/), 'the threaded reply');
    expect(reply.conversationId).toBe('19:general@thread.tacv2;messageid=1700000000001');
    expect(streamType(reply)).toBeUndefined();
    expect(t.teams.calls[0]!.body.type).toBe('typing');
    const said = t.h.fake.requests.map((r) => r.body.messages.filter((m) => m.role === 'user').map((m) => textOf(m.content)).join(' ')).join(' ');
    expect(said).toContain('summarise this thread');
    expect(said).not.toContain('<at>');

    // A reply in that thread continues it without a mention; a message in another thread without one is ignored.
    const followUp = { ...teamsActivity.channel(t.teams, 'x', BOB, '1700000000001'), text: 'and the follow-up?', entities: [] };
    const elsewhere = { ...teamsActivity.channel(t.teams, 'x', BOB, '1700000000999'), text: 'unrelated chatter', entities: [] };
    expect((await t.teams.post(elsewhere)).status).toBe(200);
    expect((await t.teams.post(followUp)).status).toBe(200);
    await t.teams.waitFor(finalMessage(/Follow-up answered/), 'the follow-up reply');
    await t.idle();
    expect(t.teams.calls.filter((c) => c.conversationId.endsWith('1700000000999'))).toEqual([]);
    expect(t.h.fake.requests.filter((r) => r.agent === 'proxy')).toHaveLength(2);
  });

  it('a group chat is one conversation shared by its members', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'Hi Alice.' }, { content: 'Hi Bob, Alice asked first.' }] }));
    await t.teams.post(teamsActivity.group(t.teams, 'hello from Alice', ALICE));
    await t.teams.waitFor(finalMessage(/Hi Alice/));
    await t.teams.post(teamsActivity.group(t.teams, 'and Bob here', BOB));
    await t.teams.waitFor(finalMessage(/Hi Bob/));
    const second = t.h.fake.requests.at(-1)!;
    const userTexts = second.body.messages.filter((m) => m.role === 'user').map((m) => textOf(m.content));
    expect(userTexts.join('\n')).toContain('hello from Alice');
    expect(userTexts.join('\n')).toContain('and Bob here');
    const conv = await t.sb.conversation(`teams:${t.teams.tenantId}:19:group-chat@thread.v2`, { surface: 'teams', tenant: t.teams.tenantId, userId: 'aad-bob' }, { access: 'shared' });
    const people = (await t.sb.participants(conv.id)).map((p) => p.userId).sort();
    expect(people).toEqual(['aad-alice', 'aad-bob']);
  });

  it('a redelivered activity is answered once', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'Only once.' }] }));
    const a = teamsActivity.group(t.teams, 'hello', ALICE);
    expect((await t.teams.post(a)).status).toBe(200);
    expect((await t.teams.post(a)).status).toBe(200);
    await t.teams.waitFor(finalMessage(/Only once/));
    await t.idle();
    expect(t.teams.calls.filter(finalMessage(/Only once/))).toHaveLength(1);
    expect(t.h.fake.requests.filter((r) => r.agent === 'proxy')).toHaveLength(1);
  });

  it('a 429 from the connector is honoured (Retry-After) and the reply still arrives once', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'Throttled but here.' }] }));
    t.teams.inject({ status: 429, headers: { 'retry-after': '0' }, times: 1, match: (c) => c.body.type === 'message' });
    await t.teams.post(teamsActivity.group(t.teams, 'hello', ALICE));
    await t.teams.waitFor(finalMessage(/Throttled but here/));
    await t.idle();
    expect(t.teams.calls.filter(finalMessage(/Throttled but here/)).map((c) => c.status)).toEqual([429, 200]);
  });

  it('images: a personal-chat file reaches the model; a generated image goes back as an attachment', async () => {
    t = await startTeamsHarness({ teams: { streaming: false } });
    const png = Buffer.from(TINY_PNG_B64, 'base64');
    const url = t.teams.addFile('/files/cat.png', png, 'image/png');
    t.h.fake.setHandler(
      scriptByAgent({
        proxy: [delegate('image_agent', 'draw a cat'), { content: 'Here is your cat.' }],
        image_agent: [{ toolCalls: [{ name: 'generate_image', arguments: { prompt: 'a cat' } }] }, { content: 'drew it' }],
      }),
    );
    await t.teams.post(
      teamsActivity.personal(t.teams, 'like this one, please', {
        attachments: [{ contentType: 'application/vnd.microsoft.teams.file.download.info', name: 'cat.png', content: { downloadUrl: url, uniqueId: 'f1', fileType: 'png' } }],
      }),
    );
    const reply = await t.teams.waitFor(finalMessage(/Here is your cat/), 'the reply');
    const firstProxy = t.h.fake.requests.find((r) => r.agent === 'proxy')!;
    expect(JSON.stringify(firstProxy.body.messages)).toContain('data:image/png;base64,');
    const attachments = reply.body.attachments as { contentType: string; contentUrl: string }[];
    expect(attachments).toHaveLength(1);
    expect(attachments[0]!.contentType).toMatch(/^image\//);
    expect(attachments[0]!.contentUrl).toMatch(/^data:image\/\w+;base64,/);
  });
});

describe('Teams bot: plans and approvals as Adaptive Cards', () => {
  const planScript = (extra: Record<string, unknown> = {}) =>
    scriptByAgent({
      planner: [plannerReply(['code_agent', 'write the notes'], ['vision_agent', 'check the screenshot'])],
      code_agent: [{ content: 'notes written' }],
      vision_agent: [{ content: 'screenshot fine' }],
      proxy: [{ content: 'All done.' }],
      ...extra,
    } as never);


  /** Starts the two-step plan in Alice's personal chat; returns the posted card's call and the first card with buttons. */
  async function startPlan(tt: TeamsHarness) {
    tt.h.fake.setHandler(planScript());
    await tt.teams.post(teamsActivity.personal(tt.teams, 'plan Ship the release notes'));
    const posted = await tt.teams.waitFor((c) => c.method === 'POST' && /Plan:/.test(cardText(cardOf(c.body))), 'the plan card');
    const ready = await tt.teams.waitFor((c) => verbsOf(cardOf(c.body)).includes('approve'), 'the plan card with buttons');
    return { posted, ready, conversation: personalConversation(tt.teams) };
  }

  it('a plan approved by clicks: the invoke answers with the refreshed card and the base card is updated in place', async () => {
    t = await startTeamsHarness();
    const { posted, ready, conversation } = await startPlan(t);
    const card = cardOf(ready.body)!;
    expect(card.version).toBe('1.5');
    expect(verbsOf(card)).toEqual(['approve', 'reject', 'edit']);
    expect(ready.method === 'POST' || ready.activityId === posted.responseId).toBe(true);
    const before = t.teams.calls.length;

    const answer = await click(t, conversation, ALICE, 'approve', buttonData(t, 'approve'));
    expect(answer.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(cardText(answer.value)).toMatch(/1\. code_agent.*\n.*approved by Alice/);
    await until(async () => (await t!.sb.getPlan(String(buttonData(t!, 'approve').id))).steps[1]?.status === 'awaiting_approval' || undefined, 'step 2 waiting');
    await t.idle();
    await click(t, conversation, ALICE, 'approve', buttonData(t, 'approve', (x) => /check the screenshot/.test(x)));
    await t.teams.waitFor((c) => c.method === 'PUT' && /completed/.test(cardText(cardOf(c.body))), 'the card updated to completed');
    await t.idle();
    const after = t.teams.calls.slice(before);
    expect(after.every((c) => c.method === 'PUT' || c.body.type === 'message')).toBe(true);
    expect(after.filter((c) => c.method === 'PUT').every((c) => c.activityId === posted.responseId)).toBe(true);
  });

  it('a step rejected with feedback is revised by the planner; a step edited runs the edited action', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(
      planScript({
        planner: [
          plannerReply(['code_agent', 'write the notes'], ['vision_agent', 'check the screenshot']),
          (req: { lastUserText: string | null }) => (req.lastUserText?.includes('Shorter please') ? plannerReply(['code_agent', 'write short notes']) : { content: 'unexpected' }),
        ],
        code_agent: [{ content: 'short notes written' }],
      }),
    );
    const conversation = personalConversation(t.teams);
    await t.teams.post(teamsActivity.personal(t.teams, 'plan Ship the release notes'));
    await t.teams.waitFor((c) => verbsOf(cardOf(c.body)).includes('reject'), 'the plan card with buttons');
    const rejected = await click(t, conversation, ALICE, 'reject', { ...buttonData(t, 'reject'), feedback: 'Shorter please' });
    expect(cardText(rejected.value)).toMatch(/rejected by Alice: Shorter please/);
    await t.teams.waitFor((c) => /write short notes/.test(cardText(cardOf(c.body))), 'the revised plan on the card');
    await t.idle();
    await click(t, conversation, ALICE, 'edit', { ...buttonData(t, 'edit', (x) => /write short notes/.test(x)), action: 'write VERY short notes' });
    await until(() => t!.h.fake.requests.find((r) => r.agent === 'code_agent'), 'code_agent to run');
    expect(JSON.stringify(t.h.fake.requests.find((r) => r.agent === 'code_agent')!.body.messages)).toContain('write VERY short notes');
  });

  it('a tool approval deep in a delegation gets a card; a refused click and a double click change nothing', async () => {
    t = await startTeamsHarness({ config: { approvals: { policy: { who: 'requester' } } } as never });
    t.h.fake.setHandler(runCodeScript());
    const group = { id: '19:group-chat@thread.v2', conversationType: 'groupChat', tenantId: t.teams.tenantId, isGroup: true };
    await t.teams.post(teamsActivity.group(t.teams, 'what is 6*7?', ALICE));
    const posted = await t.teams.waitFor((c) => /run_code/.test(cardText(cardOf(c.body))) && verbsOf(cardOf(c.body)).includes('approve'), 'the tool approval card');
    expect(cardText(cardOf(posted.body))).toContain('print(6*7)');
    expect(cardText(cardOf(posted.body))).toMatch(/code_agent/);
    const data = buttonData(t, 'approve', (x) => /run_code/.test(x));

    const refused = await click(t, group, BOB, 'approve', data);
    expect(cardText(refused.value)).toMatch(/You cannot decide this/);
    expect(verbsOf(refused.value)).toEqual([]);
    expect((await t.sb.approvalView(String(data.approvalId))).status).toBe('pending');

    const ok = await click(t, group, ALICE, 'approve', data);
    expect(cardText(ok.value)).toMatch(/approved by Alice/);
    const again = await click(t, group, ALICE, 'approve', data);
    expect(cardText(again.value)).toMatch(/Already approved by Alice/);
    await t.teams.waitFor(finalMessage(/answer is 42/), 'the reply');
  });

  it('after a restart between two steps, a click on the old card works and the card is updated', async () => {
    t = await startTeamsHarness();
    const { posted, conversation } = await startPlan(t);
    await click(t, conversation, ALICE, 'approve', buttonData(t, 'approve'));
    const planId = String(buttonData(t, 'approve').id);
    await until(async () => (await t!.sb.getPlan(planId)).steps[1]?.status === 'awaiting_approval' || undefined, 'step 2 waiting');
    await t.idle();
    const oldStep2 = buttonData(t, 'approve', (x) => /check the screenshot/.test(x));

    await t.restart();
    const before = t.teams.calls.length;
    const answer = await click(t, conversation, ALICE, 'approve', oldStep2);
    expect(cardText(answer.value)).toMatch(/2\. vision_agent.*\n.*approved by Alice/);
    await t.teams.waitFor((c) => c.method === 'PUT' && c.activityId === posted.responseId && /completed/.test(cardText(cardOf(c.body))), 'the old card updated after the restart');
    expect(t.teams.calls.slice(before).filter((c) => c.method === 'POST' && cardOf(c.body))).toEqual([]);
  });
});

describe('Teams bot: Stop', () => {
  it('Stop on a group reply’s working card cancels the run; the reply says so', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(
      scriptByAgent({
        proxy: [delegate('vision_agent', 'look for a long time'), { content: 'never said' }],
        vision_agent: [{ content: 'too late', latencyMs: 5_000 }],
      }),
    );
    const group = { id: '19:group-chat@thread.v2', conversationType: 'groupChat', tenantId: t.teams.tenantId, isGroup: true };
    await t.teams.post(teamsActivity.group(t.teams, 'take ages', ALICE));
    await t.teams.waitFor((c) => verbsOf(cardOf(c.body)).includes('stop'), 'the working card with Stop');
    const answer = await click(t, group, ALICE, 'stop', buttonData(t, 'stop'));
    expect(answer).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: 'Stopping.' });
    await t.teams.waitFor(finalMessage(/^Stopped\.$/), 'the stopped reply');
    expect(t.teams.calls.some(finalMessage(/never said/))).toBe(false);
  });
});
