import { z } from 'zod';

/** Agent names double as tool names (`ask_<name>`) and surface keys, so they stay simple. */
export const AgentName = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'must start with a lowercase letter and use only a-z, 0-9 and _')
  .max(48, 'must be at most 48 characters');

export const AgentRole = z.enum(['proxy', 'planner', 'specialist']);
export type AgentRole = z.infer<typeof AgentRole>;

const DESCRIPTION_REQUIRED = 'is required for a new agent: it is how the proxy and MCP hosts decide to use it';

/** An agent's fields as they may appear in a config file: all optional, so a file can override one field of a built-in. */
const agentFields = {
  role: AgentRole,
  description: z
    .string({ error: (issue) => (issue.input === undefined ? DESCRIPTION_REQUIRED : undefined) })
    .min(1, DESCRIPTION_REQUIRED),
  instructions: z.string(),
  /** Model (or, for Azure OpenAI, deployment) name; falls back to `defaults.model`. */
  model: z.string().min(1).optional(),
  /** Provider name from `providers`; falls back to `defaults.provider`. */
  provider: z.string().min(1).optional(),
  /** Names of built-in tools this agent may call (see `switchboard agents`). */
  tools: z.array(z.string().min(1)),
  /** Tool names that need a person's approval before they run, beyond the tools' own defaults. */
  approveTools: z.array(z.string().min(1)),
  /** Tool names that may run without approval even if the tool asks for it by default. */
  autoApproveTools: z.array(z.string().min(1)),
  temperature: z.number().min(0).max(2).optional(),
  /** Approximate prompt-token budget; older turns are left out of requests beyond it. */
  contextBudget: z.number().int().positive().optional(),
  /** Model calls one run of this agent may make before it is stopped. */
  maxTurns: z.number().int().positive().max(200).optional(),
  /** Model used by the vision tool (needs image input) and the image tool, when they differ. */
  visionModel: z.string().min(1).optional(),
  imageModel: z.string().min(1).optional(),
  /** Let this agent's `run_code` reach the network (overrides `sandbox.network`). */
  network: z.boolean().optional(),
};

/** A complete agent, after built-ins and the config file are merged. */
export const AgentSpecSchema = z.strictObject({
  ...agentFields,
  name: AgentName,
  role: AgentRole.default('specialist'),
  instructions: z.string().default(''),
  tools: agentFields.tools.default([]),
  approveTools: agentFields.approveTools.default([]),
  autoApproveTools: agentFields.autoApproveTools.default([]),
});

/** An `agents:` entry in a config file: a new agent (needs a description) or an override of a built-in. */
export const AgentEntrySchema = z.strictObject(agentFields).partial().extend({ name: AgentName.optional() });
export type AgentSpecInput = z.input<typeof AgentSpecSchema>;
export type AgentSpec = z.output<typeof AgentSpecSchema>;

export const ProviderSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('openai'),
    apiKey: z.string().optional(),
    baseURL: z.url().optional(),
    organization: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('azure'),
    endpoint: z.url(),
    apiKey: z.string().optional(),
    apiVersion: z.string().default('2024-10-21'),
  }),
]);
export type ProviderConfig = z.infer<typeof ProviderSchema>;

export const ApprovalPolicySchema = z.strictObject({
  /** `requester`: the person who asked; `conversation`: anyone in it; `approvers`: the list below. */
  who: z.enum(['requester', 'conversation', 'approvers']).default('requester'),
  /** Principal ids (`surface:user`, e.g. `slack:U123`, `cli:alice`) allowed when `who` is `approvers`. */
  approvers: z.array(z.string().min(1)).default([]),
});

/**
 * Where `run_code` runs. `bubblewrap` (default): a namespace sandbox that sees only the workspace and
 * the language runtime; when bwrap is missing or cannot create namespaces the tool refuses to run.
 * `none`: no isolation at all (the code can read everything the engine can), only when chosen here.
 */
export const SandboxSchema = z.strictObject({
  type: z.enum(['bubblewrap', 'none']).default('bubblewrap'),
  /** Network for sandboxed code (an agent's own `network` wins). Off: not even loopback. */
  network: z.boolean().default(false),
  /** Memory each sandboxed process may allocate (RLIMIT_DATA), in MiB. */
  memoryMb: z.number().int().min(64).max(1_048_576).default(1024),
  /** Processes and threads the sandbox may hold at once (Node alone starts about ten threads). */
  maxProcesses: z.number().int().min(16).max(100_000).default(128),
});
export type SandboxConfig = z.output<typeof SandboxSchema>;

export const ConfigSchema = z.strictObject({
  /** Include the built-in agents (proxy, image_agent, vision_agent, code_agent, planner); yours override by name. */
  builtinAgents: z.boolean().default(true),
  defaults: z
    .strictObject({
      model: z.string().min(1).default('gpt-4o-mini'),
      provider: z.string().min(1).default('default'),
      contextBudget: z.number().int().positive().default(24_000),
      maxTurns: z.number().int().positive().max(200).default(16),
    })
    .prefault({}),
  providers: z.record(z.string(), ProviderSchema).default({}),
  agents: z.record(AgentName, AgentEntrySchema).default({}),
  store: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('sqlite'), path: z.string().min(1).default('.switchboard/switchboard.db') }),
      z.strictObject({ type: z.literal('postgres'), url: z.string().min(1) }),
    ])
    .default({ type: 'sqlite', path: '.switchboard/switchboard.db' }),
  workspaceDir: z.string().min(1).default('.switchboard/workspaces'),
  /** Artifacts (generated and received images): bytes in the database, or in `dir`, a folder every replica can read. */
  artifacts: z.strictObject({ dir: z.string().min(1).optional() }).prefault({}),
  sandbox: SandboxSchema.prefault({}),
  limits: z
    .strictObject({
      /** How deep send_message may nest (proxy -> a -> b is depth 2). */
      maxDelegationDepth: z.number().int().min(0).max(10).default(3),
      /** A run that makes no progress for this long is failed (it is never expired while it works). */
      stallTimeoutMs: z.number().int().positive().default(10 * 60_000),
      /** Wall-clock limit and output cap for code the code agent runs. */
      codeTimeoutMs: z.number().int().positive().default(30_000),
      codeOutputBytes: z.number().int().positive().default(16_384),
      /** Longest accepted user message, in characters. */
      maxMessageChars: z.number().int().positive().default(100_000),
      /** Largest image a message may carry, in bytes. */
      maxImageBytes: z.number().int().positive().default(10 * 1024 * 1024),
      /** Model API: retries on 429/5xx/timeouts and per-request timeout. */
      modelRetries: z.number().int().min(0).max(10).default(3),
      modelTimeoutMs: z.number().int().positive().default(120_000),
    })
    .prefault({}),
  approvals: z
    .strictObject({
      /** Plan steps: approve each step, the whole plan once, or none (auto). */
      plan: z.enum(['each_step', 'whole_plan', 'none']).default('each_step'),
      policy: ApprovalPolicySchema.prefault({}),
    })
    .prefault({}),
  /** USD per million tokens, by model name, for cost roll-ups. */
  pricing: z.record(z.string(), z.strictObject({ input: z.number().min(0), output: z.number().min(0) })).default({}),
  /**
   * Adapter sections, kept as written (after `${VAR}` expansion): each adapter validates its own with
   * `adapterSection(config, 'mcp', schema)`, so a new surface needs no change here.
   */
  mcp: z.unknown().optional(),
  slack: z.unknown().optional(),
  teams: z.unknown().optional(),
});
export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;
