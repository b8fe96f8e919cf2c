/**
 * The engine's view of a chat model: one request in, one assistant turn out.
 * Provider details (OpenAI, Azure OpenAI, compatible servers) stay behind this interface.
 */

export interface ToolCall {
  /** The id the model gave the call; tool results answer it. */
  id: string;
  name: string;
  /** Raw JSON text as the model produced it; it may be invalid and is validated by the run loop. */
  arguments: string;
}

export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string; images?: string[]; name?: string }
  | { role: 'assistant'; content: string | null; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string };

/** A JSON schema a model sees for one tool. */
export interface ToolSchema {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface ChatRequest {
  /** Provider name from the config (`default` unless the agent names another). */
  provider: string;
  model: string;
  messages: ChatMessage[];
  tools?: ToolSchema[];
  temperature?: number;
  /** Ask for JSON matching this schema (structured output). */
  responseSchema?: { name: string; schema: Record<string, unknown> };
}

export interface ChatResult {
  content: string | null;
  toolCalls: ToolCall[];
  usage: Usage;
  finishReason: string | null;
  model: string;
  /** Milliseconds from sending the request to the last byte of the answer. */
  latencyMs: number;
}

export interface ChatOptions {
  signal?: AbortSignal;
  /** Called with each piece of assistant text as it streams in. */
  onDelta?: (text: string) => void;
  /**
   * The text given to `onDelta` so far came from an attempt that broke (a cut stream, a server
   * error mid-answer) and is being retried: discard it; the next attempt's text follows. Never
   * called once the call has returned, so the returned content is always one whole answer.
   */
  onReset?: () => void;
}

export interface ImageRequest {
  provider: string;
  model: string;
  prompt: string;
  size?: string;
}

export interface ImageResult {
  /** Base64 PNG/JPEG data, when the provider returns data. */
  b64?: string;
  /** A URL, when the provider returns one instead. */
  url?: string;
  revisedPrompt?: string;
}

export interface ModelClient {
  chat(request: ChatRequest, options?: ChatOptions): Promise<ChatResult>;
  generateImage(request: ImageRequest, options?: { signal?: AbortSignal }): Promise<ImageResult>;
}
