/**
 * A fake Slack on 127.0.0.1 that speaks the real wire protocol, for the Slack bot's tests and bench:
 *
 * - the Web API (`POST /api/<method>`, form or JSON bodies, token in `Authorization` or the body), with a
 *   call log, injectable 429s (with `Retry-After`) and errors, messages kept per channel, streams Slack can
 *   end early, the external upload flow and a private file host that wants the bot token;
 * - a signer that POSTs Events API and interactivity payloads to the app, signed as Slack signs them;
 * - Socket Mode (`apps.connections.open` → a ws://127.0.0.1 URL; see fake-slack-socket.ts).
 *
 * Real SDKs (Bolt, @slack/web-api, @slack/socket-mode) are pointed at `apiUrl`.
 */
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { tierLimiter } from './fake-slack-limits.js';
import { FakeSocketMode } from './fake-slack-socket.js';

export interface FakeTeam {
  id: string;
  botToken: string;
  botUserId: string;
  botId: string;
}

export interface SlackCall {
  method: string;
  /** The team whose bot token made the call (null for an app token or none). */
  team: string | null;
  args: Record<string, unknown>;
  /** `form` or `json`: how the client sent the body. */
  encoding: 'form' | 'json' | 'multipart';
  /** performance.now() when the call arrived (the bench measures with it). */
  at: number;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  /** Streamed messages: `streaming` until stopped (or ended by Slack). */
  stream?: 'streaming' | 'stopped' | 'ended';
  /** Streams: the recipient who sees it live. */
  recipient?: string;
  chunks: unknown[];
  user: string;
  ephemeralTo?: string;
}

export interface FakeSlackOptions {
  teams?: FakeTeam[];
  signingSecret?: string;
  appToken?: string;
  appId?: string;
  /**
   * Slack's per-method rate tiers, enforced per workspace: a call beyond `perMinute` calls of its method
   * in the last 60 s answers 429 with Retry-After, as Slack does (the bench proves none happen).
   */
  limits?: Record<string, number>;
}

type Fault = { method: string; times: number } & ({ kind: '429'; retryAfter: number } | { kind: 'error'; error: string });

export interface FakeSlack {
  apiUrl: string;
  /** Base of the fake's own file host (url_private points here). */
  url: string;
  teams: FakeTeam[];
  signingSecret: string;
  appToken: string;
  calls: SlackCall[];
  messages: FakeMessage[];
  uploads: { fileId: string; filename: string; bytes: Buffer; channel?: string; thread_ts?: string }[];
  views: { id: string; team: string | null; view: Record<string, unknown>; trigger_id: string }[];
  callsOf(method: string): SlackCall[];
  methods(): string[];
  /** The next `times` calls of `method` ('*' for any) answer 429 with this Retry-After. */
  rateLimit(method: string, retryAfterSec: number, times?: number): void;
  /** The next `times` calls of `method` answer `{ ok: false, error }`. */
  failWith(method: string, error: string, times?: number): void;
  /** Slack ends a stream by itself: later appendStream/stopStream get `message_not_in_streaming_state`. */
  endStream(channel: string, ts: string): void;
  /** A file on the fake's private host; only the team's bot token may download it. */
  hostFile(team: string, bytes: Buffer, mediaType: string, name?: string): { id: string; url_private: string; mimetype: string; name: string };
  downloads: { fileId: string; authorized: boolean }[];
  /** Bodies the app POSTed to `responseUrl` (a slash command's response_url). */
  responses: Record<string, unknown>[];
  responseUrl: string;
  /** Calls answered 429 because they went beyond `limits` (not counting `rateLimit` faults). */
  throttled: SlackCall[];
  /** Signed POST to the app's request URL (Events API body as JSON). */
  postEvent(appUrl: string, body: unknown, opts?: { timestamp?: number; secret?: string; retryNum?: number }): Promise<{ status: number; text: string }>;
  /** Signed POST of an interactivity payload (`payload=` form). */
  postInteraction(appUrl: string, payload: unknown, opts?: { timestamp?: number }): Promise<{ status: number; text: string }>;
  /** Signed POST of a slash command. */
  postCommand(appUrl: string, fields: Record<string, string>): Promise<{ status: number; text: string }>;
  sign(rawBody: string, timestamp?: number, secret?: string): Record<string, string>;
  socket: FakeSocketMode;
  textOf(channel: string, ts: string): string;
  close(): Promise<void>;
}

export const DEFAULT_TEAM: FakeTeam = { id: 'T1', botToken: 'xoxb-t1-token', botUserId: 'UBOT1', botId: 'B1' };

export async function startFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  const teams = opts.teams ?? [DEFAULT_TEAM];
  const signingSecret = opts.signingSecret ?? 'fake-signing-secret';
  const appToken = opts.appToken ?? 'xapp-1-fake';
  const calls: SlackCall[] = [];
  const messages: FakeMessage[] = [];
  const uploads: FakeSlack['uploads'] = [];
  const views: FakeSlack['views'] = [];
  const downloads: FakeSlack['downloads'] = [];
  const faults: Fault[] = [];
  const hosted = new Map<string, { team: string; bytes: Buffer; mediaType: string }>();
  const pendingUploads = new Map<string, { filename: string; bytes?: Buffer }>();
  let tsCounter = 0;
  let idCounter = 0;
  const nextTs = () => `${1_800_000_000 + Math.floor(++tsCounter / 1000)}.${String(tsCounter % 1_000_000).padStart(6, '0')}`;
  const nextId = (p: string) => `${p}${String(++idCounter).padStart(6, '0')}`;

  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => void route(req, res).catch((err) => {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(err));
  }));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const socket = new FakeSocketMode(server, { appId: opts.appId ?? 'A1' });

  const throttled: SlackCall[] = [];
  const responses: Record<string, unknown>[] = [];
  const tiers = tierLimiter(opts.limits ?? {});
  const teamOfToken = (token: string | undefined) => teams.find((t) => t.botToken === token) ?? null;
  const find = (channel: string, ts: string) => messages.find((m) => m.channel === channel && m.ts === ts);

  async function route(req: http.IncomingMessage, res: http.ServerResponse) {
    const path = new URL(req.url ?? '/', url).pathname;
    const raw = await readRaw(req);
    if (path.startsWith('/files-pri/')) return serveFile(path.slice('/files-pri/'.length), req, res);
    if (path === '/respond') {
      // A slash command's response_url: what the app answered there, as the person would see it.
      responses.push(JSON.parse(raw.toString('utf8')) as Record<string, unknown>);
      return json(res, { ok: true });
    }
    if (path.startsWith('/upload/')) {
      const up = pendingUploads.get(path.slice('/upload/'.length));
      if (!up) return void res.writeHead(404).end();
      up.bytes = await uploadedBytes(raw, String(req.headers['content-type'] ?? ''));
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(`OK - ${raw.length}`);
    }
    if (!path.startsWith('/api/')) return void res.writeHead(404).end();
    const method = path.slice('/api/'.length);
    const type = String(req.headers['content-type'] ?? '');
    const encoding: SlackCall['encoding'] = type.includes('json') ? 'json' : type.includes('multipart') ? 'multipart' : 'form';
    const args = parseArgs(raw, type);
    const auth = String(req.headers.authorization ?? '').replace(/^Bearer /, '') || (args.token as string | undefined);
    delete args.token;
    const team = teamOfToken(auth);
    calls.push({ method, team: team?.id ?? null, args, encoding, at: performance.now() });

    const retryAfter = team ? tiers.take(team.id, method) : null;
    if (retryAfter !== null) {
      throttled.push(calls.at(-1)!);
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(retryAfter) });
      return void res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
    }
    const fault = faults.find((f) => f.method === method || f.method === '*');
    if (fault) {
      if (--fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
      if (fault.kind === '429') {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(fault.retryAfter) });
        return void res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      }
      return json(res, { ok: false, error: fault.error });
    }
    if (method === 'apps.connections.open') {
      if (auth !== appToken) return json(res, { ok: false, error: 'invalid_auth' });
      return json(res, { ok: true, url: socket.newUrl(url) });
    }
    if (!team) return json(res, { ok: false, error: 'invalid_auth' });
    return json(res, api(method, args, team));
  }

  function api(method: string, a: Record<string, unknown>, team: FakeTeam): Record<string, unknown> {
    const channel = String(a.channel ?? a.channel_id ?? '');
    const thread = a.thread_ts === undefined ? undefined : String(a.thread_ts);
    switch (method) {
      case 'auth.test':
        return { ok: true, url: `https://${team.id.toLowerCase()}.slack.com/`, team: team.id, user: 'switchboard', team_id: team.id, user_id: team.botUserId, bot_id: team.botId };
      case 'chat.postMessage':
      case 'chat.postEphemeral': {
        const m: FakeMessage = { channel, ts: nextTs(), thread_ts: thread, text: String(a.text ?? ''), blocks: asArray(a.blocks), chunks: [], user: team.botUserId };
        if (method === 'chat.postEphemeral') m.ephemeralTo = String(a.user);
        messages.push(m);
        return method === 'chat.postMessage' ? { ok: true, channel, ts: m.ts, message: { text: m.text, ts: m.ts } } : { ok: true, message_ts: m.ts };
      }
      case 'chat.update': {
        const m = find(channel, String(a.ts));
        if (!m) return { ok: false, error: 'message_not_found' };
        if (m.stream === 'streaming') return { ok: false, error: 'cant_update_message' };
        if (a.text !== undefined) m.text = String(a.text);
        if (a.blocks !== undefined) m.blocks = asArray(a.blocks);
        return { ok: true, channel, ts: m.ts, text: m.text };
      }
      case 'chat.startStream': {
        // Outside a DM a stream needs its one live recipient.
        if (!channel.startsWith('D') && (!a.recipient_user_id || !a.recipient_team_id)) return { ok: false, error: 'missing_recipient_user_id' };
        const m: FakeMessage = { channel, ts: nextTs(), thread_ts: thread, text: '', chunks: [], stream: 'streaming', recipient: a.recipient_user_id as string | undefined, user: team.botUserId };
        messages.push(m);
        appendTo(m, a);
        return { ok: true, channel, ts: m.ts };
      }
      case 'chat.appendStream':
      case 'chat.stopStream': {
        const m = find(channel, String(a.ts));
        if (!m) return { ok: false, error: 'message_not_found' };
        if (m.stream !== 'streaming') return { ok: false, error: 'message_not_in_streaming_state' };
        appendTo(m, a);
        if (method === 'chat.stopStream') {
          m.stream = 'stopped';
          if (a.blocks !== undefined) m.blocks = asArray(a.blocks);
        }
        return { ok: true, channel, ts: m.ts };
      }
      case 'assistant.threads.setStatus':
      case 'assistant.threads.setSuggestedPrompts':
      case 'assistant.threads.setTitle':
      case 'agents.sessions.setStatus':
      case 'agents.sessions.rename':
        return { ok: true };
      case 'views.open':
      case 'views.update': {
        const view = (typeof a.view === 'string' ? JSON.parse(a.view) : a.view) as Record<string, unknown>;
        const id = method === 'views.open' ? nextId('V') : String(a.view_id);
        views.push({ id, team: team.id, view, trigger_id: String(a.trigger_id ?? '') });
        return { ok: true, view: { id, ...view } };
      }
      case 'files.getUploadURLExternal': {
        const fileId = nextId('F');
        pendingUploads.set(fileId, { filename: String(a.filename) });
        return { ok: true, upload_url: `${url}/upload/${fileId}`, file_id: fileId };
      }
      case 'files.completeUploadExternal': {
        const files = (typeof a.files === 'string' ? JSON.parse(a.files) : a.files) as { id: string; title?: string }[];
        for (const f of files) {
          const up = pendingUploads.get(f.id);
          if (!up?.bytes) return { ok: false, error: 'file_not_found' };
          uploads.push({ fileId: f.id, filename: up.filename, bytes: up.bytes, channel: a.channel_id as string | undefined, thread_ts: thread });
        }
        return { ok: true, files: files.map((f) => ({ id: f.id, title: f.title ?? '' })) };
      }
      case 'conversations.info':
        return { ok: true, channel: { id: channel, is_im: channel.startsWith('D'), is_channel: channel.startsWith('C') } };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  function appendTo(m: FakeMessage, a: Record<string, unknown>) {
    if (a.markdown_text !== undefined) m.text += String(a.markdown_text);
    for (const c of asArray(a.chunks) ?? []) {
      m.chunks.push(c);
      const chunk = c as { type?: string; text?: string };
      if (chunk.type === 'markdown_text' && typeof chunk.text === 'string') m.text += chunk.text;
    }
  }

  function serveFile(id: string, req: http.IncomingMessage, res: http.ServerResponse) {
    const file = hosted.get(id);
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    const authorized = !!file && teamOfToken(token)?.id === file.team;
    downloads.push({ fileId: id, authorized });
    // Slack answers an unauthorized download with its login page, not an error status.
    if (!file || !authorized) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end('<html>sign in</html>');
    }
    res.writeHead(200, { 'content-type': file.mediaType, 'content-length': String(file.bytes.length) });
    res.end(file.bytes);
  }

  const sign = (rawBody: string, timestamp = Math.floor(Date.now() / 1000), secret = signingSecret) => ({
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`,
  });

  async function post(appUrl: string, body: string, type: string, headers: Record<string, string>) {
    const res = await fetch(appUrl, { method: 'POST', headers: { 'content-type': type, ...headers }, body });
    return { status: res.status, text: await res.text() };
  }

  return {
    apiUrl: `${url}/api/`,
    url,
    teams,
    signingSecret,
    appToken,
    calls,
    messages,
    uploads,
    views,
    downloads,
    throttled,
    responses,
    responseUrl: `${url}/respond`,
    socket,
    callsOf: (method) => calls.filter((c) => c.method === method),
    methods: () => calls.map((c) => c.method),
    rateLimit: (method, retryAfter, times = 1) => void faults.push({ method, kind: '429', retryAfter, times }),
    failWith: (method, error, times = 1) => void faults.push({ method, kind: 'error', error, times }),
    endStream(channel, ts) {
      const m = find(channel, ts);
      if (m?.stream === 'streaming') m.stream = 'ended';
    },
    hostFile(team, bytes, mediaType, name = 'image.png') {
      const id = nextId('F');
      hosted.set(id, { team, bytes, mediaType });
      return { id, url_private: `${url}/files-pri/${id}`, mimetype: mediaType, name };
    },
    postEvent(appUrl, body, o = {}) {
      const raw = JSON.stringify(body);
      const headers: Record<string, string> = sign(raw, o.timestamp, o.secret);
      if (o.retryNum) Object.assign(headers, { 'x-slack-retry-num': String(o.retryNum), 'x-slack-retry-reason': 'http_timeout' });
      return post(appUrl, raw, 'application/json', headers);
    },
    postInteraction(appUrl, payload, o = {}) {
      const raw = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
      return post(appUrl, raw, 'application/x-www-form-urlencoded', sign(raw, o.timestamp));
    },
    postCommand(appUrl, fields) {
      const raw = new URLSearchParams(fields).toString();
      return post(appUrl, raw, 'application/x-www-form-urlencoded', sign(raw));
    },
    sign,
    textOf: (channel, ts) => find(channel, ts)?.text ?? '',
    async close() {
      socket.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/** An Events API envelope as Slack POSTs it. */
export function eventEnvelope(team: string, event: Record<string, unknown>, eventId = `Ev${randomUUID().slice(0, 8)}`): Record<string, unknown> {
  return {
    token: 'legacy-verification-token',
    team_id: team,
    api_app_id: 'A1',
    event: { event_ts: event.ts ?? '1.0', ...event },
    type: 'event_callback',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: team, user_id: 'UBOT1', is_bot: true, is_enterprise_install: false }],
  };
}

/** Slack takes the file as the raw body or as a multipart form (the Web API client sends the latter). */
async function uploadedBytes(raw: Buffer, type: string): Promise<Buffer> {
  if (!type.includes('multipart/form-data')) return raw;
  const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
  for (const value of form.values()) if (typeof value !== 'string') return Buffer.from(await value.arrayBuffer());
  throw new Error('multipart upload without a file part');
}

function json(res: http.ServerResponse, body: unknown) {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function asArray(v: unknown): unknown[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return JSON.parse(v) as unknown[];
  return v as unknown[];
}

function readRaw(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseArgs(raw: Buffer, type: string): Record<string, unknown> {
  if (raw.length === 0) return {};
  if (type.includes('json')) return JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  if (type.includes('multipart')) return {};
  return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
}
