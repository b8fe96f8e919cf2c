import { resolve } from 'node:path';
import { AgentRegistry } from './agents/registry.js';
import type { Config, ConfigInput } from './agents/spec.js';
import { parseConfig } from './agents/load.js';
import { ApprovalService } from './approvals/service.js';
import type { ImageInput } from './artifacts/images.js';
import { artifactFace } from './artifacts/intake.js';
import { withArtifactImages } from './artifacts/model-images.js';
import type { Artifact, ArtifactStore } from './artifacts/types.js';
import { createToolApprovalGate } from './approvals/tool-gate.js';
import type { Approval, ApprovalStatus, DecideResult, Decision } from './approvals/types.js';
import { Watch } from './approvals/watch.js';
import { SwitchboardError } from './errors.js';
import { EventBus, type EventListener, type EventLog, type SwitchboardEvent } from './events.js';
import { followRun } from './events/follow.js';
import { createConversations } from './face/conversations.js';
import { createReading, type ApprovalView, type RunFilter } from './face/reading.js';
import { runTreeResolver } from './runs/emit.js';
import { defaultIds, type IdGenerator } from './ids.js';
import { LeaseKeeper } from './leases/keeper.js';
import { createLogger, type Logger } from './logger.js';
import { createModelClient } from './model/openai-client.js';
import type { ModelClient } from './model/types.js';
import { PlanService } from './plans/service.js';
import { createPlanTool } from './plans/tool.js';
import type { Plan } from './plans/types.js';
import type { ToolApprovalGate } from './runs/approval-gate.js';
import { createSendMessageTool } from './runs/delegation.js';
import { RunEngine } from './runs/engine.js';
import type { ToolDefinition } from './runs/tool.js';
import type { ConversationOptions } from './conversations.js';
import { resolvePersistence, type PartialPersistence, type Persistence } from './store/persistence.js';
import type { PlanStore } from './store/plan-store.js';
import { unavailableRefs, type SurfaceRefStore } from './store/refs.js';
import type { Conversation, Message, Principal, Run, RunUsage, Store, Thread, UsageTotals } from './store/types.js';
import { builtinTools, knownToolNames } from './tools/index.js';

export interface SwitchboardOptions {
  /** A validated config, or raw input to validate (see `loadConfigFile` for files). */
  config?: Config | ConfigInput;
  /** Defaults to the store the config names (SQLite file unless configured). */
  store?: Store;
  /** Defaults to the OpenAI-compatible client over the config's providers and the environment. */
  model?: ModelClient;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  ids?: IdGenerator;
  clock?: () => number;
  /** Tools beyond the built-ins, for agents to name in their `tools`. */
  tools?: ToolDefinition[];
  /** Base for relative paths in the config (store, workspaces). */
  cwd?: string;
  /** Decides tool calls that need approval; by default each becomes a persisted Approval a person decides (`decide`). */
  approvals?: ToolApprovalGate;
  /** Where plans are kept; by default beside the store, in the same database. */
  planStore?: PlanStore;
  /** Where lifecycle events are stored; by default beside the store, in the same database. */
  eventLog?: EventLog;
  /** Everything the engine keeps (store, plans, approvals, refs, events, artifacts); by default the store's, or the config's. Parts left out are unavailable. */
  persistence?: Persistence | PartialPersistence;
  /** Where artifacts are kept; by default beside the store (bytes in the database, or in the config's `artifacts.dir`). */
  artifacts?: ArtifactStore;
  /** Resume runs a previous process left unfinished (default true). */
  resume?: boolean;
  /** Engine knobs: lease length and polling interval (tests), idle threads the thread cache keeps, model calls in flight at once. */
  engine?: { leaseMs?: number; pollMs?: number; cacheThreads?: number; modelConcurrency?: number };
}

export interface SendInput {
  text: string;
  /** https URLs, data: URLs or bytes with their media type; bytes are kept as artifacts of the conversation. */
  images?: ImageInput[];
  from: Principal;
  /** The agent whose thread receives the message; the proxy by default. */
  agent?: string;
  /** A surface's id for this message (Slack event id, Teams activity id): sending it again returns the same run. */
  idempotencyKey?: string;
}

export interface AskResult {
  conversationId: string;
  agent: string;
  runId: string;
  reply: string;
  usage: RunUsage;
}

export interface Switchboard {
  readonly config: Config;
  readonly agents: AgentRegistry;
  readonly store: Store;
  /** The event bus behind `events` and `on`, for adapters that fan out themselves. */
  readonly bus: EventBus;
  readonly engine: RunEngine;
  /** The conversation for a surface key, created on first use and owned by `principal`; a shared one admits `principal` as participant. */
  conversation(key: string, principal: Principal, opts?: ConversationOptions): Promise<Conversation>;
  /** Everyone recorded as taking part in the conversation, the owner first. */
  participants(conversationId: string): Promise<Principal[]>;
  /** Adapters' handles per run, approval, plan… (a Slack message ts), shared by replicas. */
  readonly refs: SurfaceRefStore;
  /** A conversation by id, if `principal` (when given) may see it. */
  getConversation(id: string, principal?: Principal): Promise<Conversation>;
  /** Queues a message for an agent's thread (the proxy's by default) and returns its run. Never "busy". A private conversation takes messages from its owner only (ForbiddenError). */
  send(conversationId: string, input: SendInput): Promise<Run>;
  /** Resolves when the run has ended. NotFoundError for an unknown run; ClosedError when `close` comes first. */
  wait(runId: string): Promise<Run>;
  /** A run by id: NotFoundError, or ForbiddenError when `principal` (when given) may not see its conversation. */
  getRun(runId: string, principal?: Principal): Promise<Run>;
  /** Oldest first. With `principal`, only runs of conversations that principal may see (ForbiddenError for a `conversationId` it may not). */
  listRuns(filter: RunFilter, principal?: Principal): Promise<Run[]>;
  /** An approval with what a card shows; with `principal`, whether that principal may decide it (`mayDecide`). */
  approvalView(approvalId: string, principal?: Principal): Promise<ApprovalView>;
  /** One message to one agent, on its own thread in the conversation (new when not given); resolves with the reply. */
  ask(agent: string, input: { text: string; images?: ImageInput[]; conversationId?: string; from?: Principal }): Promise<AskResult>;
  /** An artifact (a generated or received image) with its bytes; NotFoundError, or ForbiddenError when `principal` may not see its conversation. */
  readArtifact(id: string, principal?: Principal): Promise<{ artifact: Artifact; bytes: Uint8Array }>;
  /** A conversation's artifacts, oldest first. */
  listArtifacts(conversationId: string, principal?: Principal): Promise<Artifact[]>;
  /**
   * Stored events with `seq > after` (all with 0), then live ones, this process's and others', without
   * gaps or repeats. Without `after`: live only. (An AbortSignal as 2nd argument is still accepted.)
   */
  events(conversationId: string, opts?: { after?: number; signal?: AbortSignal } | AbortSignal): AsyncIterable<SwitchboardEvent>;
  /** The events of a run and its delegations, from its start, until the run ends. */
  follow(runId: string, opts?: { signal?: AbortSignal }): AsyncIterable<SwitchboardEvent>;
  on(conversationId: string | '*', listener: EventListener): () => void;
  /** NotFoundError for an unknown run; a run that has ended is returned as it is. */
  cancel(runId: string, reason?: string): Promise<Run>;
  /** Every thread of a conversation with its messages. */
  transcript(conversationId: string): Promise<{ thread: Thread; messages: Message[] }[]>;
  usage(group: 'agent' | 'model' | 'conversation', filter?: { conversationId?: string }): Promise<UsageTotals[]>;

  /** The planner turns the goal into steps; approvals are requested per `approvals.plan`; steps run as decisions arrive. A private conversation's owner only. */
  plan(conversationId: string, goal: string, principal: Principal): Promise<Plan>;
  /** NotFoundError, or ForbiddenError when `principal` may not see it. */
  getPlan(planId: string, principal?: Principal): Promise<Plan>;
  /** Oldest first; with `principal`, the plans that principal may see. */
  listPlans(filter: { conversationId?: string; principal?: Principal }): Promise<Plan[]>;
  /** Cancels the plan, its pending approvals and the run of the step in progress. */
  cancelPlan(planId: string, principal: Principal): Promise<Plan>;
  /** `settled`: waiting for a person, or ended (default). `done`: ended. ClosedError when `close` comes first. */
  waitForPlan(planId: string, opts?: { until?: 'settled' | 'done'; signal?: AbortSignal }): Promise<Plan>;
  /** Oldest first; with `principal`, the approvals the policy lets that principal decide. */
  approvals(filter?: { conversationId?: string; status?: ApprovalStatus; principal?: Principal }): Promise<Approval[]>;
  getApproval(id: string): Promise<Approval>;
  /**
   * Decides an approval. ForbiddenError (with the reason) for a principal the policy does not allow;
   * NotAwaitingApprovalError when what it decides has moved on; a second decision returns the first with `alreadyDecided`.
   */
  decide(approvalId: string, decision: Decision): Promise<DecideResult>;
  /** The pending approval of a plan step, or null. */
  approvalForStep(stepId: string): Promise<Approval | null>;
  close(): Promise<void>;
}

/**
 * Builds the engine once; every adapter (CLI, MCP, bots) shares the result.
 */
export async function createSwitchboard(options: SwitchboardOptions = {}): Promise<Switchboard> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  // Parsing is idempotent, so an already-validated config goes through the same gate.
  const config = parseConfig(options.config as ConfigInput | undefined);
  const logger = options.logger ?? createLogger({ level: (env.SWITCHBOARD_LOG_LEVEL as never) ?? 'warn' });
  const ids = options.ids ?? defaultIds;
  const clock = options.clock ?? Date.now;

  const tools = new Map<string, ToolDefinition>();
  for (const tool of [...builtinTools, ...(options.tools ?? [])]) tools.set(tool.name, tool);
  const agents = AgentRegistry.fromConfig(config, knownToolNames(tools.keys()));

  const persistence = await resolvePersistence(options, config, cwd);
  await persistence.init();
  const { store } = persistence;
  // Overrides are initialised here; the persistence's own ones were, by its init.
  const artifacts = options.artifacts ?? persistence.artifacts ?? null;
  await options.artifacts?.init();
  const baseModel =
    options.model ??
    createModelClient({ providers: config.providers, env, retries: config.limits.modelRetries, timeoutMs: config.limits.modelTimeoutMs, logger });
  // Messages keep images as artifact references; the model gets their bytes.
  const model = artifacts ? withArtifactImages(baseModel, artifacts) : baseModel;
  const events = new EventBus();
  const eventLog = options.eventLog ?? persistence.events;
  await options.eventLog?.init();
  if (eventLog) events.attach(eventLog, { resolve: runTreeResolver(store, events), onError: (error, e) => logger.warn('event not stored', { type: e.type, error }) });
  // One owner id, renewal beat and adoption rule for the leases on runs and on plans.
  const leases = new LeaseKeeper({ leaseMs: options.engine?.leaseMs, pollMs: options.engine?.pollMs, clock, logger });
  const watch = new Watch(options.engine?.pollMs ?? 200, events);
  const planStore = persistence.plans;
  const approvalStore = persistence.approvals;
  const approvals = approvalStore ? new ApprovalService({ approvals: approvalStore, store, events, policy: config.approvals.policy, ids, clock, watch }) : undefined;
  let planService: PlanService | undefined;
  const need = <T>(service: T | undefined): T => {
    if (!service) throw new SwitchboardError('plans_unavailable', 'Plans and approvals need a store that keeps them: pass `persistence` (or `planStore`) to createSwitchboard.');
    return service;
  };
  tools.set('create_plan', createPlanTool({ plans: () => need(planService), store }));

  // send_message needs the engine and the engine needs its tools: the tool reaches it lazily.
  tools.set('send_message', createSendMessageTool({ agents, store, ids, engine: () => runs, maxDepth: config.limits.maxDelegationDepth }));
  const runs: RunEngine = new RunEngine({
    store,
    model,
    agents,
    tools,
    events,
    config,
    logger,
    ids,
    clock,
    workspaceRoot: resolve(cwd, config.workspaceDir),
    approvals: options.approvals ?? (approvals ? createToolApprovalGate(approvals) : undefined),
    artifacts: artifacts ?? undefined,
    ...options.engine,
    leases,
  });
  if (planStore && approvals) {
    planService = new PlanService({ plans: planStore, store, engine: runs, agents, model, events, config, ids, clock, logger, approvals, watch, leases });
  }
  if (options.resume !== false) {
    await runs.resumeOrphans();
    await planService?.resume();
    // Keep watching: work a dead replica leaves later is picked up without waiting for work of our own.
    runs.start();
  }

  const conversations = createConversations({ config, agents, store, runs, ids, clock, artifacts });
  const reading = createReading({ store, getConversation: conversations.getConversation, plans: planStore ?? null, approvals: () => need(approvals) });

  return {
    config,
    agents,
    store,
    bus: events,
    engine: runs,
    ...conversations,
    ...reading,
    refs: persistence.refs ?? unavailableRefs,
    wait: async (runId) => runs.wait(runId),
    events: (conversationId, opts) => events.stream(conversationId, opts),
    follow: (runId, opts) => followRun(events, store, runId, opts?.signal),
    on: (conversationId, listener) => events.subscribe(conversationId, listener),
    cancel: async (runId, reason) => runs.cancel(runId, reason),
    async transcript(conversationId) {
      const threads = await store.listThreads(conversationId);
      return Promise.all(threads.map(async (thread) => ({ thread, messages: await store.listMessages(thread.id) })));
    },
    usage: async (group, filter) => store.usageBy(group, filter),
    ...artifactFace(artifacts, conversations.getConversation),
    // Every method that returns a promise is async: a missing plan store (need) or a bad argument is a rejection, never a throw.
    plan: async (conversationId, goal, principal) => need(planService).create(conversationId, goal, principal),
    getPlan: async (planId, principal) => need(planService).get(planId, principal),
    listPlans: async (filter) => need(planService).list(filter),
    cancelPlan: async (planId, principal) => need(planService).cancel(planId, principal),
    waitForPlan: async (planId, opts) => need(planService).wait(planId, opts),
    approvals: async (filter) => need(approvals).list(filter),
    getApproval: async (id) => need(approvals).get(id),
    decide: async (approvalId, decision) => need(approvals).decide(approvalId, decision),
    approvalForStep: async (stepId) => need(planService).approvalForStep(stepId),
    async close() {
      await planService?.close();
      await runs.close();
      await leases.close();
      watch.close();
      // The persistence closes its own event log; an override is closed here.
      await options.eventLog?.close();
      await persistence.close();
    },
  };
}

export { mayAccess } from './face/conversations.js';
