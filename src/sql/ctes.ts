// WITH lists: each common table expression's relation, recursive ones to a fixpoint.
import { opaqueRel } from './table-reads.js';
import { renameCols } from './from.js';
import { engineNames } from './sqlite-rules.js';
import { identName } from './tables.js';
import type { Relation } from './scope.js';
import { nestedQuery, QUERY_TYPES, unparen, type AnyNode, type Ctes, type Walk } from './walk.js';

export function withCtes(withClause: AnyNode | undefined, w: Walk): Ctes {
  if (!withClause) return w.ctes;
  const ctes: Ctes = new Map(w.ctes);
  const recursive = !!withClause.recursiveKw;
  for (const cte of withClause.tables?.items ?? []) {
    const name = identName(cte.table, w.c.opts.dialect).toLowerCase();
    const q = unparen(cte.expr);
    if (!QUERY_TYPES.has(q.type)) {
      w.c.flag('unsupported', `CTE ${name} holds a ${q.type}`);
      ctes.set(name, opaqueRel());
      continue;
    }
    const inner: Walk = { ...w, ctes };
    if (recursive && q.type === 'compound_select_stmt') {
      // Fixpoint: start from the anchor, re-run until the sources stop growing.
      let rel = renameCols(nestedQuery(q.left, w.scope, ctes, w.c), cte.columns, w);
      for (let i = 0; i < 4; i++) {
        ctes.set(name, rel);
        const next = renameCols(nestedQuery(q, w.scope, ctes, w.c), cte.columns, w);
        const size = (r: Relation) => r.cols.reduce((a, x) => a + x.sources.length, 0);
        const grew = size(next) !== size(rel);
        rel = next;
        if (!grew) break;
      }
      ctes.set(name, rel);
    } else {
      const rel = nestedQuery(q, inner.scope, ctes, w.c);
      ctes.set(name, cte.columns ? renameCols(rel, cte.columns, w) : engineNames(rel, w.c));
    }
  }
  return ctes;
}
