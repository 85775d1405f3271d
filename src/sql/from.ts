// The FROM clause: adds each item (table, CTE, derived table, UNNEST, join, PIVOT, table
// function) to the scope later clauses resolve names in, and records join uses.
import { Collector, Deps, col, type Relation, type Scope, type ScopeEntry } from './scope.js';
import { identName, nameParts } from './tables.js';
import { resolveIn } from './names.js';
import { exprDeps, funcName, useExpr } from './expressions.js';
import { opaqueRel, readTable, tableNames } from './table-reads.js';
import { tableFunction } from './table-functions.js';
import { pivot, unpivot } from './pivot.js';
import { engineNames } from './sqlite-rules.js';
import { isKey, kwName, nestedQuery, QUERY_TYPES, text, unparen, type AnyNode, type Walk } from './walk.js';

export function renameCols(rel: Relation, aliases: AnyNode | undefined, w: Walk): Relation {
  const items: AnyNode[] = aliases?.expr?.items ?? [];
  if (!items.length) return rel;
  const cols = rel.cols.map((cl, i) => (items[i] ? col(identName(items[i], w.c.opts.dialect), cl.sources, cl.direct, cl.unresolved) : cl));
  return { ...rel, cols };
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
  const left = s.entries.slice(0, before);
  const right = s.entries.slice(before);
  const unknown = [...left, ...right].filter((e) => e.rel.unknownTables.length || e.rel.opaque || e.rel.value || e.rel.computed);
  if (unknown.length) {
    // Which columns are compared depends on columns nobody knows: fail closed.
    c.flag('unresolved_column', 'NATURAL JOIN over a source whose columns are unknown: cannot tell which columns it compares');
  }
  const leftKeys = new Set([...s.using.map((u) => u.key), ...left.flatMap((e) => e.rel.cols.map((cl) => cl.key))]);
  const shared = [...new Set(right.flatMap((e) => e.rel.cols.map((cl) => cl.key)))].filter((k) => leftKeys.has(k));
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
      if (QUERY_TYPES.has(e.type)) named(engineNames(nestedQuery(e, w.scope, w.ctes, c), c), []);
      else addTableExpr(e, s, w, alias);
      return;
    }
    case 'pipe_input':
      // The table a pipe operator reads (src/sql/pipe.ts): its entries as they are.
      s.entries.push(...n.entries);
      s.using.push(...n.using);
      return;
    case 'select_stmt':
    case 'compound_select_stmt':
    case 'pipe_stmt':
      named(engineNames(nestedQuery(n, w.scope, w.ctes, c), c), []);
      return;
    case 'lateral_derived_table': {
      const e = unparen(n.expr);
      if (QUERY_TYPES.has(e.type)) named(engineNames(nestedQuery(e, s, w.ctes, c), c), []);
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
      addEntry(
        s,
        { cols: aliasName ? [col(aliasName, d.sources, d.direct, d.unresolved)] : [], unknownTables: [], opaque: false, value: { sources: d.sources, unresolved: d.unresolved } },
        aliasName ? [aliasName] : [],
      );
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
        addEntry(
          s,
          { cols: aliasName ? [col(aliasName, d.sources, d.direct, d.unresolved)] : [], unknownTables: [], opaque: false, value: { sources: d.sources, unresolved: d.unresolved } },
          aliasName ? [aliasName] : [],
        );
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
