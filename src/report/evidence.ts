// The figures of the evidence pack, folded from a stream of audit events of the period (the
// local store or BigQuery rows, same code), plus the verifier's report. Everything an examiner
// reads in the report is computed here, so the HTML is only layout.
import type { AuditEvent } from '../audit/event.js';
import type { VerifyReport } from '../audit/verify.js';
import { approvalStep, denialKeys, isApprovalWorkflow, isDenial } from '../audit/denials.js';

interface ApprovalEvidence {
  approvalId: string;
  requester: string | null;
  requestedAt: string | null;
  approvers: string[];
  approvedAt: string | null;
  statement: string;
  tables: string[];
  justification: string | null;
  /**
   * As of the end of the period (or now, if sooner): executed, failed, rejected, expired,
   * pending, approved (not yet run), or stale (open in the record but past its expiry).
   */
  status: string;
  executedAt: string | null;
  selfApproved: boolean;
  textDiffers: boolean;
  required: number | null;
  expiresAt: string | null;
  /** Who rejected it (or the gateway for an expiry or a superseded request), and why. */
  closedBy: string | null;
  closeReason: string | null;
}

/** Something an examiner must look at: an open item, or a failed control. */
export interface EvidenceException {
  kind: string;
  severity: 'exception' | 'open item';
  subject: string;
  detail: string;
}

export interface PolicyEvidence {
  version: string;
  firstSeen: string;
  lastSeen: string;
  loads: number;
  refused: number;
  requests: number;
}

export interface Evidence {
  from: string;
  to: string;
  generatedAt: string;
  source: string;
  events: number;
  duplicatesSkipped: number;
  byType: Record<string, number>;
  actors: { human: number; ci: number; agent: number; service: number; anonymous: number };
  distinctActors: number;
  requests: number;
  requestsWithIdentity: number;
  toolCalls: number;
  denied: number;
  deniedByRule: { rule: string; n: number }[];
  deniedByActor: { actor: string; n: number }[];
  authFailures: number;
  masked: number;
  detectorHits: number;
  privileged: number;
  classifiedAccess: { column: string; classification: string; actor: string; clear: number; masked: number }[];
  approvals: ApprovalEvidence[];
  /** The approval workflow's events by step (requested, granted, rejected …), apart from denials. */
  approvalSteps: { step: string; n: number }[];
  policies: PolicyEvidence[];
  /** Policy loads the gateway refused (the previous policy stayed in force). */
  refusedPolicyLoads: { at: string; version: string | null; error: string | null }[];
  /** Write-ahead intents (mcp_intent) with no event recording their outcome. */
  intentsWithoutOutcome: { at: string; intentId: string; actor: string | null; tool: string | null }[];
  /** Everything that is not clean, each with what it is about. */
  exceptions: EvidenceException[];
  /** The time statuses are judged at: the end of the period, or the report's generation if sooner. */
  asOf: string;
  consoleAccess: number;
  consoleRefused: number;
  chains: string[];
  instances: string[];
  gatewayVersions: string[];
  signingKeysSeen: string[];
  verification: VerifyReport | null;
  verificationScope: string;
  verificationKeys: string[];
}

const bump = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

export class EvidenceCollector {
  private events = 0;
  private dup = 0;
  private seen = new Set<string>();
  private byType = new Map<string, number>();
  private actorTypes = new Map<string, Set<string>>();
  private actors = new Set<string>();
  private requests = 0;
  private requestsWithIdentity = 0;
  private toolCalls = 0;
  private denied = 0;
  private deniedRule = new Map<string, number>();
  private deniedActor = new Map<string, number>();
  private masked = 0;
  private detector = 0;
  private privileged = 0;
  private colClass = new Map<string, string>();
  private colAccess: { column: string; actor: string; masked: boolean }[] = [];
  private approvals = new Map<string, { req: AuditEvent | null; grants: AuditEvent[]; closing: AuditEvent | null; exec: AuditEvent[]; outcome: AuditEvent | null }>();
  private steps = new Map<string, number>();
  private refusedLoads: { at: string; version: string | null; error: string | null }[] = [];
  private intents = new Map<string, AuditEvent>();
  private intentOutcomes = new Set<string>();
  private policies = new Map<string, PolicyEvidence>();
  private consoleAccess = 0;
  private consoleRefused = 0;
  private chains = new Set<string>();
  private instances = new Set<string>();
  private versions = new Set<string>();
  private keys = new Set<string>();

  constructor(
    readonly from: string,
    readonly to: string,
    readonly source: string,
  ) {}

  get count(): number {
    return this.events;
  }

  push(e: AuditEvent): void {
    // BigQuery delivers at least once: an identical (chain, seq) is the same event.
    const key = `${e.chain_id}\n${e.seq}`;
    if (this.seen.has(key)) {
      this.dup++;
      return;
    }
    this.seen.add(key);
    this.events++;
    bump(this.byType, e.event_type);
    this.chains.add(e.chain_id);
    if (e.gateway_instance) this.instances.add(e.gateway_instance);
    if (e.gateway_version) this.versions.add(e.gateway_version);
    if (e.signing_key_id) this.keys.add(e.signing_key_id);
    const who = e.actor_email ?? e.actor_subject;
    if (who) {
      this.actors.add(who);
      let s = this.actorTypes.get(e.actor_type);
      if (!s) this.actorTypes.set(e.actor_type, (s = new Set()));
      s.add(who);
    }
    if (e.event_type === 'mcp_request') {
      this.requests++;
      if (who && e.auth_method !== 'none') this.requestsWithIdentity++;
      if (e.mcp_method === 'tools/call') this.toolCalls++;
    }
    // Denials are policy, authentication and input refusals, filed under the rule (or what
    // refused them); the approval workflow and console access are counted on their own.
    if (isDenial(e) && e.event_type !== 'console_access') {
      this.denied++;
      for (const r of denialKeys(e)) bump(this.deniedRule, r);
      bump(this.deniedActor, who ?? '(anonymous)');
    }
    if (isApprovalWorkflow(e)) bump(this.steps, approvalStep(e));
    if (e.event_type === 'policy_loaded' && e.outcome !== 'success') this.refusedLoads.push({ at: e.event_time, version: e.policy_version, error: e.error_message });
    // Write-ahead intents (schema v2): one whose intent_id no other event carries has no recorded outcome.
    const intentId = (e as { intent_id?: unknown }).intent_id;
    if ((e.event_type as string) === 'mcp_intent' && typeof intentId === 'string') this.intents.set(intentId, e);
    else if (typeof intentId === 'string') this.intentOutcomes.add(intentId);
    if (e.masked_columns.length) this.masked++;
    if (e.detector_hits.some((h) => h.count > 0)) this.detector++;
    if (e.privileged && e.event_type === 'mcp_request') this.privileged++;
    if (e.event_type === 'console_access') {
      this.consoleAccess++;
      if (e.outcome === 'denied') this.consoleRefused++;
    }
    if (e.event_type === 'mcp_request' && e.mcp_method === 'tools/call') this.columns(e, who ?? '(anonymous)');
    if (e.approval_id) this.approval(e);
    if (e.policy_version) this.policy(e);
  }

  private columns(e: AuditEvent, who: string): void {
    const maskedSrc = new Set<string>();
    for (const m of e.masked_columns) {
      for (const s of String(m.source ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)) {
        maskedSrc.add(s);
        this.colClass.set(s, m.classification);
      }
    }
    const released = e.outcome === 'success' && (e.decision === 'allow' || e.decision === 'mask' || e.decision === 'approval_required');
    if (!released) return;
    for (const c of e.target_columns) this.colAccess.push({ column: c, actor: who, masked: maskedSrc.has(c) });
  }

  private approval(e: AuditEvent): void {
    let a = this.approvals.get(e.approval_id!);
    if (!a) this.approvals.set(e.approval_id!, (a = { req: null, grants: [], closing: null, exec: [], outcome: null }));
    if (e.event_type === 'approval_requested') a.req = e;
    else if (e.event_type === 'approval_granted' && e.outcome === 'success') a.grants.push(e);
    else if (e.event_type === 'approval_rejected' || e.event_type === 'approval_expired') a.closing = e;
    else if (e.event_type === 'approval_executed' && e.outcome !== 'pending') a.outcome = e;
    else if (e.event_type === 'mcp_request' && e.outcome !== 'pending') a.exec.push(e);
  }

  private policy(e: AuditEvent): void {
    const v = e.policy_version!;
    let p = this.policies.get(v);
    if (!p) this.policies.set(v, (p = { version: v, firstSeen: e.event_time, lastSeen: e.event_time, loads: 0, refused: 0, requests: 0 }));
    if (e.event_time < p.firstSeen) p.firstSeen = e.event_time;
    if (e.event_time > p.lastSeen) p.lastSeen = e.event_time;
    if (e.event_type === 'gateway_start' || e.event_type === 'policy_loaded') {
      if (e.outcome === 'success') p.loads++;
      else p.refused++;
    }
    if (e.event_type === 'mcp_request') p.requests++;
  }

  finish(verification: VerifyReport | null, verificationScope: string, verificationKeys: string[]): Evidence {
    const top = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const access = new Map<string, { column: string; classification: string; actor: string; clear: number; masked: number }>();
    for (const a of this.colAccess) {
      const cls = this.colClass.get(a.column);
      if (!cls) continue;
      const k = `${a.column}\n${a.actor}`;
      let r = access.get(k);
      if (!r) access.set(k, (r = { column: a.column, classification: cls, actor: a.actor, clear: 0, masked: 0 }));
      if (a.masked) r.masked++;
      else r.clear++;
    }
    const generatedAt = new Date().toISOString();
    const periodEnd = new Date(Date.parse(`${this.to}T00:00:00.000Z`) + 86_400_000 - 1).toISOString();
    const asOf = generatedAt < periodEnd ? generatedAt : periodEnd;
    const approvals: ApprovalEvidence[] = [...this.approvals.entries()].map(([id, a]) => {
      const requester = a.req?.approval_requester ?? a.exec[0]?.approval_requester ?? null;
      const approvers = [...new Set(a.grants.map((g) => g.actor_email ?? g.actor_subject ?? '(unknown)'))];
      const executed = a.exec[0] ?? null;
      const required = a.req?.approvals_required ?? executed?.approvals_required ?? null;
      const expiresAt = a.req?.approval_expires_at ?? null;
      const failed = (executed && executed.outcome !== 'success') || (a.outcome && a.outcome.outcome !== 'success');
      let status: string;
      if (executed) status = failed ? 'failed' : 'executed';
      else if (a.closing) status = a.closing.event_type.replace('approval_', '');
      else if (expiresAt && expiresAt <= asOf) status = 'stale';
      else status = a.grants.length >= (required ?? 1) ? 'approved' : 'pending';
      const closedBy = a.closing ? (a.closing.event_type === 'approval_expired' ? 'bqwarden (expiry)' : (a.closing.actor_email ?? a.closing.actor_subject ?? '(unknown)')) : null;
      return {
        approvalId: id,
        requester,
        requestedAt: a.req?.event_time ?? null,
        approvers,
        approvedAt: a.grants.at(-1)?.event_time ?? null,
        statement: (a.req ?? executed)?.statement_kinds.join(', ') ?? '',
        tables: (a.req ?? executed)?.target_tables ?? [],
        justification: a.req?.justification ?? null,
        status,
        executedAt: executed?.event_time ?? null,
        selfApproved: requester !== null && approvers.includes(requester),
        textDiffers: !!a.req?.sql_sha256 && a.exec.some((x) => x.sql_sha256 !== a.req!.sql_sha256),
        required,
        expiresAt,
        closedBy,
        closeReason: a.closing?.decision_reason ?? null,
      };
    });
    approvals.sort((a, b) => ((a.requestedAt ?? '') < (b.requestedAt ?? '') ? -1 : 1));
    const n = (t: string) => this.actorTypes.get(t)?.size ?? 0;
    const intentsWithoutOutcome = [...this.intents]
      .filter(([id]) => !this.intentOutcomes.has(id))
      .map(([intentId, e]) => ({ at: e.event_time, intentId, actor: e.actor_email ?? e.actor_subject, tool: e.tool_name }));
    return {
      from: this.from,
      to: this.to,
      generatedAt,
      asOf,
      source: this.source,
      events: this.events,
      duplicatesSkipped: this.dup,
      byType: Object.fromEntries(top(this.byType)),
      actors: { human: n('human'), ci: n('ci'), agent: n('agent'), service: n('service'), anonymous: n('anonymous') },
      distinctActors: this.actors.size,
      requests: this.requests,
      requestsWithIdentity: this.requestsWithIdentity,
      toolCalls: this.toolCalls,
      denied: this.denied,
      deniedByRule: top(this.deniedRule).map(([rule, v]) => ({ rule, n: v })),
      deniedByActor: top(this.deniedActor).map(([actor, v]) => ({ actor, n: v })),
      authFailures: this.byType.get('auth_failure') ?? 0,
      masked: this.masked,
      detectorHits: this.detector,
      privileged: this.privileged,
      classifiedAccess: [...access.values()].sort((a, b) => b.clear - a.clear || (a.column < b.column ? -1 : 1)),
      approvals,
      approvalSteps: top(this.steps).map(([step, v]) => ({ step, n: v })),
      policies: [...this.policies.values()].sort((a, b) => (a.firstSeen < b.firstSeen ? -1 : 1)),
      refusedPolicyLoads: this.refusedLoads,
      intentsWithoutOutcome,
      exceptions: [],
      consoleAccess: this.consoleAccess,
      consoleRefused: this.consoleRefused,
      chains: [...this.chains].sort(),
      instances: [...this.instances].sort(),
      gatewayVersions: [...this.versions].sort(),
      signingKeysSeen: [...this.keys].sort(),
      verification,
      verificationScope,
      verificationKeys,
    };
  }
}

const short = (s: string | null, n = 90) => (s && s.length > n ? `${s.slice(0, n - 1)}…` : (s ?? ''));

/**
 * Everything an examiner must look at before signing off: open and unexecuted approvals, stale
 * ones (open in the record past their expiry), failed executions, separation-of-duties
 * findings, chain breaks, unsigned tails, checkpoints signed by keys not given for
 * verification, unpinned verification keys, refused policy loads, intents without outcome.
 */
export function findExceptions(e: Omit<Evidence, 'exceptions'>, keys: { pinned: boolean }): EvidenceException[] {
  const out: EvidenceException[] = [];
  const v = e.verification;
  for (const a of e.approvals) {
    const what = `${a.statement.toUpperCase() || 'statement'} on ${a.tables.join(', ') || '(no table)'}, requested by ${a.requester ?? '?'} at ${a.requestedAt ?? '?'}`;
    if (a.status === 'pending')
      out.push({ kind: 'approval pending', severity: 'open item', subject: a.approvalId, detail: `${what}; ${a.approvers.length} of ${a.required ?? 1} approval(s); expires ${a.expiresAt ?? '?'}.` });
    if (a.status === 'approved')
      out.push({
        kind: 'approved, not executed',
        severity: 'open item',
        subject: a.approvalId,
        detail: `${what}; approved by ${a.approvers.join(', ')} at ${a.approvedAt}; may still run until ${a.expiresAt ?? '?'}.`,
      });
    if (a.status === 'stale')
      out.push({
        kind: 'approval stale',
        severity: 'exception',
        subject: a.approvalId,
        detail: `${what}; ${a.approvers.length ? `approved by ${a.approvers.join(', ')}, ` : ''}past its expiry (${a.expiresAt}) with no expiry, rejection or execution recorded (the gateway may have stopped).`,
      });
    if ((a.status === 'expired' || a.status === 'rejected') && a.approvers.length >= (a.required ?? 1))
      out.push({
        kind: 'approved, never executed',
        severity: 'open item',
        subject: a.approvalId,
        detail: `${what}; approved by ${a.approvers.join(', ')} but ${a.status}${a.closedBy ? ` (${a.closedBy}${a.closeReason ? `: ${short(a.closeReason)}` : ''})` : ''}.`,
      });
    if (a.status === 'failed') out.push({ kind: 'approved execution failed', severity: 'exception', subject: a.approvalId, detail: `${what}; ran at ${a.executedAt} and failed.` });
    if (a.selfApproved) out.push({ kind: 'self-approval', severity: 'exception', subject: a.approvalId, detail: `${what}; approved by its own requester.` });
    if (a.textDiffers) out.push({ kind: 'executed text differs', severity: 'exception', subject: a.approvalId, detail: `${what}; the executed statement's hash differs from the approved one.` });
  }
  if (!v) out.push({ kind: 'chain not verified', severity: 'exception', subject: 'audit store', detail: 'The verifier did not run.' });
  for (const b of v?.breaks ?? []) {
    if (b.kind === 'unsigned_tail') continue;
    out.push({ kind: `chain ${b.kind.replace(/_/g, ' ')}`, severity: 'exception', subject: `${b.chain ?? '?'}${b.seq !== null ? ` #${b.seq}` : ''}`, detail: short(b.message, 200) });
  }
  for (const c of v?.chains ?? []) {
    if (c.last_seq > c.last_signed_seq)
      out.push({
        kind: 'unsigned tail',
        severity: 'exception',
        subject: c.chain_id,
        detail: `${c.last_seq - c.last_signed_seq} event(s) after the last signed checkpoint (seq ${c.last_signed_seq + 1}–${c.last_seq})${c.sealed ? '' : '; the chain is not sealed (the gateway is running, or stopped without sealing)'}: their order and presence are not covered by a signature.`,
      });
  }
  const known = new Set(e.verificationKeys.map((k) => k.split(' ')[0]));
  for (const k of e.signingKeysSeen)
    if (!known.has(k))
      out.push({ kind: 'checkpoint key not given', severity: 'exception', subject: k, detail: 'Checkpoints in the period were signed with this key, which was not among the verification keys.' });
  if (!e.verificationKeys.length)
    out.push({ kind: 'no verification key', severity: 'exception', subject: 'signatures', detail: 'No verification key was given: checkpoint signatures were not checked.' });
  else if (!keys.pinned)
    out.push({
      kind: 'verification key not pinned',
      severity: 'open item',
      subject: 'signatures',
      detail: 'The verification key was read from the key directory beside the audit log, not pinned by the examiner (--key): it proves the chain is intact, not who signed it.',
    });
  for (const p of e.refusedPolicyLoads)
    out.push({
      kind: 'policy load refused',
      severity: 'exception',
      subject: p.version ? p.version.slice(0, 16) : 'policy',
      detail: `At ${p.at}: ${short(p.error, 200) || 'refused'}; the previous policy stayed in force.`,
    });
  // The verifier counts open intents over the whole store; those of the period are listed below.
  const storeOpen = v?.intents?.open ?? 0;
  if (storeOpen > e.intentsWithoutOutcome.length)
    out.push({
      kind: 'intent without outcome',
      severity: 'exception',
      subject: 'audit store',
      detail: `${storeOpen} write-ahead intent(s) in the store have no recorded outcome; ${e.intentsWithoutOutcome.length} of them in this period (listed).`,
    });
  for (const i of e.intentsWithoutOutcome)
    out.push({
      kind: 'intent without outcome',
      severity: 'exception',
      subject: i.intentId,
      detail: `At ${i.at}${i.actor ? ` by ${i.actor}` : ''}${i.tool ? ` (${i.tool})` : ''}: recorded before it was sent upstream, but no outcome was recorded.`,
    });
  return out;
}
