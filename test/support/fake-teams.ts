/**
 * A fake Bot Framework channel speaking the real wire protocol, on 127.0.0.1:
 * - it POSTs activities to the bot's `/api/messages` (with a signed JWT when an app id is configured);
 * - it is the activities' `serviceUrl`: the bot's connector calls (send, reply, update) land here and
 *   are recorded in order, with faults injected on demand (429 + Retry-After, 412, 502, 403 Stop);
 * - with auth on, it serves OpenID metadata, a JWKS (an RSA key generated per instance, endorsed for
 *   `msteams`) and a client-credentials token endpoint, so botbuilder's own JWT validation runs.
 * Files registered with `addFile` are served as attachment downloads.
 */
import { createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { ServiceClientCredentialsFactory, type ServiceClientCredentials } from 'botframework-connector';

export interface ConnectorCall {
  method: string;
  path: string;
  conversationId: string;
  activityId?: string;
  /** The activity as the bot serialized it (bytes on the wire, parsed). */
  body: Record<string, unknown>;
  raw: string;
  authorization: string | undefined;
  status: number;
  /** performance.now() when the call arrived (bench). */
  at: number;
  /** The id the fake answered with (a new activity's id, or the updated one's). */
  responseId?: string;
  /** Order among connector calls and inbound posts (`FakeTeams.inbound`). */
  seq: number;
}

/** An activity the fake channel posted to the bot, and what the bot answered. */
export interface InboundPost {
  seq: number;
  activity: Record<string, unknown>;
  status: number;
  body: unknown;
}

export interface Fault {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Only calls for which this returns true (default: any connector call). */
  match?: (call: { method: string; body: Record<string, unknown> }) => boolean;
  times?: number;
}

export interface FakeTeamsOptions {
  appId?: string;
  tenantId?: string;
}

export interface FakeTeams {
  url: string;
  serviceUrl: string;
  tenantId: string;
  appId: string | undefined;
  openIdMetadataUrl: string;
  issuer: string;
  tokenUrl: string;
  calls: ConnectorCall[];
  /** Activities posted to the bot by `post`, with the answers (seq orders them among `calls`). */
  inbound: InboundPost[];
  /** Files served (`addFile`), with the Authorization header each download carried. */
  downloads: { path: string; authorization: string | undefined }[];
  botEndpoint: string | null;
  inject(fault: Fault): void;
  addFile(path: string, bytes: Uint8Array, contentType: string): string;
  /** Resolves with the first recorded call (past or future) that matches. */
  waitFor(pred: (c: ConnectorCall) => boolean, what?: string): Promise<ConnectorCall>;
  /** Posts an activity to the bot; `token: null` sends none, a string sends that one, undefined signs a valid one (auth mode). */
  post(activity: Record<string, unknown>, opts?: { token?: string | null; endpoint?: string }): Promise<{ status: number; body: unknown }>;
  sign(claims?: Record<string, unknown>): string;
  tokensIssued: number;
  close(): Promise<void>;
}

const BOT_ID = '28:switchboard-bot';

export async function startFakeTeams(opts: FakeTeamsOptions = {}): Promise<FakeTeams> {
  const tenantId = opts.tenantId ?? 'tenant-1';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const calls: ConnectorCall[] = [];
  const faults: Fault[] = [];
  const files = new Map<string, { bytes: Uint8Array; type: string }>();
  const waiters: { pred: (c: ConnectorCall) => boolean; resolve: (c: ConnectorCall) => void }[] = [];
  let ids = 0;
  let seq = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://x');
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (url.pathname === '/.well-known/openid-configuration') return json(200, { issuer: fake.issuer, jwks_uri: `${fake.url}/keys`, id_token_signing_alg_values_supported: ['RS256'] });
      if (url.pathname === '/keys') return json(200, { keys: [{ ...(publicKey.export({ format: 'jwk' }) as object), kid, use: 'sig', alg: 'RS256', endorsements: ['msteams'] }] });
      if (url.pathname.endsWith('/token')) {
        fake.tokensIssued++;
        return json(200, { token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600, access_token: sign(privateKey, kid, { iss: 'fake-aad', aud: 'https://api.botframework.com', appid: opts.appId }) });
      }
      const file = files.get(url.pathname);
      if (file && req.method === 'GET') {
        fake.downloads.push({ path: url.pathname, authorization: req.headers.authorization });
        res.writeHead(200, { 'content-type': file.type, 'content-length': String(file.bytes.byteLength) });
        return res.end(Buffer.from(file.bytes));
      }
      const m = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?$/.exec(url.pathname);
      if (!m) return json(404, { error: { code: 'NotFound', message: url.pathname } });
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const fault = faults.find((f) => !f.match || f.match({ method: req.method ?? '', body }));
      const call: ConnectorCall = {
        method: req.method ?? '',
        path: url.pathname,
        conversationId: decodeURIComponent(m[1]!),
        ...(m[2] ? { activityId: decodeURIComponent(m[2]) } : {}),
        body,
        raw,
        authorization: req.headers.authorization,
        status: fault?.status ?? 200,
        at: performance.now(),
        seq: ++seq,
      };
      if (!fault) call.responseId = req.method === 'PUT' ? call.activityId : `act-${++ids}`;
      calls.push(call);
      for (const w of [...waiters]) {
        if (!w.pred(call)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(call);
      }
      if (fault) {
        if (fault.times !== undefined && --fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
        return json(fault.status, fault.body ?? { error: { code: String(fault.status), message: 'injected' } }, fault.headers);
      }
      return json(200, { id: call.responseId });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  const fake: FakeTeams = {
    url: `http://127.0.0.1:${port}`,
    serviceUrl: `http://127.0.0.1:${port}/`,
    tenantId,
    appId: opts.appId,
    openIdMetadataUrl: `http://127.0.0.1:${port}/.well-known/openid-configuration`,
    issuer: 'https://api.botframework.com',
    tokenUrl: `http://127.0.0.1:${port}/${tenantId}/oauth2/v2.0/token`,
    calls,
    inbound: [],
    downloads: [],
    botEndpoint: null,
    tokensIssued: 0,
    inject: (f) => void faults.push(f),
    addFile(path, bytes, type) {
      files.set(path, { bytes, type });
      return `${fake.url}${path}`;
    },
    waitFor(pred, what = 'a connector call') {
      const seen = calls.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`fake Teams: no ${what} arrived; calls so far: ${calls.map((c) => `${c.method} ${c.body.type} ${String(c.body.text ?? '').slice(0, 40)}`).join(' | ')}`)), 20_000);
        waiters.push({ pred, resolve: (c) => (clearTimeout(t), resolve(c)) });
      });
    },
    sign: (claims = {}) => sign(privateKey, kid, { iss: fake.issuer, aud: opts.appId, serviceurl: fake.serviceUrl, ...claims }),
    async post(activity, o = {}) {
      if (!fake.botEndpoint) throw new Error('set botEndpoint first');
      const token = o.token === undefined ? (opts.appId ? fake.sign() : null) : o.token;
      const full = { serviceUrl: fake.serviceUrl, channelId: 'msteams', recipient: { id: BOT_ID, name: 'Switchboard' }, ...activity };
      const entry: InboundPost = { seq: ++seq, activity: full, status: 0, body: null };
      fake.inbound.push(entry);
      const res = await fetch(o.endpoint ?? fake.botEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(full),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
      entry.status = res.status;
      entry.body = body;
      return { status: res.status, body };
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  return fake;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function sign(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
  const payload = b64url(JSON.stringify({ nbf: now - 10, iat: now - 10, exp: now + 3600, ...claims }));
  const s = createSign('RSA-SHA256');
  s.update(`${header}.${payload}`);
  return `${header}.${payload}.${b64url(s.sign(key))}`;
}

/** Activities as Teams sends them. */
export const teamsActivity = {
  botId: BOT_ID,
  personal(fake: FakeTeams, text: string, extra: Record<string, unknown> = {}, user = { id: '29:alice', aadObjectId: 'aad-alice', name: 'Alice' }) {
    return {
      type: 'message',
      id: `msg-${randomUUID()}`,
      text,
      from: user,
      conversation: { id: `a:personal-${user.aadObjectId}`, conversationType: 'personal', tenantId: fake.tenantId },
      channelData: { tenant: { id: fake.tenantId } },
      ...extra,
    };
  },
  group(fake: FakeTeams, text: string, user: { id: string; aadObjectId: string; name: string }, extra: Record<string, unknown> = {}) {
    return {
      type: 'message',
      id: `msg-${randomUUID()}`,
      text: `<at>Switchboard</at> ${text}`,
      from: user,
      entities: [{ type: 'mention', text: '<at>Switchboard</at>', mentioned: { id: BOT_ID, name: 'Switchboard' } }],
      conversation: { id: '19:group-chat@thread.v2', conversationType: 'groupChat', tenantId: fake.tenantId, isGroup: true },
      channelData: { tenant: { id: fake.tenantId } },
      ...extra,
    };
  },
  channel(fake: FakeTeams, text: string, user: { id: string; aadObjectId: string; name: string }, rootId?: string) {
    const id = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
    return {
      type: 'message',
      id,
      text: `<at>Switchboard</at> ${text} <at>Switchboard</at>`,
      from: user,
      entities: [
        { type: 'mention', text: '<at>Switchboard</at>', mentioned: { id: BOT_ID, name: 'Switchboard' } },
        { type: 'mention', text: '<at>Switchboard</at>', mentioned: { id: BOT_ID, name: 'Switchboard' } },
      ],
      conversation: { id: `19:general@thread.tacv2;messageid=${rootId ?? id}`, conversationType: 'channel', tenantId: fake.tenantId, isGroup: true },
      channelData: { tenant: { id: fake.tenantId }, team: { id: '19:team@thread.tacv2' }, channel: { id: '19:general@thread.tacv2' } },
    };
  },
  invoke(fake: FakeTeams, conversation: Record<string, unknown>, user: { id: string; aadObjectId: string; name: string }, verb: string, data: Record<string, unknown>) {
    return {
      type: 'invoke',
      name: 'adaptiveCard/action',
      id: `inv-${randomUUID()}`,
      from: user,
      conversation,
      channelData: { tenant: { id: fake.tenantId } },
      value: { action: { type: 'Action.Execute', id: randomUUID(), verb, data }, trigger: 'manual' },
    };
  },
};

export const ALICE = { id: '29:alice', aadObjectId: 'aad-alice', name: 'Alice' };
export const BOB = { id: '29:bob', aadObjectId: 'aad-bob', name: 'Bob' };

/**
 * Client credentials against the fake's token endpoint. botbuilder gets its outbound tokens through
 * MSAL, which accepts only https authorities, so a test with an app id swaps in this factory (the
 * `credentialsFactory` option) while inbound JWT validation stays botbuilder's own.
 */
export class FakeTokenCredentialsFactory extends ServiceClientCredentialsFactory {
  readonly #fake: FakeTeams;
  readonly #appId: string;
  constructor(fake: FakeTeams, appId: string) {
    super();
    this.#fake = fake;
    this.#appId = appId;
  }
  async isValidAppId(appId: string): Promise<boolean> {
    return appId === this.#appId;
  }
  async isAuthenticationDisabled(): Promise<boolean> {
    return false;
  }
  async createCredentials(): Promise<ServiceClientCredentials> {
    const getToken = async () => {
      const res = await fetch(this.#fake.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: this.#appId, client_secret: 'secret', scope: 'https://api.botframework.com/.default' }),
      });
      return ((await res.json()) as { access_token: string }).access_token;
    };
    return {
      getToken,
      async signRequest(webResource: { headers: { set(name: string, value: string): void } }) {
        webResource.headers.set('authorization', `Bearer ${await getToken()}`);
        return webResource;
      },
    } as unknown as ServiceClientCredentials;
  }
}
