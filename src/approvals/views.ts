// How an approval record is shown through the doors (JSON for the API and CLI; the HTML page
// builds on the same view). Exact statement text appears only in the single-request view.
import type { ApprovalRecord, ApprovalStatus } from './types.js';

export interface ApprovalView {
  id: string;
  status: ApprovalStatus;
  requester: string;
  requested_at: string;
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
  execution: { at: string; outcome: string } | null;
  review_url: string;
}

export interface ApprovalDetailView extends ApprovalView {
  /** The exact statement to approve; null when this instance does not hold it. */
  exact_sql: string | null;
  /** What the viewer may do now, and why not when they may not. */
  can_approve: boolean;
  can_reject: boolean;
  why_not: string | null;
}

export function approvalView(rec: ApprovalRecord, status: ApprovalStatus, reviewUrl: string): ApprovalView {
  return {
    id: rec.id,
    status,
    requester: rec.requester.display,
    requested_at: rec.requestedAt,
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
    execution: rec.execution ? { at: rec.execution.at, outcome: rec.execution.outcome } : rec.claimedAt ? { at: rec.claimedAt, outcome: 'started' } : null,
    review_url: reviewUrl,
  };
}
