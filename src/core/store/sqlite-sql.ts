import { ACTIVE_SQL } from './rows.js';
import type { SqliteStatement } from './sqlite-driver.js';

/**
 * The SqliteStore's statements, prepared once by `init`. Named parameters (`@name`) where a
 * statement has several, positional (`?`) otherwise.
 */
export const SQL = {
  // seq = max + 1 inside the statement; callers run it in an IMMEDIATE transaction.
  insertMessage: `INSERT INTO messages (id, thread_id, seq, role, author, content, images, tool_calls, tool_call_id, is_error, run_id, created_at)
    VALUES (@id, @threadId, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE thread_id = @threadId),
            @role, @author, @content, @images, @toolCalls, @toolCallId, @isError, @runId, @now)
    RETURNING *`,
  // 'tool' when the call already has a result after the newest assistant message (one result per call).
  answeredCall: `SELECT role FROM messages WHERE thread_id = ? AND (role = 'assistant' OR (role = 'tool' AND tool_call_id = ?))
    ORDER BY seq DESC LIMIT 1`,
  listMessages: 'SELECT * FROM messages WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?',
  tailMessages: 'SELECT * FROM messages WHERE thread_id = ? ORDER BY seq DESC LIMIT ?', // reversed in JS

  // A key another run holds inserts nothing (and returns no row): the caller reads that run instead.
  insertRun: `INSERT INTO runs (id, conversation_id, thread_id, agent, status, input, requested_by, parent_run_id, parent_tool_call_id, depth, created_at, progress_at, idempotency_key, plan_id)
    VALUES (@id, @conversationId, @threadId, @agent, 'queued', @input, @requestedBy, @parentRunId, @parentToolCallId, @depth, @now, @now, @idempotencyKey, @planId)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *`,
  runById: 'SELECT * FROM runs WHERE id = ?',
  runByKey: 'SELECT * FROM runs WHERE idempotency_key = ?',
  childRun: 'SELECT * FROM runs WHERE parent_run_id = ? AND parent_tool_call_id = ? ORDER BY created_at, id LIMIT 1',
  // The one-active-run rule: the next queued run, only when no run of the thread is in_progress/requires_action.
  // Read inside the claim's IMMEDIATE transaction, so nothing changes between it and claimRun.
  claimCandidate: `SELECT id, started_at IS NULL AS fresh FROM runs
    WHERE thread_id = @threadId AND status = 'queued'
      AND NOT EXISTS (SELECT 1 FROM runs WHERE thread_id = @threadId AND status IN ${ACTIVE_SQL})
    ORDER BY created_at, id LIMIT 1`,
  claimRun: `UPDATE runs
    SET status = 'in_progress', lease_owner = @owner, lease_until = @leaseUntil,
        started_at = COALESCE(started_at, @now), progress_at = @now
    WHERE id = @id
    RETURNING *`,
  // A read before the claim: most drains end finding nothing to claim, and a read takes no write lock.
  claimable: `SELECT EXISTS (SELECT 1 FROM runs WHERE thread_id = @threadId AND status = 'queued')
      AND NOT EXISTS (SELECT 1 FROM runs WHERE thread_id = @threadId AND status IN ${ACTIVE_SQL}) AS ok`,
  // Uses runs_status_lease: active runs are few, so no index on lease_owner (one less page per claim).
  renewLeases: `UPDATE runs SET lease_until = ? WHERE status IN ${ACTIVE_SQL} AND lease_owner = ?`,
  orphanedRuns: `SELECT * FROM runs WHERE status = 'in_progress' AND (lease_until IS NULL OR lease_until < @now)
    UNION ALL
    SELECT * FROM runs WHERE status = 'queued'
    ORDER BY created_at, id`,
  adoptRun: `UPDATE runs SET lease_owner = @owner, lease_until = @leaseUntil
    WHERE id = @id AND status IN ${ACTIVE_SQL}
      AND lease_owner IS @expectedOwner AND lease_until IS @expectedUntil AND lease_owner IS NOT @owner`,
  addModelUsage: `UPDATE runs SET prompt_tokens = prompt_tokens + @promptTokens, completion_tokens = completion_tokens + @completionTokens,
    cost = cost + @cost, model_calls = model_calls + 1, progress_at = @now WHERE id = @runId`,
  // addModelUsage for the run's final answer: the run completes in the same statement.
  addModelUsageAndComplete: `UPDATE runs SET prompt_tokens = prompt_tokens + @promptTokens, completion_tokens = completion_tokens + @completionTokens,
    cost = cost + @cost, model_calls = model_calls + 1, progress_at = @now,
    status = 'completed', reply = @reply, ended_at = @endedAt, lease_owner = NULL, lease_until = NULL
    WHERE id = @runId RETURNING *`,
  touchRun: 'UPDATE runs SET progress_at = ? WHERE id = ?',

  insertStep: `INSERT INTO run_steps (id, run_id, seq, type, status, data, prompt_tokens, completion_tokens, cost, created_at, ended_at)
    VALUES (@id, @runId, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_steps WHERE run_id = @runId),
            @type, @status, @data, @promptTokens, @completionTokens, @cost, @now, @endedAt)
    RETURNING *`,
  finishStep: 'UPDATE run_steps SET status = ?, ended_at = ? WHERE id = ? RETURNING *',
  stepsOfRun: 'SELECT * FROM run_steps WHERE run_id = ? ORDER BY seq',
} as const;

export type Statements = { -readonly [K in keyof typeof SQL]: SqliteStatement };
