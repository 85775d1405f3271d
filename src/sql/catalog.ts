// Static schema catalog: rules/catalog/*.yaml, for the demo and for tables whose schema an
// operator pins by hand (e.g. to declare a view definition the analyzer should expand).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { CatalogColumn, CatalogTable, SchemaCatalog } from './types.js';

type YamlColumn = { name: string; type?: string; policy_tags?: string[]; fields?: YamlColumn[] };

const columnSchema: z.ZodType<YamlColumn> = z.lazy(() =>
  z.object({
    name: z.string().min(1),
    type: z.string().default('STRING'),
    policy_tags: z.array(z.string()).optional(),
    fields: z.array(columnSchema).optional(),
  }),
);

const fileSchema = z.object({
  tables: z.array(
    z.object({
      fq: z.string().regex(/^[^.]+\.[^.]+\..+$/, 'fq must be project.dataset.table'),
      columns: z.array(columnSchema).default([]),
      view_sql: z.string().nullable().optional(),
    }),
  ),
});

function toColumn(c: YamlColumn): CatalogColumn {
  return {
    name: c.name.toLowerCase(),
    type: c.type ?? 'STRING',
    ...(c.policy_tags ? { policyTags: c.policy_tags } : {}),
    ...(c.fields ? { fields: c.fields.map(toColumn) } : {}),
  };
}

/** Reads every *.yaml / *.yml in `dir`. Throws naming the file and field when one is invalid:
 * a catalog that silently drops a table would make its columns unknown. */
export function loadStaticCatalog(dir: string): CatalogTable[] {
  const out: CatalogTable[] = [];
  for (const name of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    const file = join(dir, name);
    const parsed = fileSchema.safeParse(parseYaml(readFileSync(file, 'utf8')));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`catalog ${file}: ${issue ? `${issue.path.join('.')}: ${issue.message}` : parsed.error.message}`);
    }
    for (const t of parsed.data.tables) {
      out.push({ fq: t.fq, columns: t.columns.map(toColumn), ...(t.view_sql ? { viewSql: t.view_sql } : {}) });
    }
  }
  return out;
}

/** Exact fq first; then a case-insensitive match, because SQLite and PostgreSQL fold names
 * and the BigQuery project id is lower-case anyway. */
export function createStaticCatalog(tables: CatalogTable[]): SchemaCatalog {
  const exact = new Map<string, CatalogTable>();
  const folded = new Map<string, CatalogTable>();
  for (const t of tables) {
    const ct = { ...t, columns: t.columns.map((c) => ({ ...c, name: c.name.toLowerCase() })) };
    exact.set(t.fq, ct);
    if (!folded.has(t.fq.toLowerCase())) folded.set(t.fq.toLowerCase(), ct);
  }
  return {
    getTable: (ref) => exact.get(ref.fq) ?? folded.get(ref.fq.toLowerCase()),
  };
}
