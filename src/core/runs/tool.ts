import type { z } from 'zod';
import type { AgentSpec, SandboxConfig } from '../agents/spec.js';
import type { ConversationArtifacts } from '../artifacts/types.js';
import type { Logger } from '../logger.js';
import type { ModelClient } from '../model/types.js';

/** What a tool knows about the call it is serving. */
export interface ToolContext {
  conversationId: string;
  runId: string;
  threadId: string;
  /** The agent calling the tool. */
  agent: AgentSpec;
  toolCallId: string;
  /** This conversation's workspace folder (created on first use by the tools that need it). */
  workspaceDir: string;
  /** Aborted when the run is cancelled; long tools must honour it. */
  signal: AbortSignal;
  model: ModelClient;
  logger: Logger;
  /** Resolved limits from the config. */
  limits: { codeTimeoutMs: number; codeOutputBytes: number };
  /** Where `run_code` runs (the config's `sandbox`); the defaults (bubblewrap, no network) when absent. */
  sandbox?: SandboxConfig;
  /** This conversation's artifacts (generated images, images people sent); absent without an artifact store. */
  artifacts?: ConversationArtifacts;
  /** Report progress of a long tool (shown to people and as MCP progress). */
  progress(message: string): void;
}

/** What the model gets back. `isError` results are shown to the model as failures it may correct. */
export interface ToolResult {
  content: string;
  isError?: boolean;
}

export interface ToolAnnotations {
  /** The tool only reads. */
  readOnly?: boolean;
  /** The tool may destroy or overwrite something. */
  destructive?: boolean;
  /** The tool reaches beyond this machine (network, external APIs). */
  openWorld?: boolean;
}

/**
 * A tool an agent can call. Arguments are validated with `parameters` before `execute` runs;
 * invalid arguments go back to the model as a tool error, never reaching `execute`.
 * Throw `ToolError` for failures the model should see and correct.
 */
export interface ToolDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  parameters: S;
  /** Calls need a person's approval before they run (agent config can override). */
  needsApproval?: boolean;
  /** Safe to run again after a crash interrupted it; otherwise the model is told it was interrupted. */
  idempotent?: boolean;
  annotations?: ToolAnnotations;
  execute(args: z.output<S>, ctx: ToolContext): Promise<ToolResult | string>;
}

/** Helps inference: `defineTool({ parameters: z.object(...), execute(args) {...} })` types `args`. */
export function defineTool<S extends z.ZodType>(tool: ToolDefinition<S>): ToolDefinition<S> {
  return tool;
}
