// Does BigQuery's dry run agree with our analysis? The analyzer is our model of the engine;
// the engine is the authority. A statement BigQuery types differently (a "SELECT" it runs as a
// script or DML), or a table it references that our analysis never saw (so policy never judged
// it), means policy was applied to something other than what would run: deny, naming why.
import type { Analysis, StatementClass } from '../sql/types.js';

/** BigQuery statistics.query.statementType → our statement class ('script' for SCRIPT). */
export function classOfStatementType(t: string): StatementClass | 'script' {
  if (t === 'SELECT' || t === 'ASSERT') return 'read';
  if (['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'TRUNCATE_TABLE'].includes(t)) return 'write';
  if (t === 'SCRIPT') return 'script';
  if (t === 'CALL') return 'call';
  if (/^(EXPORT_DATA|EXPORT_MODEL|LOAD_DATA)$/.test(t)) return 'data_movement';
  if (/ROW_ACCESS_POLIC|^GRANT$|^REVOKE$/.test(t)) return 'dcl';
  if (/^(CREATE|DROP|ALTER)_/.test(t)) return 'ddl';
  return 'unknown';
}

/** Our statement kinds BigQuery names one exact statementType for. */
const EXACT: Record<string, string> = { select: 'SELECT', insert: 'INSERT', update: 'UPDATE', delete: 'DELETE', merge: 'MERGE' };
/** Single statements BigQuery runs as a script. */
const SCRIPT_CLASSES = new Set<StatementClass>(['scripting', 'dynamic_sql', 'transaction']);

function statementMismatch(analysis: Analysis, type: string): string | null {
  const theirs = classOfStatementType(type);
  const st = analysis.statements;
  const s = st.length === 1 ? st[0] : undefined;
  const ours = s ? `${s.kind.toUpperCase()} (${s.class})` : `a script of ${st.length} statements`;
  const differ = `our analysis found ${ours}, BigQuery's dry run says ${type}`;
  if (theirs === 'unknown') return `${differ}, a statement type the gateway does not know`;
  if (!s) return theirs === 'script' ? null : differ;
  if (theirs === 'script') return SCRIPT_CLASSES.has(s.class) ? null : differ;
  if (theirs !== s.class) return differ;
  const exact = EXACT[s.kind];
  return exact && exact !== type ? differ : null;
}

function tablesMissing(analysis: Analysis, tables: string[]): string[] {
  const refs = analysis.statements.flatMap((s) => [...s.tablesRead, ...s.tablesWritten]);
  const exact = new Set(refs.map((r) => r.fq));
  const loose = new Set(refs.map((r) => r.fq.toLowerCase()));
  const wild = refs.filter((r) => r.wildcard).map((r) => r.fq.replace(/\*$/, ''));
  return tables.filter((t) => !exact.has(t) && !loose.has(t.toLowerCase()) && !wild.some((w) => t.startsWith(w)));
}

/** Why BigQuery and our analysis disagree, or null when they agree. */
export function dryRunDisagreement(analysis: Analysis, r: { statementType: string; tables: string[] }): { code: 'dry_run_statement_mismatch' | 'dry_run_table_mismatch'; reason: string } | null {
  const s = statementMismatch(analysis, r.statementType);
  if (s) return { code: 'dry_run_statement_mismatch', reason: s };
  const missing = tablesMissing(analysis, r.tables);
  if (missing.length) {
    return {
      code: 'dry_run_table_mismatch',
      reason: `BigQuery's dry run references ${missing.join(', ')}, which our analysis did not find (it found ${[...new Set(analysis.statements.flatMap((x) => [...x.tablesRead, ...x.tablesWritten].map((t) => t.fq)))].join(', ') || 'no table'}), so policy never judged ${missing.length === 1 ? 'it' : 'them'}`,
    };
  }
  return null;
}
