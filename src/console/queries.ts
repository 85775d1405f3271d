// The examiner's questions, answered over the console index: filters (user, table, decision,
// time window, …), the overview aggregates and the paged event list. Everything is a scan over
// the index's typed columns; nothing here touches the audit files.
import { DECISIONS, EVENT_TYPES } from '../audit/event.js';
import { FLAG_APPROVAL, FLAG_DETECTOR, FLAG_MASKED, FLAG_PRIVILEGED, FLAG_TOOL_CALL, type AuditIndex, type ApprovalSummary } from './audit-index.js';

export interface Filter {
  actor?: string;
  table?: string;
  decision?: string;
  type?: string;
  rule?: string;
  session?: string;
  approval?: string;
  /** Source column (project.dataset.table.column) or its classification, with clear/masked. */
  column?: string;
  classification?: string;
  visibility?: 'clear' | 'masked';
  privileged?: boolean;
  from?: number;
  to?: number;
}

const FILTER_KEYS = ['actor', 'table', 'decision', 'type', 'rule', 'session', 'approval', 'column', 'classification', 'visibility', 'privileged', 'from', 'to'] as const;

const DAY = 86_400_000;

/** Parses query-string filters; refuses values it cannot read rather than silently ignoring them. */
export function parseFilter(q: Record<string, unknown>): { filter: Filter; errors: string[] } {
  const f: Filter = {};
  const errors: string[] = [];
  const str = (k: string): string | undefined => {
    const v = q[k];
    if (typeof v !== 'string' || v.trim() === '') return undefined;
    if (v.length > 512) {
      errors.push(`${k} is longer than 512 characters`);
      return undefined;
    }
    return v.trim();
  };
  for (const k of ['actor', 'table', 'rule', 'session', 'approval', 'column', 'classification'] as const) {
    const v = str(k);
    if (v !== undefined) f[k] = v;
  }
  const decision = str('decision');
  if (decision !== undefined) {
    if ((DECISIONS as readonly string[]).includes(decision)) f.decision = decision;
    else errors.push(`decision must be one of ${DECISIONS.join(', ')}`);
  }
  const type = str('type');
  if (type !== undefined) {
    if ((EVENT_TYPES as readonly string[]).includes(type)) f.type = type;
    else errors.push(`type must be an audit event type`);
  }
  const vis = str('visibility');
  if (vis !== undefined) {
    if (vis === 'clear' || vis === 'masked') f.visibility = vis;
    else errors.push('visibility must be clear or masked');
  }
  const priv = str('privileged');
  if (priv !== undefined) f.privileged = priv === '1' || priv === 'true';
  for (const k of ['from', 'to'] as const) {
    const v = str(k);
    if (v === undefined) continue;
    // A bare date means the whole UTC day: from its start, to its end.
    const ms = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) + (k === 'to' ? DAY - 1 : 0) : Date.parse(v);
    if (Number.isNaN(ms)) errors.push(`${k} must be a date (YYYY-MM-DD) or an ISO timestamp`);
    else f[k] = ms;
  }
  return { filter: f, errors };
}

/** The filter back as query-string pairs (for links that keep the current filters). */
export function filterQuery(f: Filter, extra: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const v = f[k];
    if (v === undefined) continue;
    if (k === 'from' || k === 'to') q.set(k, new Date(v as number).toISOString());
    else if (k === 'privileged') q.set(k, v ? '1' : '0');
    else q.set(k, String(v));
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A compiled predicate over event indexes. */
export function matcher(ix: AuditIndex, f: Filter): (i: number) => boolean {
  const none = () => false;
  const checks: ((i: number) => boolean)[] = [];
  if (f.actor !== undefined) {
    const id = ix.actors.find(f.actor);
    if (id < 0) return none;
    const a = ix.actor.data;
    checks.push((i) => a[i] === id);
  }
  if (f.table !== undefined) {
    const id = ix.tables.find(f.table);
    if (id < 0) return none;
    const sets = ix.tableSet.data;
    const parts = ix.tableSetParts;
    const cache = new Map<number, boolean>();
    checks.push((i) => {
      const s = sets[i] ?? 0;
      let hit = cache.get(s);
      if (hit === undefined) {
        hit = parts[s]?.includes(id) ?? false;
        cache.set(s, hit);
      }
      return hit;
    });
  }
  if (f.decision !== undefined) {
    const code = (DECISIONS as readonly string[]).indexOf(f.decision);
    const d = ix.decision.data;
    checks.push((i) => d[i] === code);
  }
  if (f.type !== undefined) {
    const code = (EVENT_TYPES as readonly string[]).indexOf(f.type);
    const t = ix.type.data;
    checks.push((i) => t[i] === code);
  }
  if (f.rule !== undefined) {
    const rule = f.rule;
    const rs = ix.ruleSet.data;
    const parts = ix.ruleSetParts;
    const cache = new Map<number, boolean>();
    checks.push((i) => {
      const s = rs[i] ?? 0;
      let hit = cache.get(s);
      if (hit === undefined) {
        hit = parts[s]?.includes(rule) ?? false;
        cache.set(s, hit);
      }
      return hit;
    });
  }
  if (f.session !== undefined) {
    const id = ix.sessions.find(f.session);
    if (id < 0) return none;
    const s = ix.session.data;
    checks.push((i) => s[i] === id);
  }
  if (f.approval !== undefined) {
    const id = ix.approvals.find(f.approval);
    if (id < 0) return none;
    const a = ix.approval.data;
    checks.push((i) => a[i] === id);
  }
  if (f.privileged !== undefined) {
    const want = f.privileged;
    const fl = ix.flags.data;
    checks.push((i) => (((fl[i] ?? 0) & FLAG_PRIVILEGED) !== 0) === want);
  }
  if (f.from !== undefined || f.to !== undefined) {
    const from = f.from ?? -Infinity;
    const to = f.to ?? Infinity;
    const t = ix.time.data;
    checks.push((i) => {
      const ti = t[i] ?? 0;
      return ti >= from && ti <= to;
    });
  }
  if (f.column !== undefined || f.classification !== undefined || f.visibility !== undefined) {
    const events = columnEvents(ix, f);
    checks.push((i) => events.has(i));
  }
  if (checks.length === 0) return () => true;
  return (i) => {
    for (const c of checks) if (!c(i)) return false;
    return true;
  };
}

/** Events whose released result included a column matching the column/classification/visibility filter. */
function columnEvents(ix: AuditIndex, f: Filter): Set<number> {
  const out = new Set<number>();
  const col = f.column !== undefined ? ix.columns.find(f.column) : null;
  const cls = f.classification !== undefined ? ix.classifications.find(f.classification) : null;
  if (col === -1 || cls === -1) return out;
  const ev = ix.colEvent.data;
  const id = ix.colId.data;
  const masked = ix.colMasked.data;
  const wantMasked = f.visibility === undefined ? -1 : f.visibility === 'masked' ? 1 : 0;
  for (let k = 0; k < ix.colCount; k++) {
    const c = id[k] ?? 0;
    if (col !== null && c !== col) continue;
    if (cls !== null && (ix.columnClass[c] ?? 0) !== cls) continue;
    if (wantMasked >= 0 && masked[k] !== wantMasked) continue;
    out.add(ev[k] ?? 0);
  }
  return out;
}

export interface Count {
  key: string;
  n: number;
}

export interface ColumnAccessRow {
  column: string;
  classification: string | null;
  actor: string;
  clear: number;
  masked: number;
}

export interface Overview {
  total: number;
  toolCalls: number;
  denied: number;
  masked: number;
  privileged: number;
  approvalRequired: number;
  detectorHits: number;
  authFailures: number;
  rows: number;
  /** Bucketed counts for the time-series chart: bucket start (epoch s), calls, denied, masked. */
  series: { bucketMs: number; t: number[]; calls: number[]; denied: number[]; masked: number[] };
  topActors: Count[];
  topTables: Count[];
  decisions: Count[];
  /** Policy, authentication and input denials by rule; by what refused them when no rule did. */
  denialsByRule: Count[];
  /** The approval workflow's events by step, apart from policy decisions and denials. */
  approvalEvents: Count[];
  eventTypes: Count[];
  columnAccess: ColumnAccessRow[];
  approvals: ApprovalSummary[];
  firstEvent: number | null;
  lastEvent: number | null;
}

function top(map: Map<string, number>, n: number): Count[] {
  return [...map.entries()]
    .map(([key, v]) => ({ key, n: v }))
    .sort((a, b) => b.n - a.n || (a.key < b.key ? -1 : 1))
    .slice(0, n);
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

const BUCKETS = [60_000, 300_000, 3_600_000, 6 * 3_600_000, DAY, 7 * DAY];

export function overview(ix: AuditIndex, f: Filter): Overview {
  const match = matcher(ix, f);
  const t = ix.time.data;
  const ty = ix.type.data;
  const fl = ix.flags.data;
  const dec = ix.decision.data;
  const act = ix.actor.data;
  const tab = ix.table.data;
  const ds = ix.denialSet.data;
  const steps = ix.approvalStep.data;
  const rows = ix.rows.data;
  const MASK = DECISIONS.indexOf('mask');
  const APPROVAL = DECISIONS.indexOf('approval_required');
  const AUTH_FAIL = EVENT_TYPES.indexOf('auth_failure');
  const CHECKPOINT = EVENT_TYPES.indexOf('checkpoint');

  const o: Overview = {
    total: 0,
    toolCalls: 0,
    denied: 0,
    masked: 0,
    privileged: 0,
    approvalRequired: 0,
    detectorHits: 0,
    authFailures: 0,
    rows: 0,
    series: { bucketMs: DAY, t: [], calls: [], denied: [], masked: [] },
    topActors: [],
    topTables: [],
    decisions: [],
    denialsByRule: [],
    approvalEvents: [],
    eventTypes: [],
    columnAccess: [],
    approvals: [],
    firstEvent: null,
    lastEvent: null,
  };
  const actorCounts = new Map<number, number>();
  const tableCounts = new Map<number, number>();
  const ruleDenials = new Map<number, number>();
  const stepCounts = new Map<number, number>();
  const decisionCounts = new Uint32Array(DECISIONS.length);
  const typeCounts = new Uint32Array(EVENT_TYPES.length);
  const matched: number[] = [];
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < ix.count; i++) {
    const type = ty[i] ?? 0;
    if (type === CHECKPOINT && f.type !== 'checkpoint') continue;
    if (!match(i)) continue;
    matched.push(i);
    o.total++;
    typeCounts[type] = (typeCounts[type] ?? 0) + 1;
    const time = t[i] ?? 0;
    if (time < first) first = time;
    if (time > last) last = time;
    const flags = fl[i] ?? 0;
    if (flags & FLAG_TOOL_CALL) o.toolCalls++;
    if (flags & FLAG_PRIVILEGED) o.privileged++;
    if (flags & FLAG_DETECTOR) o.detectorHits++;
    if (type === AUTH_FAIL) o.authFailures++;
    const d = dec[i] ?? 0;
    // The approval workflow (requests, votes, rejections, expiries) is not a policy decision.
    if (flags & FLAG_APPROVAL) {
      const step = steps[i] ?? 0;
      stepCounts.set(step, (stepCounts.get(step) ?? 0) + 1);
    } else decisionCounts[d] = (decisionCounts[d] ?? 0) + 1;
    const denial = ds[i] ?? 0;
    if (denial !== 0) {
      o.denied++;
      ruleDenials.set(denial, (ruleDenials.get(denial) ?? 0) + 1);
    }
    if (d === MASK || flags & FLAG_MASKED) o.masked++;
    if (d === APPROVAL && !(flags & FLAG_APPROVAL)) o.approvalRequired++;
    o.rows += rows[i] ?? 0;
    const actor = act[i] ?? 0;
    if (actor) actorCounts.set(actor, (actorCounts.get(actor) ?? 0) + 1);
    const table = tab[i] ?? 0;
    if (table) tableCounts.set(table, (tableCounts.get(table) ?? 0) + 1);
  }
  if (o.total) {
    o.firstEvent = first;
    o.lastEvent = last;
    const span = Math.max(1, (f.to ?? last) - (f.from ?? first));
    const bucket = BUCKETS.find((b) => span / b <= 120) ?? 30 * DAY;
    const start = Math.floor((f.from ?? first) / bucket) * bucket;
    const n = Math.floor(((f.to ?? last) - start) / bucket) + 1;
    const calls = new Array<number>(n).fill(0);
    const denied = new Array<number>(n).fill(0);
    const masked = new Array<number>(n).fill(0);
    for (const i of matched) {
      const b = Math.floor(((t[i] ?? 0) - start) / bucket);
      if (b < 0 || b >= n) continue;
      const flags = fl[i] ?? 0;
      // b is in 0..n-1, the length of the three series, checked just above.
      if (flags & FLAG_TOOL_CALL || ty[i] === AUTH_FAIL) calls[b]!++;
      if ((ds[i] ?? 0) !== 0) denied[b]!++;
      if (dec[i] === MASK || flags & FLAG_MASKED) masked[b]!++;
    }
    o.series = { bucketMs: bucket, t: Array.from({ length: n }, (_, k) => (start + k * bucket) / 1000), calls, denied, masked };
  }
  const named = (m: Map<number, number>, names: { get(id: number): string | null }) => {
    const out = new Map<string, number>();
    for (const [id, v] of m) out.set(names.get(id) ?? '(none)', v);
    return out;
  };
  o.topActors = top(named(actorCounts, ix.actors), 10);
  o.topTables = top(named(tableCounts, ix.tables), 10);
  const ruleMap = new Map<string, number>();
  for (const [set, v] of ruleDenials) for (const r of ix.denialSetParts[set] ?? []) bump(ruleMap, r, v);
  o.denialsByRule = top(ruleMap, 15);
  o.approvalEvents = [...stepCounts].map(([id, n]) => ({ key: ix.approvalSteps.get(id) ?? '', n })).sort((a, b) => b.n - a.n || (a.key < b.key ? -1 : 1));
  o.decisions = DECISIONS.map((d, k) => ({ key: d, n: decisionCounts[k] ?? 0 })).filter((c) => c.n > 0);
  o.eventTypes = EVENT_TYPES.map((d, k) => ({ key: d, n: typeCounts[k] ?? 0 })).filter((c) => c.n > 0);
  o.columnAccess = columnAccess(ix, f, match);
  o.approvals = approvalsFor(ix, match);
  return o;
}

/** Classified column access (columns with a known classification), clear vs masked, per actor. */
export function columnAccess(ix: AuditIndex, f: Filter, match = matcher(ix, f)): ColumnAccessRow[] {
  // Numeric keys (column id, actor id): string keys cost most of the time at a million rows.
  const rows = new Map<number, ColumnAccessRow>();
  const ev = ix.colEvent.data;
  const id = ix.colId.data;
  const masked = ix.colMasked.data;
  const act = ix.actor.data;
  for (let k = 0; k < ix.colCount; k++) {
    const c = id[k] ?? 0;
    const cls = ix.columnClass[c];
    if (!cls) continue;
    const i = ev[k] ?? 0;
    if (!match(i)) continue;
    const actor = act[i] ?? 0;
    const key = c * 0x4000000 + actor;
    let r = rows.get(key);
    if (!r) {
      r = { column: ix.columns.get(c) ?? '', classification: ix.classifications.get(cls), actor: ix.actors.get(actor) ?? '(anonymous)', clear: 0, masked: 0 };
      rows.set(key, r);
    }
    if (masked[k]) r.masked++;
    else r.clear++;
  }
  return [...rows.values()].sort((a, b) => b.clear - a.clear || b.masked - a.masked || (a.column < b.column ? -1 : 1));
}

/** Approvals with at least one event matching the filter, newest request first. */
export function approvalsFor(ix: AuditIndex, match: (i: number) => boolean): ApprovalSummary[] {
  const out: ApprovalSummary[] = [];
  for (const a of ix.approvalsById.values()) if (a.events.some(match)) out.push(a);
  return out.sort((a, b) => ((a.requestedAt ?? '') < (b.requestedAt ?? '') ? 1 : -1));
}

export interface ApprovalFlags {
  selfApproved: boolean;
  textDiffers: boolean;
  latencySeconds: number | null;
  status: string;
}

/** The two separation-of-duties facts an examiner checks; both must be false. */
export function approvalFlags(a: ApprovalSummary): ApprovalFlags {
  const selfApproved = a.requester !== null && a.grants.some((g) => g.approver === a.requester);
  const textDiffers = a.requestedSha256 !== null && a.executions.some((x) => x.sha256 !== a.requestedSha256);
  const lastGrant = a.grants.at(-1)?.at ?? null;
  const latencySeconds = lastGrant && a.requestedAt ? Math.round((Date.parse(lastGrant) - Date.parse(a.requestedAt)) / 1000) : null;
  const status = a.executions.length ? 'executed' : a.closing ? a.closing.type.replace('approval_', '') : a.grants.length >= (a.required ?? 1) ? 'approved' : 'pending';
  return { selfApproved, textDiffers, latencySeconds, status };
}

/** One page of matching events, newest first, and how many matched in all. */
export function listEvents(ix: AuditIndex, f: Filter, page: number, pageSize: number): { total: number; indexes: number[] } {
  const match = matcher(ix, f);
  const order = ix.ordered();
  const skip = page * pageSize;
  const indexes: number[] = [];
  let total = 0;
  const CHECKPOINT = EVENT_TYPES.indexOf('checkpoint');
  const ty = ix.type.data;
  for (let k = order.length - 1; k >= 0; k--) {
    // k runs over order's own indexes, from its length down.
    const i = order[k]!;
    if (ty[i] === CHECKPOINT && f.type !== 'checkpoint') continue;
    if (!match(i)) continue;
    if (total >= skip && indexes.length < pageSize) indexes.push(i);
    total++;
  }
  return { total, indexes };
}

/** Every event of a session in time order (index order breaks ties, i.e. chain order). */
export function sessionEvents(ix: AuditIndex, sessionId: string): number[] {
  const id = ix.sessions.find(sessionId);
  if (id < 0) return [];
  const s = ix.session.data;
  const out: number[] = [];
  for (const i of ix.ordered()) if (s[i] === id) out.push(i);
  return out;
}
