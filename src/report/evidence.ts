// The figures of the evidence pack, folded from a stream of audit events of the period (the
// local store or BigQuery rows, same code), plus the verifier's report. Everything an examiner
// reads in the report is computed here, so the HTML is only layout.
import type { AuditEvent } from '../audit/event.js';
import type { VerifyReport } from '../audit/verify.js';

export interface ApprovalEvidence {
  approvalId: string;
  requester: string | null;
  requestedAt: string | null;
  approvers: string[];
  approvedAt: string | null;
  statement: string;
  tables: string[];
  justification: string | null;
  status: string;
  executedAt: string | null;
  selfApproved: boolean;
  textDiffers: boolean;
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
  policies: PolicyEvidence[];
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
  private approvals = new Map<string, { req: AuditEvent | null; grants: AuditEvent[]; closing: AuditEvent | null; exec: AuditEvent[] }>();
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
    if (e.decision === 'deny' && e.event_type !== 'console_access') {
      this.denied++;
      for (const r of e.rule_ids.length ? e.rule_ids : ['(no rule id)']) bump(this.deniedRule, r);
      bump(this.deniedActor, who ?? '(anonymous)');
    }
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
      for (const s of String(m.source ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
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
    if (!a) this.approvals.set(e.approval_id!, (a = { req: null, grants: [], closing: null, exec: [] }));
    if (e.event_type === 'approval_requested') a.req = e;
    else if (e.event_type === 'approval_granted') a.grants.push(e);
    else if (e.event_type === 'approval_rejected' || e.event_type === 'approval_expired') a.closing = e;
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
    const approvals: ApprovalEvidence[] = [...this.approvals.entries()].map(([id, a]) => {
      const requester = a.req?.approval_requester ?? a.exec[0]?.approval_requester ?? null;
      const approvers = [...new Set(a.grants.map((g) => g.actor_email ?? g.actor_subject ?? '(unknown)'))];
      const executed = a.exec[0] ?? null;
      return {
        approvalId: id,
        requester,
        requestedAt: a.req?.event_time ?? null,
        approvers,
        approvedAt: a.grants.length ? a.grants[a.grants.length - 1].event_time : null,
        statement: (a.req ?? executed)?.statement_kinds.join(', ') ?? '',
        tables: (a.req ?? executed)?.target_tables ?? [],
        justification: a.req?.justification ?? null,
        status: executed ? 'executed' : a.closing ? a.closing.event_type.replace('approval_', '') : a.grants.length ? 'approved' : 'pending',
        executedAt: executed?.event_time ?? null,
        selfApproved: requester !== null && approvers.includes(requester),
        textDiffers: !!a.req?.sql_sha256 && a.exec.some((x) => x.sql_sha256 !== a.req!.sql_sha256),
      };
    });
    approvals.sort((a, b) => ((a.requestedAt ?? '') < (b.requestedAt ?? '') ? -1 : 1));
    const n = (t: string) => this.actorTypes.get(t)?.size ?? 0;
    return {
      from: this.from,
      to: this.to,
      generatedAt: new Date().toISOString(),
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
      policies: [...this.policies.values()].sort((a, b) => (a.firstSeen < b.firstSeen ? -1 : 1)),
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
