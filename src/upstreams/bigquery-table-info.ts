// Table schemas (with policy tags and view SQL) through a BigQuery get_table_info tool, which
// answers the tables.get resource. Toolbox and the managed endpoint name its arguments apart.
import type { CatalogColumn, CatalogTable } from '../sql/types.js';
import { jsonItems } from './catalog-text.js';
import type { CatalogSource } from './types.js';

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

export function tableInfoCatalog(names: { project: string; dataset: string; table: string }): CatalogSource {
  return {
    async fetch(callTool, tables) {
      const found = await Promise.all(
        tables.map(async (t): Promise<CatalogTable | null> => {
          const args: Record<string, unknown> = { [names.dataset]: t.dataset, [names.table]: t.table };
          if (t.project) args[names.project] = t.project;
          const r = await callTool('get_table_info', args).catch(() => null);
          for (const item of r ? jsonItems(r) : []) {
            const res = item as { schema?: { fields?: BqField[] }; view?: { query?: string } };
            if (res.schema?.fields) return { fq: t.fq, columns: res.schema.fields.map(bqColumn), ...(res.view?.query ? { viewSql: res.view.query } : {}) };
          }
          return null;
        }),
      );
      return found.filter((t): t is CatalogTable => t !== null);
    },
  };
}
