// The static catalog beside the policy (rules/catalog/*.yaml). Policy needs it for two things:
// BigQuery policy tags (classification by tag) and struct fields below a selected column
// (selecting a whole STRUCT returns every field, so every field's classification applies).
import { z } from 'zod';
import type { CatalogColumn, CatalogTable, SchemaCatalog, TableRef } from '../sql/types.js';

const ColumnSchema: z.ZodType<CatalogColumn> = z.lazy(() =>
  z
    .object({
      name: z.string().min(1),
      type: z.string().min(1),
      fields: z.array(ColumnSchema).optional(),
      policyTags: z.array(z.string()).optional(),
      description: z.string().optional(),
    })
    .transform(({ description: _d, ...c }) => c),
);

export const CatalogFileSchema = z.object({
  description: z.string().optional(),
  tables: z
    .array(
      z
        .object({
          fq: z.string().min(1),
          columns: z.array(ColumnSchema),
          viewSql: z.string().optional(),
          description: z.string().optional(),
        })
        .transform(({ description: _d, ...t }) => t as CatalogTable),
    )
    .default([]),
});
export type CatalogFile = z.infer<typeof CatalogFileSchema>;

export class StaticCatalog implements SchemaCatalog {
  private readonly byFq = new Map<string, CatalogTable>();
  constructor(tables: CatalogTable[]) {
    for (const t of tables) this.byFq.set(t.fq.toLowerCase(), t);
  }
  getTable(ref: Pick<TableRef, 'fq' | 'project' | 'dataset' | 'table'>): CatalogTable | undefined {
    return this.byFq.get(ref.fq.toLowerCase());
  }
  get size(): number {
    return this.byFq.size;
  }
}

/** The catalog node for table.column.path…, or undefined when the catalog does not know it. */
export function findColumn(catalog: SchemaCatalog | null | undefined, table: string, column: string, path: string[]): CatalogColumn | undefined {
  if (!catalog) return undefined;
  // project.dataset.table: the last part is the table, the one before it the dataset, the first the project.
  const parts = table.split('.');
  const name = parts.pop() ?? table;
  const dataset = parts.pop() ?? null;
  const t = catalog.getTable({ fq: table, project: parts[0] ?? null, dataset, table: name });
  if (!t) return undefined;
  let node = t.columns.find((c) => c.name.toLowerCase() === column.toLowerCase());
  for (const p of path) {
    if (!node) return undefined;
    node = node.fields?.find((f) => f.name.toLowerCase() === p.toLowerCase());
  }
  return node;
}
