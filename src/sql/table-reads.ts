// Reads of named tables: the catalog's columns, views expanded from their definition, and the
// names a table can be qualified with in a scope.
import { parse } from 'sql-parser-cst';
import type { TableRef } from './types.js';
import { Collector, col, type Col, type Relation } from './scope.js';
import { makeTableRef, mergeTable, nameParts } from './tables.js';
import { parserOptions } from './parse.js';
import { nestedQuery, QUERY_TYPES, ref, type AnyNode, type Walk } from './walk.js';

export function tableNames(t: TableRef): string[] {
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
    const rel = nestedQuery(q, null, new Map(), inner);
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

/** `MODEL m` (ML functions): recorded among the tables read, so table rules say who may use which model. */
export function readModel(arg: AnyNode, w: Walk): void {
  const parts = nameParts(arg.model, w.c.opts.dialect);
  if (!parts) {
    w.c.flag('unsupported', 'MODEL argument that is not a name');
    return;
  }
  const { ref: t, incomplete } = makeTableRef(parts, w.c.opts);
  if (incomplete) w.c.flag('unknown_table', `${t.fq}: no default project/dataset configured to qualify ${parts.join('.')}`);
  mergeTable(w.c.tablesRead, t);
}

export function opaqueRel(): Relation {
  return { cols: [], unknownTables: [], opaque: true };
}
