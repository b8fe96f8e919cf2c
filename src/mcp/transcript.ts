/**
 * A conversation as readable markdown: every thread (the proxy's and each specialist's), its
 * messages in order, tool calls and their results in short.
 */
import type { Conversation, Message, Thread } from '../index.js';

const MAX_TOOL_TEXT = 600;

const clip = (s: string, n = MAX_TOOL_TEXT): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

const quote = (s: string): string =>
  s
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');

function renderMessage(m: Message, thread: Thread): string {
  const when = new Date(m.createdAt).toISOString();
  if (m.role === 'user') {
    const images = m.images?.length ? `\n\n_images: ${m.images.join(', ')}_` : '';
    return `**${m.author}** → ${thread.agent} · ${when}\n\n${m.content}${images}`;
  }
  if (m.role === 'assistant') {
    const parts = [`**${m.author}** · ${when}`];
    if (m.content) parts.push(m.content);
    for (const call of m.toolCalls ?? []) parts.push(`🔧 \`${call.name}\` ${clip(call.arguments, 300)}`);
    return parts.join('\n\n');
  }
  return `${m.isError ? '⚠️ tool error' : '↩️ tool result'} · ${when}\n\n${quote(clip(m.content))}`;
}

export function transcriptMarkdown(conversation: Conversation, threads: { thread: Thread; messages: Message[] }[]): string {
  const lines = [
    `# Conversation ${conversation.id}`,
    '',
    `- key: \`${conversation.key}\``,
    `- started: ${new Date(conversation.createdAt).toISOString()}`,
    `- threads: ${threads.map((t) => t.thread.agent).join(', ') || '(none yet)'}`,
  ];
  for (const { thread, messages } of threads) {
    lines.push('', `## Thread with ${thread.agent}`, '');
    if (messages.length === 0) lines.push('_(no messages)_');
    for (const m of messages) lines.push(renderMessage(m, thread), '');
  }
  return lines.join('\n').trimEnd() + '\n';
}
