import { z } from 'zod';
import type { AgentRegistry } from '../agents/registry.js';
import type { AgentSpec } from '../agents/spec.js';
import type { ChatMessage, ModelClient, Usage } from '../model/types.js';
import { systemPrompt } from '../runs/executor.js';

/** Most steps one plan (or one revision) may have. */
export const MAX_PLAN_STEPS = 20;
/** Planner answers tried before the plan fails: the first, plus corrections after an invalid one. */
export const PLANNER_ATTEMPTS = 3;

export const PlanOutputSchema = z.strictObject({
  steps: z
    .array(
      z.strictObject({
        agent: z.string().min(1).describe('The name of the one agent that carries out this step.'),
        action: z.string().min(1).describe('What the agent must do, self-contained: the agent sees only this and the results of earlier steps.'),
      }),
    )
    .max(MAX_PLAN_STEPS),
});
export type PlanOutput = z.infer<typeof PlanOutputSchema>;

const RESPONSE_SCHEMA = { name: 'plan', schema: z.toJSONSchema(PlanOutputSchema) as Record<string, unknown> };

export type ParsedPlan = { success: true; steps: PlanOutput['steps'] } | { success: false; error: string };

/**
 * Reads a planner answer: JSON (a Markdown code fence around it is tolerated) matching the schema,
 * naming only agents that may take steps. Returns what is wrong in words the planner can act on.
 */
export function parsePlan(text: string | null, validAgents: readonly string[], allowEmpty: boolean): ParsedPlan {
  const raw = (text ?? '').trim().replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/i, '$1');
  if (!raw) return { success: false, error: 'The answer was empty.' };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return { success: false, error: `The answer is not valid JSON (${(err as Error).message}).` };
  }
  const parsed = PlanOutputSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`).join('; ');
    return { success: false, error: `The answer does not match the plan format: ${problems}.` };
  }
  const steps = parsed.data.steps.map((s) => ({ agent: s.agent.trim(), action: s.action.trim() }));
  for (const [i, s] of steps.entries()) {
    if (!validAgents.includes(s.agent)) {
      return { success: false, error: `Step ${i + 1} names the unknown agent "${s.agent}". Valid agents: ${validAgents.join(', ') || '(none)'}.` };
    }
    if (!s.action) return { success: false, error: `Step ${i + 1} has an empty action.` };
  }
  if (steps.length === 0 && !allowEmpty) return { success: false, error: 'The plan has no steps; give at least one.' };
  return { success: true, steps };
}

export interface PlannerRequest {
  goal: string;
  /** For a revision: what happened so far and why the plan must change. */
  revision?: string;
  signal?: AbortSignal;
}

/** Agents a plan step may be given to: the specialists. */
export function stepAgents(agents: AgentRegistry): AgentSpec[] {
  return agents.specialists();
}

/**
 * Asks the planner agent for steps with structured output; an invalid answer goes back to it with
 * what is wrong, up to PLANNER_ATTEMPTS answers in all. Model failures throw as they are.
 */
export async function askPlanner(
  model: ModelClient,
  agents: AgentRegistry,
  planner: AgentSpec,
  req: PlannerRequest,
): Promise<{ steps: PlanOutput['steps']; usage: Usage; calls: number } | { error: string; usage: Usage; calls: number }> {
  const team = stepAgents(agents);
  const system = [
    systemPrompt(planner, agents),
    'Agents that can carry out steps:\n' + team.map((a) => `- ${a.name}: ${a.description}`).join('\n'),
    'Answer with only a JSON object: {"steps": [{"agent": "<agent name>", "action": "<what that agent must do>"}]}. ' +
      'Steps run one after another; each agent sees only its action and the results of the earlier steps.',
  ].join('\n\n');
  const messages: ChatMessage[] = [
    { role: 'system', content: system },
    { role: 'user', content: req.revision ? `Goal: ${req.goal}\n\n${req.revision}` : `Goal: ${req.goal}` },
  ];
  const usage: Usage = { promptTokens: 0, completionTokens: 0 };
  let error = '';
  for (let attempt = 1; attempt <= PLANNER_ATTEMPTS; attempt++) {
    const result = await model.chat(
      { provider: planner.provider ?? 'default', model: planner.model!, messages, temperature: planner.temperature, responseSchema: RESPONSE_SCHEMA },
      { signal: req.signal },
    );
    usage.promptTokens += result.usage.promptTokens;
    usage.completionTokens += result.usage.completionTokens;
    const parsed = parsePlan(result.content, team.map((a) => a.name), Boolean(req.revision));
    if (parsed.success) return { steps: parsed.steps, usage, calls: attempt };
    error = parsed.error;
    messages.push({ role: 'assistant', content: result.content ?? '' });
    messages.push({ role: 'user', content: `That is not a valid plan: ${error} Answer again with only the corrected JSON object.` });
  }
  return { error: `The planner did not produce a valid plan in ${PLANNER_ATTEMPTS} attempts. Last problem: ${error}`, usage, calls: PLANNER_ATTEMPTS };
}
