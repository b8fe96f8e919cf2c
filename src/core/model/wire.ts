/** Our chat messages and tool schemas in the OpenAI wire format, and a streamed turn assembled back. */
import type {
  ChatCompletionContentPart,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { z } from 'zod';
import type { ChatMessage, ChatRequest, ChatResult, ToolCall, Usage } from './types.js';

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

export function toChatParams(request: ChatRequest): ChatCompletionCreateParamsStreaming {
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

// What we read of the answers, checked with zod as they arrive (about a microsecond a chunk).
// Only the fields we use are checked; `nullish` because compatible servers send null where
// OpenAI leaves a field out, and Azure sends chunks without `delta` (content filter results).
const UsageSchema = z.object({ prompt_tokens: z.number().nullish(), completion_tokens: z.number().nullish() });
const ToolCallDeltaSchema = z.object({
  index: z.number().int().nonnegative().nullish(),
  id: z.string().nullish(),
  function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
});
export const ChunkSchema = z.object({
  model: z.string().nullish(),
  choices: z
    .array(
      z.object({
        index: z.number().nullish(),
        delta: z.object({ content: z.string().nullish(), tool_calls: z.array(ToolCallDeltaSchema).nullish() }).nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
  usage: UsageSchema.nullish(),
  /** An error reported inside a 200 stream (OpenAI, LiteLLM, vLLM do this). */
  error: z.unknown().optional(),
});
export type Chunk = z.infer<typeof ChunkSchema>;

/** A whole (non-streamed) chat completion, for servers that answer a streaming request with one. */
export const CompletionSchema = z.object({
  model: z.string().nullish(),
  choices: z
    .array(
      z.object({
        index: z.number().nullish(),
        message: z.object({
          content: z.string().nullish(),
          tool_calls: z
            .array(z.object({ id: z.string().nullish(), function: z.object({ name: z.string(), arguments: z.string().nullish() }) }))
            .nullish(),
        }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: UsageSchema.nullish(),
});
export type Completion = z.infer<typeof CompletionSchema>;

/** Collects a streamed assistant turn: text, parallel tool calls by index, usage, finish reason. */
export class TurnAccumulator {
  private text = '';
  private sawText = false;
  private readonly calls = new Map<number, ToolCall>();
  private usage: Usage = { promptTokens: 0, completionTokens: 0 };
  /** Set by the model's own end of the turn; some servers send "" on every chunk before it, which is not one. */
  finishReason: string | null = null;
  private model: string | undefined;

  /** Returns the new text in this chunk ('' if none). */
  add(chunk: Chunk): string {
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

  /** Takes a whole completion as one chunk; returns its text. */
  addCompletion(c: Completion): string {
    const choice = c.choices.find((ch) => (ch.index ?? 0) === 0) ?? c.choices[0]!;
    const { content, tool_calls } = choice.message;
    return this.add({
      model: c.model,
      usage: c.usage,
      choices: [
        {
          index: 0,
          delta: { content, tool_calls: tool_calls?.map((t, index) => ({ index, id: t.id, function: t.function })) },
          finish_reason: choice.finish_reason,
        },
      ],
    });
  }

  private addToolDelta(tc: z.infer<typeof ToolCallDeltaSchema>): void {
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

  /** The first tool call whose arguments are not JSON (cut off, when the answer was cut), if any. */
  unparsableToolCall(): ToolCall | undefined {
    for (const call of this.calls.values()) {
      try {
        JSON.parse(call.arguments || '{}');
      } catch {
        return call;
      }
    }
    return undefined;
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

/**
 * Splits a Server-Sent Events byte stream into the data of its events, as the `openai` SDK does:
 * lines end in \n, \r\n or \r (also across chunk boundaries), a blank line ends an event, its
 * `data:` lines are joined with \n, comments and other fields are ignored, and an event without
 * data is skipped. An event the stream ends before finishing is dropped (as the SSE spec says).
 */
export class SseDecoder {
  private readonly decoder = new TextDecoder();
  /** The unfinished last line. */
  private rest = '';
  /** The data of the event being read; undefined before its first `data:` line. */
  private data: string | undefined;
  /** The last chunk ended in \r: a \n starting the next one belongs to it. */
  private cr = false;

  /** Feeds bytes; returns the data of every event they complete, in order. */
  push(bytes: Uint8Array): string[] {
    let text = this.decoder.decode(bytes, { stream: true });
    if (this.cr && text.length > 0) {
      this.cr = false;
      if (text.charCodeAt(0) === 10) text = text.slice(1);
    }
    if (text.includes('\r')) {
      this.cr = text.endsWith('\r');
      text = text.replace(/\r\n?/g, '\n');
    }
    const events: string[] = [];
    const buf = this.rest ? this.rest + text : text;
    let start = 0;
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n', start)) {
      this.line(buf.slice(start, nl), events);
      start = nl + 1;
    }
    this.rest = start === 0 ? buf : buf.slice(start);
    return events;
  }

  private line(line: string, events: string[]): void {
    if (line === '') {
      if (this.data !== undefined) events.push(this.data);
      this.data = undefined;
      return;
    }
    let value: string;
    if (line.startsWith('data: ')) value = line.slice(6);
    else if (line.startsWith('data:') || line === 'data') value = line.slice(5);
    else return; // a comment (`: ping`), `event:`, `id:`, `retry:` or an unknown field
    this.data = this.data === undefined ? value : `${this.data}\n${value}`;
  }
}
