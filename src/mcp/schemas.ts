/**
 * Tool input and output schemas of the MCP face (zod, turned into JSON Schema for hosts).
 * Field names are snake_case, as MCP hosts and models expect; values map 1:1 to the core's.
 */
import { z } from 'zod';
import type { Run, RunUsage } from '../index.js';

export const conversationIdField = z
  .string()
  .min(1)
  .max(200)
  .describe('The conversation_id from an earlier answer, to continue that conversation (the agent remembers it). Omit to start a new one.');

/** `{ message, conversation_id? }`; the message limit comes from the config (`limits.maxMessageChars`). */
export function askInput(maxMessageChars: number) {
  return z.object({
    message: z
      .string({ error: 'message must be a string: what you want the agent to do or answer' })
      .min(1, 'message must not be empty')
      .max(maxMessageChars, `message is longer than the limit of ${maxMessageChars} characters; shorten it or split the work`)
      .describe('What you want the agent to do or answer, self-contained: include paths, URLs and facts it needs.'),
    conversation_id: conversationIdField.optional(),
  });
}

export const UsageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  model_calls: z.number().int().nonnegative(),
  /** USD, 0 when no price is configured for the model. */
  cost_usd: z.number().nonnegative(),
});
export type McpUsage = z.infer<typeof UsageSchema>;

export const RunStatusSchema = z.enum(['queued', 'in_progress', 'requires_action', 'completed', 'failed', 'cancelled']);

export type PendingApproval = z.infer<typeof PendingApprovalSchema>;
export const PendingApprovalSchema = z.object({
  approval_id: z.string(),
  kind: z.string(),
  summary: z.string(),
  step_id: z.string().optional(),
});

/** What `ask_*`, `get_run` and `cancel_run` return. `reply` and `usage` come with `completed`. */
export const RunOutputSchema = z.object({
  conversation_id: z.string(),
  agent: z.string(),
  run_id: z.string(),
  status: RunStatusSchema,
  reply: z.string().optional(),
  usage: UsageSchema.optional(),
  error: z.string().optional(),
  pending_approvals: z.array(PendingApprovalSchema).optional(),
});
export type RunOutput = z.infer<typeof RunOutputSchema>;

export const GetRunInput = z.object({
  run_id: z.string().min(1).describe('The run_id an ask_* tool returned.'),
  wait_seconds: z
    .number()
    .min(0)
    .max(50)
    .optional()
    .describe('Wait up to this many seconds for the run to finish before answering (default 0: answer at once).'),
});

export const CancelRunInput = z.object({
  run_id: z.string().min(1).describe('The run_id an ask_* tool returned.'),
});

export function usageOf(u: RunUsage): McpUsage {
  return { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, model_calls: u.modelCalls, cost_usd: u.cost };
}

export function runOutput(run: Run, extra: Partial<RunOutput> = {}): RunOutput {
  const out: RunOutput = { conversation_id: run.conversationId, agent: run.agent, run_id: run.id, status: run.status };
  if (run.status === 'completed') {
    out.reply = run.reply ?? '';
    out.usage = usageOf(run.usage);
  }
  if ((run.status === 'failed' || run.status === 'cancelled') && run.error) out.error = run.error;
  return { ...out, ...extra };
}
