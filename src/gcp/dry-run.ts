// BigQuery's own opinion of a statement, without running it: a dry-run query job (jobs.insert
// with configuration.dryRun) under the gateway's identity. BigQuery answers what it would do:
// statistics.query.statementType, referencedTables (and ddlTargetTable) and
// totalBytesProcessed. Results are cached per (project, default dataset, exact text), so a
// statement seen before costs nothing; a dry run is free in BigQuery but costs a round trip.
import { createHash } from 'node:crypto';
import type { BigQuery } from '@google-cloud/bigquery';
import { createBigQueryClient, type BigQueryClientOptions } from './bigquery.js';

interface DryRunResult {
  statementType: string;
  /** project.dataset.table of every table BigQuery says the statement references (and its DDL target). */
  tables: string[];
  totalBytesProcessed: number;
}

interface DryRunRequest {
  sql: string;
  defaultProject: string | null;
  defaultDataset: string | null;
}

export interface DryRunner {
  run(req: DryRunRequest): Promise<DryRunResult & { cached: boolean }>;
}

export interface DryRunnerOptions extends BigQueryClientOptions {
  location?: string;
  /** How long a dry run is reused (bytes change as tables grow); default 5 minutes. */
  cacheTtlMs?: number;
  /** Entries kept (least recently used dropped first); default 5000. */
  cacheSize?: number;
  bigquery?: BigQuery;
  now?: () => number;
}

interface TableReference {
  projectId?: string;
  datasetId?: string;
  tableId?: string;
}

const fq = (t: TableReference) => `${t.projectId}.${t.datasetId}.${t.tableId}`;

export function createDryRunner(o: DryRunnerOptions): DryRunner {
  let client: BigQuery | null = o.bigquery ?? null;
  const bq = (): BigQuery => (client ??= createBigQueryClient(o));
  const ttl = o.cacheTtlMs ?? 5 * 60_000;
  const size = o.cacheSize ?? 5000;
  const now = o.now ?? Date.now;
  const cache = new Map<string, { at: number; result: DryRunResult }>();

  return {
    async run(req) {
      const key = createHash('sha256')
        .update(`${req.defaultProject ?? ''}\u0000${req.defaultDataset ?? ''}\u0000${req.sql}`, 'utf8')
        .digest('hex');
      const hit = cache.get(key);
      if (hit && now() - hit.at < ttl) {
        cache.delete(key);
        cache.set(key, hit);
        return { ...hit.result, cached: true };
      }
      const [job] = await bq().createQueryJob({
        query: req.sql,
        dryRun: true,
        useLegacySql: false,
        ...(o.location ? { location: o.location } : {}),
        ...(req.defaultDataset ? { defaultDataset: { datasetId: req.defaultDataset, ...(req.defaultProject ? { projectId: req.defaultProject } : {}) } } : {}),
      });
      const q = (job.metadata?.statistics?.query ?? {}) as { statementType?: string; referencedTables?: TableReference[]; ddlTargetTable?: TableReference; totalBytesProcessed?: string | number };
      if (typeof q.statementType !== 'string' || q.totalBytesProcessed === undefined) {
        throw new Error('BigQuery answered the dry run without statistics.query.statementType / totalBytesProcessed');
      }
      const bytes = Number(q.totalBytesProcessed);
      if (!Number.isFinite(bytes) || bytes < 0) throw new Error(`BigQuery answered the dry run with totalBytesProcessed ${JSON.stringify(q.totalBytesProcessed)}`);
      const tables = [...(q.referencedTables ?? []), ...(q.ddlTargetTable ? [q.ddlTargetTable] : [])].map(fq);
      const result: DryRunResult = { statementType: q.statementType, tables: [...new Set(tables)], totalBytesProcessed: bytes };
      cache.set(key, { at: now(), result });
      if (cache.size > size) cache.delete(cache.keys().next().value!);
      return { ...result, cached: false };
    },
  };
}
