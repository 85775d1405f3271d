// Table-valued functions in FROM: EXTERNAL_QUERY, SQLite json_each/pragma_*, and functions the
// catalog describes; anything else is opaque and flagged.
import type { TableRef } from './types.js';
import { Deps, col, type Relation } from './scope.js';
import { makeTableRef, mergeTable, nameParts } from './tables.js';
import { walkExpr } from './expressions.js';
import { opaqueRel, readTable } from './table-reads.js';
import { kwName, ref, type AnyNode, type Walk } from './walk.js';

const SQLITE_JSON_TVF = new Set(['json_each', 'json_tree', 'jsonb_each', 'jsonb_tree']);
const SQLITE_JSON_COLS = ['key', 'value', 'type', 'atom', 'id', 'parent', 'fullkey', 'path'];

export function tableFunction(fc: AnyNode, w: Walk): Relation {
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
