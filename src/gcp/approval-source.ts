// Approval state for gateways that audit to Pub/Sub: the approval events of every instance land
// in the BigQuery audit table (through the BigQuery subscription), so this source rebuilds state
// from there at start and then polls for events other instances wrote.
//
// What it guarantees to the fold (src/approvals/reduce.ts):
// - only approval_* events (the fold ignores the rest, including the mcp_request of an executed
//   call), from a partition-filtered window: event_time >= now - lookbackDays;
// - one copy per event_id (the subscription delivers at least once); two rows with the same id
//   but different content are refused, since picking one would be a guess;
// - every row normalised back into the exact event the gateway hashed, and its hash recomputed:
//   a row edited in BigQuery is refused rather than folded (skipping it could drop a rejection
//   and so fail open, so a damaged window stops the rebuild, like the local source does);
// - time order (event_time, chain, seq), with requests ahead of the votes on them within a batch
//   so a few ms of clock skew between instances cannot put a grant before its request.
//
// Following: the BigQuery copy lags Pub/Sub by seconds and late rows can carry older event
// times, so each poll looks back `overlapMs` again and de-duplicates against what it already
// delivered. Polls are shared by all subscribers and a result is reused for `cacheTtlMs`.
import type { BigQuery } from '@google-cloud/bigquery';
import type { AuditEvent } from '../audit/event.js';
import { hashValidEvent } from '../audit/hash.js';
import { AuditReadError } from '../audit/store.js';
import { ApprovalSourceError } from '../approvals/source.js';
import type { ApprovalEventSource } from '../approvals/types.js';
import { BigQueryAuditStore } from './audit-store.js';
import type { GcpConfig } from './config.js';

export { buildApprovalQuery } from './audit-store.js';

/**
 * The longest expiry approvals/config.ts accepts as a default is 7 days; one more day of margin.
 * A request older than the window is not loaded, so votes on it fold as "unknown id" and never
 * count (fail closed); raise lookbackDays if policy gives longer expiries.
 */
export const DEFAULT_LOOKBACK_DAYS = 8;
const DAY_MS = 86_400_000;

export interface BigQueryApprovalSourceOptions {
  /** project.dataset.table: the approval_events view (Terraform output) or the raw audit table. */
  table: string;
  /** Project that runs the query jobs; defaults to the table's project. */
  projectId?: string;
  /** Dataset location (US, EU, europe-west2 …). */
  location?: string;
  lookbackDays?: number;
  /** How often subscribers are sent new events; 0 = load only, never follow. Default 5 s. */
  pollIntervalMs?: number;
  /** A poll result is reused this long by refresh() without force. Default: pollIntervalMs / 2. */
  cacheTtlMs?: number;
  /** How far back every poll looks again, for rows that reach BigQuery late. Default 15 min. */
  overlapMs?: number;
  bigquery?: BigQuery;
  apiEndpoint?: string;
  now?: () => number;
  /** A failed poll (the source keeps polling; state is unchanged until a poll succeeds). */
  onError?: (err: Error) => void;
}

export interface BigQueryApprovalSource extends ApprovalEventSource {
  /**
   * Polls now, unless a poll finished less than cacheTtlMs ago (force skips that), and hands new
   * events to the subscribers. Resolves with how many were new; rejects when the query fails.
   */
  refresh(opts?: { force?: boolean }): Promise<number>;
  /** False after a failed poll, until one succeeds (for /readyz details). */
  isHealthy(): boolean;
  readonly lastError: Error | null;
  /** Stops polling. */
  close(): void;
}

function timeOrder(a: AuditEvent, b: AuditEvent): number {
  if (a.event_time !== b.event_time) return a.event_time < b.event_time ? -1 : 1;
  if (a.chain_id !== b.chain_id) return a.chain_id < b.chain_id ? -1 : 1;
  return a.seq - b.seq;
}

/** Time order, with every approval_requested of the batch ahead of the other events. */
export function foldOrder(events: AuditEvent[]): AuditEvent[] {
  const sorted = [...events].sort(timeOrder);
  return [...sorted.filter((e) => e.event_type === 'approval_requested'), ...sorted.filter((e) => e.event_type !== 'approval_requested')];
}

export function createBigQueryApprovalSource(o: BigQueryApprovalSourceOptions): BigQueryApprovalSource {
  const store = new BigQueryAuditStore({ table: o.table, projectId: o.projectId, location: o.location, bigquery: o.bigquery, apiEndpoint: o.apiEndpoint });
  const lookbackDays = o.lookbackDays ?? DEFAULT_LOOKBACK_DAYS;
  if (!Number.isFinite(lookbackDays) || lookbackDays <= 0) throw new Error(`approval source: lookbackDays must be positive, got ${lookbackDays}`);
  const pollIntervalMs = o.pollIntervalMs ?? 5_000;
  const cacheTtlMs = o.cacheTtlMs ?? Math.floor(pollIntervalMs / 2);
  const overlapMs = o.overlapMs ?? 15 * 60_000;
  const now = o.now ?? Date.now;

  /** event_id → hash and time of what was delivered, for de-duplication inside the poll window. */
  const known = new Map<string, { hash: string; timeMs: number }>();
  const listeners = new Set<(e: AuditEvent) => void>();
  let timer: NodeJS.Timeout | null = null;
  let inflight: Promise<number> | null = null;
  let lastPollDone = -Infinity;
  let healthy = true;
  let lastError: Error | null = null;
  let closed = false;

  /** Runs the query; returns the new events in fold order, or throws ApprovalSourceError. */
  async function fetchSince(sinceMs: number, what: string): Promise<AuditEvent[]> {
    const fresh = new Map<string, AuditEvent>();
    try {
      for await (const e of store.approvalEvents(new Date(sinceMs))) {
        if (hashValidEvent(e) !== e.hash) {
          throw new ApprovalSourceError(
            `approval state cannot be ${what}: ${o.table} event ${e.event_id} (${e.event_type}, chain ${e.chain_id} seq ${e.seq}) does not match its hash: the row was edited after the gateway wrote it`,
          );
        }
        const seen = known.get(e.event_id)?.hash ?? fresh.get(e.event_id)?.hash;
        if (seen !== undefined && seen !== e.hash) {
          throw new ApprovalSourceError(`approval state cannot be ${what}: ${o.table} holds two different events with event_id ${e.event_id}`);
        }
        if (seen === undefined) fresh.set(e.event_id, e);
      }
    } catch (err) {
      // A failed query or a row that is not an audit event: the window cannot be folded.
      if (err instanceof AuditReadError) throw new ApprovalSourceError(`approval state cannot be ${what}: ${err.message}`);
      throw err;
    }
    return foldOrder([...fresh.values()]);
  }

  function remember(events: AuditEvent[]): void {
    for (const e of events) known.set(e.event_id, { hash: e.hash, timeMs: Date.parse(e.event_time) });
  }

  async function poll(): Promise<number> {
    const sinceMs = now() - overlapMs;
    const events = await fetchSince(sinceMs, 'followed');
    remember(events);
    // Rows older than the window can no longer come back from the query: forget them.
    for (const [id, k] of known) if (k.timeMs < sinceMs) known.delete(id);
    for (const e of events) {
      for (const l of listeners) l(e);
    }
    return events.length;
  }

  function refresh(opts: { force?: boolean } = {}): Promise<number> {
    if (closed) return Promise.resolve(0);
    if (inflight) return inflight;
    if (!opts.force && now() - lastPollDone < cacheTtlMs) return Promise.resolve(0);
    inflight = poll()
      .then(
        (n) => {
          healthy = true;
          lastError = null;
          return n;
        },
        (err: Error) => {
          healthy = false;
          lastError = err;
          throw err;
        },
      )
      .finally(() => {
        lastPollDone = now();
        inflight = null;
      });
    return inflight;
  }

  function startTimer(): void {
    if (timer || pollIntervalMs <= 0 || closed) return;
    timer = setInterval(() => {
      refresh().catch((err: Error) => o.onError?.(err));
    }, pollIntervalMs);
    timer.unref();
  }

  function stopTimer(): void {
    if (timer) clearInterval(timer);
    timer = null;
  }

  return {
    name: `bigquery:${o.table}`,
    async *load() {
      const events = await fetchSince(now() - lookbackDays * DAY_MS, 'rebuilt');
      remember(events);
      lastPollDone = now();
      yield* events;
    },
    subscribe(onEvent) {
      listeners.add(onEvent);
      startTimer();
      return () => {
        listeners.delete(onEvent);
        if (listeners.size === 0) stopTimer();
      };
    },
    refresh,
    isHealthy: () => healthy && !closed,
    get lastError() {
      return lastError;
    },
    close() {
      closed = true;
      stopTimer();
      listeners.clear();
    },
  };
}

/**
 * The source the gateway uses when it audits to Pub/Sub, from the `gcp` config section. Without
 * a table it refuses to start: approvals would otherwise be forgotten on every restart and
 * never seen by the other instances.
 */
export function approvalSourceFromConfig(gcp: GcpConfig, opts: { onError?: (err: Error) => void; bigquery?: BigQuery } = {}): BigQueryApprovalSource {
  const table = gcp.approvals.table ?? gcp.bigquery.auditTable;
  if (!table) {
    throw new Error(
      'auditSink is pubsub but neither gcp.approvals.table nor gcp.bigquery.auditTable is set: approval state lives in the BigQuery audit table (set BQWARDEN__gcp__approvals__table to the approval_events view)',
    );
  }
  return createBigQueryApprovalSource({
    table,
    projectId: gcp.project,
    location: gcp.bigquery.location,
    apiEndpoint: gcp.bigquery.apiEndpoint,
    lookbackDays: gcp.approvals.lookbackDays,
    pollIntervalMs: gcp.approvals.pollIntervalMs,
    overlapMs: gcp.approvals.overlapMs,
    onError: opts.onError,
    bigquery: opts.bigquery,
  });
}
