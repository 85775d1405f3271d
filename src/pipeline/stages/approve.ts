// Stage: a statement policy holds for approval runs only with an approval this exact call may
// consume; otherwise the agent is told what is pending (or rejected, expired, used) and nothing
// runs. The approvals store failing never lets a destructive statement through.
import { finish, refuse, type Stage } from '../call.js';
import { BqwardenError } from '../../common/errors.js';
import { withRules } from '../../approvals/views.js';

export const approve: Stage = {
  name: 'approve',
  async run(kit, call) {
    const { decision, ev } = call;
    if (call.analysis && call.sql !== null && decision) {
      call.held = { ctx: call.ctx, roles: call.roles, tool: call.tool, args: call.args, sql: call.sql, analysis: call.analysis, decision, justification: ev.justification ?? null, meta: call.meta };
    }
    if (decision?.action !== 'approval_required') return;
    const gate = kit.deps.approvals;
    if (!gate || !call.held) {
      const msg = `${withRules(decision.message, decision.ruleIds)} — but approvals are not enabled on this gateway, so the statement is denied. Run only statements that need no approval, or ask the operators to enable approvals.`;
      return refuse(kit, call, { message: msg, code: 'approvals_disabled' });
    }
    let g;
    try {
      g = await gate.check(call.held);
    } catch (err) {
      // A catalog code says which part failed (claim store, statement store, audit); its text stays with the operator.
      const part = err instanceof BqwardenError ? ` (${err.errorCode})` : '';
      const msg = `approval state could not be checked${part}, so the statement is not executed (fail closed). Nothing ran; send the call again in a moment.`;
      return refuse(kit, call, { message: msg, code: 'approvals_unavailable', outcome: 'error', cause: err });
    }
    if (g.status !== 'approved') {
      await finish(kit, call, { outcome: 'pending', approval_id: g.approvalId, error_code: `approval_${g.status}`, error_message: g.message, response_json: kit.payload(g.result) });
      return { stop: g.result };
    }
    call.approvalId = g.approvalId;
    call.approved = g;
    Object.assign(ev, { approval_id: g.approvalId, approval_requester: g.requester, approval_approvers: g.approvers, approvals_required: g.required });
  },
};
