// Hand-built analyses, so engine tests do not depend on the SQL analyzer.
import type { Analysis, Clause, ColumnRef, OpaqueFlag, OutputColumn, StatementAnalysis, StatementClass, TableRef } from '../../src/sql/types.js';
import type { Identity } from '../../src/identity/types.js';

function col(key: string): ColumnRef {
  const parts = key.split('.');
  const full = parts.length === 2 ? ['demo', 'main', ...parts] : parts;
  const column = full[3];
  if (column === undefined) throw new Error(`col('${key}'): expected table.column or project.dataset.table.column`);
  return { table: full.slice(0, 3).join('.'), column, path: full.slice(4) };
}

function table(fq: string): TableRef {
  const full = fq.split('.').length === 1 ? `demo.main.${fq}` : fq;
  const [project, dataset, t] = full.split('.');
  if (project === undefined || dataset === undefined || t === undefined) throw new Error(`table('${fq}'): expected table or project.dataset.table`);
  return { fq: full, project, dataset, table: t, wildcard: false, informationSchema: false, view: false, function: false, opaque: false, timeTravel: false };
}

export interface StmtSpec {
  class?: StatementClass;
  kind?: string;
  destructive?: boolean;
  read?: string[];
  written?: string[];
  /** [name, sources, direct?, unresolved?] */
  out?: [string, string[], boolean?, boolean?][] | null;
  uses?: [Clause, string][];
  opaque?: OpaqueFlag[];
}

function stmt(s: StmtSpec, index = 0): StatementAnalysis {
  const output: OutputColumn[] | null =
    s.out === null ? null : (s.out ?? []).map(([name, sources, direct, unresolved], i) => ({ index: i, name, sources: sources.map(col), direct: direct ?? true, unresolved: unresolved ?? false }));
  return {
    index,
    range: null,
    queryAt: null,
    tableSites: [],
    kind: s.kind ?? 'select',
    class: s.class ?? 'read',
    destructive: s.destructive ?? false,
    text: 'x',
    sha256: 'h',
    fingerprint: 'f',
    tablesRead: (s.read ?? []).map(table),
    tablesWritten: (s.written ?? []).map(table),
    output: s.class && s.class !== 'read' && s.out === undefined ? null : output,
    uses: (s.uses ?? []).map(([clause, c]) => ({ clause, column: col(c) })),
    opaque: s.opaque ?? [],
  };
}

/**
 * A hand-built analysis has no SQL text a rewriter could put masking projections into, so it is
 * marked as a dialect bqwarden does not rewrite: these cases exercise the analysis-based rules
 * (inference guard, derived-masked, copy-masked), which hold wherever masking cannot happen in
 * the engine — other dialects, writes, and columns the engine cannot mask. Masking in the engine
 * is tested with real SQL (test/policy/engine-masks.test.ts, test/noninterference).
 */
export function analysis(sql: string, ...stmts: StmtSpec[]): Analysis {
  const statements = stmts.map((s, i) => stmt(s, i));
  return { dialect: 'postgresql', ok: true, sql, sha256: 'h', fingerprint: 'f', statements, opaque: statements.flatMap((s) => s.opaque) };
}

export function identity(email: string, groups: string[] = []): Identity {
  return { subject: `sub-${email}`, email, issuer: 'https://issuer.test', groups, roles: [], actorType: 'human', authMethod: 'dev', expiresAt: null, name: null };
}

/**
 * Policy YAML for one BigQuery upstream (`p.d` defaults, `execute_sql`) and an analyst role;
 * `rules` adds tables, statements, classifications and visibility, `upstream` more upstream keys.
 */
export function bigqueryAnalystPolicy(rules: string, upstream = ''): string {
  return `
upstreams:
  - id: bq
    dialect: bigquery
    defaultProject: p
    defaultDataset: d
    tools: { execute_sql: { kind: sql, sqlArgument: sql } }${upstream ? `\n    ${upstream.trim()}` : ''}
roles: [{ id: r-an, role: analyst, groups: [analyst] }]
methods: [{ id: m, methods: ['*'], effect: allow }]
tools: [{ id: t, tools: [execute_sql], effect: allow }]
${rules.trim()}
`;
}
