/**
 * Switchboard's public surface. Everything a program embedding the engine (or writing an adapter)
 * needs is exported here by name; anything not exported is internal and may change.
 */
export { createSwitchboard, mayAccess } from './core/switchboard.js';
export type { Switchboard, SwitchboardOptions, SendInput, AskResult } from './core/switchboard.js';

export { ConfigSchema, AgentSpecSchema, ProviderSchema } from './core/agents/spec.js';
export type { Config, ConfigInput, AgentSpec, AgentSpecInput, AgentRole, ProviderConfig } from './core/agents/spec.js';
export { loadConfigFile, parseConfig, parseConfigText, findConfigFile } from './core/agents/load.js';
export { AgentRegistry } from './core/agents/registry.js';
export { builtinAgents } from './core/agents/defaults.js';

export { EventBus } from './core/events.js';
export type { SwitchboardEvent, SwitchboardEventType, EventListener } from './core/events.js';

export { defineTool } from './core/runs/tool.js';
export type { ToolDefinition, ToolContext, ToolResult, ToolAnnotations } from './core/runs/tool.js';
export type { ToolApprovalGate, ToolApprovalRequest, ToolApprovalDecision } from './core/runs/approval-gate.js';
export { builtinTools } from './core/tools/index.js';

export type { ModelClient, ChatRequest, ChatResult, ChatMessage, ToolCall, Usage } from './core/model/types.js';
export { createModelClient } from './core/model/openai-client.js';

export type { Store, Conversation, Thread, Message, Run, RunStatus, RunStep, RunUsage, Principal, UsageTotals } from './core/store/types.js';
export { principalId } from './core/store/types.js';
export type { ConversationAccess, NewConversationOptions } from './core/store/types.js';
export type { ConversationOptions } from './core/conversations.js';
export { SqliteStore } from './core/store/sqlite.js';
export { openPersistence } from './core/store/persistence.js';
export type { Persistence, PartialPersistence } from './core/store/persistence.js';
export { sqlitePersistence } from './core/store/sqlite-persistence.js';
export type { ApprovalStore, ApprovalFilter, ApprovalPatch } from './core/store/approval-store.js';
export type { SurfaceRefStore, SurfaceRefKind, Json } from './core/store/refs.js';
export { SURFACE_REF_KINDS } from './core/store/refs.js';
export { IdempotencyConflictError } from './core/store/intake-errors.js';

export type { Plan, PlanStep, PlanStatus, StepStatus, PlanApprovalMode, PlanUsage } from './core/plans/types.js';
export type { Approval, ApprovalKind, ApprovalStatus, Decision, DecideResult } from './core/approvals/types.js';
export type { PlanStore, PlanRecord, PlanTransition, NewPlan, NewPlanStep, ReplanReason } from './core/store/plan-store.js';
export { SqlitePlanStore } from './core/store/sqlite-plans.js';
export { NotAwaitingApprovalError } from './core/approvals/errors.js';

export { createLogger, silentLogger } from './core/logger.js';
export type { Logger, LogLevel } from './core/logger.js';

export {
  SwitchboardError,
  ConfigError,
  ModelNotConfiguredError,
  ModelCallError,
  UnknownAgentError,
  NotFoundError,
  ForbiddenError,
  RunFailedError,
  ToolError,
  InvalidInputError,
} from './core/errors.js';
