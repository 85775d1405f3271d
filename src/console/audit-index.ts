// The console's in-memory index over an audit store. It follows the store (AuditStore.follow:
// for JSONL each file is read once, from where it left off), so a page view after new events
// costs only the new records, never a re-scan. Per event it keeps a handful of numbers
// (interned actor, table, session, rule set…, plus the record's ref in the store); the full
// event is read back through the store only when someone drills into it. Aggregates are computed per query by a
// scan over these typed columns, which takes milliseconds for a million events.
//
// The index is a view for review, not the integrity authority: lines are parsed with
// JSON.parse and a shape check (full schema validation of a million lines would dominate the
// build), unreadable lines are counted and listed, and the integrity panel runs the real
// verifier (hash chain, signatures) over the store.
import { DECISIONS, EVENT_TYPES, OUTCOMES, type AuditEvent } from '../audit/event.js';
import { ACTOR_TYPES } from '../identity/types.js';
import type { AuditStore, FollowState } from '../audit/store.js';
import { approvalStep, denialKeys, isApprovalWorkflow, isDenial } from '../audit/denials.js';
import { Column, Interner } from './intern.js';

export const FLAG_PRIVILEGED = 1;
export const FLAG_MASKED = 2;
export const FLAG_DETECTOR = 4;
export const FLAG_TOOL_CALL = 8;
/** Part of the approval workflow (request, vote, rejection, expiry, execution, refused approval action). */
export const FLAG_APPROVAL = 16;

const TYPE_CODE = new Map<string, number>(EVENT_TYPES.map((t, i) => [t, i]));
const DECISION_CODE = new Map<string, number>(DECISIONS.map((t, i) => [t, i]));
const OUTCOME_CODE = new Map<string, number>(OUTCOMES.map((t, i) => [t, i]));
const ACTOR_TYPE_CODE = new Map<string, number>(ACTOR_TYPES.map((t, i) => [t, i]));

export interface InvalidLine {
  file: string;
  line: number;
  reason: string;
}

export interface ApprovalSummary {
  approvalId: string;
  requester: string | null;
  requestedAt: string | null;
  requestedSha256: string | null;
  required: number | null;
  justification: string | null;
  tables: string[];
  kinds: string[];
  sqlText: string | null;
  grants: { approver: string; at: string; eventIndex: number }[];
  /** Rejection or expiry: who closed it (the gateway for expiries and superseded requests) and why. */
  closing: { type: string; at: string; by: string | null; reason: string | null } | null;
  executions: { at: string; by: string | null; sha256: string | null; outcome: string; eventIndex: number }[];
  /** Event indexes of every event carrying this approval id. */
  events: number[];
}

export interface PolicyVersionSeen {
  version: string;
  firstSeen: string;
  lastSeen: string;
  loads: number;
  failedLoads: number;
  events: number;
}

export class AuditIndex {
  count = 0;
  readonly time = new Column(Float64Array);
  readonly type = new Column(Uint8Array);
  readonly actor = new Column(Uint32Array);
  readonly actorType = new Column(Uint8Array);
  readonly table = new Column(Uint32Array);
  readonly tableSet = new Column(Uint32Array);
  readonly decision = new Column(Uint8Array);
  readonly outcome = new Column(Uint8Array);
  readonly flags = new Column(Uint8Array);
  readonly session = new Column(Uint32Array);
  readonly ruleSet = new Column(Uint32Array);
  /** For denials: the rule ids, or what refused it when no rule did (see audit/denials.ts); 0 otherwise. */
  readonly denialSet = new Column(Uint32Array);
  /** For approval-workflow events: the step (requested, granted, rejected …); 0 otherwise. */
  readonly approvalStep = new Column(Uint32Array);
  readonly approval = new Column(Uint32Array);
  readonly rows = new Column(Float64Array);
  readonly chain = new Column(Uint32Array);
  readonly seq = new Column(Float64Array);
  readonly file = new Column(Uint32Array);
  readonly offset = new Column(Float64Array);
  readonly length = new Column(Uint32Array);

  readonly actors = new Interner();
  readonly tables = new Interner();
  readonly sessions = new Interner();
  readonly approvals = new Interner();
  readonly chains = new Interner();
  /** Table sets and rule sets are interned by their joined text; the parts are kept beside. */
  readonly tableSets = new Interner();
  readonly tableSetParts: number[][] = [[]];
  readonly ruleSets = new Interner();
  readonly ruleSetParts: string[][] = [[]];
  readonly denialSets = new Interner();
  readonly denialSetParts: string[][] = [[]];
  readonly approvalSteps = new Interner();
  readonly columns = new Interner();
  readonly classifications = new Interner();
  /** Column id -> classification id, learned from masked_columns sources. */
  readonly columnClass: number[] = [];

  /** Classified column access: one entry per (released tool call, referenced column). */
  colCount = 0;
  readonly colEvent = new Column(Uint32Array);
  readonly colId = new Column(Uint32Array);
  readonly colMasked = new Column(Uint8Array);

  readonly approvalsById = new Map<string, ApprovalSummary>();
  readonly policyVersions = new Map<string, PolicyVersionSeen>();
  readonly signingKeys = new Set<string>();
  invalidCount = 0;
  readonly invalid: InvalidLine[] = [];

  /** Event indexes in time order (rebuilt only when an out-of-order event arrives). */
  order = new Uint32Array(0);
  private orderLen = 0;
  private followState: FollowState | null = null;
  /** The store's parts (files, chains) the events are in. */
  private readonly parts = new Interner();
  private refreshing: Promise<void> | null = null;
  private lastRefresh = 0;

  constructor(readonly store: AuditStore) {}

  /** Reads whatever was appended since the last call. Concurrent callers share one pass; calls within minIntervalMs reuse it. */
  refresh(minIntervalMs = 0): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (minIntervalMs > 0 && Date.now() - this.lastRefresh < minIntervalMs) return Promise.resolve();
    this.refreshing = this.doRefresh().finally(() => {
      this.refreshing = null;
      this.lastRefresh = Date.now();
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const before = this.count;
    // Records come a file at a time: remember the last part's id instead of a lookup per line.
    let lastPart: string | null = null;
    let lastId = 0;
    this.followState = await this.store.follow(this.followState, {
      record: (text, part, offset, length, line) => {
        if (part !== lastPart) {
          lastPart = part;
          lastId = this.parts.id(part);
        }
        this.ingestLine(text, lastId, part, line, offset, length);
      },
      issue: (part, line, reason) => this.noteInvalid(part, line, reason),
    });
    if (this.count > before) this.extendOrder(before);
  }

  private noteInvalid(file: string, line: number, reason: string): void {
    this.invalidCount++;
    if (this.invalid.length < 200) this.invalid.push({ file, line, reason });
  }

  private ingestLine(text: string, part: number, partName: string, line: number, offset: number, length: number): void {
    let e: AuditEvent;
    try {
      e = JSON.parse(text) as AuditEvent;
    } catch {
      this.noteInvalid(partName, line, 'not JSON');
      return;
    }
    const typeCode = e && typeof e === 'object' ? TYPE_CODE.get(e.event_type) : undefined;
    const t = typeof e?.event_time === 'string' ? Date.parse(e.event_time) : NaN;
    if (typeCode === undefined || Number.isNaN(t) || typeof e.chain_id !== 'string' || typeof e.seq !== 'number') {
      this.noteInvalid(partName, line, 'not an audit event (event_type, event_time, chain_id or seq missing or wrong)');
      return;
    }
    const i = this.count++;
    this.time.set(i, t);
    this.type.set(i, typeCode);
    this.actor.set(i, this.actors.id(e.actor_email ?? e.actor_subject));
    this.actorType.set(i, ACTOR_TYPE_CODE.get(e.actor_type) ?? 0);
    this.table.set(i, this.tables.id(e.target_table));
    const tables = Array.isArray(e.target_tables) ? e.target_tables : [];
    const setKey = tables.join('\n');
    const setId = this.tableSets.id(setKey);
    if (setId === this.tableSetParts.length) this.tableSetParts.push(tables.map((x) => this.tables.id(x)));
    this.tableSet.set(i, setId);
    this.decision.set(i, DECISION_CODE.get(e.decision) ?? DECISION_CODE.get('none')!);
    this.outcome.set(i, OUTCOME_CODE.get(e.outcome) ?? 0);
    const masked = Array.isArray(e.masked_columns) ? e.masked_columns : [];
    const hits = Array.isArray(e.detector_hits) ? e.detector_hits : [];
    let flags = 0;
    if (e.privileged === true) flags |= FLAG_PRIVILEGED;
    if (masked.length) flags |= FLAG_MASKED;
    if (hits.some((h) => h && h.count > 0)) flags |= FLAG_DETECTOR;
    if (e.event_type === 'mcp_request' && e.mcp_method === 'tools/call') flags |= FLAG_TOOL_CALL;
    const ruleList = Array.isArray(e.rule_ids) ? e.rule_ids : [];
    const workflow = isApprovalWorkflow(e);
    if (workflow) flags |= FLAG_APPROVAL;
    this.flags.set(i, flags);
    let denial = 0;
    if (isDenial({ ...e, rule_ids: ruleList })) {
      const keys = denialKeys({ ...e, rule_ids: ruleList });
      denial = this.denialSets.id(keys.join('\n'));
      if (denial === this.denialSetParts.length) this.denialSetParts.push(keys);
    }
    this.denialSet.set(i, denial);
    this.approvalStep.set(i, workflow ? this.approvalSteps.id(approvalStep(e)) : 0);
    this.session.set(i, this.sessions.id(e.session_id));
    const rules = Array.isArray(e.rule_ids) ? e.rule_ids : [];
    const ruleId = this.ruleSets.id(rules.join('\n'));
    if (ruleId === this.ruleSetParts.length) this.ruleSetParts.push(rules.slice());
    this.ruleSet.set(i, ruleId);
    this.approval.set(i, this.approvals.id(e.approval_id));
    this.rows.set(i, typeof e.rows_returned === 'number' ? e.rows_returned : 0);
    this.chain.set(i, this.chains.id(e.chain_id));
    this.seq.set(i, e.seq);
    this.file.set(i, part);
    this.offset.set(i, offset);
    this.length.set(i, length);

    if (e.signing_key_id) this.signingKeys.add(e.signing_key_id);
    if (e.event_type === 'mcp_request' && (flags & FLAG_TOOL_CALL) !== 0) this.indexColumns(i, e, masked);
    if (e.approval_id) this.indexApproval(i, e);
    if (e.policy_version) this.indexPolicy(e);
  }

  private indexColumns(i: number, e: AuditEvent, masked: AuditEvent['masked_columns']): void {
    const maskedSources = new Set<number>();
    for (const m of masked) {
      for (const src of String(m?.source ?? '').split(',')) {
        const s = src.trim();
        if (!s) continue;
        const cid = this.columns.id(s);
        maskedSources.add(cid);
        if (m.classification) this.columnClass[cid] = this.classifications.id(m.classification);
      }
    }
    // Only released results disclose column values; a denied or held call showed nothing.
    const released = e.outcome === 'success' && (e.decision === 'allow' || e.decision === 'mask' || e.decision === 'approval_required');
    if (!released || !Array.isArray(e.target_columns)) return;
    for (const col of e.target_columns) {
      const cid = this.columns.id(col);
      const k = this.colCount++;
      this.colEvent.set(k, i);
      this.colId.set(k, cid);
      this.colMasked.set(k, maskedSources.has(cid) ? 1 : 0);
    }
  }

  private indexApproval(i: number, e: AuditEvent): void {
    const id = e.approval_id!;
    let a = this.approvalsById.get(id);
    if (!a) {
      a = {
        approvalId: id,
        requester: null,
        requestedAt: null,
        requestedSha256: null,
        required: null,
        justification: null,
        tables: [],
        kinds: [],
        sqlText: null,
        grants: [],
        closing: null,
        executions: [],
        events: [],
      };
      this.approvalsById.set(id, a);
    }
    a.events.push(i);
    const who = e.actor_email ?? e.actor_subject;
    switch (e.event_type) {
      case 'approval_requested':
        a.requester = e.approval_requester ?? who;
        a.requestedAt = e.event_time;
        a.requestedSha256 = e.sql_sha256;
        a.required = e.approvals_required;
        a.justification = e.justification;
        a.tables = e.target_tables ?? [];
        a.kinds = e.statement_kinds ?? [];
        a.sqlText = e.sql_text;
        break;
      case 'approval_granted':
        a.grants.push({ approver: who ?? '(unknown)', at: e.event_time, eventIndex: i });
        break;
      case 'approval_rejected':
      case 'approval_expired':
        a.closing = { type: e.event_type, at: e.event_time, by: e.event_type === 'approval_expired' ? 'bqwarden (expiry)' : (who ?? '(unknown)'), reason: e.decision_reason };
        break;
      case 'mcp_request':
        if (e.outcome !== 'pending') a.executions.push({ at: e.event_time, by: who, sha256: e.sql_sha256, outcome: e.outcome, eventIndex: i });
        if (!a.requester && e.approval_requester) a.requester = e.approval_requester;
        break;
    }
  }

  private indexPolicy(e: AuditEvent): void {
    const v = e.policy_version!;
    let p = this.policyVersions.get(v);
    if (!p) {
      p = { version: v, firstSeen: e.event_time, lastSeen: e.event_time, loads: 0, failedLoads: 0, events: 0 };
      this.policyVersions.set(v, p);
    }
    p.events++;
    if (e.event_time < p.firstSeen) p.firstSeen = e.event_time;
    if (e.event_time > p.lastSeen) p.lastSeen = e.event_time;
    if (e.event_type === 'policy_loaded' || e.event_type === 'gateway_start') {
      if (e.outcome === 'success') p.loads++;
      else p.failedLoads++;
    }
  }

  private extendOrder(from: number): void {
    const t = this.time.data;
    if (this.order.length < this.count) {
      const next = new Uint32Array(Math.max(this.count, this.order.length * 2));
      next.set(this.order.subarray(0, this.orderLen));
      this.order = next;
    }
    let inOrder = true;
    let last = this.orderLen ? (t[this.order[this.orderLen - 1] ?? 0] ?? 0) : -Infinity;
    for (let i = from; i < this.count; i++) {
      const ti = t[i] ?? 0;
      if (ti < last) inOrder = false;
      last = ti;
      this.order[this.orderLen++] = i;
    }
    if (!inOrder) {
      // Several chains interleave in time: one sort, stable on index for equal times.
      const view = this.order.subarray(0, this.orderLen);
      const sorted = Array.from(view).sort((a, b) => (t[a] ?? 0) - (t[b] ?? 0) || a - b);
      view.set(sorted);
    }
  }

  /** Time-ordered event indexes (oldest first). */
  ordered(): Uint32Array {
    return this.order.subarray(0, this.orderLen);
  }

  /** Reads one event back from the store and validates it fully (schema) before it is shown. */
  async readEvent(i: number): Promise<AuditEvent> {
    const part = this.parts.get(this.file.at(i));
    const offset = this.offset.data[i];
    const length = this.length.data[i];
    if (i < 0 || i >= this.count || part === null || offset === undefined || length === undefined) throw new Error(`no event #${i}`);
    return this.store.readRecord({ part, offset, length });
  }

  async readEvents(indexes: number[]): Promise<AuditEvent[]> {
    const out: AuditEvent[] = [];
    for (const i of indexes) out.push(await this.readEvent(i));
    return out;
  }

  /** Index of the event with this chain and seq, or -1. */
  findBySeq(chainId: string, seq: number): number {
    const c = this.chains.find(chainId);
    if (c < 0) return -1;
    const ch = this.chain.data;
    const sq = this.seq.data;
    for (let i = 0; i < this.count; i++) if (ch[i] === c && sq[i] === seq) return i;
    return -1;
  }

  // Codes come from the same lists (TYPE_CODE …), so a code past a list's end is a damaged index.
  eventType(i: number): string {
    return codeName(EVENT_TYPES, this.type.at(i));
  }
  decisionOf(i: number): string {
    return codeName(DECISIONS, this.decision.at(i));
  }
  outcomeOf(i: number): string {
    return codeName(OUTCOMES, this.outcome.at(i));
  }
  actorTypeOf(i: number): string {
    return codeName(ACTOR_TYPES, this.actorType.at(i));
  }
}

function codeName(list: readonly string[], code: number): string {
  const name = list[code];
  if (name === undefined) throw new Error(`console index: code ${code} is not in its list of ${list.length}`);
  return name;
}
