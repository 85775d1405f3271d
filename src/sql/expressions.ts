// Expressions: what a value derives from (walkExpr, exprDeps) and which columns a clause uses
// (useExpr). Function arguments, aggregates' DISTINCT/ORDER BY/FILTER, windows, subqueries.
import type { Clause } from './types.js';
import { Collector, Deps } from './scope.js';
import { identName, lastPart, nameParts } from './tables.js';
import { resolveName } from './names.js';
import { readModel } from './table-reads.js';
import { kwName, nestedQuery, unparen, type AnyNode, type Walk } from './walk.js';

// Functions whose bare-word arguments are date parts (DATE_TRUNC(d, MONTH)), not columns.
const DATE_PART_FUNCS = new Set([
  'date_trunc',
  'datetime_trunc',
  'timestamp_trunc',
  'time_trunc',
  'date_diff',
  'datetime_diff',
  'timestamp_diff',
  'time_diff',
  'last_day',
  'date_bucket',
  'datetime_bucket',
  'timestamp_bucket',
  'extract',
  'date_part',
  'datepart',
  'generate_date_array',
  'generate_timestamp_array',
  'week',
  'isoweek',
  'normalize',
  'normalize_and_casefold',
]);
const DATE_PARTS = new Set([
  'microsecond',
  'millisecond',
  'second',
  'minute',
  'hour',
  'day',
  'dayofweek',
  'dayofyear',
  'week',
  'isoweek',
  'month',
  'quarter',
  'year',
  'isoyear',
  'date',
  'time',
  'datetime',
  'nfc',
  'nfkc',
  'nfd',
  'nfkd',
  'sunday',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
]);
// Aggregates that de-duplicate without saying DISTINCT.
const DISTINCT_FUNCS = new Set(['approx_count_distinct']);

interface Chain {
  parts: string[];
  subscripts: AnyNode[];
  root: AnyNode | null; // non-name root (function call, subquery …)
}

export function chainOf(n: AnyNode, c: Collector): Chain {
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

export function windowUses(win: AnyNode, w: Walk): void {
  if (win?.type === 'identifier') return; // OVER w: the named window is walked in WINDOW
  const d = new Deps();
  walkExpr(win, w, d);
  for (const s of d.sources) w.c.use(s, 'window');
}

export function funcName(fc: AnyNode, w: Walk): string {
  const parts = nameParts(fc.name, w.c.opts.dialect);
  return (parts ? lastPart(parts) : '').toLowerCase();
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
        nestedQuery(unparen(n.expr), w.scope, w.ctes, w.c);
        return;
      }
      walkExpr(n.expr, w, d);
      return;
    case 'select_stmt':
    case 'compound_select_stmt':
    case 'pipe_stmt': {
      const rel = nestedQuery(n, w.scope, w.ctes, w.c);
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
    case 'model_arg':
      readModel(n, w);
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
