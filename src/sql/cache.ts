// LRU cache of analyses keyed by SQL text and options, for the gateway's hot path (agents
// repeat the same queries). Per catalog object, because the catalog changes the answer.
import type { Analysis, AnalyzeOptions, SchemaCatalog } from './types.js';
import { analyze } from './analyze.js';

export interface AnalysisCache {
  get(sql: string, opts: AnalyzeOptions): Analysis;
  readonly size: number;
  clear(): void;
}

export function createAnalysisCache(max = 1000): AnalysisCache {
  const noCatalog = new Map<string, Analysis>();
  const byCatalog = new WeakMap<SchemaCatalog, Map<string, Analysis>>();
  let size = 0;
  const mapFor = (cat?: SchemaCatalog) => {
    if (!cat) return noCatalog;
    let m = byCatalog.get(cat);
    if (!m) byCatalog.set(cat, (m = new Map()));
    return m;
  };
  return {
    get(sql, opts) {
      const m = mapFor(opts.catalog);
      const key = `${opts.dialect}\u0000${opts.defaultProject ?? ''}\u0000${opts.defaultDataset ?? ''}\u0000${sql}`;
      const hit = m.get(key);
      if (hit) {
        m.delete(key); // re-insert: Map order is the recency order
        m.set(key, hit);
        return hit;
      }
      const a = analyze(sql, opts);
      m.set(key, a);
      size++;
      if (m.size > max) {
        m.delete(m.keys().next().value as string);
        size--;
      }
      return a;
    },
    get size() {
      return size;
    },
    clear() {
      noCatalog.clear();
      size = 0;
    },
  };
}

const shared = createAnalysisCache(1000);

/** analyze() through a process-wide LRU (1000 entries). The result is shared: do not mutate it. */
export function analyzeCached(sql: string, opts: AnalyzeOptions): Analysis {
  return shared.get(sql, opts);
}
