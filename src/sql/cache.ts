// LRU caches of analyses for the gateway's hot path, per catalog object (the catalog changes
// the answer): by exact SQL text first (agents repeat queries), then by template (queries that
// differ only in literals share one parse; sql/template.ts says when that is sound).
import type { Analysis, AnalyzeOptions, SchemaCatalog } from './types.js';
import { analyze } from './analyze.js';
import { rebase, sqlTemplate, type SqlTemplate } from './template.js';

export interface AnalysisCache {
  get(sql: string, opts: AnalyzeOptions): Analysis;
  readonly size: number;
  /** How the last lookups were answered, for benchmarks and metrics. */
  readonly stats: { text: number; template: number; parsed: number };
  clear(): void;
}

class Lru<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) {
      this.m.delete(k); // re-insert: Map order is the recency order
      this.m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  get size(): number {
    return this.m.size;
  }
  clear(): void {
    this.m.clear();
  }
}

interface PerCatalog {
  byText: Lru<Analysis>;
  byTemplate: Lru<{ analysis: Analysis; template: SqlTemplate }>;
}

export function createAnalysisCache(max = 1000): AnalysisCache {
  const noCatalog: PerCatalog = { byText: new Lru(max), byTemplate: new Lru(max) };
  const byCatalog = new WeakMap<SchemaCatalog, PerCatalog>();
  const stats = { text: 0, template: 0, parsed: 0 };
  const forCatalog = (cat?: SchemaCatalog) => {
    if (!cat) return noCatalog;
    let m = byCatalog.get(cat);
    if (!m) byCatalog.set(cat, (m = { byText: new Lru(max), byTemplate: new Lru(max) }));
    return m;
  };
  return {
    get(sql, opts) {
      const m = forCatalog(opts.catalog);
      const scope = `${opts.dialect}\u0000${opts.defaultProject ?? ''}\u0000${opts.defaultDataset ?? ''}\u0000`;
      const hit = m.byText.get(scope + sql);
      if (hit) {
        stats.text++;
        return hit;
      }
      const template = sqlTemplate(sql, opts.dialect);
      const shared = template ? m.byTemplate.get(scope + template.key) : undefined;
      let a = shared && template ? rebase(shared.analysis, shared.template, template, sql) : null;
      if (a) stats.template++;
      else {
        a = analyze(sql, opts);
        stats.parsed++;
        if (template && a.ok && a.templateSafe !== false) m.byTemplate.set(scope + template.key, { analysis: a, template });
      }
      m.byText.set(scope + sql, a);
      return a;
    },
    get size() {
      return noCatalog.byText.size;
    },
    stats,
    clear() {
      noCatalog.byText.clear();
      noCatalog.byTemplate.clear();
    },
  };
}

const shared = createAnalysisCache(1000);

/** analyze() through a process-wide LRU (1000 entries). The result is shared: do not mutate it. */
export function analyzeCached(sql: string, opts: AnalyzeOptions): Analysis {
  return shared.get(sql, opts);
}
