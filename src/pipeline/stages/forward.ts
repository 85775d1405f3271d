// Stage: the call goes upstream — after its write-ahead intent where one is needed (the intent
// is durable before the upstream sees the call), with the rewritten SQL, through the write path
// when an approval released it. Row handles in the answer are resolved here, by the gateway's own
// lookups on the same upstream. A failure is audited where it happens.
import { GatewayError, type Forward } from '../types.js';
import type { Stage, ToolCall } from '../call.js';
import type { Kit } from '../kit.js';
import { needsIntent, writeIntent } from '../intent.js';
import type { HandlePlan } from '../../masking/types.js';
import { sha256Hex } from '../../common/digest.js';
import { countingSql, takeRowCount } from '../approval-notice.js';

export const forward: Stage = {
  name: 'upstream',
  async run(kit, call) {
    const { ctx, ev, params, args, shape, decision } = call;
    // An approved statement runs through the write path when there is one: the read path's
    // credential cannot change data, so a write misjudged as a read fails there.
    const writer = call.approvalId !== null ? kit.deps.writer : null;
    if (writer) ev.upstream = writer.name;
    const send: Forward = writer ? (p) => writer.forward(p, ctx.signal) : call.forward;
    // An approved write also asks the engine how many rows it changed (same call, same connection).
    const counting = call.approved && call.analysis && call.sql !== null && shape?.sqlArgument ? countingSql(call.executed ?? call.sql, call.analysis) : null;
    if (counting !== null && call.analysis) {
      ev.sql_executed = kit.sqlForAudit(counting, call.policy, call.roles, call.analysis.dialect);
      ev.sql_executed_sha256 = sha256Hex(counting);
    }
    const sent = counting ?? call.executed;
    // call.args differs from the client's arguments when the upstream's kind pinned one (analyze).
    const forwarded =
      sent !== null && shape?.sqlArgument ? { ...params, arguments: { ...args, [shape.sqlArgument]: sent } } : args !== params.arguments && shape ? { ...params, arguments: args } : params;
    // Before the try: an intent that cannot be written means the call never left the gateway, so
    // no approval is marked executed, and the runner audits the refusal.
    if (needsIntent(kit.deps.audit, 'tools/call', call.analysis, shape?.kind)) ev.intent_id = await writeIntent(kit.deps.audit, ev, kit.deps.log);
    try {
      let result = await kit.forward(ctx, ev, send, forwarded);
      if (counting !== null) ({ result, rows: call.rowsAffected } = takeRowCount(result));
      if (decision?.engine?.handles && shape?.sqlArgument) result = await resolveRowHandles(kit, call, shape.sqlArgument, result, decision.engine.handles);
      call.upstream = result;
    } catch (err) {
      // A consumed approval whose statement failed upstream is recorded as such.
      if (call.approvalId && call.held) await kit.deps.approvals!.executed(call.held, call.approvalId, 'failure').catch(() => undefined);
      call.audited = true; // kit.forward and the handle lookup audit their own failure
      throw err;
    }
  },
};

/**
 * Replaces the row handles a rewritten query returned with the masked values of those rows,
 * looked up by the gateway itself on the same upstream. A failed lookup withholds the result.
 */
async function resolveRowHandles(kit: Kit, call: ToolCall, sqlArgument: string, result: Record<string, unknown>, plan: HandlePlan): Promise<Record<string, unknown>> {
  if (result.isError === true) return result;
  const run = async (sql: string) => {
    const r = await call.forward({ name: call.tool, arguments: { [sqlArgument]: sql } });
    if (r.isError === true) throw new Error("the upstream refused the gateway's own lookup of masked values");
    return ((r.content as { type?: string; text?: string }[] | undefined) ?? []).filter((c) => c.type === 'text' && typeof c.text === 'string').map((c) => c.text!);
  };
  try {
    return (await kit.deps.resolveHandles(result, plan, run)).result;
  } catch (err) {
    const msg = `masked values could not be resolved, so the result is withheld (fail closed): ${(err as Error).message}`;
    await kit.audit({ ...call.ev, outcome: 'error', error_code: 'masking_failed', error_message: msg, duration_ms: kit.elapsed(call.ctx) });
    throw GatewayError.of('masking_failed', msg);
  }
}
