/**
 * The lean chat request path: one POST over a kept-alive node:http(s) connection, with the URL and
 * headers built once per provider and the body serialized once per call. Measured against the
 * bench's fake server (CPU per streamed call, same process): the SDK's `create().asResponse()` over
 * fetch costs 3-4x a node:http request, fetch alone 2-2.5x (the SDK builds headers, a URL and a
 * Request per call; fetch wraps the body in WHATWG streams). undici's `request()` costs what
 * node:http does; only its raw `dispatch()` is cheaper (~0.2 ms a call), not worth a dependency.
 * Kept from the SDK: its typed errors for a non-2xx answer (built as the SDK builds them), so it is
 * classified (failures.ts) exactly as when the SDK sent the request. The SDK itself is imported only
 * when something fails: a call that succeeds never loads it.
 *
 * node:http and node:https are imported on the first request (https only for an https URL), so
 * importing the engine costs nothing more.
 */
import type * as Http from 'node:http';
import { IdleReader, NodeBody, type Answer } from './body.js';
import { abortError, ConnectFailed, HeadersTimeout, type Sdk } from './failures.js';
import type { Resolved } from './providers.js';

/**
 * Whether Node's own proxy support (Node 24: NODE_USE_ENV_PROXY=1 or --use-env-proxy, with
 * HTTP(S)_PROXY set) is on: it routes fetch, not our agents, so chat requests then keep to fetch.
 */
export function envProxyInUse(env: NodeJS.ProcessEnv = process.env): boolean {
  const flag = '--use-env-proxy';
  const on = env['NODE_USE_ENV_PROXY'] === '1' || process.execArgv.includes(flag) || (env['NODE_OPTIONS'] ?? '').includes(flag);
  return on && Boolean(env['HTTPS_PROXY'] || env['https_proxy'] || env['HTTP_PROXY'] || env['http_proxy']);
}

/** Where one provider's chat requests go, and the headers every one of them carries. */
export interface ChatTarget {
  protocol: 'http:' | 'https:';
  /** node:http request options without the agent and the per-request content-length. */
  options: Http.RequestOptions;
  headers: Record<string, string>;
}

/** The chat completions URL of a provider; for Azure, of the deployment `model`. */
export function chatUrl(p: Resolved, model: string): URL {
  const base = p.baseURL.endsWith('/') ? p.baseURL.slice(0, -1) : p.baseURL;
  if (p.type !== 'azure') return new URL(`${base}/chat/completions`);
  // As the SDK's AzureOpenAI: the model names the deployment, api-version goes in the query.
  const url = new URL(`${base}/deployments/${model}/chat/completions`);
  url.searchParams.set('api-version', p.apiVersion!);
  return url;
}

/** The headers the SDK would send (auth, organization, project), less its per-call telemetry. */
export function chatTarget(p: Resolved, model: string): ChatTarget {
  const url = chatUrl(p, model);
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': 'application/json',
    'user-agent': 'Switchboard (openai-compatible)',
  };
  if (p.type === 'azure') headers['api-key'] = p.apiKey;
  else headers['authorization'] = `Bearer ${p.apiKey}`;
  if (p.organization) headers['openai-organization'] = p.organization;
  if (p.project) headers['openai-project'] = p.project;
  const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
  const options: Http.RequestOptions = {
    method: 'POST',
    // An IPv6 literal keeps its brackets in URL.hostname; node:http wants it without.
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port || (protocol === 'https:' ? 443 : 80),
    path: `${url.pathname}${url.search}`,
  };
  return { protocol, options, headers };
}

interface Transport {
  request: typeof Http.request;
  agent: Http.Agent;
}

/**
 * One pool per protocol for the process, as fetch's global dispatcher was. Connections are not
 * capped (the engine's `modelConcurrency` caps the calls in flight, and a call holds its connection
 * for the whole streamed answer: a lower cap would queue calls behind answers); up to 512 idle ones
 * are kept for the next burst, the most recently used first (`lifo`) so the rest can expire.
 */
const AGENT_OPTIONS: Http.AgentOptions = { keepAlive: true, maxFreeSockets: 512, scheduling: 'lifo' };
const transports = new Map<string, Transport | Promise<Transport>>();

function transport(protocol: 'http:' | 'https:'): Transport | Promise<Transport> {
  let t = transports.get(protocol);
  if (!t) {
    const loading = (protocol === 'https:' ? import('node:https') : import('node:http')).then((mod) => {
      const loaded: Transport = { request: mod.request, agent: new mod.Agent(AGENT_OPTIONS) };
      transports.set(protocol, loaded);
      return loaded;
    });
    transports.set(protocol, loading);
    t = loading;
  }
  return t;
}

/** Header values as the WHATWG Headers the SDK's errors carry. */
function webHeaders(raw: Http.IncomingHttpHeaders): Headers {
  const h = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const v of value) h.append(name, v);
    else if (value !== undefined) h.append(name, value);
  }
  return h;
}

/**
 * Sends `body` to `target`; resolves with the answer once its headers arrive. Fails with
 * HeadersTimeout after `timeoutMs` without headers, ConnectFailed (the socket's error as the cause)
 * when the connection fails, the signal's reason when aborted. The signal also stops the body.
 */
export async function postChat(target: ChatTarget, body: Buffer, timeoutMs: number, signal: AbortSignal | undefined): Promise<Answer> {
  const loaded = transport(target.protocol);
  const t = loaded instanceof Promise ? await loaded : loaded;
  if (signal?.aborted) throw abortError(signal);
  return new Promise<Answer>((resolve, reject) => {
    const req = t.request({ ...target.options, agent: t.agent, headers: { ...target.headers, 'content-length': String(body.length) } });
    let answered: NodeBody | undefined;
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      reject(err);
    };
    const onAbort = () => (answered ? answered.fail(abortError(signal!)) : fail(abortError(signal!)));
    const timer = setTimeout(() => fail(new HeadersTimeout()), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => fail(new ConnectFailed(err)));
    req.on('response', (res) => {
      if (settled) return void res.destroy();
      settled = true;
      clearTimeout(timer);
      answered = new NodeBody(res, () => signal?.removeEventListener('abort', onAbort));
      const raw = res.headers;
      let headers: Headers | undefined;
      resolve({
        status: res.statusCode ?? 0,
        contentType: (raw['content-type'] ?? '').toLowerCase(),
        headers: () => (headers ??= webHeaders(raw)),
        body: answered,
      });
    });
    req.end(body);
  });
}

/** An error page is read up to this size (the message shown is cut to 400 characters anyway). */
const MAX_ERROR_BYTES = 256 * 1024;

/** A non-2xx answer as the SDK's typed APIError, built from the body as the SDK builds it. */
export async function statusError(m: Sdk, answer: Answer, timeoutMs: number): Promise<InstanceType<Sdk['APIError']>> {
  let text = '';
  if (answer.body) {
    const reader = new IdleReader(answer.body, timeoutMs);
    try {
      text = (await reader.readText(MAX_ERROR_BYTES)).text;
    } catch (err) {
      text = err instanceof Error ? err.message : String(err);
    } finally {
      reader.close();
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return m.APIError.generate(answer.status, json as object | undefined, json ? undefined : text, answer.headers());
}
