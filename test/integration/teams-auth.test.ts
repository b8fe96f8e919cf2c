/**
 * Trust at the door, with botbuilder's real JWT validation pointed at the fake channel's OpenID
 * metadata and keys: junk and foreign tokens get 401 when an app id is configured; without one the
 * endpoint is for local development only (loopback bind, loopback service URLs).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBotAdapter } from '../../src/bots/teams/adapter.js';
import { assertBindAllowed, teamsSettings } from '../../src/bots/teams/config.js';
import { ConfigError, silentLogger } from '../../src/index.js';
import { FakeTokenCredentialsFactory, startFakeTeams, teamsActivity, type FakeTeams } from '../support/fake-teams.js';

const APP_ID = '00000000-0000-0000-0000-00000000b07';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function serve(fake: FakeTeams, appId: string | undefined) {
  const settings = teamsSettings(
    appId ? { appId, appPassword: 'secret', tenantId: fake.tenantId, auth: { openIdMetadataUrl: fake.openIdMetadataUrl, tokenIssuer: fake.issuer } } : {},
    {},
  )!;
  const bot = createBotAdapter(settings, silentLogger, appId ? new FakeTokenCredentialsFactory(fake, appId) : undefined);
  const seen: string[] = [];
  const route = bot.route(async (context) => {
    seen.push(context.activity.type);
    await context.sendActivity({ type: 'message', text: 'pong' });
  });
  const server = http.createServer((req, res) => void route(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => (server.close(() => r()), server.closeAllConnections())));
  fake.botEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/messages`;
  return { seen };
}

describe('Teams endpoint trust', () => {
  it('with an app id: a junk JWT, no JWT and a token for another bot get 401; a valid one is served and the reply carries our token', async () => {
    const fake = await startFakeTeams({ appId: APP_ID });
    closers.push(() => fake.close());
    const { seen } = await serve(fake, APP_ID);
    const activity = teamsActivity.personal(fake, 'ping');

    expect((await fake.post(activity, { token: 'junk.not.ajwt' })).status).toBe(401);
    expect((await fake.post(activity, { token: null })).status).toBe(401);
    expect((await fake.post(activity, { token: fake.sign({ aud: 'some-other-bot' }) })).status).toBe(401);
    expect((await fake.post(activity, { token: fake.sign({ serviceurl: 'https://elsewhere.example/' }) })).status).toBe(401);
    expect(seen).toEqual([]);
    expect(fake.calls).toEqual([]);

    expect((await fake.post(activity)).status).toBe(200);
    expect(seen).toEqual(['message']);
    const reply = await fake.waitFor((c) => c.body.text === 'pong');
    expect(reply.authorization).toMatch(/^Bearer ey/);
    expect(fake.tokensIssued).toBeGreaterThan(0);
  });

  it('without an app id: a non-loopback serviceUrl is refused before anything runs, loopback is served', async () => {
    const fake = await startFakeTeams();
    closers.push(() => fake.close());
    const { seen } = await serve(fake, undefined);
    const refused = await fake.post({ ...teamsActivity.personal(fake, 'ping'), serviceUrl: 'https://smba.trafficmanager.net/amer/' });
    expect(refused.status).toBe(403);
    expect(seen).toEqual([]);
    expect((await fake.post(teamsActivity.personal(fake, 'ping'))).status).toBe(200);
    expect(seen).toEqual(['message']);
    await fake.waitFor((c) => c.body.text === 'pong');
  });

  it('without an app id the endpoint refuses a non-loopback bind; single-tenant needs the tenant id', () => {
    const anonymous = teamsSettings({}, {})!;
    expect(() => assertBindAllowed(anonymous, '0.0.0.0')).toThrow(ConfigError);
    expect(() => assertBindAllowed(anonymous, '127.0.0.1')).not.toThrow();
    expect(() => teamsSettings({ appId: APP_ID, appPassword: 'x' }, {})).toThrow(/tenant id/);
    expect(teamsSettings(undefined, { TEAMS_APP_ID: APP_ID, TEAMS_APP_PASSWORD: 'x', TEAMS_TENANT_ID: 't' })).toMatchObject({ mode: 'authenticated', appType: 'SingleTenant', tenantId: 't' });
    expect(teamsSettings(undefined, {})).toBeNull();
  });

  it('credential settings botbuilder would reject at start are typed errors naming the setting', () => {
    const reject = (section: Record<string, unknown>, path: string) => {
      try {
        const settings = teamsSettings({ appId: APP_ID, ...section }, {})!;
        createBotAdapter(settings, silentLogger); // what it would have thrown
        expect.unreachable('accepted');
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).issues.map((i) => i.path)).toEqual([path]);
      }
    };
    reject({ appType: 'UserAssignedMSI' }, 'teams.tenantId');
    reject({ appType: 'UserAssignedMSI', tenantId: 't', appPassword: 'x' }, 'teams.appPassword');
    reject({ tenantId: 't', certificateThumbprint: 'AB12' }, 'teams.certificatePrivateKey');
    expect(() => createBotAdapter(teamsSettings({ appId: APP_ID, appType: 'UserAssignedMSI', tenantId: 't' }, {})!, silentLogger)).not.toThrow();
  });
});
