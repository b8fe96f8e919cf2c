import { decideFromCli } from './approve.js';

const HELP = `Usage: switchboard reject ID --feedback "why, and what instead"

Rejects a pending approval (see \`switchboard approvals\`) as you ($SWITCHBOARD_USER, or your login
name). For a plan step the planner revises the remaining steps with your feedback; for a tool call
the agent is told it was declined, with your feedback.
Exit status: 0 decided (or already decided: the first decision stands), 1 refused.`;

export default function rejectCommand(argv: string[]): Promise<number> {
  return decideFromCli(argv, false, HELP);
}
