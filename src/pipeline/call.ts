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
export type StageOutcome = void | { stop: Record<string, unknown> };

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

/** Ends the call with a tool error the agent can act on, after auditing it. */
export async function refuse(kit: Kit, call: ToolCall, message: string, fields: Partial<AuditEventInput>): Promise<{ stop: Record<string, unknown> }> {
  const result = { content: [{ type: 'text', text: message }], isError: true };
  await finish(kit, call, { outcome: 'denied', error_message: message, ...fields });
  return { stop: result };
}
