// CatalogProvider that asks the upstream MCP server for table schemas through its table-info
// tool, so the demo (Toolbox sqlite) and a plain Toolbox bigquery deployment need no
// hand-written catalog. Results (including "no such table") are cached for a TTL.
import type { CatalogColumn, CatalogProvider, CatalogTable, TableRef } from './types.js';

export type CallTool = (name: string, args: Record<string, unknown>) => Promise<{ content: { type: string; text?: string }[] }>;

export interface UpstreamCatalogOptions {
  /** Which upstream prebuilt answers: Toolbox `--prebuilt sqlite` (list_tables) or `--prebuilt
   * bigquery` (get_table_info). 'auto' (default) tries list_tables first and remembers which worked. */
  flavor?: 'sqlite' | 'bigquery' | 'auto';
  /** Tool name override (defaults: list_tables / get_table_info). */
  toolName?: string;
  ttlMs?: number;
  now?: () => number;
}

type TableKey = Pick<TableRef, 'fq' | 'project' | 'dataset' | 'table'>;

interface BqField {
  name: string;
  type?: string;
  mode?: string;
  fields?: BqField[];
  policyTags?: { names?: string[] };
}

function bqColumn(f: BqField): CatalogColumn {
  return {
    name: f.name.toLowerCase(),
    type: f.mode === 'REPEATED' ? `ARRAY<${f.type ?? 'STRING'}>` : (f.type ?? 'STRING'),
    ...(f.policyTags?.names?.length ? { policyTags: f.policyTags.names } : {}),
    ...(f.fields?.length ? { fields: f.fields.map(bqColumn) } : {}),
  };
}

function texts(r: { content: { type: string; text?: string }[] }): unknown[] {
  const out: unknown[] = [];
  for (const c of r.content ?? []) {
    if (c.type !== 'text' || !c.text) continue;
    try {
      out.push(JSON.parse(c.text));
    } catch {
      // Not JSON (an error message): the table stays unknown, which fails closed.
    }
  }
  return out;
}

export function createUpstreamToolCatalogProvider(callTool: CallTool, opts: UpstreamCatalogOptions = {}): CatalogProvider {
  const ttl = opts.ttlMs ?? 5 * 60_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { value: CatalogTable | null; expires: number }>();

  let flavor = opts.flavor ?? 'auto';

  async function fetchSqlite(tables: TableKey[]): Promise<boolean> {
    let answered = false;
    const byName = new Map<string, TableKey[]>();
    for (const t of tables) byName.set(t.table.toLowerCase(), [...(byName.get(t.table.toLowerCase()) ?? []), t]);
    const r = await callTool(opts.toolName ?? 'list_tables', { output_format: 'detailed', table_names: [...byName.keys()].join(',') });
    for (const item of texts(r)) {
      const d = (item as { object_details?: { object_name?: string; schema_name?: string; columns?: { column_name: string; data_type?: string }[] } }).object_details;
      if (!d?.object_name || !Array.isArray(d.columns)) continue;
      answered = true;
      for (const t of byName.get(d.object_name.toLowerCase()) ?? []) {
        // The tool answers for the main schema only; a temp.x reference stays unknown.
        if (d.schema_name && t.dataset && d.schema_name.toLowerCase() !== t.dataset.toLowerCase()) continue;
        cache.set(t.fq, { value: { fq: t.fq, columns: d.columns.map((c) => ({ name: c.column_name.toLowerCase(), type: c.data_type ?? '' })) }, expires: now() + ttl });
      }
    }
    return answered;
  }

  async function fetchBigquery(t: TableKey): Promise<void> {
    const args: Record<string, unknown> = { dataset: t.dataset, table: t.table };
    if (t.project) args.project = t.project;
    const r = await callTool(opts.toolName ?? 'get_table_info', args);
    for (const item of texts(r)) {
      const res = item as { schema?: { fields?: BqField[] }; view?: { query?: string } };
      if (!res.schema?.fields) continue;
      cache.set(t.fq, { value: { fq: t.fq, columns: res.schema.fields.map(bqColumn), ...(res.view?.query ? { viewSql: res.view.query } : {}) }, expires: now() + ttl });
    }
  }

  return {
    name: `upstream:${opts.flavor ?? 'auto'}`,
    async load(tables) {
      const fresh = (t: TableKey) => {
        const e = cache.get(t.fq);
        return e && e.expires > now();
      };
      const missing = tables.filter((t) => !fresh(t) && t.dataset && t.table);
      if (missing.length) {
        try {
          if (flavor === 'auto') {
            const ok = await fetchSqlite(missing).catch(() => false);
            if (ok) flavor = 'sqlite';
            else {
              await Promise.all(missing.map((t) => fetchBigquery(t).catch(() => undefined)));
              if (missing.some((t) => cache.get(t.fq)?.value)) flavor = 'bigquery';
            }
          } else if (flavor === 'sqlite') await fetchSqlite(missing);
          else await Promise.all(missing.map((t) => fetchBigquery(t).catch(() => undefined)));
        } catch {
          // Upstream unavailable: leave the tables unknown (the analyzer flags them) and do not
          // cache the failure, so the next call retries.
          return tables.flatMap((t) => cache.get(t.fq)?.value ?? []);
        }
        for (const t of missing) if (!cache.has(t.fq) || !fresh(t)) cache.set(t.fq, { value: null, expires: now() + ttl });
      }
      return tables.flatMap((t) => cache.get(t.fq)?.value ?? []);
    },
  };
}
