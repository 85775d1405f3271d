// Entry point: SQL text in, facts for policy/masking/audit out. Pure (no I/O) and never throws:
// anything it cannot parse or understand comes back as an opaque flag so callers fail closed.
import type { Analysis, AnalyzeOptions, OpaqueFlag, SchemaCatalog, TableRef } from './types.js';
import { parseSql } from './parse.js';
import { analyzeProgram } from './statements.js';
import { fingerprint } from './fingerprint.js';
import { sha256Hex as sha256 } from '../common/digest.js';

export function analyze(sql: string, opts: AnalyzeOptions): Analysis {
  const digest = sha256(sql);
  let fp: string;
  try {
    fp = fingerprint(sql, opts.dialect);
  } catch (e) {
    // The tokenizer is analyzer code too: its failure refuses the query like any other.
    const msg = e instanceof Error ? e.message : String(e);
    return {
      dialect: opts.dialect,
      sql,
      sha256: digest,
      fingerprint: `sha256:${digest}`,
      ok: false,
      statements: [],
      opaque: [{ kind: 'unsupported', detail: `analyzer error: ${msg.slice(0, 200)}`, statement: -1 }],
    };
  }
  const base = { dialect: opts.dialect, sql, sha256: digest, fingerprint: fp };
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

/** A catalog that learns tables on demand (the gateway's CatalogView); the object stays the same while nothing new is learned. */
export interface LearningCatalog {
  current(): SchemaCatalog;
  forTables(tables: TableRef[]): Promise<SchemaCatalog>;
}

/**
 * The one analysis-with-catalog: analyse against what the catalog knows, let it learn the
 * tables the statement names, and analyse again only when it learned something — repeated
 * (bounded) while view definitions reveal more tables. `analyzeFn` is the analyzer to use
 * (the pipeline passes its cached one).
 */
export async function analyzeAgainstCatalog(
  sql: string,
  opts: AnalyzeOptions,
  view: LearningCatalog,
  analyzeFn: (sql: string, opts: AnalyzeOptions) => Analysis = analyze,
): Promise<{ analysis: Analysis; catalog: SchemaCatalog }> {
  let catalog = view.current();
  let analysis = analyzeFn(sql, { ...opts, catalog });
  for (let round = 0; round < 4; round++) {
    const next = await view.forTables(analysis.statements.flatMap((s) => [...s.tablesRead, ...s.tablesWritten]));
    if (next === catalog) break;
    catalog = next;
    analysis = analyzeFn(sql, { ...opts, catalog });
  }
  return { analysis, catalog };
}
