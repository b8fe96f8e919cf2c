/** The real model client pointed at a fake server, as the model-client specs use it. */
import { createModelClient, type ModelClientOptions } from '../../src/core/model/openai-client.js';
import type { FakeOpenAI } from './fake-openai.js';

/** A key the specs check never appears in an error message. */
export const API_KEY = 'sk-test-secret-0123456789abcdef';

/** 3 retries 5 ms apart, a 5 s timeout; `extra` overrides. */
export function clientFor(f: FakeOpenAI, extra: Partial<ModelClientOptions> = {}) {
  return createModelClient({
    providers: { default: { type: 'openai', baseURL: f.url, apiKey: API_KEY } },
    env: {},
    retries: 3,
    timeoutMs: 5_000,
    retryBaseDelayMs: 5,
    ...extra,
  });
}
