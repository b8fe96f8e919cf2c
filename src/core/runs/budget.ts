import type { Message } from '../store/types.js';

/** Rough token count: ~4 characters a token, plus per-message overhead; images at a flat rate. */
export function estimateTokens(m: Pick<Message, 'content' | 'toolCalls' | 'images'>): number {
  let chars = m.content.length;
  if (m.toolCalls) for (const c of m.toolCalls) chars += c.name.length + c.arguments.length + 8;
  return Math.ceil(chars / 4) + 4 + (m.images?.length ?? 0) * 85;
}

/**
 * Picks the most recent messages that fit in `budget` tokens, never splitting an assistant
 * tool-call message from its tool results (the API rejects either half alone) and never starting
 * the window at a tool result. The newest unit is always kept, even when it alone is over budget,
 * so a run can always make progress.
 */
export function selectContext<M extends Pick<Message, 'role' | 'toolCalls'>>(
  messages: readonly M[],
  tokens: readonly number[],
  budget: number,
): M[] {
  let start = messages.length;
  let used = 0;
  let i = messages.length - 1;
  while (i >= 0) {
    // A unit ends at i and starts at the assistant message whose calls the trailing tool results answer.
    let unitStart = i;
    while (unitStart > 0 && messages[unitStart]!.role === 'tool') unitStart--;
    let unitTokens = 0;
    for (let k = unitStart; k <= i; k++) unitTokens += tokens[k]!;
    if (used + unitTokens > budget && start < messages.length) break;
    used += unitTokens;
    start = unitStart;
    i = unitStart - 1;
  }
  // Orphan tool results (their call fell out of an earlier window) are never sent.
  while (start < messages.length && messages[start]!.role === 'tool') start++;
  return messages.slice(start);
}
