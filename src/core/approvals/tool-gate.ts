import { ShutdownSignal } from '../runs/executor.js';
import type { ToolApprovalDecision, ToolApprovalGate } from '../runs/approval-gate.js';
import { principalId } from '../store/types.js';
import type { ApprovalService } from './service.js';

/**
 * The default gate: each tool call that needs approval becomes a persisted Approval (one per run and
 * call), announced on the conversation; the run waits in `requires_action` until a person decides,
 * in this process or another. A shutdown leaves the approval pending for the next process; a
 * cancelled run cancels it.
 */
export function createToolApprovalGate(approvals: ApprovalService): ToolApprovalGate {
  return {
    async request(req): Promise<ToolApprovalDecision> {
      let approval = await approvals.requestToolApproval(req);
      if (approval.status === 'pending') {
        try {
          approval = await approvals.waitForDecision(approval.id, { signal: req.signal, depth: req.run.depth });
        } catch (err) {
          if (req.signal.aborted && !(req.signal.reason instanceof ShutdownSignal)) {
            await approvals.cancel(approval.id, 'the run was stopped before a decision').catch(() => false);
          }
          throw err;
        }
      }
      return {
        approved: approval.status === 'approved',
        feedback: approval.status === 'cancelled' ? 'The approval was cancelled.' : approval.feedback,
        by: approval.decidedBy ? principalId(approval.decidedBy) : undefined,
      };
    },
  };
}
