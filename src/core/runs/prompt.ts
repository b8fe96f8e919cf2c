import type { AgentRegistry } from '../agents/registry.js';
import type { AgentSpec } from '../agents/spec.js';
import type { ChatMessage } from '../model/types.js';
import type { Message } from '../store/types.js';

/** A stored message as the model client takes it. */
export function toChatMessage(m: Message): ChatMessage {
  switch (m.role) {
    case 'user':
      return m.images?.length ? { role: 'user', content: m.content, images: m.images } : { role: 'user', content: m.content };
    case 'assistant':
      return m.toolCalls?.length ? { role: 'assistant', content: m.content || null, toolCalls: m.toolCalls } : { role: 'assistant', content: m.content };
    case 'tool':
      return { role: 'tool', toolCallId: m.toolCallId ?? '', content: m.content };
  }
}

/** The system prompt names the agent first: it anchors the model, and the test fakes route on it. */
export function systemPrompt(agent: AgentSpec, agents: AgentRegistry): string {
  const parts = [`You are the agent "${agent.name}" in Switchboard, a team of AI agents.`, agent.instructions];
  if (agent.tools.includes('send_message')) {
    const team = agents.list().filter((a) => a.role === 'specialist' && a.name !== agent.name);
    parts.push('Agents you can delegate to with send_message:\n' + team.map((a) => `- ${a.name}: ${a.description}`).join('\n'));
  }
  return parts.filter(Boolean).join('\n\n');
}
