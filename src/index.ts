/**
 * Switchboard's public surface. Everything a program embedding the engine (or writing an adapter)
 * needs is exported here by name; anything not exported is internal and may change. The adapters in
 * this repository (src/mcp, src/cli, src/bots) import the engine from here only (eslint.config.js),
 * and test/unit/face.test.ts pins the list. Importing it loads no database driver: SQLite and
 * PostgreSQL drivers load when a store of theirs is opened.
 */
export { createSwitchboard } from './core/face/open.js';
export { mayAccess } from './core/face/conversations.js';
export type { Switchboard, SwitchboardOptions, SendInput, AskResult } from './core/switchboard.js';
export type { ApprovalView, RunFilter } from './core/face/reading.js';

export { ConfigSchema, AgentSpecSchema, ProviderSchema } from './core/agents/spec.js';
export type { Config, ConfigInput, AgentSpec, AgentSpecInput, AgentRole, ProviderConfig } from './core/agents/spec.js';
export { loadConfigFile, parseConfig, parseConfigText, findConfigFile } from './core/agents/load.js';
export { adapterSection, configSource, ADAPTER_SECTIONS } from './core/agents/sections.js';
export type { AdapterSectionName } from './core/agents/sections.js';
export type { ConfigSource } from './core/agents/issues.js';
export { AgentRegistry } from './core/agents/registry.js';
export { builtinAgents } from './core/agents/defaults.js';

export type { Artifact, ArtifactStore, ArtifactStoreOptions } from './core/artifacts/types.js';
export { artifactUri } from './core/artifacts/types.js';
export type { ImageInput } from './core/artifacts/images.js';
export { sqliteArtifactStore } from './core/store/sqlite-artifacts.js';
export { postgresArtifactStore } from './core/store/postgres-artifacts.js';

export { EventBus } from './core/events.js';
export type { SwitchboardEvent, SwitchboardEventType, EventListener } from './core/events.js';
export { describeEvent, preview } from './core/present/describe.js';
export type { DescribeOptions } from './core/present/describe.js';

export { defineTool } from './core/runs/tool.js';
export type { ToolDefinition, ToolContext, ToolResult, ToolAnnotations } from './core/runs/tool.js';
export type { ToolApprovalGate, ToolApprovalRequest, ToolApprovalDecision } from './core/runs/approval-gate.js';
export { builtinTools, knownToolNames } from './core/tools/index.js';

export type { ModelClient, ChatRequest, ChatResult, ChatMessage, ToolCall, Usage } from './core/model/types.js';
export { createModelClient } from './core/model/openai-client.js';
export { checkProviders } from './core/model/setup.js';
export { describeModelSetup } from './core/model/providers.js';
export type { ProviderCheck, ProviderInfo } from './core/model/providers.js';

export type { Store, Conversation, Thread, Message, Run, RunStatus, RunStep, RunUsage, Principal, UsageTotals } from './core/store/types.js';
export { principalId, FINAL_RUN_STATUSES } from './core/store/types.js';
export { principalFromId } from './core/principals.js';
export { openStore } from './core/store/open.js';
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
export { FINAL_PLAN_STATUSES } from './core/plans/types.js';
export type { Approval, ApprovalKind, ApprovalStatus, Decision, DecideResult } from './core/approvals/types.js';
export type { PolicyVerdict } from './core/approvals/policy.js';
export type { PlanStore, PlanRecord, PlanTransition, NewPlan, NewPlanStep, ReplanReason } from './core/store/plan-store.js';
export { SqlitePlanStore } from './core/store/sqlite-plans.js';
export { NotAwaitingApprovalError } from './core/approvals/errors.js';

export { createLogger, silentLogger } from './core/logger.js';
export type { Logger, LogLevel } from './core/logger.js';
export { packageVersion } from './core/version.js';

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
  StoreUnavailableError,
  LeaseLostError,
  InternalError,
  ClosedError,
} from './core/errors.js';
