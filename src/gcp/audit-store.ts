// The BigQuery audit table (Pub/Sub → BigQuery subscription → partitioned table) as an
// AuditStore: the production read path of approvals, verify, replay and report. Every query
// filters on event_time, the partitioning column (what prunes partitions and what
// require_partition_filter demands), and reads only the event columns (never the subscription's
// metadata), and each row is normalised back into the exact event the gateway hashed.
import type { BigQuery } from '@google-cloud/bigquery';
import type { AuditEvent } from '../audit/event.js';
import { normalizeEvent } from '../audit/normalize.js';
import {
  APPROVAL_TYPES,
  AuditReadError,
  type AuditRecord,
  type AuditStore,
  type FollowSink,
  type FollowState,
  type HeadFilter,
  type RangeFilter,
  type RecordRef,
  type ReadIssue,
  type ReadOptions,
  type StoredEvent,
  type StoredHead,
} from '../audit/store.js';
import { eventTableFields } from './audit-schema.js';
import { createBigQueryClient, quoteIdent } from './bigquery.js';
import { parseTableId } from './looker.js';

export interface BigQueryAuditStoreOptions {
  /** project.dataset.table of the raw audit table (or a view of it with the same columns). */
  table: string;
  /** Project that runs the query jobs; defaults to the table's project. */
  projectId?: string;
  /** Dataset location (US, EU, europe-west2 …). */
  location?: string;
  bigquery?: BigQuery;
  apiEndpoint?: string;
}

/** Before any partition: "every partition", still an explicit partition filter. */
const EPOCH = '1970-01-01T00:00:00.000Z';

interface Where {
  /** Events of the UTC days @from_date..@to_date, or at/after @since (and at/before @until). */
  days?: boolean;
  until?: boolean;
  chain?: boolean;
  session?: boolean;
  types?: boolean;
}

function tableRef(table: string): string {
  const t = parseTableId(table);
  return quoteIdent(t.projectId, t.datasetId, t.tableId);
}

function whereClause(w: Where): string {
  return [
    w.days ? `WHERE event_time >= TIMESTAMP(@from_date) AND event_time < TIMESTAMP_ADD(TIMESTAMP(@to_date), INTERVAL 1 DAY)` : `WHERE event_time >= TIMESTAMP(@since)`,
    w.types ? ` AND event_type IN UNNEST(@event_types)` : '',
    w.until ? ` AND event_time <= TIMESTAMP(@until)` : '',
    w.chain ? `\n  AND chain_id = @chain_id` : '',
    w.session ? `\n  AND session_id = @session_id` : '',
  ].join('');
}

/** The event columns of the rows the filter selects, in chain order. */
function buildEventQuery(table: string, w: Where): string {
  const cols = eventTableFields()
    .map((f) => quoteIdent(f.name))
    .join(', ');
  return [`SELECT ${cols}`, `FROM ${tableRef(table)}`, whereClause(w), `ORDER BY chain_id, seq`].join('\n');
}

/** The rows of the UTC days @from_date..@to_date (and one chain), in chain order: `verify --bigquery` and the report. */
export function buildVerifyQuery(table: string, withChain: boolean): string {
  return buildEventQuery(table, { days: true, chain: withChain });
}

/** The approval_* rows at or after @since. */
export function buildApprovalQuery(table: string): string {
  return buildEventQuery(table, { types: true });
}

interface BigQueryFollowState extends FollowState {
  /** Newest event_time handed over (ms), null before the first follow. */
  sinceMs: number | null;
  /** chain + seq of every event handed over, and rows reported as damaged. */
  seen: Set<string>;
}

/** Rows reach the table seconds (at worst minutes) after Pub/Sub took them, carrying older event times. */
const FOLLOW_OVERLAP_MS = 15 * 60_000;

// The client hands INT64 and TIMESTAMP of aggregates back wrapped ({value}).
const unwrap = (x: unknown): unknown => (x !== null && typeof x === 'object' && 'value' in (x as object) ? (x as { value: unknown }).value : x);

export class BigQueryAuditStore implements AuditStore {
  readonly name: string;
  readonly table: string;
  private client: BigQuery | null;

  constructor(private readonly o: BigQueryAuditStoreOptions) {
    // Refuses a table id that is not project.dataset.table before any query is sent.
    const t = parseTableId(o.table);
    this.table = o.table;
    this.name = `bigquery:${o.table}`;
    this.client = o.bigquery ?? null;
    this.projectId = o.projectId ?? t.projectId;
  }

  private readonly projectId: string;

  private bq(): BigQuery {
    this.client ??= createBigQueryClient({ projectId: this.projectId, apiEndpoint: this.o.apiEndpoint });
    return this.client;
  }

  /** Rows of a query, streamed; a failed query is an AuditReadError naming the table. */
  private async *rows(query: string, params: Record<string, unknown>): AsyncGenerator<Record<string, unknown>> {
    const stream = this.bq().createQueryStream({ query, params, location: this.o.location });
    try {
      yield* stream as AsyncIterable<Record<string, unknown>>;
    } catch (err) {
      throw new AuditReadError(`query on ${this.table} failed: ${(err as Error).message}`);
    }
  }

  private select(filter: RangeFilter & { days?: { from: string; to: string } }): AsyncGenerator<Record<string, unknown>> {
    const params: Record<string, unknown> = filter.days ? { from_date: filter.days.from, to_date: filter.days.to } : { since: filter.from?.toISOString() ?? EPOCH };
    if (filter.eventTypes) params.event_types = [...filter.eventTypes];
    if (!filter.days && filter.to) params.until = filter.to.toISOString();
    if (filter.chainId !== undefined) params.chain_id = filter.chainId;
    if (filter.sessionId !== undefined) params.session_id = filter.sessionId;
    const query = buildEventQuery(this.table, {
      days: Boolean(filter.days),
      types: Boolean(filter.eventTypes),
      until: 'until' in params,
      chain: filter.chainId !== undefined,
      session: filter.sessionId !== undefined,
    });
    return this.rows(query, params);
  }

  private async *events(filter: RangeFilter & { days?: { from: string; to: string } }, opts: ReadOptions): AsyncGenerator<StoredEvent> {
    // An empty list would be an untyped array parameter, which BigQuery refuses: nothing can match.
    if (filter.eventTypes?.length === 0) return;
    let n = 0;
    for await (const row of this.select(filter)) {
      n++;
      let event: AuditEvent;
      try {
        event = normalizeEvent(row);
      } catch (err) {
        const issue: ReadIssue = { file: this.table, line: n, torn: false, reason: `not an audit event: ${(err as Error).message}` };
        if (opts.onInvalid) {
          opts.onInvalid(issue);
          continue;
        }
        throw new AuditReadError(`${this.table} row ${n} (event_id ${String(row.event_id)}) is ${issue.reason}`, issue);
      }
      yield { event, loc: { ref: `${this.table} chain=${event.chain_id} seq=${event.seq}` } };
    }
  }

  range(filter: RangeFilter = {}, opts: ReadOptions = {}): AsyncIterable<StoredEvent> {
    return this.events(filter, opts);
  }

  byDay(fromDay: string, toDay: string, filter: Omit<RangeFilter, 'from' | 'to'> = {}, opts: ReadOptions = {}): AsyncIterable<StoredEvent> {
    return this.events({ ...filter, days: { from: fromDay, to: toDay } }, opts);
  }

  async *approvalEvents(from?: Date): AsyncGenerator<AuditEvent> {
    for await (const { event } of this.events({ eventTypes: APPROVAL_TYPES, ...(from ? { from } : {}) }, {})) yield event;
  }

  async *records(filter: { chainId?: string; days?: { from: string; to: string } } = {}): AsyncGenerator<AuditRecord> {
    let n = 0;
    for await (const row of this.select(filter)) {
      n++;
      try {
        const event = normalizeEvent(row);
        yield { kind: 'event', event, loc: { ref: `${this.table} chain=${event.chain_id} seq=${event.seq}` } };
      } catch (err) {
        const chain = typeof row.chain_id === 'string' ? row.chain_id : null;
        yield { kind: 'invalid', defect: 'malformed', reason: `row is not an audit event: ${(err as Error).message}`, loc: { ref: `${this.table} row ${n}` }, chain, seq: null };
      }
    }
  }

  async heads(filter: HeadFilter = {}): Promise<StoredHead[]> {
    if (filter.chainIds?.length === 0) return [];
    // Still a partition filter, and it reads three narrow columns.
    const sql = [
      `SELECT chain_id, COUNT(*) AS n, MAX(seq) AS last_seq, MAX(event_time) AS last_time`,
      `FROM ${tableRef(this.table)}`,
      filter.afterDay ? `WHERE event_time >= TIMESTAMP_ADD(TIMESTAMP(@to_date), INTERVAL 1 DAY)` : `WHERE event_time >= TIMESTAMP(@since)`,
      filter.chainIds ? `  AND chain_id IN UNNEST(@chains)` : '',
      `GROUP BY chain_id`,
    ]
      .filter(Boolean)
      .join('\n');
    const params: Record<string, unknown> = filter.afterDay ? { to_date: filter.afterDay } : { since: EPOCH };
    if (filter.chainIds) params.chains = [...filter.chainIds];
    const out: StoredHead[] = [];
    for await (const r of this.rows(sql, params)) {
      const time = unwrap(r.last_time);
      out.push({ chain_id: String(r.chain_id), events: Number(unwrap(r.n)), seq: Number(unwrap(r.last_seq)), event_time: time instanceof Date ? time.toISOString() : String(time) });
    }
    return out.sort((a, b) => (a.chain_id < b.chain_id ? -1 : 1));
  }

  /**
   * Each follow reads the rows of the last FOLLOW_OVERLAP_MS again (late rows) and hands over
   * only events not handed over before; the first reads every partition.
   */
  async follow(state: FollowState | null, sink: FollowSink): Promise<FollowState> {
    const st: BigQueryFollowState = state && state.store === this.name && 'seen' in state ? (state as BigQueryFollowState) : { store: this.name, sinceMs: null, seen: new Set() };
    let newest = st.sinceMs;
    let n = 0;
    for await (const row of this.select(st.sinceMs === null ? {} : { from: new Date(st.sinceMs - FOLLOW_OVERLAP_MS) })) {
      n++;
      let e: AuditEvent;
      try {
        e = normalizeEvent(row);
      } catch (err) {
        const key = `row\n${String(row.chain_id)}\n${String(row.seq)}\n${String(row.event_id)}`;
        if (!st.seen.has(key)) sink.issue(this.table, n, `not an audit event: ${(err as Error).message}`);
        st.seen.add(key);
        continue;
      }
      const key = `${e.chain_id}\n${e.seq}`;
      if (st.seen.has(key)) continue;
      st.seen.add(key);
      const t = Date.parse(e.event_time);
      if (newest === null || t > newest) newest = t;
      sink.record(JSON.stringify(e), e.chain_id, e.seq, 0, n);
    }
    st.sinceMs = newest;
    return st;
  }

  /** The event a follow() handed over: part is its chain, offset its seq. */
  async readRecord(ref: RecordRef): Promise<AuditEvent> {
    for await (const { event } of this.events({ chainId: ref.part }, {})) if (event.seq === ref.offset) return event;
    throw new AuditReadError(`${this.table}: chain ${ref.part} has no event at seq ${ref.offset}`);
  }

  /** How many rows the UTC days hold (for a progress bar). */
  async countDays(fromDay: string, toDay: string, chainId?: string): Promise<number> {
    const sql = `SELECT COUNT(*) AS n FROM ${tableRef(this.table)} ${whereClause({ days: true, chain: chainId !== undefined }).replace('\n', '')}`;
    const params: Record<string, unknown> = { from_date: fromDay, to_date: toDay };
    if (chainId !== undefined) params.chain_id = chainId;
    for await (const r of this.rows(sql, params)) return Number(unwrap(r.n));
    return 0;
  }
}
