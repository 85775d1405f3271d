// CatalogProvider backed by BigQuery's INFORMATION_SCHEMA.COLUMN_FIELD_PATHS (region-qualified:
// one query covers every dataset of a project in that region, and it carries policy tags,
// which policy uses to classify columns). Results are cached per table with a TTL; a table the
// query does not return is simply absent (the analyzer then treats it as unknown: fail closed).
import type { BigQuery } from '@google-cloud/bigquery';
import type { CatalogColumn, CatalogProvider, CatalogTable, TableRef } from '../sql/types.js';
import { createBigQueryClient, quoteIdent } from './bigquery.js';

export interface BigQueryCatalogOptions {
  /** Project used when a table ref has none, and that runs the query jobs. */
  projectId: string;
  /** Dataset location, e.g. US, EU, europe-west2 → `region-us`. */
  location: string;
  ttlMs?: number;
  bigquery?: BigQuery;
  apiEndpoint?: string;
  now?: () => number;
}

interface FieldRow {
  table_catalog: string;
  table_schema: string;
  table_name: string;
  column_name: string;
  field_path: string;
  data_type: string;
  policy_tags: string[] | null;
}

type Ref = Pick<TableRef, 'fq' | 'project' | 'dataset' | 'table'>;

function regionQualifier(location: string): string {
  const l = location.toLowerCase();
  if (!/^[a-z0-9-]+$/.test(l)) throw new Error(`bigquery catalog: bad location ${JSON.stringify(location)}`);
  return `region-${l}`;
}

/** Rebuild nested columns from field paths (a.b.c), keeping the order BigQuery returned. */
export function columnsFromFieldPaths(rows: Pick<FieldRow, 'field_path' | 'data_type' | 'policy_tags'>[]): CatalogColumn[] {
  const top: CatalogColumn[] = [];
  const byPath = new Map<string, CatalogColumn>();
  for (const r of rows) {
    const parts = r.field_path.split('.');
    const col: CatalogColumn = { name: parts.at(-1)!, type: r.data_type };
    if (r.policy_tags && r.policy_tags.length > 0) col.policyTags = [...r.policy_tags];
    byPath.set(r.field_path, col);
    if (parts.length === 1) top.push(col);
    else {
      const parent = byPath.get(parts.slice(0, -1).join('.'));
      if (!parent) continue; // parent row missing: skip rather than invent a structure
      (parent.fields ??= []).push(col);
    }
  }
  return top;
}

export function createBigQueryCatalogProvider(o: BigQueryCatalogOptions): CatalogProvider {
  const ttl = o.ttlMs ?? 5 * 60_000;
  const now = o.now ?? Date.now;
  const bq = o.bigquery ?? createBigQueryClient({ projectId: o.projectId, apiEndpoint: o.apiEndpoint });
  const region = regionQualifier(o.location);
  const cache = new Map<string, { at: number; table: CatalogTable | null }>();
  const inflight = new Map<string, Promise<void>>();

  const key = (project: string, dataset: string, table: string) => `${project}.${dataset}.${table}`.toLowerCase();

  async function fetchProject(project: string, refs: { dataset: string; table: string }[]): Promise<void> {
    const query = [
      'SELECT table_catalog, table_schema, table_name, column_name, field_path, data_type, policy_tags',
      `FROM ${quoteIdent(project, region, 'INFORMATION_SCHEMA', 'COLUMN_FIELD_PATHS')}`,
      'WHERE CONCAT(table_schema, ".", table_name) IN UNNEST(@names)',
      // Top-level rows before their nested fields so parents exist when children arrive.
      'ORDER BY table_schema, table_name, ARRAY_LENGTH(SPLIT(field_path, ".")), field_path',
    ].join('\n');
    const names = refs.map((r) => `${r.dataset}.${r.table}`);
    const [rows] = await bq.query({ query, params: { names }, types: { names: ['STRING'] }, location: o.location });
    const grouped = new Map<string, FieldRow[]>();
    for (const r of rows as FieldRow[]) {
      const k = key(project, r.table_schema, r.table_name);
      grouped.set(k, [...(grouped.get(k) ?? []), r]);
    }
    const at = now();
    for (const r of refs) {
      const k = key(project, r.dataset, r.table);
      const list = grouped.get(k);
      cache.set(k, { at, table: list ? { fq: `${project}.${r.dataset}.${r.table}`, columns: columnsFromFieldPaths(list) } : null });
    }
  }

  return {
    name: 'bigquery-information-schema',
    async load(tables: Ref[]): Promise<CatalogTable[]> {
      const wanted: { k: string; project: string; dataset: string; table: string }[] = [];
      for (const t of tables) {
        const project = t.project ?? o.projectId;
        if (!t.dataset) continue; // unqualified tables cannot be looked up: absent, so unknown
        wanted.push({ k: key(project, t.dataset, t.table), project, dataset: t.dataset, table: t.table });
      }
      const stale = wanted.filter((w) => {
        const c = cache.get(w.k);
        return !c || now() - c.at > ttl;
      });
      const byProject = new Map<string, { dataset: string; table: string }[]>();
      for (const w of stale) if (!inflight.has(w.k)) byProject.set(w.project, [...(byProject.get(w.project) ?? []), w]);
      for (const [project, refs] of byProject) {
        const p = fetchProject(project, refs).finally(() => refs.forEach((r) => inflight.delete(key(project, r.dataset, r.table))));
        refs.forEach((r) => inflight.set(key(project, r.dataset, r.table), p));
      }
      await Promise.all(wanted.map((w) => inflight.get(w.k)).filter(Boolean));
      const out: CatalogTable[] = [];
      const seen = new Set<string>();
      for (const w of wanted) {
        const t = cache.get(w.k)?.table;
        if (t && !seen.has(w.k)) {
          seen.add(w.k);
          out.push(t);
        }
      }
      return out;
    },
  };
}
