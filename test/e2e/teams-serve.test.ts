/**
 * The README's Teams commands, as built: `SWITCHBOARD_TEAMS=anonymous switchboard serve` (the local try
 * with the Agents Playground or the Emulator: no token, loopback service URL) answers a personal message
 * with a streamed reply and refuses a non-loopback service URL; `switchboard serve` with TEAMS_APP_ID,
 * TEAMS_APP_PASSWORD and TEAMS_TENANT_ID checks every token (here against the fake channel's OpenID
 * metadata, set as for a sovereign cloud in the `teams:` section). `teams package` is in cli-teams.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, BIN } from '../support/cli.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startFakeTeams, teamsActivity, type FakeTeams } from '../support/fake-teams.js';
import { until } from '../support/plans.js';

const APP_ID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
let model: FakeOpenAI;
let teams: FakeTeams | undefined;
let dir: string;
let child: ChildProcess | undefined;
let stderr = '';

beforeEach(async () => {
  assertBuilt();
  model = await startFakeOpenAI({ handler: scriptByAgent({ proxy: [{ content: 'Hello from the CLI.' }] }) });
  dir = mkdtempSync(join(tmpdir(), 'sb-teams-cli-'));
});
afterEach(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('close', r));
    child.kill('SIGTERM');
    await exited;
  }
  child = undefined;
  stderr = '';
  await teams?.close();
  teams = undefined;
  await model.close();
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string>) {
  child = spawn(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'sk-test-secret-key', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function serving(port: number) {
  const base = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok, `serve to listen (stderr: ${stderr})`, 20_000);
  return base;
}

describe('switchboard serve with Teams', () => {
  it('SWITCHBOARD_TEAMS=anonymous serve: a personal message gets a streamed reply; a non-loopback serviceUrl is refused', async () => {
    teams = await startFakeTeams();
    const port = await freePort();
    start(['serve', '--port', String(port)], { SWITCHBOARD_TEAMS: 'anonymous' });
    const base = await serving(port);
    expect(stderr).toContain(`Teams bot at ${base}/api/messages (anonymous: local development only)`);
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
    const port = await freePort();
    start(['serve', '--port', String(port)], { TEAMS_APP_ID: APP_ID, TEAMS_APP_PASSWORD: 'secret', TEAMS_TENANT_ID: teams.tenantId });
    const base = await serving(port);
    expect(stderr).toContain(`Teams bot at ${base}/api/messages (app ${APP_ID}, SingleTenant)`);
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
