import type { ChatOptions, ChatRequest, ChatResult, ImageResult, ModelClient } from '../src/core/model/types.js';
import { REPLY_TEXT } from './script.js';

const AGENT_RE = /You are the agent "([a-z][a-z0-9_]*)"/;

/**
 * A model client in this process, with the same script as the fake server's `delegate` mode and
 * no HTTP: the proxy delegates to `specialist`, the specialist answers, the proxy answers. Text is
 * handed to `onDelta` word by word, as the streaming client does. It measures the engine alone:
 * run loop, store writes, events, without the openai SDK, fetch and the loopback.
 */
export function inProcessModel(specialist: string): ModelClient {
  return {
    async chat(request: ChatRequest, options: ChatOptions = {}): Promise<ChatResult> {
      await new Promise((resolve) => setImmediate(resolve)); // a network answer arrives on a later turn of the loop
      const system = request.messages[0]?.role === 'system' ? request.messages[0].content : '';
      const agent = AGENT_RE.exec(system)?.[1] ?? null;
      const last = request.messages.at(-1);
      let lastUser = '';
      for (let i = request.messages.length - 1; i >= 0; i--) {
        const m = request.messages[i]!;
        if (m.role === 'user') {
          lastUser = m.content;
          break;
        }
      }
      const tag = /\[([A-Za-z0-9_-]+)\]/.exec(lastUser)?.[0] ?? '';
      const usage = { promptTokens: 100, completionTokens: 50 };
      const base = { usage, model: request.model, latencyMs: 0 };
      if (agent === 'proxy' && last?.role !== 'tool') {
        const args = JSON.stringify({ recipient: specialist, message: `${tag} Please handle this part: ${lastUser}` });
        return { ...base, content: null, toolCalls: [{ id: `call_${Math.random().toString(36).slice(2)}`, name: 'send_message', arguments: args }], finishReason: 'tool_calls' };
      }
      const content = agent === 'proxy' ? `${tag} Done. 1 answer(s): ${REPLY_TEXT}` : `${tag} ${agent} says: ${REPLY_TEXT}`;
      for (const word of content.match(/\s*\S+\s*/g) ?? []) options.onDelta?.(word);
      return { ...base, content, toolCalls: [], finishReason: 'stop' };
    },
    generateImage(): Promise<ImageResult> {
      return Promise.reject(new Error('the in-process bench model makes no images'));
    },
  };
}
