// Runs a tools/call through the stages, in the one fixed order (the order is a security
// property, not a plug-in point): rate-limit → pin → analyze → rewrite → decide → dry-run → approve → forward →
// mask → audit and release. Admission (the MCP method rule) happens before, for every method.
//
// The runner owns two guarantees so no stage has to remember them:
//   - any failure denies the call and is audited (a stage that fails without auditing gets an
//     error event here), never a crash and never a release;
//   - nothing is released before the call's final event is durable.
import { GatewayError } from './types.js';
import type { Stage, ToolCall } from './call.js';
import { closedErrorCode } from './audit-fields.js';
import type { Kit } from './kit.js';
import { rateLimit } from './stages/rate-limit.js';
import { pin } from './stages/pin.js';
import { analyze } from './stages/analyze.js';
import { rewrite } from './stages/rewrite.js';
import { decide } from './stages/decide.js';
import { dryRun } from './stages/dry-run.js';
import { approve } from './stages/approve.js';
import { forward } from './stages/forward.js';
import { mask } from './stages/mask.js';
import { audit } from './stages/audit.js';

const TOOL_CALL_STAGES: readonly Stage[] = Object.freeze([rateLimit, pin, analyze, rewrite, decide, dryRun, approve, forward, mask, audit]);

export async function runToolCall(kit: Kit, call: ToolCall): Promise<Record<string, unknown>> {
  for (const stage of TOOL_CALL_STAGES) {
    const end = kit.metrics.latency.startTimer({ method: 'tools/call', stage: stage.name });
    let outcome;
    try {
      outcome = await stage.run(kit, call);
    } catch (err) {
      if (!call.audited) {
        call.audited = true;
        const message = err instanceof GatewayError ? err.message : `internal error in stage ${stage.name}, so the call is refused (fail closed): ${(err as Error).message}`;
        try {
          await kit.audit({
            ...call.ev,
            decision: call.ev.decision ?? 'deny',
            outcome: 'error',
            ...(err instanceof GatewayError ? closedErrorCode(String(err.data?.reason ?? 'gateway_error'), message) : { error_code: 'internal_error' as const, error_message: message }),
            duration_ms: kit.elapsed(call.ctx),
          });
        } catch (auditErr) {
          // The call is refused either way. When the refusal itself cannot be recorded, the caller
          // still hears the first cause (e.g. "not sent upstream"), which says whether anything ran.
          if (!(err instanceof GatewayError)) throw auditErr;
        }
      }
      if (err instanceof GatewayError) throw err;
      kit.deps.log.error({ err: (err as Error).message, stage: stage.name }, 'pipeline stage failed; call refused');
      throw GatewayError.of('internal_error', `the gateway could not complete stage ${stage.name}, so the call is refused`);
    } finally {
      end();
    }
    if (outcome && 'stop' in outcome) {
      if (!call.audited) throw GatewayError.of('internal_error', `stage ${stage.name} ended the call without its audit event; refused`);
      return outcome.stop;
    }
  }
  if (!call.audited || !call.released) throw GatewayError.of('internal_error', 'the call reached the end of the pipeline without a durable audit event; nothing is released');
  return call.released;
}
