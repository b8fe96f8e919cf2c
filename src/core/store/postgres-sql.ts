import { ACTIVE_SQL } from './rows.js';

/** The PostgresStore's fixed statements (positional parameters). */
export const SQL = {
  // A key another run holds inserts nothing (and returns no row): the caller reads that run instead.
  // ON CONFLICT waits for a concurrent insert of the same key to commit, so that read finds it.
  insertRun: `INSERT INTO runs (id, conversation_id, thread_id, agent, status, input, requested_by, parent_run_id, parent_tool_call_id, depth, created_at, progress_at, idempotency_key, plan_id)
    VALUES ($1, $2, $3, $4, 'queued', $5::jsonb, $6::jsonb, $7, $8, $9, $10, $10, $11, $12) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
  // The caller holds the thread lock and saw no active run. RETURNING sees the new row; `fresh` comes
  // from the candidate as it was (never started: its input is not in the thread yet).
  claimNext: `WITH next AS (
      SELECT id, started_at FROM runs WHERE thread_id = $1 AND status = 'queued' ORDER BY created_at, id COLLATE "C" LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    UPDATE runs r
    SET status = 'in_progress', lease_owner = $2, lease_until = $3, started_at = COALESCE(r.started_at, $4), progress_at = $4
    FROM next WHERE r.id = next.id
    RETURNING r.*, next.started_at IS NULL AS fresh`,
  // Queued runs only where nothing holds the thread up: at scale most queued runs wait behind a live run.
  orphanedRuns: `SELECT * FROM runs r
    WHERE (r.status = 'in_progress' AND (r.lease_until IS NULL OR r.lease_until < $1))
      OR (r.status = 'queued' AND NOT EXISTS (SELECT 1 FROM runs a WHERE a.thread_id = r.thread_id AND a.status IN ${ACTIVE_SQL}))
    ORDER BY r.created_at, r.id COLLATE "C"`,
  // Exactly the lease the caller saw ($4, $5), and never one the adopter ($2) already holds.
  adoptRun: `UPDATE runs SET lease_owner = $2, lease_until = $3
    WHERE id = $1 AND status IN ${ACTIVE_SQL}
      AND lease_owner IS NOT DISTINCT FROM $4::text AND lease_until IS NOT DISTINCT FROM $5::bigint
      AND lease_owner IS DISTINCT FROM $2`,
  // step seq = max + 1; the caller holds the run lock.
  // 'tool' when the call already has a result after the newest assistant message (one result per call).
  answeredCall: `SELECT role FROM messages WHERE thread_id = $1 AND (role = 'assistant' OR (role = 'tool' AND tool_call_id = $2))
    ORDER BY seq DESC LIMIT 1`,
  insertStep: `INSERT INTO run_steps (id, run_id, seq, type, status, data, prompt_tokens, completion_tokens, cost, created_at, ended_at)
    VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_steps WHERE run_id = $2), $3, $4, $5::jsonb, $6, $7, $8, $9, $10)
    RETURNING *`,
  addModelUsage: `UPDATE runs SET prompt_tokens = prompt_tokens + $2, completion_tokens = completion_tokens + $3,
    cost = cost + $4, model_calls = model_calls + 1, progress_at = $5 WHERE id = $1`,
  // addModelUsage for the run's final answer: the run completes in the same statement.
  addModelUsageAndComplete: `UPDATE runs SET prompt_tokens = prompt_tokens + $2, completion_tokens = completion_tokens + $3,
    cost = cost + $4, model_calls = model_calls + 1, progress_at = $5,
    status = 'completed', reply = $6, ended_at = $7, lease_owner = NULL, lease_until = NULL
    WHERE id = $1 RETURNING *`,
} as const;

/** `usageBy`: 'agent' and 'conversation' sum the runs; 'model' sums model_call steps by data->>'model'. `$1` is the conversation when filtered. */
export function usageSql(group: 'agent' | 'model' | 'conversation', filtered: boolean): string {
  if (group === 'model') {
    return `SELECT COALESCE(s.data->>'model', 'unknown') AS key,
        SUM(s.prompt_tokens) AS prompt_tokens, SUM(s.completion_tokens) AS completion_tokens,
        SUM(s.cost) AS cost, COUNT(*) AS model_calls
      FROM run_steps s${filtered ? ' JOIN runs r ON r.id = s.run_id' : ''}
      WHERE s.type = 'model_call'${filtered ? ' AND r.conversation_id = $1' : ''}
      GROUP BY 1`;
  }
  const column = group === 'agent' ? 'agent' : 'conversation_id';
  return `SELECT ${column} AS key, SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens,
      SUM(cost) AS cost, SUM(model_calls) AS model_calls
    FROM runs${filtered ? ' WHERE conversation_id = $1' : ''}
    GROUP BY 1`;
}
