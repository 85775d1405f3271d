// How an approval record is shown through the doors (JSON for the API and CLI; the HTML page
// builds on the same view). Exact statement text appears only in the single-request view.
import { callBinding } from './binding.js';
import type { ApprovalRecord, ApprovalStatus } from './types.js';

export interface ApprovalView {
  id: string;
  status: ApprovalStatus;
  requester: string;
  requested_at: string;
  /** Seconds since the request, as of the answer. */
  age_seconds: number;
  /**
   * Same value for every request by the same person for the same tool, statement text and
   * arguments: duplicates share it (list views group by it).
   */
  binding: string;
  tool: string;
  tables: string[];
  statement_types: string[];
  statement_kinds: string[];
  /** The audit form (literals redacted unless policy keeps them). */
  sql_text: string | null;
  sql_sha256: string;
  sql_fingerprint: string | null;
  justification: string | null;
  policy_reason: string | null;
  rule_ids: string[];
  approver_roles: string[];
  approvals_required: number;
  approvals: { by: string; at: string; reason: string | null }[];
  rejection: { by: string; at: string; reason: string | null } | null;
  expires_at: string;
  closed_at: string | null;
  execution: { at: string; outcome: string; rows_affected: number | null } | null;
  review_url: string;
}

export interface ApprovalDetailView extends ApprovalView {
  /** The exact statement to approve; null when this instance does not hold it. */
  exact_sql: string | null;
  /** What the viewer may do now, and why not when they may not. */
  can_approve: boolean;
  can_reject: boolean;
  why_not: string | null;
  /** Other requests for the very same call (same requester, tool, text, arguments), oldest first. */
  duplicates: { id: string; status: ApprovalStatus; requested_at: string }[];
}

/** "3 min", "2 h 5 min", "4 days": how long ago, for people scanning a list. */
export function ageText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h${s % 3600 >= 60 ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  const d = Math.floor(s / 86_400);
  return `${d} day${d === 1 ? '' : 's'}`;
}

/** Appends "(rule a, b)" for the rule ids the text does not already name, so no id is printed twice. */
export function withRules(text: string | null, ruleIds: string[]): string {
  const base = (text ?? '').trim();
  const named = (id: string) => new RegExp(`(?<![\\w-])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(base);
  const missing = [...new Set(ruleIds)].filter((id) => !named(id));
  if (!missing.length) return base;
  return `${base}${base ? ' ' : ''}(rule ${missing.join(', ')})`;
}

/** Groups views that bind the same call, keeping the list's order (each group where its first member is). */
export function groupDuplicates<T extends Pick<ApprovalView, 'binding'>>(views: T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const v of views) {
    const g = groups.get(v.binding);
    if (g) g.push(v);
    else groups.set(v.binding, [v]);
  }
  return [...groups.values()];
}

export function approvalView(rec: ApprovalRecord, status: ApprovalStatus, reviewUrl: string, now = Date.now()): ApprovalView {
  return {
    id: rec.id,
    status,
    requester: rec.requester.display,
    requested_at: rec.requestedAt,
    age_seconds: Math.max(0, Math.round((now - Date.parse(rec.requestedAt)) / 1000)),
    // A request that binds no call is a group of its own.
    binding: callBinding(rec) ?? `unbound:${rec.id}`,
    tool: rec.tool,
    tables: rec.tables,
    statement_types: rec.statementTypes,
    statement_kinds: rec.statementKinds,
    sql_text: rec.sqlText,
    sql_sha256: rec.sqlSha256,
    sql_fingerprint: rec.sqlFingerprint,
    justification: rec.justification,
    policy_reason: rec.policyReason,
    rule_ids: rec.ruleIds,
    approver_roles: rec.approverRoles,
    approvals_required: rec.required,
    approvals: rec.approvals.map((v) => ({ by: v.actor.display, at: v.at, reason: v.reason })),
    rejection: rec.rejection ? { by: rec.rejection.actor.display, at: rec.rejection.at, reason: rec.rejection.reason } : null,
    expires_at: rec.expiresAt,
    closed_at: rec.closedAt,
    execution: rec.execution
      ? { at: rec.execution.at, outcome: rec.execution.outcome, rows_affected: rec.execution.rowsAffected }
      : rec.claimedAt
        ? { at: rec.claimedAt, outcome: 'started', rows_affected: null }
        : null,
    review_url: reviewUrl,
  };
}
