// Puts masking projections where the engine reads tables, so no clause of a query can see a
// clear value the caller may only see masked. The projections themselves (which expression
// masks which column) come from policy and masking; this module only places them.
//
// SQLite: a WITH list in front of each statement defines, for every masked table the statement
// names, a common table expression with the table's own name. SQLite resolves every unqualified
// table name to a CTE of that name first (in FROM, joins, subqueries, correlated subqueries, set
// operations, `x IN t`, DML sources), so the base table is reachable only through a
// schema-qualified name, which is refused. This holds whatever our parser thinks of the query:
// the names are matched on tokens, not on our reading of the tree.
//
// BigQuery: names are usually qualified (dataset.table), which a CTE cannot shadow, so every
// place the analyzer found a table read is replaced by `(SELECT … FROM <that table>) AS <alias>`.
import type { Analysis, Dialect, StatementAnalysis } from './types.js';
import { tokenize, type Token } from './lexer.js';

export interface MaskedTable {
  /** project.dataset.table as the analyzer resolves it. */
  fq: string;
  /** The table's own name (last part), as a CTE or alias name. */
  name: string;
  /** The select list of the projection: every column the caller may reach, masked where policy says. */
  select: string;
  /** SQLite: the qualified source inside the projection, e.g. "main"."customers" NOT INDEXED. */
  source?: string;
}

export type RewriteResult = { ok: true; sql: string; changed: boolean; tables: string[] } | { ok: false; reason: string; statement: number };

const quoteIdent = (name: string, dialect: Dialect) => (dialect === 'bigquery' ? `\`${name.replace(/`/g, '\\`')}\`` : `"${name.replace(/"/g, '""')}"`);

/** An identifier token's name as the engine compares it (SQLite folds ASCII case only). */
function identOf(t: Token, dialect: Dialect): string | null {
  let name: string | null = null;
  if (t.kind === 'word') name = t.text;
  else if (t.kind === 'quoted_ident') {
    const quote = t.text.charAt(0);
    name =
      quote === '['
        ? t.text.slice(1, -1)
        : t.text
            .slice(1, -1)
            .split(quote + quote)
            .join(quote);
  }
  // SQLite reads "x" as an identifier when it can; treat it as one.
  else if (t.kind === 'string' && dialect === 'sqlite' && t.text.startsWith('"')) name = t.text.slice(1, -1).replace(/""/g, '"');
  if (name === null) return null;
  return dialect === 'sqlite' ? name.replace(/[A-Z]/g, (c) => c.toLowerCase()) : name;
}

const isTrivia = (t: Token) => t.kind === 'space' || t.kind === 'comment';

/** A significant token (no space, no comment) and where it starts in the SQL. */
export interface Span {
  t: Token;
  at: number;
}

/** The SQL's significant tokens with their offsets: tokenised once per request, shared by callers. */
export function spans(sql: string, dialect: Dialect): Span[] {
  const out: Span[] = [];
  let at = 0;
  for (const t of tokenize(sql, dialect)) {
    if (!isTrivia(t)) out.push({ t, at });
    at += t.text.length;
  }
  return out;
}

/** The spans inside [start, end). */
function within(toks: Span[], start: number, end: number): Span[] {
  let lo = 0;
  let hi = toks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1; // lo <= mid < hi <= toks.length
    if (toks[mid]!.at < start) lo = mid + 1;
    else hi = mid;
  }
  const out: Span[] = [];
  for (let i = lo; ; i++) {
    const s = toks[i];
    if (s === undefined || s.at >= end) break;
    out.push(s);
  }
  return out;
}

/** Statement kinds that name a table without returning or copying its rows (no query inside). */
const NO_ROWS = new Set(['drop_table', 'drop_view', 'drop_index', 'drop_trigger', 'alter_table', 'create_index', 'reindex', 'analyze', 'create_table', 'vacuum', 'truncate']);

function sqliteStatement(sql: string, s: StatementAnalysis, masked: Map<string, MaskedTable>, all: Span[]): { text: string; tables: string[] } | { reason: string } {
  const [start, end] = s.range ?? [0, sql.length];
  const text = sql.slice(start, end);
  const toks = within(all, start, end);
  const named = new Map<string, MaskedTable>();
  for (const [i, { t }] of toks.entries()) {
    const id = identOf(t, 'sqlite');
    const m = id !== null ? masked.get(id) : undefined;
    if (!m) continue;
    const prev = toks[i - 1]?.t;
    if (prev?.kind === 'punct' && prev.text === '.') return { reason: `a schema-qualified name for table ${m.name} reaches the table past its masking; write ${m.name} without a schema` };
    named.set(m.name, m);
  }
  if (named.size === 0) return { text, tables: [] };
  // DROP, ALTER, CREATE INDEX … name a table without reading its rows back to the caller.
  if (s.queryAt === null && NO_ROWS.has(s.kind)) return { text, tables: [] };
  if (s.queryAt === null) return { reason: `a ${s.kind} statement names table ${[...named.keys()].join(', ')}, which this role sees masked, and bqwarden has no place for its masking projection` };
  const at = s.queryAt - start;
  const ctes = [...named.values()].map((m) => `${quoteIdent(m.name, 'sqlite')} AS (SELECT ${m.select} FROM ${m.source})`).join(', ');
  // Merge with the statement's own WITH (after WITH [RECURSIVE]) so both lists share one scope.
  const [w0, w1] = within(toks, s.queryAt, end);
  if (w0 && w0.t.kind === 'word' && w0.t.text.toUpperCase() === 'WITH') {
    const kw = w1 && w1.t.kind === 'word' && w1.t.text.toUpperCase() === 'RECURSIVE' ? w1 : w0;
    const after = kw.at + kw.t.text.length - start;
    return { text: `${text.slice(0, after)} ${ctes},${text.slice(after)}`, tables: [...named.keys()] };
  }
  return { text: `${text.slice(0, at)}WITH ${ctes} ${text.slice(at)}`, tables: [...named.keys()] };
}

/** The dotted name parts an identifier token spells (`a.b.c` inside backticks is one token). */
function pathOf(t: Token): string[] | null {
  if (t.kind === 'word') return [t.text];
  if (t.kind === 'quoted_ident' && t.text.startsWith('`')) return t.text.slice(1, -1).split('.');
  return null;
}

function bigqueryStatement(sql: string, s: Pick<StatementAnalysis, 'range' | 'tableSites'>, masked: Map<string, MaskedTable>, all: Span[]): { text: string; tables: string[] } | { reason: string } {
  const [start, end] = s.range ?? [0, sql.length];
  // The analyzer may walk one FROM item more than once (recursive CTEs): one splice per place.
  const unique = new Map(s.tableSites.filter((x) => masked.has(x.fq)).map((x) => [`${x.range[0]}:${x.range[1]}`, x]));
  const sites = [...unique.values()].sort((a, b) => b.range[0] - a.range[0]);
  // Tokens, not the parse tree, say where a masked table's name occurs. Outside a place the
  // analyzer found (and will replace) it may only qualify a column (`customers.ssn`, which then
  // names the projection); anywhere else the engine might read the table unmasked: refuse.
  const names = new Map([...masked.values()].map((m) => [m.name.toLowerCase(), m]));
  const toks = within(all, start, end);
  for (const [i, { t, at }] of toks.entries()) {
    const parts = pathOf(t);
    const last = parts?.at(-1);
    const m = last !== undefined ? names.get(last.toLowerCase()) : undefined;
    if (!m) continue;
    if (sites.some((x) => x.nameRange[0] <= at && at + t.text.length <= x.nameRange[1])) continue;
    const qualifier = parts!.length === 1 && toks[i + 1]?.t.text === '.' && toks[i - 1]?.t.text !== '.';
    if (!qualifier)
      return {
        reason: `the name ${m.name} occurs where bqwarden cannot tell whether it reads the table ${m.fq}, which this role sees masked (an alias, CTE or column named like it, or a table reference the analyzer did not place); rename it`,
      };
  }
  let text = sql.slice(start, end);
  const tables = new Set<string>();
  for (const site of sites) {
    const m = masked.get(site.fq)!;
    tables.add(m.fq);
    const [a, b] = [site.range[0] - start, site.range[1] - start];
    if (site.tableArg) {
      // TABLE t → (SELECT … FROM t): a query argument in the same place, which such functions take.
      const name = sql.slice(site.nameRange[0], site.nameRange[1]);
      text = `${text.slice(0, a)}(SELECT ${m.select} FROM ${name})${text.slice(b)}`;
      continue;
    }
    const source = text.slice(a, b);
    const alias = site.alias === null ? ` AS ${quoteIdent(m.name, 'bigquery')}` : '';
    text = `${text.slice(0, a)}(SELECT ${m.select} FROM ${source})${alias}${text.slice(b)}`;
  }
  return { text, tables: [...tables] };
}

/**
 * Rewrites `analysis.sql` so that every read of a table in `masked` goes through its projection.
 * SQLite tables are keyed by their (lower-case) name, BigQuery tables by fq. Fails (never passes
 * the statement through) when a read cannot be placed.
 */
export function rewriteForMasking(analysis: Analysis, masked: MaskedTable[], toks: Span[] = spans(analysis.sql, analysis.dialect)): RewriteResult {
  const { sql, dialect } = analysis;
  if (masked.length === 0) return { ok: true, sql, changed: false, tables: [] };
  if (!analysis.ok) return { ok: false, reason: 'the SQL did not parse, so its table reads cannot be masked', statement: -1 };
  const byKey = new Map(masked.map((m) => [dialect === 'sqlite' ? m.name.toLowerCase() : m.fq, m]));
  // Statements are rewritten back to front so earlier offsets stay valid; nested statements
  // (scripts) are inside their container's range and are handled with it.
  const inside = (s: StatementAnalysis, o: StatementAnalysis) => o !== s && o.index < s.index && !!o.range && o.range[0] <= s.range![0] && s.range![1] <= o.range[1];
  const top = analysis.statements.filter((s) => s.range && !analysis.statements.some((o) => inside(s, o)));
  if (dialect === 'bigquery') {
    // A table read from a statement nested in a script is in its container's text: splice all
    // sites of the whole program at once.
    const all = { range: [0, sql.length] as [number, number], tableSites: analysis.statements.flatMap((s) => s.tableSites) };
    const r = bigqueryStatement(sql, all, byKey, toks);
    if ('reason' in r) return { ok: false, reason: r.reason, statement: -1 };
    return { ok: true, sql: r.text, changed: r.text !== sql, tables: r.tables };
  }
  if (dialect !== 'sqlite') return { ok: false, reason: `masking inside ${dialect} queries is not supported`, statement: -1 };
  let out = sql;
  const tables = new Set<string>();
  for (const s of [...top].sort((a, b) => b.range![0] - a.range![0])) {
    const r = sqliteStatement(sql, s, byKey, toks);
    if ('reason' in r) return { ok: false, reason: r.reason, statement: s.index };
    for (const t of r.tables) tables.add(byKey.get(t)!.fq);
    out = out.slice(0, s.range![0]) + r.text + out.slice(s.range![1]);
  }
  // Text outside every statement (a trailing comment, separators) cannot read a table; but a
  // statement the parser did not report could. Every masked name must be inside a statement.
  const covered = (i: number) => top.some((s) => s.range![0] <= i && i < s.range![1]);
  for (const { t, at } of toks) {
    const id = identOf(t, 'sqlite');
    if (id !== null && byKey.has(id) && !covered(at)) return { ok: false, reason: `table ${id} is named outside any statement bqwarden recognised`, statement: -1 };
  }
  return { ok: true, sql: out, changed: out !== sql, tables: [...tables] };
}

export { quoteIdent };
