// Shared test doubles for the approvals tests: an in-memory audit log that stamps events like
// the real writer, identities, held calls and a service+gate built from them.
import { randomUUID } from 'node:crypto';
import { emptyEvent, ZERO_HASH, type AuditEvent, type AuditEventInput } from '../../src/audit/event.js';
import type { Identity } from '../../src/identity/types.js';
import type { HeldCall } from '../../src/pipeline/deps.js';
import type { RequestContext } from '../../src/pipeline/types.js';
import type { Analysis } from '../../src/sql/types.js';
import { createLogger } from '../../src/ops/logger.js';
import { createApprovals, memoryApprovalSource, memoryStatementStore, type ApprovalsDeps } from '../../src/approvals/index.js';
import { sha256 } from '../../src/approvals/binding.js';
import type { ApprovalsConfigInput } from '../../src/approvals/config.js';

export const silent = createLogger('silent');

export class Clock {
  t = Date.parse('2026-03-02T10:00:00.000Z');
  now = () => this.t;
  advance(seconds: number) {
    this.t += seconds * 1000;
  }
}

export class FakeAudit {
  events: AuditEvent[] = [];
  failNext = 0;
  constructor(private readonly clock: Clock = new Clock()) {}
  async append(input: AuditEventInput): Promise<AuditEvent> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('disk full');
    }
    const e = {
      ...emptyEvent(),
      ...input,
      event_id: randomUUID(),
      event_time: input.event_time ?? new Date(this.clock.now()).toISOString(),
      chain_id: 'test',
      seq: this.events.length,
      prev_hash: ZERO_HASH,
      hash: ZERO_HASH,
    } as AuditEvent;
    this.events.push(e);
    return e;
  }
  ofType(t: string): AuditEvent[] {
    return this.events.filter((e) => e.event_type === t);
  }
}

export function identity(user: string, opts: Partial<Identity> = {}): Identity {
  return {
    subject: user,
    email: user.includes('@') ? user : null,
    issuer: 'http://127.0.0.1/dev-issuer',
    groups: [],
    roles: [],
    actorType: 'human',
    authMethod: 'dev',
    expiresAt: null,
    name: user,
    ...opts,
  };
}

/** Roles by user, as the demo policy would give them. */
const ROLES: Record<string, string[]> = {
  'eve@bank.example': ['engineer'],
  'mallory@bank.example': ['engineer'],
  'bob@bank.example': ['approver'],
  'carol@bank.example': ['approver'],
  'dave@bank.example': ['analyst'],
  'eng-approver@bank.example': ['engineer', 'approver'],
};

export const policyView = () => ({
  rolesFor: (id: Identity) => ROLES[id.email ?? id.subject] ?? [],
  keepLiterals: () => false,
  analyzeOptions: () => ({ dialect: 'sqlite' as const }),
  toolShape: () => ({ sqlArgument: 'sql' }),
});

/** Replaces every literal, like the SQL module's redaction. */
export const fakeSql = { redactLiterals: (sql: string) => sql.replace(/'[^']*'/g, '?').replace(/\b\d+\b/g, '?') };

export function ctx(id: Identity, opts: { signal?: AbortSignal; progress?: (p: number, t?: number, m?: string) => void } = {}): RequestContext {
  return {
    identity: id,
    sessionId: 'sess-1',
    requestId: '7',
    traceId: 'trace-1',
    sourceIp: '127.0.0.1',
    userAgent: 'test',
    clientName: 'test-client',
    clientVersion: '1',
    protocolVersion: '2025-06-18',
    signal: opts.signal ?? new AbortController().signal,
    async sendProgress(p, t, m) {
      opts.progress?.(p, t, m);
    },
    receivedAt: Date.now(),
  };
}

function analysis(sql: string, kind = 'delete', cls: 'write' | 'ddl' = 'write', table = 'main.accounts'): Analysis {
  const ref = { fq: table, project: null, dataset: 'main', table: table.split('.').pop()!, wildcard: false, informationSchema: false, view: false, function: false, opaque: false, timeTravel: false };
  return {
    dialect: 'sqlite',
    ok: true,
    sql,
    sha256: sha256(sql),
    fingerprint: `fp:${kind}`,
    statements: [
      {
        range: null,
        queryAt: null,
        tableSites: [],
        index: 0,
        kind,
        class: cls,
        destructive: cls === 'ddl',
        text: sql,
        sha256: sha256(sql),
        fingerprint: `fp:${kind}`,
        tablesRead: [],
        tablesWritten: [ref],
        output: null,
        uses: [],
        opaque: [],
      },
    ],
    opaque: [],
  };
}

export function held(
  user: string,
  sql: string,
  opts: {
    required?: number;
    roles?: string[];
    expires?: number;
    args?: Record<string, unknown>;
    meta?: Record<string, unknown>;
    signal?: AbortSignal;
    progress?: (p: number, t?: number, m?: string) => void;
    justification?: string;
    kind?: string;
    cls?: 'write' | 'ddl';
    id?: Identity;
  } = {},
): HeldCall {
  const id = opts.id ?? identity(user);
  return {
    ctx: ctx(id, { signal: opts.signal, progress: opts.progress }),
    roles: policyView().rolesFor(id),
    tool: 'execute_sql',
    args: { sql, ...(opts.args ?? {}) },
    sql,
    analysis: analysis(sql, opts.kind, opts.cls),
    decision: {
      action: 'approval_required',
      ruleIds: ['stmt-writes-need-approval'],
      message: 'writes by engineers need approval',
      maskPlan: null,
      privileged: true,
      approval: { approverRoles: opts.roles ?? ['approver'], required: opts.required ?? 1, expiresInSeconds: opts.expires ?? 3600, ruleId: 'stmt-writes-need-approval' },
    },
    justification: opts.justification ?? null,
    meta: opts.meta ?? null,
  };
}

export function reviewer(user: string, opts: Partial<Identity> = {}) {
  const id = identity(user, opts);
  return { identity: id, roles: policyView().rolesFor(id), sourceIp: '10.0.0.9', userAgent: 'test', door: 'api' };
}

export async function setup(opts: { config?: ApprovalsConfigInput; clock?: Clock; audit?: FakeAudit; events?: AuditEvent[]; extra?: Partial<ApprovalsDeps> } = {}) {
  const clock = opts.clock ?? new Clock();
  const audit = opts.audit ?? new FakeAudit(clock);
  const statements = memoryStatementStore();
  const approvals = await createApprovals({
    audit,
    source: memoryApprovalSource(opts.events ?? []),
    policy: policyView,
    sql: fakeSql,
    publicUrl: 'http://127.0.0.1:8080',
    config: { sweepSeconds: 3600, ...(opts.config ?? {}) },
    log: silent,
    statements,
    now: clock.now,
    ...(opts.extra ?? {}),
  });
  return { approvals, audit, clock, statements, service: approvals.service, gate: approvals.gate };
}
