// `bqwarden verify --bigquery project.dataset.table --from D --to D`: streams the audit rows of
// a date range out of BigQuery ordered by chain and seq, normalises each row back into the
// exact event the gateway hashed, and feeds the same streaming verifier the local verify uses,
// so the report (gaps, links, signatures, duplicates) reads the same.
import type { BigQuery } from '@google-cloud/bigquery';
import { normalizeEvent } from '../audit/normalize.js';
import { createVerifier, type VerifierOptions, type VerifyReport } from '../audit/verify.js';
import { eventTableFields } from './audit-schema.js';
import { createBigQueryClient, quoteIdent } from './bigquery.js';
import { parseTableId } from './looker.js';

export interface BigQueryVerifyOptions {
  /** project.dataset.table of the raw audit table (not the dedup view: duplicates are reported). */
  table: string;
  /** Inclusive UTC dates, YYYY-MM-DD. */
  from: string;
  to: string;
  publicKeys: VerifierOptions['publicKeys'];
  /** Anchors to compare the window with (anchors outside the window are not judged). */
  anchors?: VerifierOptions['anchors'];
  chainId?: string;
  location?: string;
  bigquery?: BigQuery;
  apiEndpoint?: string;
  /** Show a progress bar on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  /**
   * Look past the window for the chains that end unsealed in it, to tell "continues after --to"
   * from "still running" from "never sealed" (default true; one small grouped query).
   */
  classifyOpenChains?: boolean;
  /** An unsealed chain whose last event is younger than this may still be running. Default 15 min. */
  runningWindowMs?: number;
  now?: () => number;
}

/** Where and when a chain of the window started and ended, as far as the window shows. */
export interface ChainSeen {
  instance: string;
  firstSeq: number;
  firstType: string;
  lastSeq: number;
  lastTime: string;
}

const PER_INSTANCE = 'Chains are per instance: each gateway process writes its own chain and seals it at shutdown (docs/gcp.md, "Chain continuity").';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function buildVerifyQuery(table: string, withChain: boolean): string {
  const t = parseTableId(table);
  const cols = eventTableFields()
    .map((f) => quoteIdent(f.name))
    .join(', ');
  // The range filter on event_time is also what require_partition_filter demands.
  return [
    `SELECT ${cols}`,
    `FROM ${quoteIdent(t.projectId, t.datasetId, t.tableId)}`,
    `WHERE event_time >= TIMESTAMP(@from_date) AND event_time < TIMESTAMP_ADD(TIMESTAMP(@to_date), INTERVAL 1 DAY)`,
    withChain ? `  AND chain_id = @chain_id` : '',
    `ORDER BY chain_id, seq`,
  ]
    .filter(Boolean)
    .join('\n');
}

export async function verifyBigQuery(o: BigQueryVerifyOptions): Promise<VerifyReport> {
  if (!DATE.test(o.from) || !DATE.test(o.to)) throw new Error('verify --bigquery: --from and --to must be dates, YYYY-MM-DD');
  if (o.from > o.to) throw new Error(`verify --bigquery: --from ${o.from} is after --to ${o.to}`);
  const t = parseTableId(o.table);
  const bq = o.bigquery ?? createBigQueryClient({ projectId: t.projectId, apiEndpoint: o.apiEndpoint });
  const params: Record<string, string> = { from_date: o.from, to_date: o.to };
  if (o.chainId) params.chain_id = o.chainId;
  const verifier = createVerifier({ publicKeys: o.publicKeys, partial: true, anchors: o.anchors });

  const showProgress = o.progress ?? Boolean(process.stderr.isTTY);
  let bar: { increment(n?: number): void; stop(): void } | null = null;
  if (showProgress) {
    const { SingleBar, Presets } = await import('cli-progress');
    const countSql = `SELECT COUNT(*) AS n FROM ${quoteIdent(t.projectId, t.datasetId, t.tableId)} WHERE event_time >= TIMESTAMP(@from_date) AND event_time < TIMESTAMP_ADD(TIMESTAMP(@to_date), INTERVAL 1 DAY)${o.chainId ? ' AND chain_id = @chain_id' : ''}`;
    const [rows] = await bq.query({ query: countSql, params, location: o.location });
    const total = Number((rows[0] as { n: unknown }).n);
    const b = new SingleBar({ stream: process.stderr, format: 'verify {bar} {value}/{total} rows | {eta_formatted} left' }, Presets.shades_classic);
    b.start(total, 0);
    bar = b;
  }

  const stream = bq.createQueryStream({ query: buildVerifyQuery(o.table, Boolean(o.chainId)), params, location: o.location });
  const seen = new Map<string, ChainSeen>();
  let n = 0;
  try {
    for await (const row of stream as AsyncIterable<Record<string, unknown>>) {
      n++;
      const ref = `${o.table} row ${n}`;
      try {
        const e = normalizeEvent(row);
        verifier.push(e, { ref: `${o.table} chain=${e.chain_id} seq=${e.seq}` });
        const c = seen.get(e.chain_id);
        if (!c) seen.set(e.chain_id, { instance: e.gateway_instance, firstSeq: e.seq, firstType: e.event_type, lastSeq: e.seq, lastTime: e.event_time });
        else if (e.seq >= c.lastSeq) Object.assign(c, { lastSeq: e.seq, lastTime: e.event_time });
      } catch (err) {
        const chain = typeof row.chain_id === 'string' ? row.chain_id : null;
        verifier.pushInvalid({ ref }, `row is not an audit event: ${(err as Error).message}`, 'malformed', chain, null);
      }
      bar?.increment();
    }
  } finally {
    bar?.stop();
  }
  const report = verifier.finish();
  const open = report.chains.filter((c) => !c.sealed).map((c) => c.chain_id);
  const after = open.length > 0 && o.classifyOpenChains !== false ? await chainsAfterWindow(bq, o, open) : null;
  explainOpenChains(report, seen, after, { to: o.to, nowMs: (o.now ?? Date.now)(), runningWindowMs: o.runningWindowMs ?? 15 * 60_000 });
  return report;
}

export interface LaterEvents {
  n: number;
  lastSeq: number;
  lastTime: string;
}

/** For chains open at the end of the window: how many of their events come after it. */
async function chainsAfterWindow(bq: BigQuery, o: BigQueryVerifyOptions, chains: string[]): Promise<Map<string, LaterEvents>> {
  const t = parseTableId(o.table);
  // event_time >= day after --to: still a partition filter, and it reads three narrow columns.
  const sql = [
    `SELECT chain_id, COUNT(*) AS n, MAX(seq) AS last_seq, MAX(event_time) AS last_time`,
    `FROM ${quoteIdent(t.projectId, t.datasetId, t.tableId)}`,
    `WHERE event_time >= TIMESTAMP_ADD(TIMESTAMP(@to_date), INTERVAL 1 DAY) AND chain_id IN UNNEST(@chains)`,
    `GROUP BY chain_id`,
  ].join('\n');
  const [rows] = (await bq.query({ query: sql, params: { to_date: o.to, chains }, location: o.location })) as [Record<string, unknown>[], ...unknown[]];
  const out = new Map<string, LaterEvents>();
  for (const r of rows) out.set(String(r.chain_id), laterEventsOf(r));
  return out;
}

function laterEventsOf(r: Record<string, unknown>): LaterEvents {
  // The client hands INT64 and TIMESTAMP back wrapped ({value}); COUNT/MAX are small numbers.
  const v = (x: unknown): unknown => (x !== null && typeof x === 'object' && 'value' in (x as object) ? (x as { value: unknown }).value : x);
  const time = v(r.last_time);
  return { n: Number(v(r.n)), lastSeq: Number(v(r.last_seq)), lastTime: time instanceof Date ? time.toISOString() : String(time) };
}

/**
 * Chains are per process, so a chain that ends unsealed in the window is one of three things;
 * the open_tail notice the shared verifier wrote for it is replaced by one that says which.
 * None is a break: a crash is an operational event, and what it may hide (events cut from the
 * unsigned tail) is spelled out.
 */
export function explainOpenChains(report: VerifyReport, seen: Map<string, ChainSeen>, after: Map<string, LaterEvents> | null, o: { to: string; nowMs: number; runningWindowMs: number }): void {
  for (const c of report.chains) {
    if (c.sealed) continue;
    const info = seen.get(c.chain_id);
    const who = info?.instance ? `instance ${info.instance}` : 'its instance';
    const started = info && info.firstSeq === 0 ? `started at seq 0 (${info.firstType})` : `started before the window`;
    const later = after?.get(c.chain_id);
    const signed = c.last_signed_seq < 0 ? 'no signed checkpoint in the window' : `signed up to seq ${c.last_signed_seq}`;
    let message: string;
    if (later && later.n > 0) {
      message = `chain of ${who} continues after ${o.to}: ${later.n} more event(s) up to seq ${later.lastSeq} at ${later.lastTime}; widen --to to check its seal`;
    } else if (!after) {
      message = `chain of ${who} is open at the end of the window (last event seq ${c.last_seq}${info ? ` at ${info.lastTime}` : ''}, ${signed}); events after ${o.to} were not looked up`;
    } else if (info && o.nowMs - Date.parse(info.lastTime) < o.runningWindowMs) {
      message = `chain of ${who} is still being written (last event seq ${c.last_seq} at ${info.lastTime}, ${signed}); it is sealed when the instance shuts down`;
    } else {
      const unsigned = c.last_seq - Math.max(c.last_signed_seq, c.first_seq - 1);
      message =
        `chain of ${who} never sealed: it ${started} and stops at seq ${c.last_seq}${info ? ` at ${info.lastTime}` : ''} without gateway_stop + final signed checkpoint, ` +
        `so the instance ended without a clean shutdown (crash, out of memory, killed before the seal was published). ` +
        (unsigned > 0
          ? `It is ${signed}; the ${unsigned} event(s) after that are hash-linked but unsigned, so events cut from its end would not show.`
          : `Every event is covered by a signed checkpoint.`);
    }
    message = `${message}${message.endsWith('.') ? '' : '.'} ${PER_INSTANCE}`;
    const idx = report.notices.findIndex((f) => f.kind === 'open_tail' && f.chain === c.chain_id);
    if (idx >= 0) report.notices[idx] = { ...report.notices[idx], message };
    else report.notices.push({ kind: 'open_tail', severity: 'notice', chain: c.chain_id, seq: c.last_seq, message });
  }
}
