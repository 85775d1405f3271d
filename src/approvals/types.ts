// Approval state as derived from audit events. Nothing here is stored on its own: a request,
// each vote, a rejection, an expiry and the execution are audit events in the same chain, and
// this shape is what folding them yields (see reduce.ts).
import type { AuditEvent } from '../audit/event.js';

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'executed';

/** Who did something, as the audit event names them. */
export interface ApprovalActor {
  subject: string | null;
  issuer: string | null;
  email: string | null;
  /** email, else subject: what people reading views and the approval_requester column see. */
  display: string;
  roles: string[];
}

interface ApprovalVote {
  actor: ApprovalActor;
  at: string;
  reason: string | null;
  eventId: string;
}

export interface ApprovalRecord {
  id: string;
  status: ApprovalStatus;
  requester: ApprovalActor;
  requestedAt: string;
  requestEventId: string;
  tool: string;
  /** sha256 of the exact statement text: the binding. */
  sqlSha256: string;
  sqlFingerprint: string | null;
  /** The statement as the audit stores it (literals redacted unless policy keeps them). */
  sqlText: string | null;
  /** sha256 over the call's other arguments, so a changed argument cannot ride on the approval. */
  argsSha256: string | null;
  tables: string[];
  statementTypes: string[];
  statementKinds: string[];
  justification: string | null;
  required: number;
  approverRoles: string[];
  ruleIds: string[];
  /** The policy's explanation of why approval is needed. */
  policyReason: string | null;
  expiresAt: string;
  approvals: ApprovalVote[];
  rejection: ApprovalVote | null;
  closedAt: string | null;
  /** The executing call took the approval (written before the statement is forwarded). */
  claimedAt: string | null;
  execution: { at: string; outcome: 'success' | 'failure'; sessionId: string | null; requestId: string | null; rowsAffected: number | null } | null;
  sessionId: string | null;
  requestId: string | null;
}

export interface ApprovalState {
  byId: Map<string, ApprovalRecord>;
  /** Requests per call binding (binding.ts callBinding), in the order their events were folded. */
  byBinding: Map<string, ApprovalRecord[]>;
  /** Event ids already folded in, so replays and subscriptions can overlap safely. */
  seen: Set<string>;
  /** Events that contradict the rules (should never exist; a verifier-worthy finding). */
  anomalies: { eventId: string; approvalId: string | null; reason: string }[];
}

/**
 * Where approval events come from. The embedded source reads the local audit files once at
 * start; a shared store (BigQuery audit dataset) also pushes events other instances wrote.
 */
export interface ApprovalEventSource {
  readonly name: string;
  /** Every approval_* event so far, in chain order per chain. */
  load(): AsyncIterable<AuditEvent>;
  /** Events appended elsewhere after load(); returns an unsubscribe function. */
  subscribe?(onEvent: (event: AuditEvent) => void): () => void;
}

/**
 * The exact statement text awaiting review. Kept apart from the audit log (which holds the
 * redacted form) and deleted once the request closes; bound to the record by its sha256.
 */
export interface StatementStore {
  put(approvalId: string, sqlSha256: string, sql: string): Promise<void>;
  /** The exact text, or null when absent or when it no longer hashes to sqlSha256. */
  get(approvalId: string, sqlSha256: string): Promise<string | null>;
  delete(approvalId: string): Promise<void>;
  /** Removes every stored text whose id is not in keep. */
  prune(keep: Set<string>): Promise<void>;
}

export const APPROVAL_EVENT_TYPES = ['approval_requested', 'approval_granted', 'approval_rejected', 'approval_expired', 'approval_executed'] as const;
