import { SwitchboardError } from '../errors.js';

/** A decision on something that no longer waits for one: a cancelled plan, a step that moved on, an ended run. */
export class NotAwaitingApprovalError extends SwitchboardError {
  readonly approvalId: string;
  constructor(approvalId: string, why: string) {
    super('not_awaiting_approval', `Approval ${approvalId} is no longer awaiting a decision: ${why}.`);
    this.approvalId = approvalId;
  }
}
