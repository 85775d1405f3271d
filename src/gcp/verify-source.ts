// `bqwarden verify --bigquery project.dataset.table --from D --to D`: streams the audit rows of
// a date range out of BigQuery ordered by chain and seq, normalises each row back into the
// exact event the gateway hashed, and feeds the same streaming verifier the local verify uses,
// so the report (gaps, links, signatures, duplicates) reads the same.
import type { BigQuery } from '@google-cloud/bigquery';
import type { KeyObject } from 'node:crypto';
import { normalizeEvent } from '../audit/normalize.js';
import { createVerifier, type VerifyReport } from '../audit/verify.js';
import { eventTableFields } from './audit-schema.js';
import { createBigQueryClient, quoteIdent } from './bigquery.js';
import { parseTableId } from './looker.js';

export interface BigQueryVerifyOptions {
  /** project.dataset.table of the raw audit table (not the dedup view: duplicates are reported). */
  table: string;
  /** Inclusive UTC dates, YYYY-MM-DD. */
  from: string;
  to: string;
  publicKeys: (KeyObject | string)[];
  chainId?: string;
  location?: string;
  bigquery?: BigQuery;
  apiEndpoint?: string;
  /** Show a progress bar on stderr (default: when stderr is a TTY). */
  progress?: boolean;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function buildVerifyQuery(table: string, withChain: boolean): string {
  const t = parseTableId(table);
  const cols = eventTableFields().map((f) => quoteIdent(f.name)).join(', ');
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
  const verifier = createVerifier({ publicKeys: o.publicKeys, partial: true });

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
  let n = 0;
  try {
    for await (const row of stream as AsyncIterable<Record<string, unknown>>) {
      n++;
      const ref = `${o.table} row ${n}`;
      try {
        const e = normalizeEvent(row);
        verifier.push(e, { ref: `${o.table} chain=${e.chain_id} seq=${e.seq}` });
      } catch (err) {
        const chain = typeof row.chain_id === 'string' ? row.chain_id : null;
        verifier.pushInvalid({ ref }, `row is not an audit event: ${(err as Error).message}`, 'malformed', chain, null);
      }
      bar?.increment();
    }
  } finally {
    bar?.stop();
  }
  return verifier.finish();
}
