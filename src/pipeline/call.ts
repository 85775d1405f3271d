// One tools/call as it moves through the stages. Each stage reads what the stages before it
// set and fills its own part; the names say which stage owns which field.
import type { AuditEventInput } from '../audit/event.js';
import type { Analysis, SchemaCatalog } from '../sql/types.js';
import type { Decision, ToolShape } from '../policy/types.js';
import type { EnginePlanResult } from '../policy/types.js';
import type { MaskPlan, MaskReport } from '../masking/types.js';
import type { Identity } from '../identity/types.js';
import type { Forward, RequestContext } from './types.js';
import type { GateResult, HeldCall, PolicyView } from './deps.js';
import type { Kit } from './kit.js';
import type { ErrorCode } from '../common/errors.js';

export interface ToolCall {
  // given
  ctx: RequestContext;
  policy: PolicyView;
  roles: string[];
  identity: Identity;
  params: Record<string, unknown>;
  forward: Forward;
  tool: string;
  args: Record<string, unknown>;
  meta: Record<string, unknown> | undefined;
  /** The call's audit event, filled stage by stage and written once at the end (or at a refusal). */
  ev: AuditEventInput;
  // analyze
  shape: ToolShape | null;
  sql: string | null;
  analysis: Analysis | null;
  catalog: SchemaCatalog | null;
  // rewrite
  rewrite: EnginePlanResult | null;
  // decide
  decision: Decision | null;
  /** The SQL forwarded when it is not the caller's (masking projections in place). */
  executed: string | null;
  // approve
  held: HeldCall | null;
  approvalId: string | null;
  /** The approval this call consumes (who asked, who approved and why), for its answer. */
  approved: Extract<GateResult, { status: 'approved' }> | null;
  // forward
  upstream: Record<string, unknown> | null;
  /** Rows an approved write changed, when the upstream reported it in the same call. */
  rowsAffected: number | null;
  // mask
  clientPlan: MaskPlan | null;
  report: MaskReport | null;
  auditCopy: Record<string, unknown> | null;
  released: Record<string, unknown> | null;
  /** Set once the call's final event is durable: nothing is released before. */
  audited: boolean;
}

/** A stage either lets the call go on, or ends it with a result it has already audited. */
type StageOutcome = void | { stop: Record<string, unknown> };

export interface Stage {
  /** Also the label of its latency histogram (bqwarden_request_duration_seconds{stage}). */
  name: string;
  run(kit: Kit, call: ToolCall): Promise<StageOutcome> | StageOutcome;
}

/** Audits the call's final event and marks it audited (the one way a stage ends a call). */
export async function finish(kit: Kit, call: ToolCall, fields: Partial<AuditEventInput>): Promise<void> {
  await kit.audit({ ...call.ev, ...fields, duration_ms: kit.elapsed(call.ctx) });
  call.audited = true;
}

/** Why a stage refuses a call: what the agent reads, the catalog code, the rule that refused. */
export interface Refusal {
  /** The tool error the agent reads; also the audit's decision_reason. */
  message: string;
  code: ErrorCode;
  /** The rule that refused, added to the rules the call already matched (none: those rules refused). */
  rule?: string;
  /**
   * 'denied' when a rule refused; 'error' when something needed to decide failed (the call is
   * refused, fail closed) — the message is then also the audit's error_message.
   */
  outcome?: 'denied' | 'error';
  /**
   * What failed, when a part needed to decide did: its text is the operator's (a path, a disk
   * error, a stack line), so it goes to the log and the audit's error_message (scanned), never
   * into the agent's message.
   */
  cause?: unknown;
  /** Audit fields the refusal adds (the approval a changed tool waits for). */
  fields?: Partial<AuditEventInput>;
}

/**
 * Ends the call with a tool error the agent can act on, after auditing it: the one way a stage
 * refuses, so every refusal is recorded alike (decision deny, the rule, the catalog code, the
 * answer as released) and counted once as a deny.
 */
export async function refuse(kit: Kit, call: ToolCall, r: Refusal): Promise<{ stop: Record<string, unknown> }> {
  const result = { content: [{ type: 'text', text: r.message }], isError: true };
  // decide has already counted a deny decision; every other refusal is counted here.
  if (call.decision?.action !== 'deny') kit.metrics.decisions.inc({ action: 'deny' });
  const matched = call.ev.rule_ids ?? [];
  const outcome = r.outcome ?? 'denied';
  const cause = r.cause === undefined ? null : r.cause instanceof Error ? r.cause.message : String(r.cause);
  if (cause !== null) kit.deps.log.error({ err: cause, error_code: r.code, tool: call.tool }, 'call refused: a part needed to decide it failed');
  await finish(kit, call, {
    decision: 'deny',
    rule_ids: r.rule && !matched.includes(r.rule) ? [...matched, r.rule] : matched,
    decision_reason: r.message,
    outcome,
    error_code: r.code,
    error_message: outcome === 'error' ? (cause === null ? r.message : `${r.message} Cause: ${cause}`) : null,
    response_json: kit.payload(result),
    ...r.fields,
  });
  return { stop: result };
}
