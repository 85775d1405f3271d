// PIVOT and UNPIVOT: which input columns pass through and what the new columns derive from.
import { Collector, Deps, col, type Col, type Relation, type Scope } from './scope.js';
import { identName } from './tables.js';
import { exprDeps, useExpr } from './expressions.js';
import { text, type AnyNode, type Walk } from './walk.js';

export function pivot(n: AnyNode, sub: Scope, w: Walk): Relation {
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

export function unpivot(n: AnyNode, sub: Scope, w: Walk): Relation {
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
