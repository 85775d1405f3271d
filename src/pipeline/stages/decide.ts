// Stage: the policy decision (allow, mask, deny, approval) with its rule ids, and the SQL the
// engine will run when it is the rewritten one.
import { sha256Hex } from '../../common/digest.js';
import { refuse, type Stage } from '../call.js';

export const decide: Stage = {
  name: 'decide',
  async run(kit, call) {
    const { policy, roles, ev } = call;
    const decision = policy.decide({ identity: call.identity, roles, tool: call.tool, args: call.args, analysis: call.analysis, catalog: call.catalog, rewrite: call.rewrite });
    call.decision = decision;
    Object.assign(ev, kit.decisionFields(decision));
    kit.metrics.decisions.inc({ action: decision.action });
    if (decision.engine && call.shape?.sqlArgument && call.analysis) {
      call.executed = decision.engine.sql;
      ev.sql_executed = kit.sqlForAudit(call.executed, policy, roles, call.analysis.dialect);
      ev.sql_executed_sha256 = sha256Hex(call.executed);
    }
    if (decision.action !== 'deny') return;
    return refuse(kit, call, { message: decision.message, code: 'policy_denied' });
  },
};
