import { join } from 'node:path';
import { conversationArtifacts } from '../artifacts/conversation.js';
import { DuplicateToolResultError } from '../errors.js';
import type { ToolCall } from '../model/types.js';
import type { Message, Run, RunStep } from '../store/types.js';
import type { ActiveRun, RunEvent } from './active-run.js';
import { needsApproval } from './approval-gate.js';
import type { ExecutorDeps } from './executor.js';
import { executeTool, INTERRUPTED_RESULT, parseToolCall } from './tool-calls.js';
import type { ToolContext, ToolDefinition, ToolResult } from './tool.js';

/** What the tool runner needs from the executor besides its dependencies. */
export interface ToolRunnerHooks {
  emit(run: Run, event: RunEvent): void;
  /** Makes a write of the run with the events describing it, stored in its transaction where the log can. */
  record<T>(run: Run, write: () => Promise<T>, events: RunEvent[]): Promise<T>;
  /** The run (and the runs it works for) made progress now. */
  progress(active: ActiveRun): void;
}

/** Runs a run's tool calls and records each with its result: one write per call, one result per call. */
export class ToolRunner {
  readonly #d: Omit<ExecutorDeps, 'cache'>;
  readonly #h: ToolRunnerHooks;

  constructor(deps: Omit<ExecutorDeps, 'cache'>, hooks: ToolRunnerHooks) {
    this.#d = deps;
    this.#h = hooks;
  }

  /**
   * Runs one tool call and records it. A 'started' step is written only right before a
   * non-idempotent tool executes: it is how a resumed run knows the call may have taken effect.
   * Everything else — idempotent tools (run again after a crash anyway) and calls that run nothing
   * (invalid, declined) — is recorded once it has its result, step and result message in one write.
   */
  async run(active: ActiveRun, call: ToolCall, tools: Map<string, ToolDefinition>, steps: RunStep[]): Promise<void> {
    const { run, agent, controller } = active;
    const { store, ids, approvals, logger } = this.#d;
    const parsed = parseToolCall(call, tools);
    const previous = steps.find((s) => s.type === 'tool_call' && s.data.toolCallId === call.id);
    this.#h.emit(active.run, { type: 'tool.call', toolCallId: call.id, name: call.name, arguments: call.arguments });

    const base = { toolCallId: call.id, name: call.name };
    if (!parsed.ok) {
      await this.#finish(active, { id: previous?.id, data: base }, call, { content: parsed.error, isError: true });
      return;
    }
    if (previous && !parsed.tool.idempotent && !previous.data.declined) {
      // It started before a crash and may have had effects: tell the model rather than repeat it.
      await this.#finish(active, { id: previous.id, data: base }, call, { content: INTERRUPTED_RESULT, isError: true }, 'interrupted');
      return;
    }
    if (needsApproval(agent, parsed.tool)) {
      if (approvals) {
        active.awaiting++;
        if (active.awaiting === 1) await store.updateRun(run.id, { status: 'requires_action' });
        const decision = await approvals.request({ run, agent, toolCallId: call.id, tool: parsed.tool, args: parsed.args, signal: controller.signal }).finally(() => {
          // The answer is progress, from the moment the run stops waiting (not once the status below is written).
          this.#h.progress(active);
          active.awaiting--;
        });
        if (active.awaiting === 0) await store.updateRun(run.id, { status: 'in_progress' });
        if (!decision.approved) {
          await this.#finish(active, { id: previous?.id, data: { ...base, declined: true } }, call, {
            content: `A person declined this call${decision.by ? ` (${decision.by})` : ''}.${decision.feedback ? ` Feedback: ${decision.feedback}` : ''} Do not retry it unchanged.`,
            isError: true,
          });
          return;
        }
      } else {
        logger.warn('tool needs approval but no approval gate is configured; running it', { tool: call.name });
      }
    }
    const data = { ...base, arguments: call.arguments };
    const startedAt = this.#d.clock();
    const stepId = previous?.id ?? (parsed.tool.idempotent ? undefined : (await store.startToolStep({ id: ids('step'), runId: run.id, data })).id);
    const result = await executeTool(parsed.tool, parsed.args, this.#context(active, call));
    await this.#finish(active, { id: stepId, data, startedAt }, call, result);
  }

  /**
   * Ends the call's step (`step.id`, when it was started) or records it whole (from `startedAt`, when
   * the tool began to run; now for calls that ran nothing), with its result message.
   */
  async #finish(
    active: ActiveRun,
    step: { id: string | undefined; data: Record<string, unknown>; startedAt?: number },
    call: ToolCall,
    result: ToolResult,
    interrupted?: 'interrupted',
  ): Promise<void> {
    const { run, agent } = active;
    const { store, ids } = this.#d;
    const status = interrupted ?? (result.isError ? 'failed' : 'completed');
    const resultMessage = {
      id: ids('msg'),
      threadId: run.threadId,
      role: 'tool' as const,
      author: agent.name,
      content: result.content,
      toolCallId: call.id,
      isError: result.isError || undefined,
      runId: run.id,
    };
    const resultEvent: RunEvent = { type: 'tool.result', toolCallId: call.id, name: call.name, content: result.content, isError: Boolean(result.isError) };
    let message: Message;
    try {
      ({ message } = await this.#h.record(
        active.run,
        () =>
          step.id
            ? store.finishToolStep(step.id, status, resultMessage)
            : store.recordToolStep({ id: ids('step'), runId: run.id, data: step.data, status, startedAt: step.startedAt ?? this.#d.clock() }, resultMessage),
        [resultEvent],
      ));
    } catch (err) {
      if (!(err instanceof DuplicateToolResultError)) throw err;
      // The store already holds this call's result (written by whoever wrote it): read it, never add another.
      this.#d.logger.warn('tool call already had its result; keeping the stored one', { runId: run.id, toolCallId: call.id });
      await active.tail?.reload();
      return;
    }
    active.tail?.append([message]);
    this.#h.progress(active);
  }

  #context(active: ActiveRun, call: ToolCall): ToolContext {
    const { run, agent, controller } = active;
    return {
      conversationId: run.conversationId,
      runId: run.id,
      threadId: run.threadId,
      agent,
      toolCallId: call.id,
      workspaceDir: join(this.#d.workspaceRoot, run.conversationId),
      signal: controller.signal,
      model: this.#d.model,
      logger: this.#d.logger,
      limits: { codeTimeoutMs: this.#d.config.limits.codeTimeoutMs, codeOutputBytes: this.#d.config.limits.codeOutputBytes },
      sandbox: this.#d.config.sandbox,
      artifacts: this.#d.artifacts && conversationArtifacts(this.#d.artifacts, run, { ids: this.#d.ids, clock: this.#d.clock, emit: (e) => this.#h.emit(active.run, e) }),
      progress: (message) => {
        this.#h.progress(active);
        this.#h.emit(active.run, { type: 'tool.progress', toolCallId: call.id, name: call.name, message });
      },
    };
  }
}
