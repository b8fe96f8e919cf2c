/**
 * The one place that talks to a model API: OpenAI, Azure OpenAI or any OpenAI-compatible server
 * (Ollama, vLLM, LiteLLM), through the `openai` SDK. The SDK is imported on the first call, so
 * commands that never reach a model start fast.
 *
 * Retries are ours (the SDK's are switched off): the backoff is configurable and capped, every
 * attempt is counted for the final message, and a stream that breaks before any text reached the
 * caller is retried too.
 */
import type * as OpenAISdk from 'openai';
import type { AzureOpenAI, OpenAI } from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionContentPart,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import type { ImageGenerateParamsNonStreaming } from 'openai/resources/images';
import type { ProviderConfig } from '../agents/spec.js';
import { ModelCallError, ModelNotConfiguredError, SwitchboardError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type {
  ChatMessage,
  ChatOptions,
  ChatRequest,
  ChatResult,
  ImageRequest,
  ImageResult,
  ModelClient,
  ToolCall,
  Usage,
} from './types.js';

type Sdk = typeof OpenAISdk;
type Env = NodeJS.ProcessEnv;

/** Where the model configuration comes from: the config's `providers` and the environment. */
export interface ModelSetup {
  providers: Record<string, ProviderConfig>;
  env?: Env;
}

export interface ModelClientOptions extends ModelSetup {
  /** Extra attempts after the first on 408/409/429/5xx, connection errors and timeouts. */
  retries: number;
  /** Per attempt: the wait for response headers, and the longest silence inside a stream. */
  timeoutMs: number;
  logger?: Logger;
  fetch?: typeof fetch;
  /** First backoff wait; it doubles per attempt (with jitter). Default 250 ms. */
  retryBaseDelayMs?: number;
  /** Longest wait between attempts, whatever `retry-after` asks for. Default 5000 ms. */
  retryMaxDelayMs?: number;
}

/** What a provider resolves to, without its key: safe to print (`switchboard doctor`). */
export interface ProviderInfo {
  name: string;
  type: 'openai' | 'azure';
  /** Base URL (OpenAI-compatible) or endpoint (Azure), without credentials. */
  url: string;
  /** Where the API key comes from; `placeholder` for a local server that needs none. */
  keySource: 'config' | 'OPENAI_API_KEY' | 'AZURE_OPENAI_API_KEY' | 'placeholder';
  apiVersion?: string;
  /** True when built from environment variables rather than a `providers` entry. */
  fromEnv: boolean;
}

export type ProviderCheck = { ok: true; provider: ProviderInfo } | { ok: false; message: string };

export interface SwitchboardModelClient extends ModelClient {
  /** Whether a provider can be used, without making a request. */
  checkProvider(name?: string): ProviderCheck;
}

interface Resolved extends ProviderInfo {
  apiKey: string;
  baseURL: string;
  organization?: string;
  project?: string;
}

const DEFAULT_API_VERSION = '2024-10-21';
const OPENAI_URL = 'https://api.openai.com/v1';
const PLACEHOLDER_KEY = 'not-needed';
const SETUP_HINT =
  'Set OPENAI_API_KEY (OpenAI), or OPENAI_BASE_URL for a local OpenAI-compatible server such as Ollama or vLLM ' +
  '(e.g. http://localhost:11434/v1), or AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY (Azure OpenAI), ' +
  'or add a "providers" entry to switchboard.yaml.';

// ---------------------------------------------------------------- provider resolution

const envOf = (env: Env, key: string): string | undefined => {
  const value = env[key]?.trim();
  return value ? value : undefined;
};

/** Strip credentials, query and trailing slashes from a URL before it is shown anywhere. */
function displayUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return raw.replace(/\/+$/, '');
  }
}

function resolveProvider(setup: ModelSetup, name: string): { ok: true; provider: Resolved } | { ok: false; message: string } {
  const env = setup.env ?? process.env;
  const configured = setup.providers[name];
  if (!configured && name !== 'default') {
    const known = ['default', ...Object.keys(setup.providers).filter((n) => n !== 'default')];
    return {
      ok: false,
      message: `Unknown model provider "${name}". Configured providers: ${known.join(', ')}. Add "${name}" under "providers" in switchboard.yaml or use one of these.`,
    };
  }
  const fromEnv = !configured;
  const cfg: ProviderConfig | undefined =
    configured ??
    (envOf(env, 'AZURE_OPENAI_ENDPOINT')
      ? { type: 'azure', endpoint: envOf(env, 'AZURE_OPENAI_ENDPOINT')!, apiVersion: envOf(env, 'OPENAI_API_VERSION') ?? DEFAULT_API_VERSION }
      : { type: 'openai' });

  if (cfg.type === 'azure') {
    const apiKey = cfg.apiKey ?? envOf(env, 'AZURE_OPENAI_API_KEY');
    if (!apiKey) {
      const where = fromEnv ? 'AZURE_OPENAI_ENDPOINT is set but' : `Azure OpenAI provider "${name}" (${displayUrl(cfg.endpoint)})`;
      return {
        ok: false,
        message: `${where} has no API key. Set AZURE_OPENAI_API_KEY${fromEnv ? '' : ` or providers.${name}.apiKey in switchboard.yaml`}.`,
      };
    }
    const endpoint = cfg.endpoint.replace(/\/+$/, '');
    return {
      ok: true,
      provider: {
        name,
        type: 'azure',
        url: displayUrl(endpoint),
        baseURL: `${endpoint}/openai`,
        apiKey,
        keySource: cfg.apiKey ? 'config' : 'AZURE_OPENAI_API_KEY',
        apiVersion: cfg.apiVersion || DEFAULT_API_VERSION,
        fromEnv,
      },
    };
  }

  const envKey = envOf(env, 'OPENAI_API_KEY');
  const baseURL = cfg.baseURL ?? envOf(env, 'OPENAI_BASE_URL');
  const apiKey = cfg.apiKey ?? envKey ?? (baseURL ? PLACEHOLDER_KEY : undefined);
  if (!apiKey) {
    return {
      ok: false,
      message: fromEnv
        ? `No model API is configured. ${SETUP_HINT}`
        : `Model provider "${name}" has no API key and no base URL. Set providers.${name}.apiKey or providers.${name}.baseURL in switchboard.yaml, or OPENAI_API_KEY in the environment.`,
    };
  }
  const url = baseURL ?? OPENAI_URL;
  const project = envOf(env, 'OPENAI_PROJECT_ID');
  const organization = cfg.organization ?? envOf(env, 'OPENAI_ORG_ID');
  return {
    ok: true,
    provider: {
      name,
      type: 'openai',
      url: displayUrl(url),
      baseURL: url,
      apiKey,
      keySource: cfg.apiKey ? 'config' : envKey ? 'OPENAI_API_KEY' : 'placeholder',
      fromEnv,
      ...(organization ? { organization } : {}),
      ...(project ? { project } : {}),
    },
  };
}

function publicInfo(p: Resolved): ProviderInfo {
  const { name, type, url, keySource, fromEnv, apiVersion } = p;
  return { name, type, url, keySource, fromEnv, ...(apiVersion ? { apiVersion } : {}) };
}

/** Whether provider `name` (default: `default`) can be used, without making a request. */
export function checkProvider(setup: ModelSetup, name = 'default'): ProviderCheck {
  const r = resolveProvider(setup, name);
  return r.ok ? { ok: true, provider: publicInfo(r.provider) } : r;
}

/** Every provider the setup knows (`default` always included), each checked. For `doctor`. */
export function describeModelSetup(setup: ModelSetup): Array<{ name: string } & ProviderCheck> {
  const names = ['default', ...Object.keys(setup.providers).filter((n) => n !== 'default')];
  return names.map((name) => ({ name, ...checkProvider(setup, name) }));
}

// ---------------------------------------------------------------- request mapping

/** OpenAI accepts `name` only as [a-zA-Z0-9_-]{1,64}. */
const wireName = (name: string): string => name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);

export function toWireMessage(m: ChatMessage): ChatCompletionMessageParam {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: m.content };
    case 'user': {
      const named = m.name ? { name: wireName(m.name) } : {};
      if (!m.images?.length) return { role: 'user', content: m.content, ...named };
      const parts: ChatCompletionContentPart[] = m.content ? [{ type: 'text', text: m.content }] : [];
      for (const url of m.images) parts.push({ type: 'image_url', image_url: { url } });
      return { role: 'user', content: parts, ...named };
    }
    case 'assistant': {
      const calls = m.toolCalls ?? [];
      if (calls.length === 0) return { role: 'assistant', content: m.content ?? '' };
      return {
        role: 'assistant',
        content: m.content,
        tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
      };
    }
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
  }
}

function toChatParams(request: ChatRequest): ChatCompletionCreateParamsStreaming {
  const params: ChatCompletionCreateParamsStreaming = {
    model: request.model,
    messages: request.messages.map(toWireMessage),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (request.tools?.length) {
    params.tools = request.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: t.parameters },
    }));
  }
  if (request.temperature !== undefined) params.temperature = request.temperature;
  if (request.responseSchema) {
    params.response_format = {
      type: 'json_schema',
      json_schema: { name: request.responseSchema.name, schema: request.responseSchema.schema, strict: false },
    };
  }
  return params;
}

// ---------------------------------------------------------------- stream assembly

/** Collects a streamed assistant turn: text, parallel tool calls by index, usage, finish reason. */
class TurnAccumulator {
  private text = '';
  private sawText = false;
  private readonly calls = new Map<number, ToolCall>();
  private usage: Usage = { promptTokens: 0, completionTokens: 0 };
  private finishReason: string | null = null;
  private model: string | undefined;

  /** Returns the new text in this chunk ('' if none). */
  add(chunk: ChatCompletionChunk): string {
    if (chunk.model && !this.model) this.model = chunk.model;
    if (chunk.usage) {
      this.usage = { promptTokens: chunk.usage.prompt_tokens ?? 0, completionTokens: chunk.usage.completion_tokens ?? 0 };
    }
    let piece = '';
    for (const choice of chunk.choices ?? []) {
      if ((choice.index ?? 0) !== 0) continue;
      const delta = choice.delta;
      if (typeof delta?.content === 'string' && delta.content) {
        this.text += delta.content;
        this.sawText = true;
        piece += delta.content;
      }
      for (const tc of delta?.tool_calls ?? []) this.addToolDelta(tc);
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
    }
    return piece;
  }

  private addToolDelta(tc: ChatCompletionChunk.Choice.Delta.ToolCall): void {
    // Some compatible servers leave out `index`; match by id, else start a new call.
    let index = tc.index;
    if (typeof index !== 'number') {
      const byId = tc.id ? [...this.calls].find(([, c]) => c.id === tc.id)?.[0] : undefined;
      index = byId ?? (tc.id || this.calls.size === 0 ? this.calls.size : this.calls.size - 1);
    }
    let call = this.calls.get(index);
    if (!call) {
      call = { id: '', name: '', arguments: '' };
      this.calls.set(index, call);
    }
    if (tc.id) call.id = tc.id;
    const name = tc.function?.name;
    // Some servers repeat the whole name in every delta; OpenAI sends it once.
    if (name && name !== call.name) call.name += name;
    if (tc.function?.arguments) call.arguments += tc.function.arguments;
  }

  result(requestedModel: string): Omit<ChatResult, 'latencyMs'> {
    const toolCalls = [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => ({ ...c, id: c.id || `call_${index}` }));
    return {
      content: this.sawText ? this.text : null,
      toolCalls,
      usage: this.usage,
      finishReason: this.finishReason,
      model: this.model ?? requestedModel,
    };
  }
}

// ---------------------------------------------------------------- failures and retries

/** The stream went silent for longer than the timeout. */
class StreamIdleTimeout extends Error {}

interface Failure {
  kind: 'http' | 'connection' | 'timeout' | 'stream' | 'unexpected';
  retryable: boolean;
  status?: number;
  message: string;
  retryAfterMs?: number;
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const RETRY_STATUS = (s: number): boolean => s === 408 || s === 409 || s === 429 || s >= 500;

function serverMessage(err: unknown): string {
  const body = (err as { error?: unknown }).error;
  const fromBody = body && typeof body === 'object' ? (body as { message?: unknown }).message : undefined;
  if (typeof fromBody === 'string' && fromBody) return fromBody;
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^\d{3}\s+/, '');
}

function causeText(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? (cause as { cause?: unknown }).cause : undefined;
  const deepest = inner instanceof Error ? inner : cause instanceof Error ? cause : err;
  const code = (deepest as { code?: unknown }).code;
  const msg = deepest instanceof Error ? deepest.message : String(deepest);
  return typeof code === 'string' && !msg.includes(code) ? `${msg} (${code})` : msg;
}

function classify(sdk: Sdk, err: unknown): Failure {
  if (err instanceof StreamIdleTimeout) return { kind: 'timeout', retryable: true, message: err.message };
  if (err instanceof sdk.APIConnectionTimeoutError) return { kind: 'timeout', retryable: true, message: 'request timed out' };
  if (err instanceof sdk.APIConnectionError) return { kind: 'connection', retryable: true, message: causeText(err) };
  if (err instanceof sdk.APIError) {
    if (typeof err.status !== 'number') return { kind: 'stream', retryable: true, message: serverMessage(err) };
    const hint = err.headers?.get('x-should-retry');
    const retryable = hint === 'true' ? true : hint === 'false' ? false : RETRY_STATUS(err.status);
    const wait = retryAfterMs(err.headers);
    return { kind: 'http', retryable, status: err.status, message: serverMessage(err), ...(wait !== undefined ? { retryAfterMs: wait } : {}) };
  }
  // undici reports a connection dropped mid-body as `TypeError: terminated`.
  if (err instanceof TypeError && /terminated|fetch failed|socket|ECONNRESET/i.test(`${err.message} ${causeText(err)}`)) {
    return { kind: 'connection', retryable: true, message: causeText(err) };
  }
  if (err instanceof SyntaxError) return { kind: 'stream', retryable: true, message: `unreadable stream data (${err.message})` };
  return { kind: 'unexpected', retryable: false, message: err instanceof Error ? err.message : String(err) };
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** True for what `chat`/`generateImage` throw when their signal is aborted. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'APIUserAbortError');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------------------------------------------------------------- the client

/** A model client over the `openai` SDK for every configured provider (and the implicit `default`). */
export function createModelClient(opts: ModelClientOptions): SwitchboardModelClient {
  const logger = opts.logger ?? silentLogger;
  const baseDelay = opts.retryBaseDelayMs ?? 250;
  const maxDelay = opts.retryMaxDelayMs ?? 5000;
  const attempts = Math.max(0, Math.floor(opts.retries)) + 1;
  const timeout = Math.max(1, Math.floor(opts.timeoutMs));
  let sdkPromise: Promise<Sdk> | undefined;
  const clients = new Map<string, Promise<OpenAI | AzureOpenAI>>();

  const sdkLogger = {
    error: (msg: string) => logger.error(`openai sdk: ${msg}`),
    warn: (msg: string) => logger.warn(`openai sdk: ${msg}`),
    info: (msg: string) => logger.debug(`openai sdk: ${msg}`),
    debug: (msg: string) => logger.debug(`openai sdk: ${msg}`),
  };

  function provider(name: string): Resolved {
    const r = resolveProvider(opts, name);
    if (!r.ok) throw new ModelNotConfiguredError(r.message);
    return r.provider;
  }

  function sdk(): Promise<Sdk> {
    sdkPromise ??= import('openai');
    return sdkPromise;
  }

  function client(p: Resolved): Promise<OpenAI | AzureOpenAI> {
    let cached = clients.get(p.name);
    if (!cached) {
      cached = sdk().then((m) => {
        const common = {
          apiKey: p.apiKey,
          baseURL: p.baseURL,
          organization: p.organization ?? null,
          project: p.project ?? null,
          adminAPIKey: null,
          webhookSecret: null,
          maxRetries: 0,
          timeout,
          logger: sdkLogger,
          logLevel: 'warn' as const,
          ...(opts.fetch ? { fetch: opts.fetch } : {}),
        };
        return p.type === 'azure' ? new m.AzureOpenAI({ ...common, apiVersion: p.apiVersion! }) : new m.OpenAI(common);
      });
      cached.catch(() => clients.delete(p.name));
      clients.set(p.name, cached);
    }
    return cached;
  }

  function redactKey(p: Resolved, text: string): string {
    let out = text;
    if (p.apiKey !== PLACEHOLDER_KEY && p.apiKey.length >= 4) out = out.split(p.apiKey).join('[redacted]');
    return out.replace(/\bsk-[A-Za-z0-9_-]{8,}/g, 'sk-[redacted]').replace(/\s+/g, ' ').trim().slice(0, 400);
  }

  function keyHint(p: Resolved): string {
    if (p.keySource === 'config') return `check providers.${p.name}.apiKey in switchboard.yaml`;
    if (p.keySource === 'placeholder') return `the server wants an API key: set OPENAI_API_KEY or providers.${p.name}.apiKey`;
    return `check ${p.keySource}`;
  }

  function toCallError(p: Resolved, model: string, f: Failure, tries: number, cause: unknown): ModelCallError {
    const msg = redactKey(p, f.message);
    const after = `after ${tries} attempt${tries === 1 ? '' : 's'}`;
    const s = f.status;
    let text: string;
    if (s === 401) text = `401 Unauthorized from ${p.url}: ${keyHint(p)} (${msg})`;
    else if (s === 403) text = `403 Forbidden from ${p.url}: the API key may not use model "${model}" (${msg})`;
    else if (s === 404)
      text = p.type === 'azure'
        ? `404 Not Found from ${p.url}: no Azure deployment named "${model}" (${msg})`
        : `404 Not Found from ${p.url}: model "${model}" does not exist there, or the base URL is wrong (${msg})`;
    else if (s === 429) text = `Model API rate limit (429) from ${p.url} ${after}: ${msg}`;
    else if (s !== undefined && s < 500 && !RETRY_STATUS(s)) text = `Model API rejected the request (${s}) from ${p.url}: ${msg}`;
    else if (s !== undefined) text = `Model API error ${s} from ${p.url} ${after}: ${msg}`;
    else if (f.kind === 'timeout') text = `Model API at ${p.url} did not answer within ${timeout} ms (${after})`;
    else if (f.kind === 'connection') text = `Could not reach the model API at ${p.url} ${after}: ${msg}. Is the server running and the URL right?`;
    else if (f.kind === 'stream') text = `Model API stream from ${p.url} failed ${after}: ${msg}`;
    else text = `Model call to ${p.url} failed: ${msg}`;
    return new ModelCallError(text, { ...(s !== undefined ? { status: s } : {}), cause });
  }

  /** Runs `once` until it succeeds, fails for good, or `canRetry` says a retry would repeat output. */
  async function withRetries<T>(
    p: Resolved,
    model: string,
    signal: AbortSignal | undefined,
    once: () => Promise<T>,
    canRetry: () => boolean = () => true,
  ): Promise<T> {
    const m = await sdk();
    for (let attempt = 1; ; attempt++) {
      try {
        return await once();
      } catch (err) {
        if (signal?.aborted) throw abortError(signal);
        if (err instanceof SwitchboardError) throw err;
        const f = classify(m, err);
        if (!f.retryable || attempt >= attempts || !canRetry()) {
          const error = toCallError(p, model, f, attempt, err);
          logger.warn('model call failed', { provider: p.name, model, status: f.status, attempts: attempt, error: error.message });
          throw error;
        }
        const backoff = baseDelay * 2 ** (attempt - 1) * (1 - Math.random() * 0.25);
        const delayMs = Math.round(Math.min(maxDelay, f.retryAfterMs ?? backoff));
        logger.warn('model call failed; retrying', {
          provider: p.name,
          model,
          status: f.status,
          attempt,
          of: attempts,
          delayMs,
          error: redactKey(p, f.message),
        });
        await sleep(delayMs, signal);
      }
    }
  }

  async function streamOnce(
    api: OpenAI,
    params: ChatCompletionCreateParamsStreaming,
    signal: AbortSignal | undefined,
    onText: (text: string) => void,
  ): Promise<Omit<ChatResult, 'latencyMs'>> {
    const stream = await api.chat.completions.create(params, { maxRetries: 0, timeout, ...(signal ? { signal } : {}) });
    const turn = new TurnAccumulator();
    // The SDK's timeout ends when headers arrive; a stream that then goes silent is ours to stop.
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        stream.controller.abort();
      }, timeout);
    };
    arm();
    try {
      for await (const chunk of stream) {
        if (signal?.aborted) break;
        arm();
        const text = turn.add(chunk);
        if (text) onText(text);
      }
    } finally {
      clearTimeout(timer);
    }
    // An aborted stream ends quietly in the SDK: tell the caller it did not finish.
    if (signal?.aborted) throw abortError(signal);
    if (idle) throw new StreamIdleTimeout(`the stream was silent for ${timeout} ms`);
    return turn.result(params.model);
  }

  return {
    checkProvider: (name = 'default') => checkProvider(opts, name),

    async chat(request: ChatRequest, options: ChatOptions = {}): Promise<ChatResult> {
      const { signal, onDelta } = options;
      if (signal?.aborted) throw abortError(signal);
      const p = provider(request.provider);
      const started = performance.now();
      const api = await client(p);
      const params = toChatParams(request);
      let emitted = false;
      const onText = (text: string) => {
        emitted = true;
        onDelta?.(text);
      };
      const result = await withRetries(p, request.model, signal, () => streamOnce(api, params, signal, onText), () => !emitted);
      const latencyMs = Math.round(performance.now() - started);
      logger.debug('model call', {
        provider: p.name,
        model: result.model,
        latencyMs,
        promptTokens: result.usage.promptTokens,
        completionTokens: result.usage.completionTokens,
        toolCalls: result.toolCalls.length,
      });
      return { ...result, latencyMs };
    },

    async generateImage(request: ImageRequest, options: { signal?: AbortSignal } = {}): Promise<ImageResult> {
      const { signal } = options;
      if (signal?.aborted) throw abortError(signal);
      const p = provider(request.provider);
      const api = await client(p);
      const params: ImageGenerateParamsNonStreaming = { model: request.model, prompt: request.prompt, n: 1 };
      if (request.size) params.size = request.size as ImageGenerateParamsNonStreaming['size'];
      // dall-e models return URLs unless asked; gpt-image models always return base64 (and reject the option).
      if (/^dall-e/i.test(request.model)) params.response_format = 'b64_json';
      const res = await withRetries(p, request.model, signal, () =>
        api.images.generate(params, { maxRetries: 0, timeout, ...(signal ? { signal } : {}) }),
      );
      const image = res.data?.[0];
      if (!image || (!image.b64_json && !image.url)) {
        throw new ModelCallError(`Image API at ${p.url} returned no image for model "${request.model}"`);
      }
      return {
        ...(image.b64_json ? { b64: image.b64_json } : {}),
        ...(image.url ? { url: image.url } : {}),
        ...(image.revised_prompt ? { revisedPrompt: image.revised_prompt } : {}),
      };
    },
  };
}
