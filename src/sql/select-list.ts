// The select list's pieces: the names the engine gives output columns, `*` and `t.*`
// expansion, and which inner computed items count as uses.
import { Collector, col, type Col, type Deps, type Scope, type ScopeEntry } from './scope.js';
import { nameParts } from './tables.js';
import { chainOf, exprDeps, funcName } from './expressions.js';
import { ref, text, unparen, type AnyNode, type Walk } from './walk.js';

export function outputName(item: AnyNode, index: number, anon: { n: number }, c: Collector): string {
  const dialect = c.opts.dialect;
  const u = dialect === 'sqlite' ? item : unparen(item);
  if (u.type === 'identifier' || u.type === 'member_expr' || u.type === 'bigquery_quoted_member_expr') {
    const ch = chainOf(u, c);
    if (!ch.root && !ch.subscripts.length && ch.parts.length) {
      const last = u.type === 'identifier' ? u : u.type === 'member_expr' ? u.property : null;
      return last?.name ?? ch.parts[ch.parts.length - 1];
    }
  }
  if (dialect === 'sqlite') return text(c, item);
  if (dialect === 'postgresql') {
    if (u.type === 'func_call') return funcName(u, { scope: null, ctes: new Map(), c });
    return '?column?';
  }
  void index;
  return `f${anon.n++}_`;
}

function expandEntry(e: ScopeEntry, s: Scope, c: Collector, label: string, skipUsing: boolean): Col[] {
  const out: Col[] = [];
  if (e.rel.value) {
    if (e.rel.value.sources.length || e.rel.value.unresolved) {
      out.push(col('*', e.rel.value.sources, false, true));
      c.flag('unresolved_star', `${label}.* over UNNEST: struct fields are not known`);
    }
    return out;
  }
  const usingKeys = new Set(s.using.map((u) => u.key));
  for (const cl of e.rel.cols) if (!(skipUsing && usingKeys.has(cl.key))) out.push(cl);
  if (e.rel.computed) {
    // The engine adds columns only it can name (a model's outputs): `*` cannot list them.
    out.push(col('*', e.rel.computed.sources, false, true));
    c.flag('unresolved_star', `${label} over ${e.rel.computed.what}: its output columns depend on the model, which the catalog does not describe; name the columns`);
  }
  if (e.rel.unknownTables.length || e.rel.opaque) {
    out.push(
      col(
        '*',
        e.rel.unknownTables.map((t) => ref(t.fq, '*')),
        false,
        true,
      ),
    );
    const what = e.rel.unknownTables.map((t) => t.fq).join(', ') || 'an opaque source';
    c.flag('unresolved_star', `${label} over ${what}: columns unknown to the catalog`);
  }
  return out;
}

export function starCols(target: AnyNode, s: Scope, w: Walk): Col[] {
  const c = w.c;
  if (target.type === 'all_columns' && c.opts.dialect === 'sqlite' && s.using.length) {
    // SQLite keeps a USING column where the left table has it and drops the right copy.
    const out: Col[] = [];
    const emitted = new Set<string>();
    for (const e of s.entries) {
      for (const cl of expandEntry(e, s, c, '*', false)) {
        const u = s.using.find((x) => x.key === cl.key);
        if (u && emitted.has(u.key)) continue;
        if (u) emitted.add(u.key);
        out.push(u ?? cl);
      }
    }
    return out;
  }
  if (target.type === 'all_columns') {
    const out: Col[] = [...s.using];
    for (const e of s.entries) out.push(...expandEntry(e, s, c, '*', true));
    return out;
  }
  // t.* (member_expr with all_columns property)
  const parts = nameParts(target.object, c.opts.dialect);
  const key = parts?.join('.').toLowerCase();
  const e = key ? s.entries.find((x) => x.names.includes(key)) : undefined;
  if (e) return expandEntry(e, s, c, `${key}.*`, false);
  // struct_col.* : every field of a column
  const d = exprDeps(target.object, { ...w, scope: s });
  c.flag('unresolved_star', `${text(c, target)}: fields of a struct value are not expanded`);
  return [col('*', d.sources, false, true)];
}

/** A select item that only names a column (or a struct field of one): evaluating it cannot fail. */
function isPlainName(e: AnyNode, c: Collector): boolean {
  const u = unparen(e);
  if (!(u.type === 'identifier' || u.type === 'member_expr' || u.type === 'bigquery_quoted_member_expr')) return false;
  const ch = chainOf(u, c);
  return !ch.root && ch.subscripts.length === 0 && ch.parts.length > 0;
}

/**
 * A value computed in an inner query block (derived table, CTE, subquery, set-operation
 * branch) is evaluated when the engine materialises that block, even when no outer column
 * ever reads it: `CASE WHEN ssn = '<guess>' THEN json('x') END` then fails the whole query
 * only when the guess exists. Policy only judges *outputs* as computed values, so an inner
 * computed item is recorded as an `other` use of its sources, which the inference guard
 * refuses for masked columns. A plain column reference is not recorded: passing a column
 * through unchanged is how masked columns legitimately reach the output, and it cannot fail.
 */
export function innerComputedUse(e: AnyNode, d: Deps, w: Walk, top: boolean): void {
  if (top || isPlainName(e, w.c)) return;
  for (const src of d.sources) w.c.useLast(src, 'other');
}
