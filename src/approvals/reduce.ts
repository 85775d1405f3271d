// The fold from audit events to approval state. Pure: it reads only the events (their times,
// not the clock), so every instance and every restart that sees the same events derives the
// same state. It also re-checks the separation-of-duties rules on the events themselves, so
// an event that should never have been written (self-approval, a vote after expiry) does not
// count even if it is in the log; such events are reported as anomalies.
import type { AuditEvent } from '../audit/event.js';
import { callBinding, sameActor } from './binding.js';
import { APPROVAL_EVENT_TYPES, type ApprovalActor, type ApprovalRecord, type ApprovalState, type ApprovalStatus } from './types.js';

export function emptyApprovalState(): ApprovalState {
  return { byId: new Map(), byBinding: new Map(), seen: new Set(), anomalies: [] };
}

function isApprovalEvent(e: Pick<AuditEvent, 'event_type'>): boolean {
  return (APPROVAL_EVENT_TYPES as readonly string[]).includes(e.event_type);
}

export function isOpen(status: ApprovalStatus): boolean {
  return status === 'pending' || status === 'approved';
}

/** Status as of `nowMs`: an open request past its expiry is expired even before its event is written. */
export function statusAt(rec: ApprovalRecord, nowMs: number): ApprovalStatus {
  if (isOpen(rec.status) && nowMs >= Date.parse(rec.expiresAt)) return 'expired';
  return rec.status;
}

function actorFromEvent(e: AuditEvent): ApprovalActor {
  return {
    subject: e.actor_subject,
    issuer: e.actor_issuer,
    email: e.actor_email,
    display: e.actor_email ?? e.actor_subject ?? '(unknown)',
    roles: [...e.actor_roles],
  };
}

/** The approval block the requested event carries in request_json (see gate.ts). */
function bindingOf(e: AuditEvent): { approverRoles: string[]; argsSha256: string | null } {
  try {
    const parsed = JSON.parse(e.request_json ?? 'null') as { approval?: { approver_roles?: unknown; args_sha256?: unknown } } | null;
    const a = parsed?.approval;
    const roles = Array.isArray(a?.approver_roles) ? a.approver_roles.filter((r): r is string => typeof r === 'string') : [];
    return { approverRoles: roles, argsSha256: typeof a?.args_sha256 === 'string' ? a.args_sha256 : null };
  } catch {
    // Unreadable binding: nobody can approve and no call can match (fail closed).
    return { approverRoles: [], argsSha256: null };
  }
}

/** The executed statement's row count, when the upstream reported one (response_json of approval_executed). */
function rowsAffectedOf(e: AuditEvent): number | null {
  try {
    const n = (JSON.parse(e.response_json ?? 'null') as { rows_affected?: unknown } | null)?.rows_affected;
    return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : null;
  } catch {
    return null;
  }
}

function requested(state: ApprovalState, e: AuditEvent): void {
  const id = e.approval_id!;
  if (state.byId.has(id)) {
    state.anomalies.push({ eventId: e.event_id, approvalId: id, reason: 'duplicate approval_requested for an existing id' });
    return;
  }
  if (!e.sql_sha256 || !e.approval_expires_at || !e.tool_name) {
    state.anomalies.push({ eventId: e.event_id, approvalId: id, reason: 'approval_requested without sql_sha256, tool_name or approval_expires_at' });
    return;
  }
  const binding = bindingOf(e);
  const rec: ApprovalRecord = {
    id,
    status: 'pending',
    requester: actorFromEvent(e),
    requestedAt: e.event_time,
    requestEventId: e.event_id,
    tool: e.tool_name,
    sqlSha256: e.sql_sha256,
    sqlFingerprint: e.sql_fingerprint,
    sqlText: e.sql_text,
    argsSha256: binding.argsSha256,
    tables: [...e.target_tables],
    statementTypes: [...e.statement_types],
    statementKinds: [...e.statement_kinds],
    justification: e.justification,
    required: Math.max(1, e.approvals_required ?? 1),
    approverRoles: binding.approverRoles,
    ruleIds: [...e.rule_ids],
    policyReason: e.decision_reason,
    expiresAt: e.approval_expires_at,
    approvals: [],
    rejection: null,
    closedAt: null,
    claimedAt: null,
    execution: null,
    sessionId: e.session_id,
    requestId: e.request_id,
  };
  state.byId.set(id, rec);
  const key = callBinding(rec);
  if (key !== null) state.byBinding.set(key, [...(state.byBinding.get(key) ?? []), rec]);
}

function granted(state: ApprovalState, rec: ApprovalRecord, e: AuditEvent): void {
  const anomaly = (reason: string): void => {
    state.anomalies.push({ eventId: e.event_id, approvalId: rec.id, reason });
  };
  if (e.outcome !== 'success') return;
  const actor = actorFromEvent(e);
  if (rec.status !== 'pending') return anomaly(`approval_granted on a request that is ${rec.status}`);
  if (e.event_time >= rec.expiresAt) return anomaly('approval_granted after the request expired');
  if (sameActor(actor, rec.requester)) return anomaly('approval_granted by the requester (self-approval)');
  if (rec.approvals.some((v) => sameActor(v.actor, actor))) return anomaly('second approval_granted by the same approver');
  if (!actor.roles.some((r) => rec.approverRoles.includes(r))) return anomaly('approval_granted by an actor without an approver role');
  rec.approvals.push({ actor, at: e.event_time, reason: e.decision_reason, eventId: e.event_id });
  if (rec.approvals.length >= rec.required) rec.status = 'approved';
}

function apply(state: ApprovalState, e: AuditEvent): void {
  if (e.event_type === 'approval_requested') return requested(state, e);
  const rec = state.byId.get(e.approval_id!);
  if (!rec) {
    // The request may predate the history this instance loaded; nothing to fold into.
    state.anomalies.push({ eventId: e.event_id, approvalId: e.approval_id, reason: `${e.event_type} for an unknown approval id` });
    return;
  }
  switch (e.event_type) {
    case 'approval_granted':
      return granted(state, rec, e);
    case 'approval_rejected':
      if (!isOpen(rec.status)) return;
      rec.status = 'rejected';
      rec.rejection = { actor: actorFromEvent(e), at: e.event_time, reason: e.decision_reason, eventId: e.event_id };
      rec.closedAt = e.event_time;
      return;
    case 'approval_expired':
      if (!isOpen(rec.status)) return;
      rec.status = 'expired';
      rec.closedAt = e.event_time;
      return;
    case 'approval_executed':
      if (e.outcome === 'pending') {
        // The claim: written before forwarding, so a crash mid-execution cannot reuse it.
        if (rec.status !== 'approved') {
          state.anomalies.push({ eventId: e.event_id, approvalId: rec.id, reason: `approval claimed while ${rec.status}` });
          return;
        }
        if (e.event_time >= rec.expiresAt) {
          state.anomalies.push({ eventId: e.event_id, approvalId: rec.id, reason: 'approval claimed after it expired' });
          return;
        }
        rec.status = 'executed';
        rec.claimedAt = e.event_time;
        rec.closedAt = e.event_time;
        return;
      }
      if (rec.status !== 'executed') {
        state.anomalies.push({ eventId: e.event_id, approvalId: rec.id, reason: `execution recorded without a claim while ${rec.status}` });
        return;
      }
      rec.execution = {
        at: e.event_time,
        outcome: e.outcome === 'success' ? 'success' : 'failure',
        sessionId: e.session_id,
        requestId: e.request_id,
        rowsAffected: rowsAffectedOf(e),
      };
      return;
  }
}

/** Folds one event into the state (in place); returns whether it was new and about approvals. */
export function applyApprovalEvent(state: ApprovalState, e: AuditEvent): boolean {
  if (!isApprovalEvent(e) || state.seen.has(e.event_id)) return false;
  state.seen.add(e.event_id);
  if (!e.approval_id) {
    state.anomalies.push({ eventId: e.event_id, approvalId: null, reason: `${e.event_type} without approval_id` });
    return true;
  }
  apply(state, e);
  return true;
}

/** reduceApprovals(events) → state. Events of other types are ignored. */
export function reduceApprovals(events: Iterable<AuditEvent>, state: ApprovalState = emptyApprovalState()): ApprovalState {
  for (const e of events) applyApprovalEvent(state, e);
  return state;
}
