// CatalogProvider backed by BigQuery's INFORMATION_SCHEMA.COLUMN_FIELD_PATHS, which carries the
// policy tags that policy uses to classify columns. The view is read dataset-qualified (one
// query per dataset a statement names), because that needs only bigquery.tables.get/list on the
// dataset, which the gateway's dataViewer grant on each allowed dataset already gives; the
// region-qualified view would need those rights on the whole project. Results are cached per
// table with a TTL; a table the query does not return is absent (unknown to the analyzer: fail
// closed).
import type { BigQuery } from '@google-cloud/bigquery';
import type { CatalogColumn, CatalogProvider, CatalogTable, TableRef } from '../sql/types.js';
import { createBigQueryClient, quoteIdent } from './bigquery.js';

export interface BigQueryCatalogOptions {
  /** Project used when a table ref has none, and that runs the query jobs. */
  projectId: string;
  /** Location the query jobs run in (the datasets' location), e.g. US, EU, europe-west2. */
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
  const cache = new Map<string, { at: number; table: CatalogTable | null }>();
  const inflight = new Map<string, Promise<void>>();

  const key = (project: string, dataset: string, table: string) => `${project}.${dataset}.${table}`.toLowerCase();

  async function fetchDataset(project: string, dataset: string, tables: string[]): Promise<void> {
    const query = [
      'SELECT table_catalog, table_schema, table_name, column_name, field_path, data_type, policy_tags',
      `FROM ${quoteIdent(project, dataset, 'INFORMATION_SCHEMA', 'COLUMN_FIELD_PATHS')}`,
      'WHERE table_name IN UNNEST(@names)',
      // Top-level rows before their nested fields so parents exist when children arrive.
      'ORDER BY table_name, ARRAY_LENGTH(SPLIT(field_path, ".")), field_path',
    ].join('\n');
    const [rows] = await bq.query({ query, params: { names: tables }, types: { names: ['STRING'] }, location: o.location });
    const grouped = new Map<string, FieldRow[]>();
    for (const r of rows as FieldRow[]) {
      const k = key(project, r.table_schema, r.table_name);
      grouped.set(k, [...(grouped.get(k) ?? []), r]);
    }
    const at = now();
    for (const t of tables) {
      const k = key(project, dataset, t);
      const list = grouped.get(k);
      cache.set(k, { at, table: list ? { fq: `${project}.${dataset}.${t}`, columns: columnsFromFieldPaths(list) } : null });
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
      const byDataset = new Map<string, { project: string; dataset: string; tables: string[] }>();
      for (const w of stale) {
        if (inflight.has(w.k)) continue;
        const d = `${w.project}.${w.dataset}`;
        const group = byDataset.get(d) ?? { project: w.project, dataset: w.dataset, tables: [] };
        group.tables.push(w.table);
        byDataset.set(d, group);
      }
      for (const g of byDataset.values()) {
        const p = fetchDataset(g.project, g.dataset, g.tables).finally(() => g.tables.forEach((t) => inflight.delete(key(g.project, g.dataset, t))));
        g.tables.forEach((t) => inflight.set(key(g.project, g.dataset, t), p));
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
