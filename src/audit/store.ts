// Where chained audit events are read back from: the read port beside AuditSink (sink.ts). The
// audit module owns it; the local JSONL store (store-jsonl.ts) and the BigQuery audit table
// (src/gcp/audit-store.ts) implement it; approvals, verify, replay, report and the console read
// through it and never know which store they hold. A new sink brings its AuditStore with it.
//
// Every read fails closed: a record that is not an audit event stops the read with an
// AuditReadError naming where it is (file:line, table row), unless the caller takes over with
// onInvalid. Only records() hands damaged records on, for the verifier to report.
import { EVENT_TYPES, type AuditEvent } from './event.js';
import { BqwardenError } from '../common/errors.js';

/** Where a record is: file:line for JSONL, a table + row or chain/seq ref for BigQuery. */
export interface Location {
  file?: string;
  line?: number;
  /** Any other locator, e.g. a BigQuery table + chain + seq. */
  ref?: string;
}

export interface RangeFilter {
  /** Inclusive event_time window. */
  from?: Date;
  to?: Date;
  chainId?: string;
  sessionId?: string;
  /** Only these event types. */
  eventTypes?: readonly string[];
}

export interface ReadIssue {
  /** The file (JSONL) or table (BigQuery) the record came from. */
  file: string;
  /** 1-based line in the file, or row number of the result. */
  line: number;
  /** The file's last line had no newline: a write that never completed (never acknowledged). */
  torn: boolean;
  reason: string;
}

export class AuditReadError extends BqwardenError {
  constructor(
    message: string,
    readonly issue: ReadIssue | null = null,
  ) {
    super('audit_read_failed', message);
    this.name = 'AuditReadError';
  }
}

export interface ReadOptions {
  /** Called for records that are not valid events. Without it a malformed record throws; a torn last line is skipped (it was never acknowledged). */
  onInvalid?: (issue: ReadIssue) => void;
  /**
   * Schema-check each event (default true). The zod check is most of the per-line cost; a
   * read-only view over records that `verify` already passed may turn it off for speed.
   */
  validate?: boolean;
}

export interface StoredEvent {
  event: AuditEvent;
  loc: Location;
}

/** What the verifier is fed: events, records that are not events (kept, to be reported), store notices. */
export type AuditRecord =
  | { kind: 'event'; event: AuditEvent; loc: Location /** The hash the store computed while reading, when it did. */; computedHash?: string }
  | { kind: 'invalid'; defect: 'malformed' | 'torn_line' | 'not_canonical'; reason: string; loc: Location; chain: string | null; seq: number | null }
  | { kind: 'notice'; notice: 'repaired_torn_line'; message: string; loc: Location };

export interface HeadFilter {
  /** Only events after this UTC day (YYYY-MM-DD): "does the chain go on past the window?". */
  afterDay?: string;
  chainIds?: readonly string[];
}

/** The newest event of a chain (among the events the filter selects), and how many there are. */
export interface StoredHead {
  chain_id: string;
  seq: number;
  event_time: string;
  events: number;
}

/** Where a followed record can be read back: a part of the store (a file, a chain) and a position in it. */
export interface RecordRef {
  part: string;
  offset: number;
  length: number;
}

export interface FollowSink {
  /**
   * One record's raw JSON text (canonical for JSONL), where it is (the RecordRef's fields, flat:
   * this runs per record of a million-event store) and its 1-based line in the part.
   */
  record(text: string, part: string, offset: number, length: number, line: number): void;
  /** Something the follower must show rather than index (a rewritten file, a row that is not an event). */
  issue(part: string, line: number, reason: string): void;
}

/** What a store remembers between follow() calls; opaque to the caller. */
export interface FollowState {
  readonly store: string;
}

export interface AuditStore {
  /** `local:<dir>` or `bigquery:<project.dataset.table>`: printed in errors and reports. */
  readonly name: string;
  /** The events the filter selects, streamed in chain order (chain id, then seq). */
  range(filter?: RangeFilter, opts?: ReadOptions): AsyncIterable<StoredEvent>;
  /** Events of the UTC days fromDay..toDay (YYYY-MM-DD, inclusive), in chain order: report and verify windows. */
  byDay(fromDay: string, toDay: string, filter?: Omit<RangeFilter, 'from' | 'to'>, opts?: ReadOptions): AsyncIterable<StoredEvent>;
  /** approval_* events at or after `from`, fail closed on any damaged record. */
  approvalEvents(from?: Date): AsyncIterable<AuditEvent>;
  /** Every record in chain order, damaged ones included, for the verifier; `days` limits it to a window. */
  records(filter?: { chainId?: string; days?: { from: string; to: string } }): AsyncIterable<AuditRecord>;
  /** The newest event of each chain. */
  heads(filter?: HeadFilter): Promise<StoredHead[]>;
  /**
   * Hands over the records added since the state was taken (null: every record), raw, for an
   * index that keeps up with the store (the examiner console); resolves with the next state.
   */
  follow(state: FollowState | null, sink: FollowSink): Promise<FollowState>;
  /** Reads back one record follow() handed over, fully validated. */
  readRecord(ref: RecordRef): Promise<AuditEvent>;
}

export const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The approval workflow's event types: what approvalEvents() reads. */
export const APPROVAL_TYPES: readonly string[] = EVENT_TYPES.filter((t) => t.startsWith('approval_'));

/** The inclusive time window of the UTC days fromDay..toDay. */
export function dayWindow(fromDay: string, toDay: string): { from: Date; to: Date } {
  return { from: new Date(`${fromDay}T00:00:00.000Z`), to: new Date(Date.parse(`${toDay}T00:00:00.000Z`) + 86_400_000 - 1) };
}
