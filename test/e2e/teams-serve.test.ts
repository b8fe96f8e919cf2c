/**
 * The README's Teams commands, as built: `SWITCHBOARD_TEAMS=anonymous switchboard serve` (the local try
 * with the Agents Playground or the Emulator: no token, loopback service URL) answers a personal message
 * with a streamed reply and refuses a non-loopback service URL; `switchboard serve` with TEAMS_APP_ID,
 * TEAMS_APP_PASSWORD and TEAMS_TENANT_ID checks every token (here against the fake channel's OpenID
 * metadata, set as for a sovereign cloud in the `teams:` section). `teams package` is in cli-teams.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, freePort, servingAt, spawnServing, type ServingCli } from '../support/cli.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startFakeTeams, teamsActivity, type FakeTeams } from '../support/fake-teams.js';

const APP_ID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
let model: FakeOpenAI;
let teams: FakeTeams | undefined;
let dir: string;
let cli: ServingCli | undefined;

beforeEach(async () => {
  assertBuilt();
  model = await startFakeOpenAI({ handler: scriptByAgent({ proxy: [{ content: 'Hello from the CLI.' }] }) });
  dir = mkdtempSync(join(tmpdir(), 'sb-teams-cli-'));
});
afterEach(async () => {
  await cli?.stop();
  cli = undefined;
  await teams?.close();
  teams = undefined;
  await model.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `switchboard serve` on a free port with the fake model and these variables; its base URL once it listens. */
async function serve(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  cli = spawnServing(['serve', '--port', String(port)], dir, { OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'sk-test-secret-key', ...env });
  return servingAt(port, cli);
}

describe('switchboard serve with Teams', () => {
  it('SWITCHBOARD_TEAMS=anonymous serve: a personal message gets a streamed reply; a non-loopback serviceUrl is refused', async () => {
    teams = await startFakeTeams();
    const base = await serve({ SWITCHBOARD_TEAMS: 'anonymous' });
    expect(cli!.stderr()).toContain(`Teams bot at ${base}/api/messages (anonymous: local development only)`);
    teams.botEndpoint = `${base}/api/messages`;

    const refused = await teams.post({ ...teamsActivity.personal(teams, 'hello'), serviceUrl: 'https://smba.trafficmanager.net/amer/' });
    expect(refused.status).toBe(403);
    expect((await teams.post(teamsActivity.personal(teams, 'hello'))).status).toBe(200);
    const final = await teams.waitFor((c) => (c.body.channelData as { streamType?: string } | undefined)?.streamType === 'final', 'the final message');
    expect(final.body.text).toBe('Hello from the CLI.');
    expect(teams.calls[0]!.body).toMatchObject({ type: 'typing', channelData: { streamType: 'informative', streamSequence: 1 } });
    expect(model.requests.filter((r) => r.agent === 'proxy')).toHaveLength(1);
  });

  it('serve with TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID refuses a junk or foreign token and takes a valid one', async () => {
    teams = await startFakeTeams({ appId: APP_ID });
    writeFileSync(join(dir, 'switchboard.yaml'), `teams:\n  auth:\n    openIdMetadataUrl: ${teams.openIdMetadataUrl}\n    tokenIssuer: ${teams.issuer}\n`);
    const base = await serve({ TEAMS_APP_ID: APP_ID, TEAMS_APP_PASSWORD: 'secret', TEAMS_TENANT_ID: teams.tenantId });
    expect(cli!.stderr()).toContain(`Teams bot at ${base}/api/messages (app ${APP_ID}, SingleTenant)`);
    teams.botEndpoint = `${base}/api/messages`;
    // A group-chat message without a mention: taken (200) but not answered, so nothing needs an outbound token.
    const quiet = { ...teamsActivity.group(teams, 'x', { id: '29:alice', aadObjectId: 'aad-alice', name: 'Alice' }), text: 'just chatting', entities: [] };
    expect((await teams.post(quiet, { token: 'junk.not.ajwt' })).status).toBe(401);
    expect((await teams.post(quiet, { token: null })).status).toBe(401);
    expect((await teams.post(quiet, { token: teams.sign({ aud: 'another-bot' }) })).status).toBe(401);
    expect((await teams.post(quiet)).status).toBe(200);
    expect(teams.calls).toEqual([]);
  });
});
