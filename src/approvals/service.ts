// The approvals service: keeps the folded state, and is the only writer of approval_* events.
// Every change goes through the audit log first and reaches the state by folding the event the
// log returns, so what this instance believes is exactly what the audit chain says.
import { randomBytes } from 'node:crypto';
import { actorFields } from '../audit/actor.js';
import type { AuditEvent, AuditEventInput } from '../audit/event.js';
import type { Identity } from '../identity/types.js';
import type { Logger } from '../ops/logger.js';
import type { ApprovalsConfig } from './config.js';
import { actorOf, sameActor } from './binding.js';
import { applyApprovalEvent, emptyApprovalState, isOpen, statusAt } from './reduce.js';
import type { ApprovalEventSource, ApprovalRecord, ApprovalState, StatementStore } from './types.js';
import { BqwardenError, ERROR_CATALOG } from '../common/errors.js';

export type ApprovalErrorCode =
  | 'not_found'
  | 'forbidden'
  | 'self_approval'
  | 'not_an_approver'
  | 'actor_type_not_allowed'
  | 'already_voted'
  | 'not_open'
  | 'expired'
  | 'sql_mismatch'
  | 'statement_unavailable'
  | 'reason_required'
  | 'audit_unavailable';

export class ApprovalError extends BqwardenError {
  readonly httpStatus: number;
  constructor(
    readonly code: ApprovalErrorCode,
    message: string,
  ) {
    super(`approval_${code}`, message);
    this.name = 'ApprovalError';
    this.httpStatus = ERROR_CATALOG[`approval_${code}`].http;
  }
}

/** A reviewer acting through one of the doors (API, web page, CLI via API). */
export interface Reviewer {
  identity: Identity;
  roles: string[];
  sourceIp: string | null;
  userAgent: string | null;
  /** api | ui: recorded so an examiner sees which door was used. */
  door: string;
}

export interface ApprovalServiceDeps {
  audit: { append(input: AuditEventInput): Promise<AuditEvent> };
  source: ApprovalEventSource;
  statements: StatementStore;
  config: ApprovalsConfig;
  log: Logger;
  now?: () => number;
  newId?: () => string;
}

const ID_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/** apr-xxxxxxxxxxxx: short enough to type, 60 bits of randomness, no look-alike characters. */
function newApprovalId(): string {
  const bytes = randomBytes(12);
  let s = '';
  for (const b of bytes) s += ID_ALPHABET[b % ID_ALPHABET.length];
  return `apr-${s}`;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The fields every approval_* event repeats so each one reads on its own. */
export function recordFields(rec: ApprovalRecord): Partial<AuditEventInput> {
  return {
    approval_id: rec.id,
    approval_requester: rec.requester.display,
    approval_approvers: rec.approvals.map((v) => v.actor.display),
    approvals_required: rec.required,
    approval_expires_at: rec.expiresAt,
    tool_name: rec.tool,
    target_table: rec.tables[0] ?? null,
    target_tables: rec.tables,
    statement_types: rec.statementTypes,
    statement_kinds: rec.statementKinds,
    sql_text: rec.sqlText,
    sql_sha256: rec.sqlSha256,
    sql_fingerprint: rec.sqlFingerprint,
    rule_ids: rec.ruleIds,
    privileged: true,
  };
}

export function reviewerFields(r: Reviewer): Partial<AuditEventInput> {
  return {
    ...actorFields(r.identity, r.roles),
    source_ip: r.sourceIp,
    user_agent: r.userAgent,
    mcp_method: `approvals/${r.door}`,
  };
}

/** The gateway acting on its own (expiry sweeps, webhook failures). */
export const SYSTEM_ACTOR: Partial<AuditEventInput> = { actor_type: 'service', auth_method: 'none', actor_subject: null, mcp_method: 'approvals/system' };

type Listener = (rec: ApprovalRecord) => void;

export class ApprovalService {
  readonly state: ApprovalState = emptyApprovalState();
  readonly now: () => number;
  readonly newId: () => string;
  private readonly listeners = new Set<Listener>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private unsubscribe: (() => void) | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(readonly deps: ApprovalServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.newId = deps.newId ?? newApprovalId;
  }

  /** Rebuild state from the source, then follow it; call once before serving. */
  async init(): Promise<void> {
    const events: AuditEvent[] = [];
    for await (const e of this.deps.source.load()) events.push(e);
    // Several chains (instances, restarts) interleave: fold in time order, chain order within.
    events.sort((a, b) => (a.event_time < b.event_time ? -1 : a.event_time > b.event_time ? 1 : a.chain_id === b.chain_id ? a.seq - b.seq : 0));
    for (const e of events) applyApprovalEvent(this.state, e);
    for (const a of this.state.anomalies) this.deps.log.warn({ approval_id: a.approvalId, event_id: a.eventId, reason: a.reason }, 'approval event ignored by the fold');
    const open = new Set([...this.state.byId.values()].filter((r) => isOpen(r.status)).map((r) => r.id));
    await this.deps.statements.prune(open).catch((err: Error) => this.deps.log.error({ err: err.message }, 'could not prune closed approval statements'));
    this.unsubscribe = this.deps.source.subscribe?.((e) => this.ingest(e)) ?? null;
    if (this.deps.config.sweepSeconds > 0) {
      this.sweepTimer = setInterval(() => void this.sweep().catch(() => undefined), this.deps.config.sweepSeconds * 1000);
      this.sweepTimer.unref();
    }
    this.deps.log.info({ source: this.deps.source.name, requests: this.state.byId.size, open: open.size }, 'approval state rebuilt from audit events');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await Promise.allSettled([...this.locks.values()]);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Folds an event written elsewhere (another instance, via a shared source). */
  ingest(e: AuditEvent): void {
    if (!applyApprovalEvent(this.state, e) || !e.approval_id) return;
    const rec = this.state.byId.get(e.approval_id);
    if (rec) this.changed(rec);
  }

  private changed(rec: ApprovalRecord): void {
    if (!isOpen(rec.status)) {
      this.deps.statements.delete(rec.id).catch((err: Error) => this.deps.log.error({ err: err.message, approval_id: rec.id }, 'could not delete the statement text of a closed approval'));
    }
    for (const l of this.listeners) {
      try {
        l(rec);
      } catch (err) {
        this.deps.log.error({ err: (err as Error).message }, 'approval listener failed');
      }
    }
  }

  /** Writes an approval event and folds the durable result in. Throws ApprovalError when the log refuses. */
  async append(input: AuditEventInput): Promise<AuditEvent> {
    let event: AuditEvent;
    try {
      event = await this.deps.audit.append(input);
    } catch (err) {
      // The sink's own text (a path, a disk error) goes to the operator's log, not to the requester or approver.
      this.deps.log.error({ err: (err as Error).message, event_type: input.event_type, approval_id: input.approval_id ?? null }, 'approval audit record could not be written');
      throw new ApprovalError('audit_unavailable', 'the audit record could not be written, so nothing changed (fail closed); the gateway log has the cause');
    }
    if (applyApprovalEvent(this.state, event) && event.approval_id) {
      const rec = this.state.byId.get(event.approval_id);
      if (rec) this.changed(rec);
    }
    return event;
  }

  /** Runs fn after every earlier holder of `key` finished: one change at a time per request. */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  get(id: string): ApprovalRecord | undefined {
    return this.state.byId.get(id);
  }

  status(rec: ApprovalRecord): ApprovalRecord['status'] {
    return statusAt(rec, this.now());
  }

  /** Whoever asked, and whoever could approve, may see a request (its SQL is sensitive). */
  canView(rec: ApprovalRecord, identity: Identity, roles: string[]): boolean {
    return sameActor(actorOf(identity), rec.requester) || roles.some((r) => rec.approverRoles.includes(r));
  }

  /** Open requests first (oldest first), then the most recent closed ones. */
  list(identity: Identity, roles: string[]): ApprovalRecord[] {
    const visible = [...this.state.byId.values()].filter((r) => this.canView(r, identity, roles));
    const open = visible.filter((r) => isOpen(this.status(r))).sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
    const closed = visible
      .filter((r) => !isOpen(this.status(r)))
      .sort((a, b) => (b.closedAt ?? b.expiresAt).localeCompare(a.closedAt ?? a.expiresAt))
      .slice(0, this.deps.config.recentLimit);
    return [...open, ...closed];
  }

  /** The exact text for reviewers, or null when this instance does not hold it. */
  async exactText(rec: ApprovalRecord): Promise<string | null> {
    return this.deps.statements.get(rec.id, rec.sqlSha256).catch(() => null);
  }

  /** Closes an open request whose time is up. Returns true when it is (now) expired. */
  async expireIfDue(rec: ApprovalRecord): Promise<boolean> {
    if (!isOpen(rec.status)) return rec.status === 'expired';
    if (this.now() < Date.parse(rec.expiresAt)) return false;
    return this.withLock(rec.id, () => this.expireLocked(rec));
  }

  /** expireIfDue for callers already holding the request's lock. */
  async expireLocked(rec: ApprovalRecord): Promise<boolean> {
    if (!isOpen(rec.status)) return rec.status === 'expired';
    if (this.now() < Date.parse(rec.expiresAt)) return false;
    await this.append({
      event_type: 'approval_expired',
      ...SYSTEM_ACTOR,
      ...recordFields(rec),
      outcome: 'denied',
      decision: 'deny',
      decision_reason: `approval request expired at ${rec.expiresAt} (${rec.approvals.length} of ${rec.required} approvals${rec.status === 'approved' ? ', approved but never executed' : ''})`,
    });
    return true;
  }

  /** Closes every open request past its expiry (the timer; lazily, every touch does the same). */
  async sweep(): Promise<number> {
    if (this.closed) return 0;
    let n = 0;
    for (const rec of [...this.state.byId.values()]) {
      if (!isOpen(rec.status) || this.now() < Date.parse(rec.expiresAt)) continue;
      try {
        if (await this.expireIfDue(rec)) n++;
      } catch (err) {
        this.deps.log.error({ err: (err as Error).message, approval_id: rec.id }, 'could not record approval expiry; will retry');
      }
    }
    return n;
  }

  /** A refused approve/reject is itself evidence (e.g. an attempted self-approval). */
  private async auditRefusal(rec: ApprovalRecord | undefined, id: string, r: Reviewer, action: string, err: ApprovalError): Promise<void> {
    try {
      await this.deps.audit.append({
        event_type: 'http_error',
        ...reviewerFields(r),
        ...(rec ? recordFields(rec) : { approval_id: null }),
        decision: 'deny',
        outcome: 'denied',
        error_code: `approval_${err.code}`,
        error_message: `${action} ${id} refused: ${err.message}`,
        http_status: err.httpStatus,
      });
    } catch (e) {
      this.deps.log.error({ err: (e as Error).message, approval_id: id }, 'could not audit a refused approval action');
    }
  }

  private checkReason(reason: unknown, required: boolean): string | null {
    const text = typeof reason === 'string' ? reason.trim() : '';
    if (!text) {
      if (required) throw new ApprovalError('reason_required', 'a reason is required (it is recorded in the audit log)');
      return null;
    }
    if (text.length > this.deps.config.maxReasonChars) throw new ApprovalError('reason_required', `the reason is longer than ${this.deps.config.maxReasonChars} characters`);
    return text;
  }

  /** Checks shared by approve and reject; returns the record. */
  private async reviewable(id: string, r: Reviewer, expectSha: string | null | undefined): Promise<ApprovalRecord> {
    const rec = this.state.byId.get(id);
    if (!rec || !this.canView(rec, r.identity, r.roles)) throw new ApprovalError('not_found', `no approval request ${id} that you may see`);
    if (await this.expireLocked(rec)) throw new ApprovalError('expired', `approval request ${id} expired at ${rec.expiresAt}; the requester must re-run the call to ask again`);
    if (expectSha && expectSha !== rec.sqlSha256) {
      throw new ApprovalError('sql_mismatch', `the statement you reviewed (sha256 ${expectSha.slice(0, 12)}…) is not the one in request ${id} (sha256 ${rec.sqlSha256.slice(0, 12)}…)`);
    }
    return rec;
  }

  async approve(id: string, r: Reviewer, reasonIn: unknown, expectSha?: string | null): Promise<ApprovalRecord> {
    const rec0 = this.state.byId.get(id);
    try {
      return await this.withLock(id, async () => {
        const rec = await this.reviewable(id, r, expectSha);
        if (rec.status !== 'pending') throw new ApprovalError('not_open', `approval request ${id} is ${rec.status}; nothing to approve`);
        const reviewer = actorOf(r.identity, r.roles);
        if (sameActor(reviewer, rec.requester)) {
          throw new ApprovalError('self_approval', `${reviewer.display} asked for ${id} and cannot approve it (separation of duties: the requester never approves their own request)`);
        }
        if (!(this.deps.config.approverActorTypes as string[]).includes(r.identity.actorType)) {
          throw new ApprovalError(
            'actor_type_not_allowed',
            `approvals must come from ${this.deps.config.approverActorTypes.join(' or ')} actors; ${reviewer.display} authenticated as ${r.identity.actorType}`,
          );
        }
        if (!r.roles.some((x) => rec.approverRoles.includes(x))) {
          throw new ApprovalError(
            'not_an_approver',
            `${id} needs an approver with role ${rec.approverRoles.join(' or ') || '(none configured)'}; ${reviewer.display} holds ${r.roles.join(', ') || 'no roles'} (rule ${rec.ruleIds.join(', ')})`,
          );
        }
        if (rec.approvals.some((v) => sameActor(v.actor, reviewer))) {
          throw new ApprovalError('already_voted', `${reviewer.display} already approved ${id}; it needs ${rec.required} distinct approvers`);
        }
        const reason = this.checkReason(reasonIn, true);
        if ((await this.exactText(rec)) === null) {
          throw new ApprovalError(
            'statement_unavailable',
            `the exact statement of ${id} is not available on this gateway, so it cannot be reviewed; it becomes available again when the requester re-runs the call`,
          );
        }
        const approvers = [...rec.approvals.map((v) => v.actor.display), reviewer.display];
        const event = await this.append({
          event_type: 'approval_granted',
          ...reviewerFields(r),
          ...recordFields(rec),
          approval_approvers: approvers,
          decision: 'allow',
          outcome: 'success',
          decision_reason: reason,
        });
        if (!rec.approvals.some((v) => v.eventId === event.event_id)) {
          // The fold did not count it (e.g. the audit clock put it past expiry): state says no.
          throw new ApprovalError('expired', `approval of ${id} was recorded after the request expired at ${rec.expiresAt} and does not count`);
        }
        return rec;
      });
    } catch (err) {
      if (err instanceof ApprovalError && err.code !== 'audit_unavailable') await this.auditRefusal(rec0, id, r, 'approve', err);
      throw err;
    }
  }

  async reject(id: string, r: Reviewer, reasonIn: unknown, expectSha?: string | null): Promise<ApprovalRecord> {
    const rec0 = this.state.byId.get(id);
    try {
      return await this.withLock(id, async () => {
        const rec = await this.reviewable(id, r, expectSha);
        if (!isOpen(rec.status)) throw new ApprovalError('not_open', `approval request ${id} is ${rec.status}; nothing to reject`);
        const reviewer = actorOf(r.identity, r.roles);
        // The requester may withdraw their own request; anyone else must be an eligible approver.
        const own = sameActor(reviewer, rec.requester);
        if (!own && !r.roles.some((x) => rec.approverRoles.includes(x))) {
          throw new ApprovalError('not_an_approver', `only the requester or an approver with role ${rec.approverRoles.join(' or ')} may reject ${id}`);
        }
        const reason = this.checkReason(reasonIn, true);
        await this.append({
          event_type: 'approval_rejected',
          ...reviewerFields(r),
          ...recordFields(rec),
          decision: 'deny',
          outcome: 'denied',
          decision_reason: own ? `withdrawn by the requester: ${reason}` : reason,
        });
        return rec;
      });
    } catch (err) {
      if (err instanceof ApprovalError && err.code !== 'audit_unavailable') await this.auditRefusal(rec0, id, r, 'reject', err);
      throw err;
    }
  }
}
