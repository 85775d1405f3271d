// BigQuery pipe syntax: `FROM t |> WHERE … |> SELECT …`. Each operator takes the table the one
// before it produced. The walker keeps two things: the current table (what an unqualified name
// and `*` mean, and what the query returns) and the range variables (`FROM t AS a`, a joined
// table, `|> AS a`), which qualified names still reach after WHERE, EXTEND, SET, DROP, RENAME,
// ORDER BY, LIMIT and JOIN (`|> DROP x |> SELECT a.x` reads the original x), and which SELECT,
// AGGREGATE and set operations end. Operators the parser accepts but this module does not
// model are refused by name.
import { Collector, col, type Col, type Relation, type Scope, type ScopeEntry } from './scope.js';
import { identName } from './tables.js';
import { useExpr } from './expressions.js';
import { addTableExpr } from './from.js';
import { pivot, unpivot } from './pivot.js';
import { withCtes } from './ctes.js';
import { starCols } from './select-list.js';
import { nestedQuery, unparen, type AnyNode, type Ctes, type Walk } from './walk.js';

/** Operators that keep every column as it is: a value computed before them is still an output. */
const KEEPS_COLUMNS = new Set(['where_clause', 'order_by_clause', 'limit_clause', 'pipe_as_clause', 'pipe_rename_clause', 'tablesample_expr']);

interface Pipe {
  /** The current table, as nameless scope entries (and JOIN … USING columns). */
  cur: Scope;
  /** Range variables: named entries; parent is the enclosing query's scope. */
  range: Scope;
  ctes: Ctes;
  c: Collector;
  outer: Scope | null;
}

/** The FROM item that stands for the current table inside a synthesised query block. */
function current(p: Pipe): AnyNode {
  return { type: 'pipe_input', entries: p.cur.entries, using: p.cur.using };
}

/** Names resolve in the current table first, then in the range variables, then outside. */
function opWalk(p: Pipe): Walk {
  return { scope: { entries: p.cur.entries, using: p.cur.using, parent: p.range }, ctes: p.ctes, c: p.c };
}

/** The current table's columns as `*` would list them (flags recorded on a scratch collector). */
function currentCols(p: Pipe): Col[] {
  const w = opWalk(p);
  return starCols({ type: 'all_columns' }, { ...w.scope!, parent: null }, { ...w, c: new Collector(p.c.opts, p.c.sql, p.c.statement) });
}

function tableOf(rel: Relation): Scope {
  return { entries: [{ names: [], rel }], using: [], parent: null };
}

/** One relation for the current table (for `|> AS name`). */
function merged(p: Pipe): Relation {
  const usingKeys = new Set(p.cur.using.map((u) => u.key));
  const cols: Col[] = [...p.cur.using];
  for (const e of p.cur.entries) for (const cl of e.rel.cols) if (!usingKeys.has(cl.key)) cols.push(cl);
  const entries = p.cur.entries;
  // A value table (UNNEST) has no column list to merge: unknown names through it fail closed.
  return { cols, unknownTables: entries.flatMap((e) => e.rel.unknownTables), opaque: entries.some((e) => e.rel.opaque || !!e.rel.value) };
}

/** The current table with column `key` changed by `f` (undefined drops it); false when no known column has it. */
function editColumn(p: Pipe, key: string, f: (cl: Col) => Col | undefined): boolean {
  let hit = false;
  const entries: ScopeEntry[] = p.cur.entries.map((e) => {
    if (!e.rel.cols.some((cl) => cl.key === key)) return e;
    hit = true;
    const cols = e.rel.cols.flatMap((cl) => (cl.key === key ? (f(cl) ?? []) : [cl]));
    return { names: [], rel: { ...e.rel, cols } };
  });
  const using = p.cur.using.flatMap((u) => {
    if (u.key !== key) return [u];
    hit = true;
    return f(u) ?? [];
  });
  p.cur = { entries, using, parent: null };
  return hit;
}

/** A query block over the current table, walked like any other (uses, inner computed values). */
function block(p: Pipe, clauses: AnyNode[], top: boolean): Relation {
  return nestedQuery({ type: 'select_stmt', clauses: [...clauses, { type: 'from_clause', expr: current(p) }] }, p.range, p.ctes, p.c, top);
}

function start(n: AnyNode, outer: Scope | null, ctes: Ctes, c: Collector, top: boolean): Pipe {
  const input = unparen(n.input);
  const clauses: AnyNode[] = input.type === 'select_stmt' ? (input.clauses ?? []) : [];
  const from = clauses.find((x) => x.type === 'from_clause');
  if (from && clauses.every((x) => x.type === 'from_clause' || x.type === 'with_clause')) {
    // `[WITH …] FROM …` opens the pipe with the FROM item's range variables in scope.
    const wctes = withCtes(
      clauses.find((x) => x.type === 'with_clause'),
      { scope: outer, ctes, c },
    );
    const range: Scope = { entries: [], parent: outer, using: [] };
    addTableExpr(from.expr, range, { scope: range, ctes: wctes, c });
    const cur: Scope = { entries: range.entries.map((e) => ({ names: [], rel: e.rel })), using: range.using, parent: null };
    return { cur, range, ctes: wctes, c, outer };
  }
  // A whole query in front of the first |>: its columns, and no range variable.
  const rel = nestedQuery(input, outer, ctes, c, top);
  return { cur: tableOf(rel), range: { entries: [], parent: outer, using: [] }, ctes, c, outer };
}

function endRange(p: Pipe, rel: Relation): void {
  p.cur = tableOf(rel);
  p.range = { entries: [], parent: p.outer, using: [] };
}

function apply(p: Pipe, op: AnyNode, top: boolean): void {
  const c = p.c;
  const dialect = c.opts.dialect;
  switch (op.type) {
    case 'where_clause':
      useExpr(op.expr, opWalk(p), 'where');
      return;
    case 'order_by_clause':
      for (const spec of op.specifications?.items ?? []) {
        const e = spec.type === 'sort_specification' ? spec.expr : spec;
        // An ordinal sorts by a column of the current table: count every one as sorted.
        if (e?.type === 'number_literal') for (const cl of currentCols(p)) for (const s of cl.sources) c.use(s, 'order_by');
        else useExpr(e, opWalk(p), 'order_by');
      }
      return;
    case 'limit_clause':
      useExpr(op.count, opWalk(p), 'limit');
      useExpr(op.offset, opWalk(p), 'limit');
      return;
    case 'select_clause':
      endRange(p, block(p, [op], top));
      return;
    case 'pipe_extend_clause': {
      // The new columns, computed over the current table; every old column stays.
      const rel = block(p, [{ type: 'select_clause', modifiers: [], columns: op.columns }], top);
      p.cur = { entries: [...p.cur.entries, { names: [], rel }], using: p.cur.using, parent: null };
      return;
    }
    case 'pipe_set_clause':
      for (const a of op.assignments?.items ?? []) {
        const target = a.column?.type === 'identifier' ? identName(a.column, dialect).toLowerCase() : null;
        if (!target) {
          c.flag('unsupported', 'pipe SET of something other than one column name');
          continue;
        }
        const rel = block(p, [{ type: 'select_clause', modifiers: [], columns: { type: 'list_expr', items: [a.expr] } }], top);
        const v = rel.cols[0] ?? col(target, [], false, true);
        if (!editColumn(p, target, (old) => col(old.name, v.sources, v.direct, v.unresolved))) c.flag('unresolved_column', `pipe SET ${target}: no such column in the current table`);
      }
      return;
    case 'pipe_drop_clause':
      for (const id of op.columns?.items ?? []) {
        const k = identName(id, dialect).toLowerCase();
        if (!editColumn(p, k, () => undefined)) c.flag('unresolved_column', `pipe DROP ${k}: no such column in the current table`);
      }
      return;
    case 'pipe_rename_clause':
      for (const r of op.columns?.items ?? []) {
        if (r.type !== 'alias' || r.expr?.type !== 'identifier') {
          c.flag('unsupported', 'pipe RENAME of something other than one column name');
          continue;
        }
        const k = identName(r.expr, dialect).toLowerCase();
        const to = identName(r.alias, dialect);
        if (!editColumn(p, k, (old) => col(to, old.sources, old.direct, old.unresolved))) c.flag('unresolved_column', `pipe RENAME ${k}: no such column in the current table`);
      }
      return;
    case 'pipe_as_clause': {
      const rel = merged(p);
      p.range = { entries: [{ names: [identName(op.alias, dialect).toLowerCase()], rel }], parent: p.outer, using: [] };
      return;
    }
    case 'pipe_aggregate_clause': {
      // Output: the grouping columns, then the aggregates (BigQuery's order), grouped as written.
      // `GROUP AND ORDER BY` and an item's ASC/DESC also sort the output by that column.
      const sorted = (x: AnyNode) => x.type === 'sort_specification';
      const plain = (x: AnyNode) => (sorted(x) ? x.expr : x);
      const groups: AnyNode[] = (op.groupBy?.columns?.items ?? []).flat().filter(Boolean);
      const aggs: AnyNode[] = op.columns?.items ?? [];
      // ROLLUP (…) and the like read as a call here; they add rows and columns not modelled.
      if (
        groups.some((g) =>
          ['rollup', 'cube', 'grouping_sets', 'group_by_rollup', 'group_by_cube', 'group_by_grouping_sets'].includes(
            String(plain(g).type === 'func_call' ? (plain(g).name?.name ?? '') : plain(g).type).toLowerCase(),
          ),
        )
      )
        c.flag('unsupported', 'pipe AGGREGATE with ROLLUP, CUBE or GROUPING SETS: not modelled by the analyzer');
      const items = [...groups, ...aggs];
      const columns = { type: 'list_expr', items: items.map(plain) };
      const clauses: AnyNode[] = [{ type: 'select_clause', modifiers: [], columns }];
      if (op.groupBy) clauses.push(op.groupBy);
      const rel = block(p, clauses, top);
      items.forEach((x, i) => {
        if (sorted(x) || (i < groups.length && op.groupBy?.andOrderKw)) for (const s of rel.cols[i]?.sources ?? []) c.use(s, 'order_by');
      });
      endRange(p, rel);
      return;
    }
    case 'tablesample_expr':
      return;
    case 'pivot_expr':
    case 'unpivot_expr': {
      const w = opWalk(p);
      endRange(p, op.type === 'pivot_expr' ? pivot(op, w.scope!, w) : unpivot(op, w.scope!, w));
      return;
    }
    case 'pipe_join_clause': {
      const s: Scope = { entries: [], parent: p.range, using: [] };
      addTableExpr({ type: 'join_expr', left: current(p), operator: op.operator, right: op.right, specification: op.specification }, s, { scope: s, ctes: p.ctes, c });
      p.cur = { entries: s.entries.map((e) => (e.names.length ? { names: [], rel: e.rel } : e)), using: s.using, parent: null };
      p.range = { entries: [...p.range.entries, ...s.entries.filter((e) => e.names.length)], parent: p.outer, using: [] };
      return;
    }
    case 'pipe_set_operation_clause': {
      if (op.byNameKw) {
        // BY NAME pairs columns by name, not position: not modelled, so not guessed.
        c.flag('unsupported', 'pipe set operation BY NAME: columns paired by name are not modelled by the analyzer');
        for (const right of op.queries ?? []) nestedQuery(right, p.range, p.ctes, c);
        endRange(p, { cols: [], unknownTables: [], opaque: true });
        return;
      }
      let q: AnyNode = {
        type: 'select_stmt',
        clauses: [
          { type: 'select_clause', modifiers: [], columns: { type: 'list_expr', items: [{ type: 'all_columns' }] } },
          { type: 'from_clause', expr: current(p) },
        ],
      };
      for (const right of op.queries ?? []) q = { type: 'compound_select_stmt', left: q, operator: op.operator, right };
      const rel = nestedQuery(q, p.range, p.ctes, c, top);
      endRange(p, rel);
      return;
    }
    default:
      c.flag(
        'unsupported',
        `pipe operator ${String(op.type)
          .replace(/^pipe_|_clause$|_expr$/g, '')
          .toUpperCase()}: not modelled by the analyzer`,
      );
      endRange(p, { cols: [], unknownTables: [], opaque: true });
  }
}

/** Lineage of a pipe query: the columns its last operator leaves. */
export function pipeRelation(n: AnyNode, outer: Scope | null, ctes: Ctes, c: Collector, top: boolean): Relation {
  const ops: AnyNode[] = n.operators ?? [];
  // With `top`, values an operator computes are the statement's outputs (judged by policy as
  // such) only when no later operator drops or recomputes columns; otherwise they are inner.
  let lastComputing = -1;
  ops.forEach((op, i) => {
    if (!KEEPS_COLUMNS.has(op.type)) lastComputing = i;
  });
  const p = start(n, outer, ctes, c, top && lastComputing < 0);
  ops.forEach((op, i) => apply(p, op, top && i >= lastComputing));
  const [one, ...others] = p.cur.entries;
  const only = one && others.length === 0 && !p.cur.using.length ? one.rel : null;
  if (only && !only.value && !only.unknownTables.length && (!only.opaque || only.cols.some((x) => x.name === '*'))) return only;
  // Otherwise the result is `*` of the current table: expanded (and flagged) like a SELECT *.
  const w = opWalk(p);
  const cols = starCols({ type: 'all_columns' }, { ...w.scope!, parent: null }, w);
  return { cols, unknownTables: [], opaque: cols.some((x) => x.name === '*') };
}
