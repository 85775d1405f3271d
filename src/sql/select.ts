// Lineage of one query block: WITH, FROM, the select list (stars with EXCEPT/REPLACE), and the
// uses of WHERE, GROUP BY, HAVING, QUALIFY, ORDER BY, LIMIT, DISTINCT and set operations.
import type { Clause, TableRef } from './types.js';
import { Collector, Deps, col, type Col, type Relation, type Scope } from './scope.js';
import { identName, nameParts, plainName } from './tables.js';
import { exprDeps, useExpr, windowUses } from './expressions.js';
import { addTableExpr } from './from.js';
import { opaqueRel, readTable } from './table-reads.js';
import { sqliteBareMinMax } from './sqlite-rules.js';
import { withCtes } from './ctes.js';
import { pipeRelation } from './pipe.js';
import { innerComputedUse, outputName, starCols } from './select-list.js';
import { isKey, kwName, setQueryRelation, text, unparen, type AnyNode, type Ctes, type Walk } from './walk.js';

/**
 * Lineage of one query: its output columns (in order) and whether some are unknown.
 * `top`: this block's select list is the statement's result (policy judges its columns as
 * outputs); every nested block is inner (see innerComputedUse).
 */
export function queryRelation(n: AnyNode, outer: Scope | null, ctes: Ctes, c: Collector, top = false): Relation {
  n = unparen(n);
  if (n.type === 'pipe_stmt') return pipeRelation(n, outer, ctes, c, top);
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
    for (const rc of r.cols.slice(l.cols.length)) cols.push(col(rc.name, rc.sources, false, true));
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
      const sc = modifiedStar(item, s, sw, top);
      if (sc.some((x) => x.name === '*')) opaque = true;
      cols.push(...sc);
      continue;
    }
    const e = item.type === 'alias' ? item.expr : item;
    const d = exprDeps(e, sw);
    innerComputedUse(e, d, sw, top);
    const name = item.type === 'alias' ? plainName(item.alias) : outputName(e, cols.length, anon, c);
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
 * `* EXCEPT (…)` drops columns from the expansion; `* REPLACE (e AS x)` puts e's sources (and
 * nothing of the old x) in x's place, so policy judges x by what it now holds:
 * `* REPLACE (ssn AS full_name)` is ssn under another name. BigQuery allows both, EXCEPT first.
 */
function modifiedStar(item: AnyNode, s: Scope, w: Walk, top: boolean): Col[] {
  const c = w.c;
  if (item.type !== 'except_columns' && item.type !== 'replace_columns') return starCols(item, s, w);
  const sc = modifiedStar(item.expr, s, w, top);
  const items: AnyNode[] = item.columns?.expr?.items ?? [];
  if (item.type === 'except_columns') {
    const drop = new Set(items.map((i) => identName(i, c.opts.dialect).toLowerCase()));
    return sc.filter((x) => !drop.has(x.key));
  }
  for (const r of items) {
    if (r.type !== 'alias') {
      c.flag('unsupported', `REPLACE item ${text(c, r).slice(0, 80)} has no AS name`);
      continue;
    }
    const name = identName(r.alias, c.opts.dialect);
    const d = exprDeps(r.expr, w);
    innerComputedUse(r.expr, d, w, top);
    const i = sc.findIndex((x) => x.key === name.toLowerCase());
    const nc = col(name, d.sources, d.direct, d.unresolved);
    if (i >= 0) sc[i] = nc;
    else if (sc.some((x) => x.name === '*'))
      sc.push(nc); // may be among the unknown columns (already flagged)
    else c.flag('unresolved_column', `${name}: REPLACE names no column of the * it modifies`);
  }
  return sc;
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

setQueryRelation(queryRelation);
