// The state every lineage walker passes along (scope, CTEs, collector), small node helpers, and
// the hook through which expressions and FROM items reach the query walker: subqueries nest
// anywhere, and the hook keeps the modules importing in one direction (select.ts sets it).
import type { ColumnRef } from './types.js';
import type { Col, Collector, Relation, Scope } from './scope.js';

export type AnyNode = { type: string; [k: string]: any };
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

export const QUERY_TYPES = new Set(['select_stmt', 'compound_select_stmt', 'pipe_stmt']);

export const ref = (table: string, column: string, path: string[] = []): ColumnRef => ({ table, column: column.toLowerCase(), path: path.map((p) => p.toLowerCase()) });

export function kwName(op: unknown): string {
  if (typeof op === 'string') return op.toUpperCase();
  if (Array.isArray(op)) return op.map(kwName).join(' ');
  if (op && typeof op === 'object' && 'name' in op) return String((op as { name: unknown }).name).toUpperCase();
  return '';
}

export function unparen(n: AnyNode): AnyNode {
  while (n?.type === 'paren_expr' && n.expr && !Array.isArray(n.expr)) n = n.expr;
  return n;
}

export function text(c: Collector, n: AnyNode): string {
  return n.range ? c.sql.slice(n.range[0], n.range[1]) : '';
}

/**
 * A join or grouping key that is one source column, unchanged. Policy may let a role join or
 * group on a column it sees as a keyed pseudonym, because equal tokens already show equality.
 * That only holds for the column itself compared with itself: grouping by `account_number >
 * 5000`, joining on `<` or on an expression, or against a row of guesses (a literal, or a
 * UNION ALL with one) reveals more. Such uses are also recorded as `other`, which no such
 * exception covers.
 */
export function isKey(d: { sources: ColumnRef[]; direct: boolean; unresolved: boolean }): boolean {
  return d.direct && !d.unresolved && d.sources.length === 1;
}

type QueryRelationFn = (n: AnyNode, outer: Scope | null, ctes: Ctes, c: Collector, top?: boolean) => Relation;
let queryRelationImpl: QueryRelationFn | null = null;

/** Registers the query walker (select.ts, once, when it loads). */
export function setQueryRelation(fn: QueryRelationFn): void {
  queryRelationImpl = fn;
}

/** Lineage of a nested query (subquery, derived table, CTE, view body) through the registered walker. */
export function nestedQuery(n: AnyNode, outer: Scope | null, ctes: Ctes, c: Collector, top = false): Relation {
  if (!queryRelationImpl) throw new Error('the query walker (src/sql/select.ts) is not loaded');
  return queryRelationImpl(n, outer, ctes, c, top);
}
