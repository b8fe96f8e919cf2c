/**
 * What comes into the Teams bot and what it says first: images fetched with the bot's token only where
 * the token may go (the activity's own service URL and Microsoft-only hosts), the welcome when the bot is
 * installed (once, even redelivered; a team's welcome is a new channel post), and a failed run's short
 * plain reason. Real engine, real botbuilder (with an app id: its JWT check), the fake channel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TINY_PNG_B64, scriptByAgent } from '../support/fake-openai.js';
import { ALICE, BOB, teamsActivity, type ConnectorCall } from '../support/fake-teams.js';
import { startTeamsHarness, type TeamsHarness } from '../support/teams-harness.js';
import { WELCOME } from '../../src/bots/teams/bot.js';
import { MAX_MESSAGE_CHARS } from '../../src/bots/teams/pieces.js';

const APP_ID = '00000000-0000-0000-0000-0000000b0711';
let t: TeamsHarness | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const message = (text: RegExp) => (c: ConnectorCall) => c.body.type === 'message' && text.test(String(c.body.text ?? ''));
const AI_LABEL = expect.objectContaining({ additionalType: ['AIGeneratedContent'] });

describe('Teams intake', () => {
  it('inline images: fetched with the bot token from the activity’s service URL; a host anyone can name gets no token', async () => {
    t = await startTeamsHarness({ appId: APP_ID, teams: { streaming: false } });
    const png = Buffer.from(TINY_PNG_B64, 'base64');
    // Teams serves pasted images under the conversation's service URL (smba.trafficmanager.net/...).
    const inline = t.teams.addFile('/v3/attachments/0-img-1/views/original', png, 'image/png');
    t.h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'A tiny picture.' }] }));
    const a = teamsActivity.personal(t.teams, 'what is this?', {
      attachments: [
        { contentType: 'image/png', contentUrl: inline, name: 'pasted.png' },
        // Azure Traffic Manager and cloudapp names are picked by any Azure customer: not Microsoft's to vouch for.
        { contentType: 'image/png', contentUrl: 'https://attacker.trafficmanager.net/v3/attachments/x/views/original', name: 'tm.png' },
        { contentType: 'image/png', contentUrl: 'https://attacker.westeurope.cloudapp.azure.com/x.png', name: 'vm.png' },
      ],
    });
    expect((await t.teams.post(a)).status).toBe(200);
    const reply = await t.teams.waitFor(message(/A tiny picture/), 'the reply');
    expect(t.teams.downloads).toEqual([{ path: '/v3/attachments/0-img-1/views/original', authorization: expect.stringMatching(/^Bearer ey/) }]);
    const proxy = t.h.fake.requests.find((r) => r.agent === 'proxy')!;
    expect(JSON.stringify(proxy.body.messages).match(/data:image\/png;base64,/g)).toHaveLength(1);
    expect(String(reply.body.text)).toContain("tm.png: not downloaded (the bot's token goes to Microsoft hosts only)");
    expect(String(reply.body.text)).toContain("vm.png: not downloaded (the bot's token goes to Microsoft hosts only)");
  });

  it('installed in a personal chat, a group chat and a team: a two-line welcome each, once even when redelivered; a team’s is a new channel post', async () => {
    t = await startTeamsHarness();
    const bot = { id: teamsActivity.botId, name: 'Switchboard' };
    const update = (conversation: Record<string, unknown>) => ({
      type: 'conversationUpdate',
      id: `f:${conversation.id as string}`,
      membersAdded: [bot],
      from: ALICE,
      conversation: { tenantId: t!.teams.tenantId, ...conversation },
      channelData: { tenant: { id: t!.teams.tenantId } },
    });
    const personal = update({ id: 'a:personal-aad-alice', conversationType: 'personal' });
    const group = update({ id: '19:group-chat@thread.v2', conversationType: 'groupChat', isGroup: true });
    const team = { ...update({ id: '19:general@thread.tacv2', conversationType: 'channel', isGroup: true }), channelData: { tenant: { id: t.teams.tenantId }, eventType: 'teamMemberAdded', team: { id: '19:general@thread.tacv2' } } };
    for (const a of [personal, group, team, personal, team]) expect((await t.teams.post(a)).status).toBe(200);
    // Someone else joining is no reason to introduce ourselves again.
    expect((await t.teams.post({ ...update({ id: '19:group-chat@thread.v2', conversationType: 'groupChat' }), id: 'f:bob-joined', membersAdded: [BOB] })).status).toBe(200);
    await t.idle();
    const welcomes = t.teams.calls.filter((c) => c.body.text === WELCOME);
    expect(welcomes.map((c) => c.conversationId).sort()).toEqual(['19:general@thread.tacv2', '19:group-chat@thread.v2', 'a:personal-aad-alice']);
    expect(t.teams.calls).toHaveLength(3);
    expect(WELCOME.split('\n').filter((l) => l.trim())).toHaveLength(2);
  });

  it('a group reply longer than one Teams message goes in pieces, in order, each with the AI label', async () => {
    t = await startTeamsHarness();
    const long = Array.from({ length: 60 }, (_, p) => Array.from({ length: 50 }, (_, w) => `p${p}w${w}`).join(' ')).join('\n\n');
    t.h.fake.setHandler(scriptByAgent({ proxy: [{ content: long, chunkSize: 2_000 }] }));
    await t.teams.post(teamsActivity.group(t.teams, 'write a lot', ALICE));
    await t.teams.waitFor(message(/p59w49$/), 'the last piece');
    await t.idle();
    const pieces = t.teams.calls.filter((c) => c.body.type === 'message');
    expect(long.length).toBeGreaterThan(MAX_MESSAGE_CHARS);
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    for (const c of pieces) {
      expect(String(c.body.text).length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
      expect(c.body.entities).toEqual([AI_LABEL]);
    }
    const words = (s: string) => s.replace(/\s+/g, ' ').trim();
    expect(words(pieces.map((c) => String(c.body.text)).join(' '))).toBe(words(long));
  });

  it('a failed run ends with a short plain reason and no AI label; a completed group reply carries the label', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'Fine here.' }] }));
    await t.teams.post(teamsActivity.group(t.teams, 'hello', ALICE));
    const ok = await t.teams.waitFor(message(/Fine here/), 'the reply');
    expect(ok.body.entities).toEqual([AI_LABEL]);

    t.h.fake.setHandler(() => ({ status: 400, error: 'Invalid value for messages[3].content: sk-abcdefghijklmnop leaked\n    at Object.<anonymous> (/srv/app/node_modules/openai/index.js:1:1)' }));
    await t.teams.post(teamsActivity.group(t.teams, 'break please', ALICE));
    const failed = await t.teams.waitFor(message(/^Sorry, that did not work/), 'the failure reply');
    const text = String(failed.body.text);
    expect(text).not.toContain('\n');
    expect(text).not.toMatch(/node_modules|sk-abcdefgh|\bat Object\./);
    expect(text.length).toBeLessThan(340);
    expect(failed.body.entities ?? []).not.toContainEqual(AI_LABEL);
  });
});
