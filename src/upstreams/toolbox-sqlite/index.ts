// MCP Toolbox for Databases, `--prebuilt sqlite`: execute_sql runs one SQLite statement;
// list_tables answers table and column names (no rows). Names are one level deep (main.t), so
// the upstream's defaultProject only tells its tables apart from another upstream's.
import type { CatalogTable } from '../../sql/types.js';
import { readTarget } from '../arguments.js';
import { jsonItems } from '../catalog-text.js';
import type { CatalogSource, UpstreamKind } from '../types.js';

interface ObjectDetails {
  object_name?: string;
  schema_name?: string;
  columns?: { column_name: string; data_type?: string }[];
}

const sqliteCatalog: CatalogSource = {
  async fetch(callTool, tables) {
    const byName = new Map<string, typeof tables>();
    for (const t of tables) byName.set(t.table.toLowerCase(), [...(byName.get(t.table.toLowerCase()) ?? []), t]);
    const r = await callTool('list_tables', { output_format: 'detailed', table_names: [...byName.keys()].join(',') });
    const out: CatalogTable[] = [];
    for (const item of jsonItems(r)) {
      const d = (item as { object_details?: ObjectDetails }).object_details;
      if (!d?.object_name || !Array.isArray(d.columns)) continue;
      for (const t of byName.get(d.object_name.toLowerCase()) ?? []) {
        // The tool answers for the main schema only; a temp.x reference stays unknown.
        if (d.schema_name && t.dataset && d.schema_name.toLowerCase() !== t.dataset.toLowerCase()) continue;
        out.push({ fq: t.fq, columns: d.columns.map((c) => ({ name: c.column_name.toLowerCase(), type: c.data_type ?? '' })) });
      }
    }
    return out;
  },
};

export const toolboxSqlite: UpstreamKind = {
  name: 'toolbox-sqlite',
  dialects: ['sqlite'],
  tools: {
    execute_sql: { kind: 'sql', sqlArgument: 'sql' },
    list_tables: { kind: 'metadata', description: 'table and column names only; no rows' },
  },
  target: (tool, args, d) => readTarget(tool, args, {}, d),
  catalog: sqliteCatalog,
};
