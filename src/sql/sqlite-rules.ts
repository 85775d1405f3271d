// SQLite's own rules the lineage must follow: the names it invents for subquery columns, and
// bare columns beside a single min()/max(), which take that row's values.
import { columnKey } from './types.js';
import { Collector, Deps, col, type Col, type Relation } from './scope.js';
import { identName } from './tables.js';
import { funcName, useExpr, walkExpr } from './expressions.js';
import { QUERY_TYPES, type AnyNode, type Walk } from './walk.js';

// SQLite aggregates (for bare columns next to min()/max(), which take that row's values).
const SQLITE_AGGREGATES = new Set([
  'avg',
  'count',
  'group_concat',
  'string_agg',
  'max',
  'min',
  'sum',
  'total',
  'json_group_array',
  'json_group_object',
  'jsonb_group_array',
  'jsonb_group_object',
  'median',
  'percentile',
  'percentile_cont',
  'percentile_disc',
  'stddev',
  'variance',
]);

/**
 * The column names SQLite gives a subquery or CTE (sqlite3ColumnsFromExprList): an alias TRUE or
 * FALSE becomes columnN, and a repeated name gets `:1`, `:2` … (compared case-insensitively).
 * Outer queries can only reach such a column by the invented name, so the analyzer uses it too.
 */
export function engineNames(rel: Relation, c: Collector): Relation {
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

/**
 * SQLite fills bare columns (outside any aggregate and not grouped) of a query with one min()
 * or max() from the row holding that minimum or maximum: `SELECT name, max(ssn)` names the
 * customer with the highest SSN, an ordering oracle. The min/max argument is then an
 * ORDER BY use.
 */
export function sqliteBareMinMax(sel: AnyNode | undefined, having: AnyNode | undefined, order: AnyNode | undefined, group: AnyNode | undefined, aliases: Map<string, Col>, w: Walk): void {
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
      const [only] = args;
      if (agg && !inAgg && (name === 'min' || name === 'max') && only) minmax.push(only);
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
