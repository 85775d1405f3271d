// Table-valued functions in FROM: EXTERNAL_QUERY, SQLite json_each/pragma_*, and functions the
// catalog describes; anything else is opaque and flagged.
import type { TableRef } from './types.js';
import { Deps, col, type Relation } from './scope.js';
import { lastPart, makeTableRef, mergeTable, nameParts, type NamePath } from './tables.js';
import { walkExpr } from './expressions.js';
import { opaqueRel, readModel, readTable } from './table-reads.js';
import { kwName, nestedQuery, QUERY_TYPES, ref, unparen, type AnyNode, type Walk } from './walk.js';

const SQLITE_JSON_TVF = new Set(['json_each', 'json_tree', 'jsonb_each', 'jsonb_tree']);
const SQLITE_JSON_COLS = ['key', 'value', 'type', 'atom', 'id', 'parent', 'fullkey', 'path'];

/** ML functions whose output is every input column plus columns the model computes from them. */
const ML_PASS_THROUGH = new Set(['ml.predict']);

/**
 * ML.PREDICT(MODEL m, TABLE t | (query) [, options]): the rows are the input's, every input column
 * passes through unchanged, and the model adds columns (predicted_<label>, probabilities …)
 * computed from the input row, so each of those derives from every input column. The model is
 * recorded among the tables read, so policy's table rules say who may use which model.
 */
function modelFunction(fc: AnyNode, w: Walk, what: string): Relation {
  const c = w.c;
  const [model, input, ...rest] = fc.args?.expr?.args?.items ?? [];
  if (model?.type !== 'model_arg' || !input) {
    c.flag('unsupported', `${what}: expected MODEL name and an input table or query`);
    return opaqueRel();
  }
  readModel(model, w);
  let rel: Relation;
  const q = unparen(input);
  const tableClause = q.type === 'select_stmt' && q.clauses?.length === 1 && q.clauses[0].type === 'table_clause' ? q.clauses[0] : null;
  const tableParts = tableClause ? nameParts(tableClause.table, c.opts.dialect) : null;
  if (tableClause && tableParts) {
    const r = readTable(tableParts, w);
    rel = r.rel;
    if (tableClause.range && tableClause.table.range && !r.ref.view) c.sites.push({ fq: r.ref.fq, range: tableClause.range, nameRange: tableClause.table.range, alias: null, tableArg: true });
  } else if (QUERY_TYPES.has(q.type)) {
    rel = nestedQuery(q, w.scope, w.ctes, c);
  } else {
    c.flag('unsupported', `${what}: input of kind ${q.type}`);
    return opaqueRel();
  }
  const options = new Deps();
  walkExpr(rest, w, options);
  for (const s of options.sources) c.use(s, 'other');
  const inputs = new Deps();
  for (const cl of rel.cols) inputs.addAll(cl.sources);
  for (const t of rel.unknownTables) inputs.add(ref(t.fq, '*'));
  return { ...rel, computed: { sources: inputs.sources, what } };
}

export function tableFunction(fc: AnyNode, w: Walk): Relation {
  const c = w.c;
  const parts: NamePath = nameParts(fc.name, c.opts.dialect) ?? ['?'];
  const fname = lastPart(parts).toLowerCase();
  if (c.opts.dialect === 'bigquery' && ML_PASS_THROUGH.has(parts.join('.').toLowerCase())) return modelFunction(fc, w, parts.join('.').toUpperCase());
  const argDeps = new Deps();
  for (const a of fc.args?.expr?.args?.items ?? []) {
    if (a.type === 'model_arg') {
      readModel(a, w);
      continue;
    }
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
