// Entry point: SQL text in, facts for policy/masking/audit out. Pure (no I/O) and never throws:
// anything it cannot parse or understand comes back as an opaque flag so callers fail closed.
import type { Analysis, AnalyzeOptions, CatalogProvider, CatalogTable, OpaqueFlag, SchemaCatalog, TableRef } from './types.js';
import { parseSql } from './parse.js';
import { analyzeProgram } from './statements.js';
import { fingerprint, sha256 } from './fingerprint.js';
import { createStaticCatalog } from './catalog.js';

export function analyze(sql: string, opts: AnalyzeOptions): Analysis {
  const base = { dialect: opts.dialect, sql, sha256: sha256(sql), fingerprint: fingerprint(sql, opts.dialect) };
  const parsed = parseSql(sql, opts.dialect);
  if (!parsed.ok) {
    return { ...base, ok: false, statements: [], opaque: [{ kind: 'parse_error', detail: parsed.error, statement: -1 }] };
  }
  try {
    const flags = { literalNames: false };
    const statements = analyzeProgram(parsed.program, opts, sql, flags);
    const opaque: OpaqueFlag[] = statements.flatMap((s) => s.opaque);
    if (statements.length === 0) opaque.push({ kind: 'parse_error', detail: 'no SQL statement in the input', statement: -1 });
    return { ...base, ok: true, statements, opaque, ...(flags.literalNames ? { templateSafe: false } : {}) };
  } catch (e) {
    // A bug in the analyzer must not let a query through unanalysed.
    const msg = e instanceof Error ? e.message : String(e);
    return { ...base, ok: false, statements: [], opaque: [{ kind: 'unsupported', detail: `analyzer error: ${msg.slice(0, 200)}`, statement: -1 }] };
  }
}

/** Parse + table resolution only: the tables to load from an async CatalogProvider before
 * calling analyze with a catalog. Empty when the SQL does not parse. */
export function tablesOf(sql: string, opts: AnalyzeOptions): TableRef[] {
  const a = analyze(sql, { ...opts, catalog: opts.catalog });
  const out = new Map<string, TableRef>();
  for (const s of a.statements) for (const t of [...s.tablesRead, ...s.tablesWritten]) if (!t.function && !out.has(t.fq)) out.set(t.fq, t);
  return [...out.values()];
}

/** tablesOf → provider.load → analyze, repeated while view definitions reveal more tables. */
export async function analyzeWithProvider(sql: string, opts: AnalyzeOptions, provider: CatalogProvider): Promise<Analysis> {
  const known = new Map<string, CatalogTable>();
  const asked = new Set<string>();
  let catalog: SchemaCatalog = createStaticCatalog([]);
  let pending = tablesOf(sql, { ...opts, catalog: undefined });
  for (let round = 0; round < 4 && pending.length; round++) {
    for (const t of pending) asked.add(t.fq);
    for (const t of await provider.load(pending)) known.set(t.fq, t);
    catalog = createStaticCatalog([...known.values()]);
    pending = tablesOf(sql, { ...opts, catalog }).filter((t) => !asked.has(t.fq));
  }
  return analyze(sql, { ...opts, catalog });
}
