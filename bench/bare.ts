/**
 * The bare `openai` client against the bench's fake: what a hand-written loop without the engine
 * pays for the same calls (SDK + fetch + loopback, nothing stored). Scenarios 1 and 2 measure
 * their "bare client" lines with it, in the same run as the engine's, so targets are ratios.
 */
import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';

export type BareMessage = ChatCompletionMessageParam;

export const SEND_MESSAGE_TOOL = {
  type: 'function' as const,
  function: {
    name: 'send_message',
    description: 'Send a message to another agent of the team and wait for its reply.',
    parameters: { type: 'object', properties: { recipient: { type: 'string' }, message: { type: 'string' } }, required: ['recipient', 'message'] },
  },
};

/** The system prompt the fake routes on (it reads the agent's name from it, as the engine writes it). */
export const systemFor = (agent: string, about: string): BareMessage => ({ role: 'system', content: `You are the agent "${agent}" in Switchboard, a team of AI agents.\n\n${about}` });

export interface BareAnswer {
  text: string;
  toolCalls: ChatCompletionMessageFunctionToolCall[];
}

export interface BareClient {
  /** One streaming chat call, read to the end: the text and the tool calls put together from the deltas. */
  call(messages: BareMessage[]): Promise<BareAnswer>;
}

export function bareClient(baseURL: string): BareClient {
  const client = new OpenAI({ baseURL, apiKey: 'sk-bench-not-a-real-key', maxRetries: 0 });
  return {
    async call(messages) {
      const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, tools: [SEND_MESSAGE_TOOL], messages });
      let text = '';
      const calls: ChatCompletionMessageFunctionToolCall[] = [];
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta;
        text += delta?.content ?? '';
        for (const t of delta?.tool_calls ?? []) {
          const c = (calls[t.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
          if (t.id) c.id = t.id;
          c.function.name += t.function?.name ?? '';
          c.function.arguments += t.function?.arguments ?? '';
        }
      }
      return { text, toolCalls: calls };
    },
  };
}
