// How examiner views file an event: a denial under the rules that refused it, or — when no
// rule did (a refused credential, a malformed request, a console page refused) — under what
// refused it, never under "(no rule id)"; and the approval workflow (requests, votes,
// rejections, expiries, executions, refused approval actions) apart from policy denials.
import type { AuditEvent } from './event.js';

type Fields = Pick<AuditEvent, 'event_type' | 'approval_id' | 'decision' | 'rule_ids' | 'error_code'>;

/** The approval workflow's own events: counted apart from policy decisions. */
export function isApprovalWorkflow(e: Pick<AuditEvent, 'event_type' | 'approval_id'>): boolean {
  return e.event_type.startsWith('approval_') || (e.event_type === 'http_error' && !!e.approval_id);
}

/** A refusal an examiner counts as a denial (policy, authentication, input, access to audit data). */
export function isDenial(e: Fields): boolean {
  return e.decision === 'deny' && !isApprovalWorkflow(e);
}

/** What a denial is filed under: its rule ids, else what refused it (event type and error code). */
export function denialKeys(e: Fields): string[] {
  return e.rule_ids.length ? e.rule_ids : [`${e.event_type}: ${e.error_code ?? 'refused'}`];
}

/** The approval workflow step an event records, for counts ("rejected", "refused approval action" …). */
export function approvalStep(e: Pick<AuditEvent, 'event_type' | 'outcome' | 'error_code'>): string {
  if (e.event_type === 'http_error') return `refused approval action${e.error_code ? ` (${e.error_code.replace(/^approval_/, '')})` : ''}`;
  if (e.event_type === 'approval_executed') return e.outcome === 'pending' ? 'claimed for execution' : `executed (${e.outcome})`;
  return e.event_type.replace(/^approval_/, '');
}
