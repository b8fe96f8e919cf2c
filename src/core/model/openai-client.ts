/**
 * The one place that talks to a model API: OpenAI, Azure OpenAI or any OpenAI-compatible server
 * (Ollama, vLLM, LiteLLM). The `openai` SDK is imported only when a call fails (for its error
 * classes) or goes through it (a custom fetch, images), so a chat that succeeds never loads it.
 *
 * Retries are ours (the SDK's are switched off): the backoff is configurable and capped, every
 * attempt is counted for the final message, and an answer that breaks or is not a whole chat
 * completion (see response.ts) is retried too — also after some of its text reached `onDelta`:
 * the caller is then told to discard it (`onReset`) before the next attempt, and only a whole
 * answer is ever returned. A first attempt whose connection was closed before any answer (a
 * kept-alive socket the server had dropped) is retried at once.
 *
 * Chat requests go over our own kept-alive connections (http.ts), their bodies are read in
 * response.ts; the SDK's typed errors classify what fails. With a custom `fetch` (tests, proxies),
 * or when Node's own env proxy support is on, the SDK sends them through fetch as before. Images
 * always go through the SDK.
 */
import type { AzureOpenAI, OpenAI } from 'openai';
import type { ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import type { ImageGenerateParamsNonStreaming } from 'openai/resources/images';
import { ModelCallError, ModelNotConfiguredError, SwitchboardError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { fetchAnswer } from './body.js';
import { abortError, classify, RETRY_STATUS, sleep, type Failure, type Sdk } from './failures.js';
import { chatTarget, envProxyInUse, postChat, statusError, type ChatTarget } from './http.js';
import { checkProvider, PLACEHOLDER_KEY, resolveProvider, type ModelSetup, type ProviderCheck, type Resolved } from './providers.js';
import type { ChatOptions, ChatRequest, ChatResult, ImageRequest, ImageResult, ModelClient } from './types.js';
import { readChatResponse } from './response.js';
import { toChatParams } from './wire.js';

export { checkProvider, describeModelSetup, type ModelSetup, type ProviderCheck, type ProviderInfo } from './providers.js';
export { isAbortError } from './failures.js';
export { toWireMessage } from './wire.js';
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


export interface SwitchboardModelClient extends ModelClient {
  /** Whether a provider can be used, without making a request. */
  checkProvider(name?: string): ProviderCheck;
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
  /** Chat requests go through the SDK and fetch with a custom fetch, or when Node's env proxy is on. */
  const viaFetch = opts.fetch !== undefined || envProxyInUse();
  /** Per provider (and Azure deployment): URL and headers, built on its first call. */
  const targets = new Map<string, ChatTarget>();

  const sdkLogger = {
    error: (msg: string) => logger.error(`openai sdk: ${msg}`),
    warn: (msg: string) => logger.warn(`openai sdk: ${msg}`),
    info: (msg: string) => logger.debug(`openai sdk: ${msg}`),
    debug: (msg: string) => logger.debug(`openai sdk: ${msg}`),
  };

  /** Resolved once per name, as the SDK clients are built once per name (a failure is not kept). */
  const resolved = new Map<string, Resolved>();
  function provider(name: string): Resolved {
    let p = resolved.get(name);
    if (!p) {
      const r = resolveProvider(opts, name);
      if (!r.ok) throw new ModelNotConfiguredError(r.message);
      resolved.set(name, (p = r.provider));
    }
    return p;
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
    else if (f.kind === 'response') text = `Model API at ${p.url} ${msg}${f.retryable ? ` (${after})` : ''}.${f.hint ? ` ${f.hint}` : ''}`;
    else text = `Model call to ${p.url} failed: ${msg}`;
    return new ModelCallError(text, { ...(s !== undefined ? { status: s } : {}), cause });
  }

  /** Runs `once` until it succeeds or fails for good; `beforeRetry` runs before each retry. */
  async function withRetries<T>(
    p: Resolved,
    model: string,
    signal: AbortSignal | undefined,
    once: () => Promise<T>,
    beforeRetry: () => void = () => {},
  ): Promise<T> {
    let waits = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await once();
      } catch (err) {
        if (signal?.aborted) throw abortError(signal);
        if (err instanceof SwitchboardError) throw err;
        // The SDK (for its error classes) is loaded only now: a call that succeeds never needs it.
        const f = classify(await sdk(), err);
        if (!f.retryable || attempt >= attempts) {
          const error = toCallError(p, model, f, attempt, err);
          logger.warn('model call failed', { provider: p.name, model, status: f.status, attempts: attempt, error: error.message });
          throw error;
        }
        beforeRetry();
        if (attempt === 1 && f.closedEarly) {
          logger.debug('model connection closed before any answer; retrying at once', { provider: p.name, model, error: redactKey(p, f.message) });
          continue;
        }
        const backoff = baseDelay * 2 ** waits++ * (1 - Math.random() * 0.25);
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

  function targetFor(p: Resolved, model: string): ChatTarget {
    const key = p.type === 'azure' ? `${p.name}\u0000${model}` : p.name;
    let t = targets.get(key);
    if (!t) targets.set(key, (t = chatTarget(p, model)));
    return t;
  }

  /** One attempt of a chat call; `body` is the request serialized once for every attempt. */
  async function chatOnce(
    p: Resolved,
    params: ChatCompletionCreateParamsStreaming,
    body: Buffer | undefined,
    signal: AbortSignal | undefined,
    onText: (text: string) => void,
  ): Promise<Omit<ChatResult, 'latencyMs'>> {
    const read = { timeoutMs: timeout, signal, onText, logger, model: params.model };
    if (!body) {
      // The SDK sends the request (through the custom fetch, or fetch) and throws its typed errors; the body is ours to read.
      const api = await client(p);
      const response = await api.chat.completions.create(params, { maxRetries: 0, timeout, ...(signal ? { signal } : {}) }).asResponse();
      return readChatResponse(fetchAnswer(response), read);
    }
    const answer = await postChat(targetFor(p, params.model), body, timeout, signal);
    if (answer.status < 200 || answer.status > 299) throw await statusError(await sdk(), answer, timeout);
    return readChatResponse(answer, read);
  }

  return {
    checkProvider: (name = 'default') => checkProvider(opts, name),

    async chat(request: ChatRequest, options: ChatOptions = {}): Promise<ChatResult> {
      const { signal, onDelta, onReset } = options;
      if (signal?.aborted) throw abortError(signal);
      const p = provider(request.provider);
      const started = performance.now();
      const params = toChatParams(request);
      const body = viaFetch ? undefined : Buffer.from(JSON.stringify(params));
      // Whether the current attempt's text reached onDelta: a retry then tells the caller to drop it.
      let emitted = false;
      const onText = (text: string) => {
        emitted = true;
        onDelta?.(text);
      };
      const beforeRetry = () => {
        if (!emitted) return;
        emitted = false;
        onReset?.();
      };
      const result = await withRetries(p, request.model, signal, () => chatOnce(p, params, body, signal, onText), beforeRetry);
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

