import { principalId } from '../../index.js';
import { CliError, cliPrincipal, openSwitchboard, parse } from '../common.js';
import { clipLines } from '../render.js';

const HELP = `Usage: switchboard approve ID [--action "edited action"] [--feedback TEXT]

Approves a pending approval (see \`switchboard approvals\`) as you ($SWITCHBOARD_USER, or your
login name). For a plan step, --action runs that action instead of the planned one.
The process carrying the work on (or the next one to start) picks the decision up.
Exit status: 0 decided (or already decided: the first decision stands), 1 refused.`;

/** `approve` and `reject`: one decision, by the person at the terminal. */
export async function decideFromCli(argv: string[], approve: boolean, help: string): Promise<number> {
  const { values, positionals } = parse(approve ? 'approve' : 'reject', argv, { feedback: { type: 'string' }, action: { type: 'string' } });
  if (values.help) {
    process.stdout.write(help + '\n');
    return 0;
  }
  const [id, ...extra] = positionals;
  if (!id || extra.length > 0) throw new CliError(`Give one approval id. ${help.split('\n')[0]}`, 2);
  if (!approve && values.action !== undefined) throw new CliError('--action goes with approve: reject with --feedback instead.', 2);
  // Deciding needs no model and must not take over other processes' runs: it only records the decision.
  const sb = await openSwitchboard({ config: values.config, needsModel: false, resume: false });
  try {
    const by = cliPrincipal();
    const { approval, alreadyDecided } = await sb.decide(id, { approve, feedback: values.feedback, action: values.action, by });
    const first = approval.summary.split('\n')[0];
    if (alreadyDecided) {
      const who = approval.decidedBy ? principalId(approval.decidedBy) : 'someone';
      process.stdout.write(`${id} was already ${approval.status} by ${who}; that decision stands and nothing changed.\n`);
      return 0;
    }
    if (approval.action) {
      process.stdout.write(`Approved ${id} with the edited action: ${approval.action}\n  (instead of: ${first})\n`);
    } else {
      // The whole of what was decided — the code too, shortened — not just the head line that ends in a colon.
      process.stdout.write(`${approve ? 'Approved' : 'Rejected'} ${id}: ${clipLines(approval.summary, { indent: '    ' })}\n`);
    }
    if (approval.planId) {
      process.stdout.write(`If no switchboard process is carrying the plan on, continue it with: switchboard plan --resume ${approval.planId}\n`);
    }
    return 0;
  } finally {
    await sb.close();
  }
}

export default function approveCommand(argv: string[]): Promise<number> {
  return decideFromCli(argv, true, HELP);
}
