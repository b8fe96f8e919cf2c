/**
 * Who the server says it is, and what it supports. Shared by the SDK server (server.ts) and the
 * stdio fast path (stdio.ts), which answers `initialize` before the SDK has loaded; a test keeps
 * the two in step with the SDK's own answer.
 */
import { packageVersion } from '../index.js';

/** The SDK's SUPPORTED_PROTOCOL_VERSIONS, newest first (test/unit/mcp-catalog.test.ts checks they match). */
export const SUPPORTED_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'] as const;
export const LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[0];

export { packageVersion };

export function serverInfo(): { name: string; title: string; version: string } {
  return { name: 'switchboard', title: 'Switchboard', version: packageVersion() };
}

/** Capabilities as McpServer reports them once our tools and resources are registered, plus logging. */
export function serverCapabilities(): Record<string, Record<string, unknown>> {
  return { logging: {}, tools: { listChanged: true }, resources: { listChanged: true } };
}

export function serverInstructions(opts: { plans: boolean }): string {
  return [
    'Switchboard is a team of AI agents. ask_<agent> hands a self-contained request to one specialist; ask_team hands it to the team lead, who delegates.',
    'Every answer carries a conversation_id: pass it back to continue that conversation, and the agents remember what was said.',
    'Long work returns status "in_progress" with a run_id: poll it with get_run. Status "requires_action" lists approvals a person must decide.',
    opts.plans ? 'plan_task breaks a goal into steps that a person approves one by one (approve_step / reject_step); get_plan shows progress.' : '',
    'Transcripts are resources: switchboard://conversations/{conversation_id}.',
  ]
    .filter(Boolean)
    .join(' ');
}

/** The `initialize` result for a client asking for `requested`. */
export function initializeResult(requested: unknown, opts: { plans: boolean }): Record<string, unknown> {
  const protocolVersion = (SUPPORTED_PROTOCOL_VERSIONS as readonly unknown[]).includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
  return { protocolVersion, capabilities: serverCapabilities(), serverInfo: serverInfo(), instructions: serverInstructions(opts) };
}
