// Column lineage for queries: builds the FROM scope, resolves every name against it, and
// returns each query's output columns with the source columns they derive from. Columns used
// outside the select list are recorded on the Collector with their clause.
import { parse } from 'sql-parser-cst';
import type { Clause, ColumnRef, TableRef } from './types.js';
import { columnKey } from './types.js';
import { Collector, Deps, col, type Col, type Relation, type Scope, type ScopeEntry } from './scope.js';
import { identName, makeTableRef, mergeTable, nameParts } from './tables.js';
import { parserOptions } from './parse.js';

type AnyNode = { type: string; [k: string]: any };
export type Ctes = Map<string, Relation>;

export interface Walk {
  scope: Scope | null;
  ctes: Ctes;
  c: Collector;
  /** Select-list names visible to GROUP BY / HAVING / QUALIFY / ORDER BY. */
  aliases?: Map<string, Col>;
  /** SQLite: AS aliases of the select list, which WHERE sees when no FROM column has the name. */
  whereAliases?: Map<string, Col>;
  /** Inside FOR SYSTEM_TIME AS OF: tables read are time-travel reads. */
  timeTravel?: boolean;
  /** Offsets of the FROM item wrapping a table name (FOR SYSTEM_TIME AS OF, TABLESAMPLE): a splicing rewriter replaces all of it. */
  siteRange?: [number, number];
  /** The name is read in a place a projection cannot replace (… WITH OFFSET): no site, so a rewriter refuses it. */
  noSite?: boolean;
}

const QUERY_TYPES = new Set(['select_stmt', 'compound_select_stmt']);

// Functions whose bare-word arguments are date parts (DATE_TRUNC(d, MONTH)), not columns.
const DATE_PART_FUNCS = new Set([
  'date_trunc', 'datetime_trunc', 'timestamp_trunc', 'time_trunc', 'date_diff', 'datetime_diff',
  'timestamp_diff', 'time_diff', 'last_day', 'date_bucket', 'datetime_bucket', 'timestamp_bucket',
  'extract', 'date_part', 'datepart', 'generate_date_array', 'generate_timestamp_array', 'week', 'isoweek',
  'normalize', 'normalize_and_casefold',
]);
const DATE_PARTS = new Set([
  'microsecond', 'millisecond', 'second', 'minute', 'hour', 'day', 'dayofweek', 'dayofyear', 'week',
  'isoweek', 'month', 'quarter', 'year', 'isoyear', 'date', 'time', 'datetime',
  'nfc', 'nfkc', 'nfd', 'nfkd', 'sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday',
]);
// Aggregates that de-duplicate without saying DISTINCT.
const DISTINCT_FUNCS = new Set(['approx_count_distinct']);
// SQLite aggregates (for bare columns next to min()/max(), which take that row's values).
const SQLITE_AGGREGATES = new Set(['avg', 'count', 'group_concat', 'string_agg', 'max', 'min', 'sum', 'total', 'json_group_array', 'json_group_object', 'jsonb_group_array', 'jsonb_group_object', 'median', 'percentile', 'percentile_cont', 'percentile_disc', 'stddev', 'variance']);
// Names that are not columns when nothing in scope defines them.
const PSEUDO = {
  bigquery: new Set(['_table_suffix', '_partitiontime', '_partitiondate', '_file_name', '_change_type', '_change_timestamp', '_change_sequence_number', 'current_date', 'current_time', 'current_timestamp', 'current_datetime']),
  sqlite: new Set(['rowid', 'oid', '_rowid_', 'current_date', 'current_time', 'current_timestamp']),
  postgresql: new Set(['current_date', 'current_time', 'current_timestamp', 'current_user', 'session_user', 'localtime', 'localtimestamp', 'ctid', 'oid', 'xmin', 'xmax']),
};

const ref = (table: string, column: string, path: string[] = []): ColumnRef => ({ table, column: column.toLowerCase(), path: path.map((p) => p.toLowerCase()) });

function kwName(op: unknown): string {
  if (typeof op === 'string') return op.toUpperCase();
  if (Array.isArray(op)) return op.map(kwName).join(' ');
  if (op && typeof op === 'object' && 'name' in op) return String((op as { name: unknown }).name).toUpperCase();
  return '';
}

function unparen(n: AnyNode): AnyNode {
  while (n?.type === 'paren_expr' && n.expr && !Array.isArray(n.expr)) n = n.expr;
  return n;
}

function text(c: Collector, n: AnyNode): string {
  return n.range ? c.sql.slice(n.range[0], n.range[1]) : '';
}

// ───────────────────────────── name resolution ─────────────────────────────

interface Found {
  deps: Deps;
  /** Resolved only by guessing an unknown table: an outer scope may be the real owner. */
  weak: boolean;
}

function fromCol(cl: Col, path: string[]): Deps {
  const d = new Deps();
  if (path.length && cl.direct && cl.sources.length === 1) {
    const s = cl.sources[0];
    d.add({ table: s.table, column: s.column, path: [...s.path, ...path.map((p) => p.toLowerCase())] });
    d.direct = true;
  } else {
    d.addAll(cl.sources);
    d.direct = path.length === 0 && cl.direct && cl.sources.length === 1;
  }
  d.unresolved = cl.unresolved;
  return d;
}

function fromUnknown(rel: Relation, parts: string[], c: Collector, what: string): Deps {
  const d = new Deps();
  if (rel.value) {
    for (const s of rel.value.sources) d.add({ table: s.table, column: s.column, path: [...s.path, ...parts.map((p) => p.toLowerCase())] });
    d.unresolved = rel.value.unresolved;
    d.direct = rel.value.sources.length === 1 && !d.unresolved;
    return d;
  }
  for (const t of rel.unknownTables) d.add(ref(t.fq, parts[0], parts.slice(1)));
  if (rel.unknownTables.length === 1 && !rel.opaque) d.direct = true;
  if (rel.unknownTables.length !== 1 || rel.opaque) {
    d.unresolved = true;
    c.flag('unresolved_column', `${what}: cannot tell which source defines it`);
  }
  return d;
}

function wholeRow(e: ScopeEntry, c: Collector, name: string): Deps {
  const d = new Deps();
  if (e.rel.value) {
    d.addAll(e.rel.value.sources);
    d.unresolved = e.rel.value.unresolved;
    return d;
  }
  for (const cl of e.rel.cols) {
    d.addAll(cl.sources);
    d.unresolved ||= cl.unresolved;
  }
  if (e.rel.unknownTables.length || e.rel.opaque) {
    d.unresolved = true;
    for (const t of e.rel.unknownTables) d.add(ref(t.fq, '*'));
    c.flag('unresolved_column', `whole-row reference ${name} over a source whose columns are unknown`);
  }
  return d;
}

function fromEntry(e: ScopeEntry, rest: string[], c: Collector, name: string): Deps {
  if (rest.length === 0) return wholeRow(e, c, name);
  if (e.rel.value) return fromUnknown(e.rel, rest, c, name);
  const k = rest[0].toLowerCase();
  const cl = e.rel.cols.find((x) => x.key === k);
  if (cl) return fromCol(cl, rest.slice(1));
  if (e.rel.unknownTables.length || e.rel.opaque) return fromUnknown(e.rel, rest, c, name);
  const d = new Deps();
  d.unresolved = true;
  c.flag('unresolved_column', `${name}: no such column in ${e.names[0] ?? 'source'}`);
  return d;
}

function resolveIn(s: Scope, parts: string[], c: Collector, name: string): Found | null {
  const k0 = parts[0].toLowerCase();
  const u = s.using.find((x) => x.key === k0);
  if (u) return { deps: fromCol(u, parts.slice(1)), weak: false };
  for (let n = Math.min(3, parts.length - 1); n >= 1; n--) {
    const prefix = parts.slice(0, n).join('.').toLowerCase();
    const e = s.entries.find((x) => x.names.includes(prefix));
    if (e) return { deps: fromEntry(e, parts.slice(n), c, name), weak: false };
  }
  const known: Col[] = [];
  for (const e of s.entries) {
    if (e.rel.value) continue;
    const cl = e.rel.cols.find((x) => x.key === k0);
    if (cl) known.push(cl);
  }
  if (known.length === 1) return { deps: fromCol(known[0], parts.slice(1)), weak: false };
  if (known.length > 1) {
    const d = new Deps();
    for (const cl of known) d.addAll(cl.sources);
    d.unresolved = true;
    c.flag('unresolved_column', `${name}: ambiguous, several sources in scope have it`);
    return { deps: d, weak: false };
  }
  if (parts.length === 1) {
    const e = s.entries.find((x) => x.names.includes(k0));
    if (e) return { deps: wholeRow(e, c, name), weak: false };
  }
  const unknown = s.entries.filter((e) => e.rel.unknownTables.length || e.rel.opaque || (e.rel.value && e.names.length === 0));
  if (unknown.length === 0) return null;
  if (unknown.length === 1) return { deps: fromUnknown(unknown[0].rel, parts, c, name), weak: true };
  const d = new Deps();
  for (const e of unknown) d.merge(fromUnknown(e.rel, parts, c, name));
  d.unresolved = true;
  c.flag('unresolved_column', `${name}: several sources with unknown columns are in scope`);
  return { deps: d, weak: true };
}

export function resolveName(parts: string[], w: Walk): Deps {
  const c = w.c;
  const name = parts.join('.');
  const k0 = parts[0].toLowerCase();
  const out = new Deps();
  let found = false;
  if (parts.length === 1 && w.aliases?.has(k0)) {
    out.merge(fromCol(w.aliases.get(k0)!, []));
    out.direct = w.aliases.get(k0)!.direct;
    found = true;
    // An alias that is also an ambiguous FROM column: the engine uses the alias.
    const probe = new Collector(c.opts, c.sql, c.statement);
    for (let s = w.scope; s; s = s.parent) {
      const f = resolveIn(s, parts, probe, name);
      if (!f) continue;
      if (f.deps.unresolved) return out;
      break;
    }
  }
  // SQLite looks a name up in its own FROM items, then in its select list's AS aliases (WHERE,
  // HAVING), and only then in outer queries.
  const asAlias = parts.length === 1 && !found ? w.whereAliases?.get(k0) : undefined;
  for (let s = w.scope; s; s = s.parent) {
    const f = resolveIn(s, parts, c, name);
    if (!f) {
      if (asAlias && s === w.scope) {
        out.merge(fromCol(asAlias, []));
        out.direct = asAlias.direct;
        return out;
      }
      continue;
    }
    if (asAlias && s === w.scope && f.weak) {
      // The name may be a column of a source nobody knows, or the alias: it is both.
      out.merge(f.deps);
      out.merge(fromCol(asAlias, []));
      out.direct = false;
      return out;
    }
    if (found) {
      // Both a select-list alias and a FROM column: keep both, the engine picks one of them.
      // When both are the same column unchanged (SELECT x … GROUP BY x), it is still that column.
      const same = out.map.size === 1 && f.deps.map.size === 1 && out.map.keys().next().value === f.deps.map.keys().next().value;
      out.direct = same && out.direct && f.deps.direct;
      out.merge(f.deps);
      return out;
    }
    out.merge(f.deps);
    out.direct = f.deps.direct;
    found = true;
    if (!f.weak) return out;
  }
  if (found) return out;
  const dialect = c.opts.dialect;
  if ((parts.length === 1 && PSEUDO[dialect].has(k0)) || c.variables.has(k0)) return out;
  if (parts.length >= 1 && k0.startsWith('@')) return out;
  out.unresolved = true;
  c.flag('unresolved_column', `${name}: not found in any source in scope`);
  return out;
}

// ───────────────────────────── expressions ─────────────────────────────

interface Chain {
  parts: string[];
  subscripts: AnyNode[];
  root: AnyNode | null; // non-name root (function call, subquery …)
}

function chainOf(n: AnyNode, c: Collector): Chain {
  if (n.type === 'identifier') return { parts: [identName(n, c.opts.dialect)], subscripts: [], root: null };
  if (n.type === 'bigquery_quoted_member_expr') return chainOf(n.expr, c);
  if (n.type === 'member_expr') {
    const left = chainOf(n.object, c);
    const p = n.property;
    if (p?.type === 'identifier') left.parts.push(identName(p, c.opts.dialect));
    else if (p?.type === 'array_subscript') left.subscripts.push(p);
    else if (p) left.subscripts.push(p);
    return left;
  }
  return { parts: [], subscripts: [], root: n };
}

function isSqliteStringFallback(n: AnyNode, w: Walk): boolean {
  return w.c.opts.dialect === 'sqlite' && typeof n.text === 'string' && n.text.startsWith('"');
}

function walkName(n: AnyNode, w: Walk, d: Deps): void {
  const ch = chainOf(n, w.c);
  for (const s of ch.subscripts) walkExpr(s, w, d);
  if (ch.root) {
    walkExpr(ch.root, w, d);
    return;
  }
  if (n.type === 'identifier' && isSqliteStringFallback(n, w)) {
    // SQLite reads "x" as a column when one exists, otherwise as the string 'x'. A name bqwarden
    // cannot resolve is never taken for a string: the engine might resolve it after all.
    const probe = new Collector(w.c.opts, w.c.sql, w.c.statement);
    const r = resolveName(ch.parts, { ...w, c: probe });
    if (r.unresolved && r.map.size === 0) {
      w.c.flag('unresolved_column', `${ch.parts.join('.')}: a double-quoted name that is no column in scope (SQLite would read it as a string); write strings in single quotes`);
      d.unresolved = true;
      return;
    }
  }
  d.merge(resolveName(ch.parts, w));
}

function windowUses(win: AnyNode, w: Walk): void {
  if (win?.type === 'identifier') return; // OVER w: the named window is walked in WINDOW
  const d = new Deps();
  walkExpr(win, w, d);
  for (const s of d.sources) w.c.use(s, 'window');
}

function funcName(fc: AnyNode, w: Walk): string {
  const parts = nameParts(fc.name, w.c.opts.dialect);
  return (parts ? parts[parts.length - 1] : '').toLowerCase();
}

export function walkExpr(n: any, w: Walk, d: Deps): void {
  if (!n || typeof n !== 'object') return;
  if (Array.isArray(n)) {
    for (const x of n) walkExpr(x, w, d);
    return;
  }
  switch (n.type) {
    case 'identifier':
    case 'member_expr':
    case 'bigquery_quoted_member_expr':
      if (n.type === 'member_expr' && n.property?.type === 'all_columns') {
        const parts = nameParts(n.object, w.c.opts.dialect);
        if (parts) d.merge(resolveName(parts, w));
        else walkExpr(n.object, w, d);
        return;
      }
      walkName(n, w, d);
      return;
    case 'func_call': {
      const fname = funcName(n, w);
      if (n.name?.type !== 'identifier' && n.name?.type !== 'member_expr') walkExpr(n.name, w, d);
      const args: AnyNode | undefined = n.args?.expr;
      if (args?.type === 'func_args') {
        const ad = new Deps();
        for (const a of args.args?.items ?? []) {
          if (DATE_PART_FUNCS.has(fname) && a.type === 'identifier' && DATE_PARTS.has(String(a.name).toLowerCase())) continue;
          walkExpr(a, w, ad);
        }
        d.merge(ad);
        // count(DISTINCT x) compares the values; over x plus a guessed row, the count says
        // whether the guess is among them.
        if (args.distinctKw || DISTINCT_FUNCS.has(fname)) for (const s of ad.sources) w.c.use(s, 'distinct');
        // The aggregate's ORDER BY and HAVING MAX/MIN choose rows by the value: the result
        // (which row comes first, which one is kept) reveals the order of hidden values.
        d.merge(useExpr(args.orderBy, w, 'order_by'));
        d.merge(useExpr(args.limit, w, 'limit'));
        d.merge(useExpr(args.having?.expr, w, 'order_by'));
      } else walkExpr(args, w, d);
      // FILTER (WHERE …) is a WHERE on the aggregate's rows.
      d.merge(useExpr(n.filter, w, 'where'));
      if (n.over) windowUses(n.over.window, w);
      return;
    }
    case 'prefix_op_expr':
      if (kwName(n.operator) === 'EXISTS') {
        // The subquery's own WHERE/JOIN uses are recorded inside it; its select list does not
        // reach the value.
        queryRelation(unparen(n.expr), w.scope, w.ctes, w.c);
        return;
      }
      walkExpr(n.expr, w, d);
      return;
    case 'select_stmt':
    case 'compound_select_stmt': {
      const rel = queryRelation(n, w.scope, w.ctes, w.c);
      for (const cl of rel.cols) {
        d.addAll(cl.sources);
        d.unresolved ||= cl.unresolved;
      }
      if (rel.opaque || rel.unknownTables.length) d.unresolved ||= rel.cols.length === 0;
      return;
    }
    case 'named_arg':
      walkExpr(n.value, w, d);
      return;
    case 'alias':
      walkExpr(n.expr, w, d);
      return;
    case 'over_arg':
      windowUses(n.window, w);
      return;
    case 'keyword':
    case 'parameter':
    case 'variable':
    case 'all_columns':
    case 'string_literal':
    case 'number_literal':
    case 'boolean_literal':
    case 'null_literal':
    case 'blob_literal':
      return;
    default:
      if (typeof n.type === 'string' && n.type.includes('data_type')) return;
      for (const k of Object.keys(n)) {
        if (k === 'type' || k === 'range' || k === 'leading' || k === 'trailing' || k === 'dataType') continue;
        walkExpr(n[k], w, d);
      }
  }
}

export function exprDeps(n: AnyNode, w: Walk): Deps {
  const d = new Deps();
  walkExpr(n, w, d);
  const u = unparen(n);
  if (!(u.type === 'identifier' || u.type === 'member_expr' || u.type === 'bigquery_quoted_member_expr') || d.map.size !== 1 || d.unresolved) d.direct = false;
  else {
    const ch = chainOf(u, w.c);
    if (ch.root || ch.subscripts.length) d.direct = false;
    else d.direct = resolveName(ch.parts, { ...w, c: new Collector(w.c.opts, w.c.sql, w.c.statement) }).direct;
  }
  return d;
}

/** Evaluates an expression in a clause and records every source column as a use there. */
export function useExpr(n: AnyNode | null | undefined, w: Walk, clause: Clause): Deps {
  const d = new Deps();
  if (!n) return d;
  walkExpr(n, w, d);
  for (const s of d.sources) w.c.use(s, clause);
  return d;
}

// ───────────────────────────── FROM ─────────────────────────────

function tableNames(t: TableRef): string[] {
  const names = [t.table.toLowerCase()];
  if (t.dataset) names.push(`${t.dataset}.${t.table}`.toLowerCase());
  if (t.project && t.dataset) names.push(`${t.project}.${t.dataset}.${t.table}`.toLowerCase());
  return names;
}

function catalogRelation(t: TableRef, w: Walk, isRead: boolean): Relation {
  const c = w.c;
  const ct = c.opts.catalog?.getTable(t);
  if (!ct) {
    if (c.opts.catalog && isRead && !t.informationSchema && !t.function) c.flag('unknown_table', `${t.fq}: not in the schema catalog`);
    return { cols: [], unknownTables: [t], opaque: false };
  }
  const base: Col[] = ct.columns.map((cc) => col(cc.name, [ref(t.fq, cc.name)], true));
  if (ct.viewSql && isRead) {
    t.view = true;
    if (c.viewStack.includes(t.fq) || c.viewStack.length >= 8) {
      c.flag('unsupported', `${t.fq}: view definition refers to itself or nests too deeply`);
      return { cols: base, unknownTables: [], opaque: true };
    }
    let program: AnyNode;
    try {
      program = parse(ct.viewSql, parserOptions(c.opts.dialect)) as AnyNode;
    } catch {
      c.flag('unsupported', `${t.fq}: view definition in the catalog does not parse`);
      return { cols: base, unknownTables: [], opaque: true };
    }
    const q = program.statements.find((s: AnyNode) => QUERY_TYPES.has(s.type));
    if (!q) {
      c.flag('unsupported', `${t.fq}: view definition is not a query`);
      return { cols: base, unknownTables: [], opaque: true };
    }
    // Names inside a view resolve against the view's own project and dataset.
    const viewOpts = { ...c.opts, defaultProject: t.project ?? c.opts.defaultProject, defaultDataset: t.dataset ?? c.opts.defaultDataset };
    const inner = new Collector(viewOpts, ct.viewSql, c.statement);
    inner.viewStack.push(...c.viewStack, t.fq);
    const rel = queryRelation(q, null, new Map(), inner);
    for (const x of inner.tablesRead) mergeTable(c.tablesRead, x);
    for (const f of inner.opaque) c.flag(f.kind, `${f.detail} (in view ${t.fq})`);
    // Filters inside a view are the view owner's, not the caller's: inner uses are not recorded.
    return {
      cols: rel.cols.map((cl) => col(cl.name, [...cl.sources, ref(t.fq, cl.name)], false, cl.unresolved)),
      unknownTables: rel.unknownTables,
      opaque: rel.opaque,
    };
  }
  return { cols: base, unknownTables: [], opaque: false };
}

/** A read of a named table: records it, flags incomplete names, returns its relation. */
export function readTable(parts: string[], w: Walk, write = false): { ref: TableRef; rel: Relation } {
  const { ref: t, incomplete } = makeTableRef(parts, w.c.opts);
  if (incomplete) w.c.flag('unknown_table', `${t.fq}: no default project/dataset configured to qualify ${parts.join('.')}`);
  t.timeTravel = !!w.timeTravel;
  const rel = catalogRelation(t, w, !write);
  mergeTable(write ? w.c.tablesWritten : w.c.tablesRead, t);
  return { ref: t, rel };
}

function renameCols(rel: Relation, aliases: AnyNode | undefined, w: Walk): Relation {
  const items: AnyNode[] = aliases?.expr?.items ?? [];
  if (!items.length) return rel;
  const cols = rel.cols.map((cl, i) => (items[i] ? col(identName(items[i], w.c.opts.dialect), cl.sources, cl.direct, cl.unresolved) : cl));
  return { ...rel, cols };
}

/**
 * The column names SQLite gives a subquery or CTE (sqlite3ColumnsFromExprList): an alias TRUE or
 * FALSE becomes columnN, and a repeated name gets `:1`, `:2` … (compared case-insensitively).
 * Outer queries can only reach such a column by the invented name, so the analyzer uses it too.
 */
function engineNames(rel: Relation, c: Collector): Relation {
  if (c.opts.dialect !== 'sqlite') return rel;
  const seen = new Set<string>();
  let changed = false;
  const cols = rel.cols.map((cl, i) => {
    let name = /^(true|false)$/i.test(cl.name) ? `column${i + 1}` : cl.name;
    let cnt = 0;
    while (seen.has(name.toLowerCase())) name = `${name.replace(/:\d+$/, '')}:${++cnt}`;
    seen.add(name.toLowerCase());
    if (name === cl.name) return cl;
    changed = true;
    if (cl.nameRange) c.literalNames = true;
    return col(name, cl.sources, cl.direct, cl.unresolved);
  });
  return changed ? { ...rel, cols } : rel;
}

function opaqueRel(): Relation {
  return { cols: [], unknownTables: [], opaque: true };
}

const SQLITE_JSON_TVF = new Set(['json_each', 'json_tree', 'jsonb_each', 'jsonb_tree']);
const SQLITE_JSON_COLS = ['key', 'value', 'type', 'atom', 'id', 'parent', 'fullkey', 'path'];

function tableFunction(fc: AnyNode, w: Walk): Relation {
  const c = w.c;
  const parts = nameParts(fc.name, c.opts.dialect) ?? ['?'];
  const fname = parts[parts.length - 1].toLowerCase();
  const argDeps = new Deps();
  for (const a of fc.args?.expr?.args?.items ?? []) {
    // TABLE t arguments read t.
    if (a.type === 'table_arg' || (a.type === 'prefix_op_expr' && kwName(a.operator) === 'TABLE')) {
      const tp = nameParts(a.table ?? a.expr, c.opts.dialect);
      if (tp) readTable(tp, w);
      continue;
    }
    walkExpr(a, w, argDeps);
  }
  for (const s of argDeps.sources) c.use(s, 'other');
  const base = makeTableRef(parts, c.opts).ref;
  const t: TableRef = { ...base, function: true };
  if (fname === 'external_query') {
    const conn = fc.args?.expr?.args?.items?.[0];
    t.fq = `EXTERNAL_QUERY(${conn?.value ?? '?'})`;
    t.opaque = true;
    c.flag('external_query', `EXTERNAL_QUERY reads a federated database the analyzer cannot see`);
    mergeTable(c.tablesRead, t);
    return opaqueRel();
  }
  if (c.opts.dialect === 'sqlite' && SQLITE_JSON_TVF.has(fname)) {
    // json_each(x) rows are pieces of x: every output column derives from the arguments.
    return { cols: SQLITE_JSON_COLS.map((n) => col(n, argDeps.sources, false, argDeps.unresolved)), unknownTables: [], opaque: false };
  }
  if (c.opts.dialect === 'sqlite' && (fname.startsWith('pragma_') || fname === 'generate_series')) {
    t.informationSchema = fname.startsWith('pragma_');
    mergeTable(c.tablesRead, t);
    return opaqueRel();
  }
  const ct = c.opts.catalog?.getTable(t);
  if (ct) {
    mergeTable(c.tablesRead, t);
    return { cols: ct.columns.map((cc) => col(cc.name, [ref(t.fq, cc.name)], true)), unknownTables: [], opaque: false };
  }
  t.opaque = true;
  mergeTable(c.tablesRead, t);
  c.flag('unknown_table_function', `${parts.join('.')}: table-valued function whose output the analyzer cannot see`);
  return opaqueRel();
}

function addEntry(s: Scope, rel: Relation, names: string[]): ScopeEntry {
  const e: ScopeEntry = { names: names.map((n) => n.toLowerCase()), rel };
  s.entries.push(e);
  return e;
}

/** Merges column `k` of the entries before and from `before` on, as JOIN … USING (k) does. */
function joinUsing(s: Scope, before: number, k: string, what: string, c: Collector): void {
  const left: Scope = { entries: s.entries.slice(0, before), parent: null, using: s.using };
  const right: Scope = { entries: s.entries.slice(before), parent: null, using: [] };
  const d = new Deps();
  let keys = true;
  for (const side of [left, right]) {
    const f = resolveIn(side, [k], c, k);
    if (f) d.merge(f.deps);
    else {
      d.unresolved = true;
      c.flag('unresolved_column', `${what} (${k}): not found on both sides of the join`);
    }
    keys &&= !!f && isKey(f.deps);
  }
  for (const src of d.sources) c.use(src, 'join');
  // Against a side that is not the column itself (a literal, an expression): see isKey.
  if (!keys) for (const src of d.sources) c.use(src, 'other');
  s.using = s.using.filter((x) => x.key !== k);
  s.using.push(col(k, d.sources, false, d.unresolved));
}

/** NATURAL JOIN compares every column name the two sides share, so each is a join use. */
function naturalJoin(s: Scope, before: number, c: Collector): void {
  const sides = [s.entries.slice(0, before), s.entries.slice(before)];
  const unknown = sides.flat().filter((e) => e.rel.unknownTables.length || e.rel.opaque || e.rel.value);
  if (unknown.length) {
    // Which columns are compared depends on columns nobody knows: fail closed.
    c.flag('unresolved_column', 'NATURAL JOIN over a source whose columns are unknown: cannot tell which columns it compares');
  }
  const leftKeys = new Set([...s.using.map((u) => u.key), ...sides[0].flatMap((e) => e.rel.cols.map((cl) => cl.key))]);
  const shared = [...new Set(sides[1].flatMap((e) => e.rel.cols.map((cl) => cl.key)))].filter((k) => leftKeys.has(k));
  for (const k of shared) joinUsing(s, before, k, 'NATURAL JOIN', c);
}

/** Adds the sources of one FROM item to scope `s` (which later items may correlate with). */
export function addTableExpr(n: AnyNode, s: Scope, w: Walk, alias?: AnyNode): void {
  const c = w.c;
  const inner: Walk = { ...w, scope: s, aliases: undefined };
  const aliasName = alias ? identName(alias.alias, c.opts.dialect) : undefined;
  const named = (rel: Relation, fallback: string[]) => addEntry(s, renameCols(rel, alias?.columnAliases, w), aliasName ? [aliasName] : fallback);
  switch (n.type) {
    case 'alias':
      addTableExpr(n.expr, s, w, n);
      return;
    case 'join_expr': {
      addTableExpr(n.left, s, w);
      const before = s.entries.length;
      addTableExpr(n.right, s, w);
      const spec = n.specification;
      if (spec?.type === 'join_on_specification') joinOnUses(spec.expr, inner);
      else if (spec?.type === 'join_using_specification') {
        for (const id of spec.expr?.expr?.items ?? []) joinUsing(s, before, identName(id, c.opts.dialect).toLowerCase(), 'USING', c);
      } else if (kwName(n.operator).split(' ').includes('NATURAL')) naturalJoin(s, before, c);
      return;
    }
    case 'paren_expr': {
      const e = unparen(n);
      if (QUERY_TYPES.has(e.type)) named(engineNames(queryRelation(e, w.scope, w.ctes, c), c), []);
      else addTableExpr(e, s, w, alias);
      return;
    }
    case 'select_stmt':
    case 'compound_select_stmt':
      named(engineNames(queryRelation(n, w.scope, w.ctes, c), c), []);
      return;
    case 'lateral_derived_table': {
      const e = unparen(n.expr);
      if (QUERY_TYPES.has(e.type)) named(engineNames(queryRelation(e, s, w.ctes, c), c), []);
      else addTableExpr(e, s, w, alias);
      return;
    }
    case 'for_system_time_as_of_expr':
      addTableExpr(n.left, s, { ...w, timeTravel: true, siteRange: w.siteRange ?? n.range }, alias);
      useExpr(n.expr, inner, 'other');
      return;
    case 'tablesample_expr':
      addTableExpr(n.left, s, { ...w, siteRange: w.siteRange ?? n.range }, alias);
      return;
    case 'indexed_table':
      // INDEXED BY makes SQLite scan in the index's order, so the row order follows columns
      // the catalog does not name (an index on ssn sorts by the hidden value).
      c.flag('unsupported', 'INDEXED BY: rows come back in the order of an index whose columns the analyzer does not know');
      addTableExpr(n.table, s, w, alias);
      return;
    case 'not_indexed_table':
    case 'table_with_inheritance':
    case 'table_without_inheritance':
    case 'partitioned_table':
      addTableExpr(n.table, s, w, alias);
      return;
    case 'unnest_with_offset_expr': {
      addTableExpr(n.unnest, s, { ...w, noSite: true });
      if (aliasName) addEntry(s, { cols: [col(aliasName, [], false)], unknownTables: [], opaque: false }, []);
      else addEntry(s, { cols: [col('offset', [], false)], unknownTables: [], opaque: false }, []);
      return;
    }
    case 'unnest_expr': {
      const d = exprDeps(n.expr, inner);
      for (const src of d.sources) c.use(src, 'other');
      addEntry(s, { cols: aliasName ? [col(aliasName, d.sources, d.direct, d.unresolved)] : [], unknownTables: [], opaque: false, value: { sources: d.sources, unresolved: d.unresolved } }, aliasName ? [aliasName] : []);
      return;
    }
    case 'pivot_expr':
    case 'unpivot_expr': {
      const sub: Scope = { entries: [], parent: w.scope, using: [] };
      addTableExpr(n.left, sub, w);
      const rel = n.type === 'pivot_expr' ? pivot(n, sub, w) : unpivot(n, sub, w);
      named(rel, []);
      return;
    }
    case 'func_call':
      named(tableFunction(n, inner), [funcName(n, w)]);
      return;
    case 'func_call_with_column_definitions':
    case 'with_ordinality_expr':
    case 'rows_from_expr':
      c.flag('unknown_table_function', `${n.type}: table function whose output the analyzer cannot see`);
      named(opaqueRel(), []);
      return;
    case 'identifier':
    case 'member_expr':
    case 'bigquery_quoted_member_expr': {
      const parts = nameParts(n, c.opts.dialect);
      if (!parts) {
        c.flag('unsupported', `FROM item ${text(c, n).slice(0, 80)}: not a table name`);
        named(opaqueRel(), []);
        return;
      }
      // FROM t, t.arr AS a: a path into a column of an earlier item is an implicit UNNEST.
      if (parts.length >= 2 && (s.entries.some((e) => e.names.includes(parts[0].toLowerCase())) || s.entries.some((e) => e.rel.cols.some((cl) => cl.key === parts[0].toLowerCase())))) {
        const d = exprDeps(n, inner);
        addEntry(s, { cols: aliasName ? [col(aliasName, d.sources, d.direct, d.unresolved)] : [], unknownTables: [], opaque: false, value: { sources: d.sources, unresolved: d.unresolved } }, aliasName ? [aliasName] : []);
        return;
      }
      if (parts.length === 1 && w.ctes.has(parts[0].toLowerCase())) {
        named(w.ctes.get(parts[0].toLowerCase())!, [parts[0]]);
        return;
      }
      const { ref: t, rel } = readTable(parts, w);
      if (n.range && !t.view && !w.noSite) c.sites.push({ fq: t.fq, range: w.siteRange ?? n.range, nameRange: n.range, alias: aliasName ?? null });
      named(rel, tableNames(t));
      return;
    }
    default:
      c.flag('unsupported', `FROM item of kind ${n.type}`);
      named(opaqueRel(), []);
  }
}

function pivot(n: AnyNode, sub: Scope, w: Walk): Relation {
  const c = w.c;
  const p = n.args?.expr as AnyNode;
  const inner: Walk = { ...w, scope: sub, aliases: undefined };
  const used = new Set<string>();
  const aggs: { alias: string | null; deps: Deps }[] = [];
  for (const a of p.aggregations?.items ?? []) {
    const e = a.type === 'alias' ? a.expr : a;
    const d = exprDeps(e, inner);
    aggs.push({ alias: a.type === 'alias' ? identName(a.alias, c.opts.dialect) : null, deps: d });
    // Evaluated for every pivot column, selected or not: see innerComputedUse.
    for (const src of d.sources) c.useLast(src, 'other');
    collectNames(e, used, c);
  }
  const inputD = useExpr(p.inputColumn, inner, 'other');
  used.add(identName(p.inputColumn, c.opts.dialect).toLowerCase());
  const cols: Col[] = [];
  for (const e of sub.entries) for (const cl of e.rel.cols) if (!used.has(cl.key)) cols.push(cl);
  for (const pc of p.pivotColumns?.expr?.items ?? []) {
    const valueName = pc.type === 'alias' ? identName(pc.alias, c.opts.dialect) : String(pc.value ?? text(c, pc));
    for (const a of aggs) {
      const name = a.alias && aggs.length > 1 ? `${a.alias}_${valueName}` : a.alias ? `${a.alias}_${valueName}` : valueName;
      cols.push(col(name, [...a.deps.sources, ...inputD.sources], false, a.deps.unresolved));
    }
  }
  const unknownTables = sub.entries.flatMap((e) => e.rel.unknownTables);
  return { cols, unknownTables, opaque: sub.entries.some((e) => e.rel.opaque) };
}

function collectNames(n: any, out: Set<string>, c: Collector): void {
  if (!n || typeof n !== 'object') return;
  if (Array.isArray(n)) return n.forEach((x) => collectNames(x, out, c));
  if (n.type === 'identifier') out.add(identName(n, c.opts.dialect).toLowerCase());
  for (const k of Object.keys(n)) if (k !== 'name' || n.type !== 'func_call') collectNames(n[k], out, c);
}

function unpivot(n: AnyNode, sub: Scope, w: Walk): Relation {
  const c = w.c;
  const p = n.args?.expr as AnyNode;
  const inner: Walk = { ...w, scope: sub, aliases: undefined };
  const used = new Set<string>();
  const inD = new Deps();
  for (const item of p.unpivotColumns?.expr?.items ?? []) {
    const e = item.type === 'alias' ? item.expr : item;
    inD.merge(exprDeps(e, inner));
    collectNames(e, used, c);
  }
  const cols: Col[] = [];
  for (const e of sub.entries) for (const cl of e.rel.cols) if (!used.has(cl.key)) cols.push(cl);
  const valueCols: AnyNode[] = p.valuesColumn?.type === 'identifier' ? [p.valuesColumn] : (p.valuesColumn?.expr?.items ?? []);
  for (const v of valueCols) cols.push(col(identName(v, c.opts.dialect), inD.sources, false, inD.unresolved));
  cols.push(col(identName(p.nameColumn, c.opts.dialect), [], false));
  return { cols, unknownTables: sub.entries.flatMap((e) => e.rel.unknownTables), opaque: sub.entries.some((e) => e.rel.opaque) };
}

// ───────────────────────────── SELECT ─────────────────────────────

export function withCtes(withClause: AnyNode | undefined, w: Walk): Ctes {
  if (!withClause) return w.ctes;
  const ctes: Ctes = new Map(w.ctes);
  const recursive = !!withClause.recursiveKw;
  for (const cte of withClause.tables?.items ?? []) {
    const name = identName(cte.table, w.c.opts.dialect).toLowerCase();
    const q = unparen(cte.expr);
    if (!QUERY_TYPES.has(q.type)) {
      w.c.flag('unsupported', `CTE ${name} holds a ${q.type}`);
      ctes.set(name, opaqueRel());
      continue;
    }
    const inner: Walk = { ...w, ctes };
    if (recursive && q.type === 'compound_select_stmt') {
      // Fixpoint: start from the anchor, re-run until the sources stop growing.
      let rel = renameCols(queryRelation(q.left, w.scope, ctes, w.c), cte.columns, w);
      for (let i = 0; i < 4; i++) {
        ctes.set(name, rel);
        const next = renameCols(queryRelation(q, w.scope, ctes, w.c), cte.columns, w);
        const size = (r: Relation) => r.cols.reduce((a, x) => a + x.sources.length, 0);
        const grew = size(next) !== size(rel);
        rel = next;
        if (!grew) break;
      }
      ctes.set(name, rel);
    } else {
      const rel = queryRelation(q, inner.scope, ctes, w.c);
      ctes.set(name, cte.columns ? renameCols(rel, cte.columns, w) : engineNames(rel, w.c));
    }
  }
  return ctes;
}

function outputName(item: AnyNode, index: number, anon: { n: number }, c: Collector): string {
  const dialect = c.opts.dialect;
  const u = dialect === 'sqlite' ? item : unparen(item);
  if (u.type === 'identifier' || u.type === 'member_expr' || u.type === 'bigquery_quoted_member_expr') {
    const ch = chainOf(u, c);
    if (!ch.root && !ch.subscripts.length && ch.parts.length) {
      const last = u.type === 'identifier' ? u : u.type === 'member_expr' ? u.property : null;
      return last?.name ?? ch.parts[ch.parts.length - 1];
    }
  }
  if (dialect === 'sqlite') return text(c, item);
  if (dialect === 'postgresql') {
    if (u.type === 'func_call') return funcName(u, { scope: null, ctes: new Map(), c });
    return '?column?';
  }
  void index;
  return `f${anon.n++}_`;
}

function expandEntry(e: ScopeEntry, s: Scope, c: Collector, label: string, skipUsing: boolean): Col[] {
  const out: Col[] = [];
  if (e.rel.value) {
    if (e.rel.value.sources.length || e.rel.value.unresolved) {
      out.push(col('*', e.rel.value.sources, false, true));
      c.flag('unresolved_star', `${label}.* over UNNEST: struct fields are not known`);
    }
    return out;
  }
  const usingKeys = new Set(s.using.map((u) => u.key));
  for (const cl of e.rel.cols) if (!(skipUsing && usingKeys.has(cl.key))) out.push(cl);
  if (e.rel.unknownTables.length || e.rel.opaque) {
    out.push(col('*', e.rel.unknownTables.map((t) => ref(t.fq, '*')), false, true));
    const what = e.rel.unknownTables.map((t) => t.fq).join(', ') || 'an opaque source';
    c.flag('unresolved_star', `${label} over ${what}: columns unknown to the catalog`);
  }
  return out;
}

function starCols(target: AnyNode, s: Scope, w: Walk): Col[] {
  const c = w.c;
  if (target.type === 'all_columns' && c.opts.dialect === 'sqlite' && s.using.length) {
    // SQLite keeps a USING column where the left table has it and drops the right copy.
    const out: Col[] = [];
    const emitted = new Set<string>();
    for (const e of s.entries) {
      for (const cl of expandEntry(e, s, c, '*', false)) {
        const u = s.using.find((x) => x.key === cl.key);
        if (u && emitted.has(u.key)) continue;
        if (u) emitted.add(u.key);
        out.push(u ?? cl);
      }
    }
    return out;
  }
  if (target.type === 'all_columns') {
    const out: Col[] = [...s.using];
    for (const e of s.entries) out.push(...expandEntry(e, s, c, '*', true));
    return out;
  }
  // t.* (member_expr with all_columns property)
  const parts = nameParts(target.object, c.opts.dialect);
  const key = parts?.join('.').toLowerCase();
  const e = key ? s.entries.find((x) => x.names.includes(key)) : undefined;
  if (e) return expandEntry(e, s, c, `${key}.*`, false);
  // struct_col.* : every field of a column
  const d = exprDeps(target.object, { ...w, scope: s });
  c.flag('unresolved_star', `${text(c, target)}: fields of a struct value are not expanded`);
  return [col('*', d.sources, false, true)];
}

/** A select item that only names a column (or a struct field of one): evaluating it cannot fail. */
function isPlainName(e: AnyNode, c: Collector): boolean {
  const u = unparen(e);
  if (!(u.type === 'identifier' || u.type === 'member_expr' || u.type === 'bigquery_quoted_member_expr')) return false;
  const ch = chainOf(u, c);
  return !ch.root && ch.subscripts.length === 0 && ch.parts.length > 0;
}

/**
 * A value computed in an inner query block (derived table, CTE, subquery, set-operation
 * branch) is evaluated when the engine materialises that block, even when no outer column
 * ever reads it: `CASE WHEN ssn = '<guess>' THEN json('x') END` then fails the whole query
 * only when the guess exists. Policy only judges *outputs* as computed values, so an inner
 * computed item is recorded as an `other` use of its sources, which the inference guard
 * refuses for masked columns. A plain column reference is not recorded: passing a column
 * through unchanged is how masked columns legitimately reach the output, and it cannot fail.
 */
function innerComputedUse(e: AnyNode, d: Deps, w: Walk, top: boolean): void {
  if (top || isPlainName(e, w.c)) return;
  for (const src of d.sources) w.c.useLast(src, 'other');
}

/**
 * Lineage of one query: its output columns (in order) and whether some are unknown.
 * `top`: this block's select list is the statement's result (policy judges its columns as
 * outputs); every nested block is inner (see innerComputedUse).
 */
export function queryRelation(n: AnyNode, outer: Scope | null, ctes: Ctes, c: Collector, top = false): Relation {
  n = unparen(n);
  const w: Walk = { scope: outer, ctes, c };
  if (n.type === 'compound_select_stmt') {
    const l = queryRelation(n.left, outer, ctes, c, top);
    const r = queryRelation(n.right, outer, ctes, c, top);
    // INTERSECT, EXCEPT and UNION [DISTINCT] compare whole rows of both branches: a guessed
    // row on one side and a hidden column on the other make the row count an oracle. Only
    // UNION ALL keeps every row without comparing.
    if (kwName(n.operator) !== 'UNION ALL') for (const side of [l, r]) for (const cl of side.cols) for (const src of cl.sources) c.use(src, 'set_op');
    if (l.cols.length !== r.cols.length && !l.opaque && !r.opaque && !l.unknownTables.length && !r.unknownTables.length) {
      c.flag('unsupported', `${kwName(n.operator)} branches have different column counts`);
    }
    const cols = l.cols.map((cl, i) => {
      const rc = r.cols[i];
      if (!rc) return col(cl.name, cl.sources, false, true);
      const d = new Deps();
      d.addAll(cl.sources);
      d.addAll(rc.sources);
      return col(cl.name, d.sources, cl.direct && rc.direct && d.map.size === 1, cl.unresolved || rc.unresolved);
    });
    // The right side may have more columns (a * over an unknown table expanded on one side only).
    for (let i = l.cols.length; i < r.cols.length; i++) cols.push(col(r.cols[i].name, r.cols[i].sources, false, true));
    return { cols, unknownTables: [...l.unknownTables, ...r.unknownTables], opaque: l.opaque || r.opaque };
  }
  if (n.type !== 'select_stmt') {
    if (n.type === 'values_clause') return valuesRelation(n, w, top);
    c.flag('unsupported', `query of kind ${n.type}`);
    return opaqueRel();
  }
  const clauses: AnyNode[] = n.clauses ?? [];
  const find = (t: string) => clauses.find((x) => x.type === t);
  const wctes = withCtes(find('with_clause'), w);
  const base = clauses.find((x) => x.type === 'paren_expr' || x.type === 'compound_select_stmt');
  const s: Scope = { entries: [], parent: outer, using: [] };
  const sw: Walk = { scope: s, ctes: wctes, c };
  let rel: Relation;
  const sel = find('select_clause');
  const values = find('values_clause');
  if (values && !sel) {
    rel = valuesRelation(values, { ...sw, scope: outer }, top);
    const aliases = new Map(rel.cols.map((cl) => [cl.key, cl] as const));
    orderAndLimit(find('order_by_clause'), find('limit_clause'), find('offset_clause'), { ...sw, scope: outer, aliases }, rel.cols);
    return rel;
  }
  if (base && !sel) {
    // (SELECT …) ORDER BY … LIMIT …: clauses apply to the parenthesised query's output.
    rel = queryRelation(base, outer, wctes, c, top);
    const aliases = new Map(rel.cols.map((cl) => [cl.key, cl] as const));
    orderAndLimit(find('order_by_clause'), find('limit_clause'), find('offset_clause'), { ...sw, scope: outer, aliases }, rel.cols);
    return rel;
  }
  const from = find('from_clause');
  if (from?.expr && from.expr.type !== 'dual_table') addTableExpr(from.expr, s, sw);
  const cols: Col[] = [];
  const aliases = new Map<string, Col>();
  const asAliases = new Map<string, Col>();
  const anon = { n: 0 };
  let unknown: TableRef[] = [];
  let opaque = false;
  const table = find('table_clause');
  if (table) {
    const parts = nameParts(table.table, c.opts.dialect);
    if (parts) {
      const r = readTable(parts, sw);
      cols.push(...r.rel.cols);
      unknown = r.rel.unknownTables;
    }
  }
  for (const item of sel?.columns?.items ?? []) {
    if (item.type === 'empty') continue;
    if (item.type === 'all_columns' || (item.type === 'member_expr' && item.property?.type === 'all_columns')) {
      const sc = starCols(item, s, sw);
      if (sc.some((x) => x.name === '*')) opaque = true;
      cols.push(...sc);
      continue;
    }
    if (item.type === 'except_columns' || item.type === 'replace_columns') {
      let sc = starCols(item.expr, s, sw);
      if (sc.some((x) => x.name === '*')) opaque = true;
      if (item.type === 'except_columns') {
        const drop = new Set((item.columns?.expr?.items ?? []).map((i: AnyNode) => identName(i, c.opts.dialect).toLowerCase()));
        sc = sc.filter((x) => !drop.has(x.key));
      } else {
        for (const r of item.columns?.expr?.items ?? []) {
          const name = identName(r.alias, c.opts.dialect);
          const d = exprDeps(r.expr, sw);
          innerComputedUse(r.expr, d, sw, top);
          const i = sc.findIndex((x) => x.key === name.toLowerCase());
          const nc = col(name, d.sources, d.direct, d.unresolved);
          if (i >= 0) sc[i] = nc;
          else sc.push(nc);
        }
      }
      cols.push(...sc);
      continue;
    }
    const e = item.type === 'alias' ? item.expr : item;
    const d = exprDeps(e, sw);
    innerComputedUse(e, d, sw, top);
    const name = item.type === 'alias' ? (item.alias.name as string) : outputName(e, cols.length, anon, c);
    const cl = col(name, d.sources, d.direct, d.unresolved);
    if (item.type !== 'alias' && c.opts.dialect === 'sqlite' && e.range && name === text(c, e)) cl.nameRange = [e.range[0], e.range[1]];
    cols.push(cl);
    if (item.type === 'alias' || !aliases.has(cl.key)) aliases.set(cl.key, cl);
    if (item.type === 'alias' && !asAliases.has(cl.key)) asAliases.set(cl.key, cl);
  }
  if (sel?.modifiers?.some((m: AnyNode) => m.type === 'select_as_struct' || m.type === 'select_as_value') && cols.length > 1) {
    const d = new Deps();
    for (const cl of cols) d.addAll(cl.sources);
    const unresolved = cols.some((x) => x.unresolved);
    cols.splice(0, cols.length, col(anon.n ? `f${anon.n}_` : '$struct', d.sources, false, unresolved));
  }
  for (const m of sel?.modifiers ?? []) {
    // De-duplication compares the selected values: over a column plus a guessed row, the row
    // count says whether the guess is among them.
    if (m.type === 'select_distinct') for (const cl of cols) for (const src of cl.sources) c.use(src, 'distinct');
    else if (m.type === 'select_distinct_on') useExpr(m.columns, { ...sw, aliases }, 'distinct');
  }
  if (c.opts.dialect === 'sqlite') sqliteBareMinMax(sel, find('having_clause'), find('order_by_clause'), find('group_by_clause'), aliases, sw);
  useExpr(find('where_clause')?.expr, c.opts.dialect === 'sqlite' ? { ...sw, whereAliases: asAliases } : sw, 'where');
  const group = find('group_by_clause');
  if (group) {
    for (const g of (group.columns?.items ?? []).flat()) {
      if (!g) continue;
      if (g.type === 'group_by_all') {
        for (const cl of cols) for (const src of cl.sources) c.use(src, 'group_by');
        for (const cl of cols) if (!isKey(cl)) for (const src of cl.sources) c.use(src, 'other');
        continue;
      }
      const kd = useOrdinalOrExpr(g, { ...sw, aliases }, 'group_by', cols);
      if (!isKey(kd)) for (const src of kd.sources) c.use(src, 'other');
    }
  }
  useExpr(find('having_clause')?.expr, { ...sw, aliases }, 'having');
  for (const nw of find('window_clause')?.namedWindows?.items ?? []) windowUses(nw.window, sw);
  useExpr(find('qualify_clause')?.expr, { ...sw, aliases }, 'qualify');
  orderAndLimit(find('order_by_clause'), find('limit_clause'), find('offset_clause'), { ...sw, aliases }, cols);
  for (const cl of cols) opaque ||= cl.unresolved && cl.name === '*';
  return { cols, unknownTables: unknown, opaque };
}

/**
 * SQLite fills bare columns (outside any aggregate and not grouped) of a query with one min()
 * or max() from the row holding that minimum or maximum: `SELECT name, max(ssn)` names the
 * customer with the highest SSN, an ordering oracle. The min/max argument is then an
 * ORDER BY use.
 */
function sqliteBareMinMax(sel: AnyNode | undefined, having: AnyNode | undefined, order: AnyNode | undefined, group: AnyNode | undefined, aliases: Map<string, Col>, w: Walk): void {
  const c = w.c;
  const minmax: AnyNode[] = [];
  const bare: AnyNode[] = [];
  // In HAVING and ORDER BY a name may be a select-list alias, already judged in the select list.
  let aliasOk = false;
  const visit = (n: any, inAgg: boolean): void => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) return n.forEach((x) => visit(x, inAgg));
    if (QUERY_TYPES.has(n.type)) return; // a subquery has its own rows
    if (n.type === 'func_call') {
      const name = funcName(n, w);
      const args: AnyNode[] = n.args?.expr?.type === 'func_args' ? (n.args.expr.args?.items ?? []) : [];
      const agg = !n.over && SQLITE_AGGREGATES.has(name) && !((name === 'min' || name === 'max') && args.length !== 1);
      if (agg && !inAgg && (name === 'min' || name === 'max')) minmax.push(args[0]);
      visit(n.args, inAgg || agg);
      visit(n.filter, inAgg || agg);
      return;
    }
    if (!inAgg && (n.type === 'identifier' || n.type === 'member_expr' || n.type === 'all_columns')) {
      if (!(aliasOk && n.type === 'identifier' && aliases.has(identName(n, c.opts.dialect).toLowerCase()))) bare.push(n);
      return;
    }
    for (const k of Object.keys(n)) if (k !== 'type' && k !== 'range' && k !== 'alias') visit(n[k], inAgg);
  };
  visit(sel?.columns, false);
  aliasOk = true;
  visit(having?.expr, false);
  visit(order?.specifications, false);
  if (!minmax.length || !bare.length) return;
  // Grouped columns hold one value per group, whichever row supplies it.
  const probe = new Collector(c.opts, c.sql, c.statement);
  const grouped = new Set<string>();
  for (const g of (group?.columns?.items ?? []).flat()) {
    if (!g) continue;
    const d = new Deps();
    walkExpr(g, { ...w, c: probe }, d);
    for (const src of d.sources) grouped.add(columnKey(src));
  }
  const isBare = bare.some((b) => {
    if (b.type === 'all_columns' || b.property?.type === 'all_columns') return true;
    const d = new Deps();
    walkExpr(b, { ...w, aliases: undefined, c: probe }, d);
    // No source at all: rowid and other pseudo-columns still name the row.
    return d.sources.length === 0 || d.sources.some((src) => !grouped.has(columnKey(src)));
  });
  if (isBare) for (const a of minmax) useExpr(a, w, 'order_by');
}

/** Uses of the grouping/sorting item in `clause`; returns what it derives from (direct or not). */
function useOrdinalOrExpr(g: AnyNode, w: Walk, clause: Clause, cols: Col[]): Deps {
  const e = g.type === 'sort_specification' ? g.expr : g;
  if (e?.type === 'number_literal' && Number.isInteger(Number(e.value))) {
    const cl = cols[Number(e.value) - 1];
    const d = new Deps();
    if (cl) {
      for (const src of cl.sources) w.c.use(src, clause);
      d.addAll(cl.sources);
      d.direct = cl.direct;
      d.unresolved = cl.unresolved;
    }
    return d;
  }
  useExpr(e, w, clause);
  return exprDeps(e, { ...w, c: new Collector(w.c.opts, w.c.sql, w.c.statement) });
}

/**
 * A join or grouping key that is one source column, unchanged. Policy may let a role join or
 * group on a column it sees as a keyed pseudonym, because equal tokens already show equality.
 * That only holds for the column itself compared with itself: grouping by `account_number >
 * 5000`, joining on `<` or on an expression, or against a row of guesses (a literal, or a
 * UNION ALL with one) reveals more. Such uses are also recorded as `other`, which no such
 * exception covers.
 */
function isKey(d: { sources: ColumnRef[]; direct: boolean; unresolved: boolean }): boolean {
  return d.direct && !d.unresolved && d.sources.length === 1;
}

/** JOIN ON: equalities between two key columns stay `join`; every other condition is also `other`. */
function joinOnUses(cond: AnyNode, w: Walk): void {
  useExpr(cond, w, 'join');
  const conjuncts: AnyNode[] = [];
  const split = (n: AnyNode): void => {
    n = unparen(n);
    if (n?.type === 'binary_expr' && kwName(n.operator) === 'AND') {
      split(n.left);
      split(n.right);
    } else conjuncts.push(n);
  };
  split(cond);
  const probe: Walk = { ...w, c: new Collector(w.c.opts, w.c.sql, w.c.statement) };
  for (const n of conjuncts) {
    const op = n?.type === 'binary_expr' ? kwName(n.operator) : '';
    if ((op === '=' || op === '==') && isKey(exprDeps(n.left, probe)) && isKey(exprDeps(n.right, probe))) continue;
    useExpr(n, w, 'other');
  }
}

function orderAndLimit(order: AnyNode | undefined, limit: AnyNode | undefined, offset: AnyNode | undefined, w: Walk, cols: Col[]): void {
  for (const spec of order?.specifications?.items ?? []) useOrdinalOrExpr(spec, w, 'order_by', cols);
  if (limit) {
    useExpr(limit.count, w, 'limit');
    useExpr(limit.offset, w, 'limit');
  }
  if (offset) useExpr(offset.offset, w, 'limit');
}

function valuesRelation(n: AnyNode, w: Walk, top: boolean): Relation {
  const rows: AnyNode[] = n.values?.items ?? [];
  const cols: Col[] = [];
  rows.forEach((row) => {
    const items: AnyNode[] = row.expr?.items ?? [row];
    items.forEach((it, i) => {
      const d = exprDeps(it, w);
      innerComputedUse(it, d, w, top);
      if (!cols[i]) cols[i] = col(w.c.opts.dialect === 'sqlite' ? `column${i + 1}` : `f${i}_`, [], false);
      cols[i] = col(cols[i].name, [...cols[i].sources, ...d.sources], false, cols[i].unresolved || d.unresolved);
    });
  });
  return { cols, unknownTables: [], opaque: false };
}
