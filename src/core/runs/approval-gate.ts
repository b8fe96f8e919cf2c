import type { AgentSpec } from '../agents/spec.js';
import type { Run } from '../store/types.js';
import type { ToolDefinition } from './tool.js';

export interface ToolApprovalRequest {
  run: Run;
  agent: AgentSpec;
  toolCallId: string;
  tool: ToolDefinition;
  /** Validated arguments, as the tool would receive them. */
  args: unknown;
  signal: AbortSignal;
}

export interface ToolApprovalDecision {
  approved: boolean;
  feedback?: string;
  by?: string;
}

/**
 * Decides whether a tool call that needs approval may run. The run waits (in `requires_action`)
 * until it resolves. Implementations must be idempotent per (run, toolCallId): after a restart the
 * same call asks again and must get the pending (or already made) decision, not a new request.
 */
export interface ToolApprovalGate {
  request(req: ToolApprovalRequest): Promise<ToolApprovalDecision>;
}

/** Whether this agent's call of this tool needs a person: the tool's default, overridden by the agent config. */
export function needsApproval(agent: AgentSpec, tool: ToolDefinition): boolean {
  if (agent.autoApproveTools.includes(tool.name)) return false;
  return Boolean(tool.needsApproval) || agent.approveTools.includes(tool.name);
}
