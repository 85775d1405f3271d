// The schema catalog the analyzer sees: the static catalog from rules/ first, then whatever
// the async sources (upstream table-info tool, BigQuery INFORMATION_SCHEMA) know about the
// tables a statement names. The catalog object is kept stable while nothing new is learned,
// because the analysis cache is keyed per catalog object: a new object per request would
// make every request a cache miss.
import type { CatalogProvider, CatalogTable, SchemaCatalog, TableRef } from '../sql/types.js';
import type { CatalogView } from '../pipeline/deps.js';

export interface CatalogViewHandle extends CatalogView {
  /** Static tables changed (policy reload): start over. */
  reset(staticTables: CatalogTable[]): void;
}

export function createCatalogView(opts: { staticTables: CatalogTable[]; providers: CatalogProvider[]; refreshMs?: number; now?: () => number }): CatalogViewHandle {
  const refreshMs = opts.refreshMs ?? 5 * 60_000;
  const now = opts.now ?? Date.now;
  let statics = new Set<string>();
  let known = new Map<string, { table: CatalogTable; loadedAt: number }>();
  let current: SchemaCatalog;
  const rebuild = () => {
    const snapshot = new Map([...known].map(([fq, v]) => [fq, v.table]));
    current = { getTable: (ref) => snapshot.get(ref.fq) };
  };
  const reset = (tables: CatalogTable[]) => {
    statics = new Set(tables.map((t) => t.fq));
    known = new Map(tables.map((t) => [t.fq, { table: t, loadedAt: Infinity }]));
    rebuild();
  };
  reset(opts.staticTables);

  return {
    reset,
    current: () => current,
    async forTables(tables: TableRef[]) {
      const t = now();
      let missing = tables.filter((x) => !x.function && !x.opaque && !statics.has(x.fq) && !(known.has(x.fq) && t - known.get(x.fq)!.loadedAt < refreshMs));
      if (missing.length === 0) return current;
      let changed = false;
      for (const provider of opts.providers) {
        if (missing.length === 0) break;
        let loaded: CatalogTable[] = [];
        try {
          loaded = await provider.load(missing);
        } catch {
          // A catalog source being down only means less is known: the analyzer then reports
          // unresolved stars/columns and policy fails closed on them.
        }
        for (const table of loaded) {
          const before = known.get(table.fq);
          if (!before || JSON.stringify(before.table) !== JSON.stringify(table)) changed = true;
          known.set(table.fq, { table, loadedAt: t });
        }
        missing = missing.filter((x) => !known.has(x.fq));
      }
      if (changed) rebuild();
      return current;
    },
  };
}
