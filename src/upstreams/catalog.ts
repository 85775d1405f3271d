// A CatalogProvider over an upstream's own metadata tool (the kind's catalog source), so the
// demo (Toolbox sqlite) and a plain Toolbox or managed BigQuery deployment need no hand-written
// catalog. Answers, "no such table" included, are cached for a TTL; an upstream that fails
// leaves the tables unknown (the analyzer flags them, policy refuses) and is asked again.
import type { CatalogProvider, CatalogTable } from '../sql/types.js';
import type { CallTool, CatalogSource, TableKey } from './types.js';

export interface UpstreamCatalogOptions {
  /** Provider name (for logs): the upstream's id. */
  name?: string;
  /** Only these tables belong to the upstream (several upstreams share one catalog view). */
  owns?: (t: TableKey) => boolean;
  ttlMs?: number;
  now?: () => number;
}

export function createUpstreamCatalogProvider(callTool: CallTool, source: CatalogSource, opts: UpstreamCatalogOptions = {}): CatalogProvider {
  const ttl = opts.ttlMs ?? 5 * 60_000;
  const now = opts.now ?? Date.now;
  const owns = opts.owns ?? (() => true);
  const cache = new Map<string, { value: CatalogTable | null; expires: number }>();
  const fresh = (t: TableKey) => (cache.get(t.fq)?.expires ?? 0) > now();
  const known = (tables: TableKey[]) => tables.flatMap((t) => cache.get(t.fq)?.value ?? []);
  return {
    name: `upstream:${opts.name ?? 'tool'}`,
    async load(tables) {
      const mine = tables.filter(owns);
      const missing = mine.filter((t) => !fresh(t) && t.dataset && t.table);
      if (missing.length) {
        let found: CatalogTable[];
        try {
          found = await source.fetch(callTool, missing);
        } catch {
          return known(mine);
        }
        const expires = now() + ttl;
        for (const t of found) cache.set(t.fq, { value: t, expires });
        for (const t of missing) if (!fresh(t)) cache.set(t.fq, { value: null, expires });
      }
      return known(mine);
    },
  };
}
