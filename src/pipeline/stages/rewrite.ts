// Stage: masking in the engine. Policy plans, for every table the statement names that the
// caller sees masked, the projection the engine reads instead (docs/masking.md); decide applies
// the plan (or refuses a read it cannot place) after its table checks.
import type { Stage } from '../call.js';

export const rewrite: Stage = {
  name: 'rewrite',
  run(_kit, call) {
    if (!call.analysis) return;
    call.rewrite = call.policy.rewrite({ identity: call.identity, roles: call.roles, tool: call.tool, args: call.args, analysis: call.analysis, catalog: call.catalog });
  },
};
