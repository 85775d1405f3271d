// Stage zero, for every MCP method: the method rule (methods: in policy). A refused method is
// audited and answered as a JSON-RPC error; nothing reaches the upstream.
import { GatewayError, type RequestContext } from '../types.js';
import type { PolicyView } from '../deps.js';
import type { Kit } from '../kit.js';

export async function admit(kit: Kit, ctx: RequestContext, policy: PolicyView, roles: string[], method: string): Promise<void> {
  const allowed = policy.methodAllowed(roles, method);
  if (allowed.allowed) return;
  await kit.audit({
    ...kit.base(ctx, policy, roles, method),
    decision: 'deny',
    rule_ids: [allowed.ruleId],
    decision_reason: allowed.message,
    outcome: 'denied',
    error_code: 'method_denied',
    duration_ms: kit.elapsed(ctx),
  });
  kit.metrics.requests.inc({ method: kit.methodLabel(method), decision: 'deny' });
  throw GatewayError.of('method_denied', allowed.message, { rule_id: allowed.ruleId });
}
