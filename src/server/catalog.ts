// The schema catalog the analyzer sees for one request: the static catalog from rules/
// first, then whatever the async sources (upstream table-info tool, BigQuery
// INFORMATION_SCHEMA) know about the tables the statement names. Providers are created once
// and cache by themselves, so known tables cost no round trip per request.
import type { CatalogProvider, CatalogTable, TableRef } from '../sql/types.js';
import type { CatalogView } from '../pipeline/deps.js';

export function createCatalogView(opts: { staticTables: () => CatalogTable[]; providers: CatalogProvider[] }): CatalogView {
  return {
    async forTables(tables) {
      const known = new Map<string, CatalogTable>();
      for (const t of opts.staticTables()) known.set(t.fq, t);
      const missing = tables.filter((t: TableRef) => !t.function && !t.opaque && !known.has(t.fq));
      for (const provider of opts.providers) {
        if (missing.length === 0) break;
        let loaded: CatalogTable[] = [];
        try {
          loaded = await provider.load(missing);
        } catch {
          // A catalog source being down only means less is known: the analyzer then reports
          // unresolved stars/columns and policy fails closed on them.
        }
        for (const t of loaded) known.set(t.fq, t);
        for (let i = missing.length - 1; i >= 0; i--) if (known.has(missing[i].fq)) missing.splice(i, 1);
      }
      return { getTable: (ref) => known.get(ref.fq) };
    },
  };
}
