// Stage: the call's event (decision, what was masked, the masked response as stored) is made
// durable, and only then is the response released. An approval whose statement ran is spent.
import type { Stage } from '../call.js';
import { finish } from '../call.js';

export const audit: Stage = {
  name: 'release',
  async run(kit, call) {
    const { decision, report, released } = call;
    const masked = report!.maskedColumns.length > 0 || report!.detectorHits.some((h) => h.count > 0) || !!decision?.maskPlan?.derived?.length;
    if (masked) kit.metrics.maskedCells.inc({ reason: 'policy' }, report!.maskedColumns.length);
    const failed = released!.isError === true;
    await finish(kit, call, {
      decision: decision?.action === 'approval_required' ? 'approval_required' : masked ? 'mask' : decision?.action,
      ...kit.maskFields(report!, released, call.auditCopy),
      outcome: failed ? 'failure' : 'success',
      error_code: failed ? 'upstream_tool_error' : null,
    });
    if (call.approvalId && call.held) await kit.deps.approvals!.executed(call.held, call.approvalId, failed ? 'failure' : 'success', call.rowsAffected);
  },
};
