// Name resolution: which source a column name, a qualified name or a whole-row reference
// means in a scope, and what it derives from. Unknown tables and ambiguity are flagged.
import { Collector, Deps, type Col, type Relation, type Scope, type ScopeEntry } from './scope.js';
import { isNamePath, type NamePath } from './tables.js';
import { ref, type Walk } from './walk.js';

// Names that are not columns when nothing in scope defines them.
const PSEUDO = {
  bigquery: new Set([
    '_table_suffix',
    '_partitiontime',
    '_partitiondate',
    '_file_name',
    '_change_type',
    '_change_timestamp',
    '_change_sequence_number',
    'current_date',
    'current_time',
    'current_timestamp',
    'current_datetime',
  ]),
  sqlite: new Set(['rowid', 'oid', '_rowid_', 'current_date', 'current_time', 'current_timestamp']),
  postgresql: new Set(['current_date', 'current_time', 'current_timestamp', 'current_user', 'session_user', 'localtime', 'localtimestamp', 'ctid', 'oid', 'xmin', 'xmax']),
};

interface Found {
  deps: Deps;
  /** Resolved only by guessing an unknown table: an outer scope may be the real owner. */
  weak: boolean;
}

function fromCol(cl: Col, path: string[]): Deps {
  const d = new Deps();
  const only = cl.sources.length === 1 ? cl.sources[0] : undefined;
  if (path.length && cl.direct && only) {
    const s = only;
    d.add({ table: s.table, column: s.column, path: [...s.path, ...path.map((p) => p.toLowerCase())] });
    d.direct = true;
  } else {
    d.addAll(cl.sources);
    d.direct = path.length === 0 && cl.direct && cl.sources.length === 1;
  }
  d.unresolved = cl.unresolved;
  return d;
}

function fromUnknown(rel: Relation, parts: NamePath, c: Collector, what: string): Deps {
  const d = new Deps();
  if (rel.computed) {
    d.addAll(rel.computed.sources);
    return d;
  }
  if (rel.value) {
    for (const s of rel.value.sources) d.add({ table: s.table, column: s.column, path: [...s.path, ...parts.map((p) => p.toLowerCase())] });
    d.unresolved = rel.value.unresolved;
    d.direct = rel.value.sources.length === 1 && !d.unresolved;
    return d;
  }
  const [column, ...path] = parts;
  for (const t of rel.unknownTables) d.add(ref(t.fq, column, path));
  if (rel.unknownTables.length === 1 && !rel.opaque) d.direct = true;
  if (rel.unknownTables.length !== 1 || rel.opaque) {
    d.unresolved = true;
    c.flag('unresolved_column', `${what}: cannot tell which source defines it`);
  }
  return d;
}

function wholeRow(e: ScopeEntry, c: Collector, name: string): Deps {
  const d = new Deps();
  if (e.rel.value) {
    d.addAll(e.rel.value.sources);
    d.unresolved = e.rel.value.unresolved;
    return d;
  }
  for (const cl of e.rel.cols) {
    d.addAll(cl.sources);
    d.unresolved ||= cl.unresolved;
  }
  if (e.rel.computed) d.addAll(e.rel.computed.sources);
  if (e.rel.unknownTables.length || e.rel.opaque) {
    d.unresolved = true;
    for (const t of e.rel.unknownTables) d.add(ref(t.fq, '*'));
    c.flag('unresolved_column', `whole-row reference ${name} over a source whose columns are unknown`);
  }
  return d;
}

function fromEntry(e: ScopeEntry, rest: string[], c: Collector, name: string): Deps {
  if (!isNamePath(rest)) return wholeRow(e, c, name);
  if (e.rel.value) return fromUnknown(e.rel, rest, c, name);
  const k = rest[0].toLowerCase();
  const cl = e.rel.cols.find((x) => x.key === k);
  if (cl) return fromCol(cl, rest.slice(1));
  if (e.rel.unknownTables.length || e.rel.opaque || e.rel.computed) return fromUnknown(e.rel, rest, c, name);
  const d = new Deps();
  d.unresolved = true;
  c.flag('unresolved_column', `${name}: no such column in ${e.names[0] ?? 'source'}`);
  return d;
}

export function resolveIn(s: Scope, parts: NamePath, c: Collector, name: string): Found | null {
  const k0 = parts[0].toLowerCase();
  const u = s.using.find((x) => x.key === k0);
  if (u) return { deps: fromCol(u, parts.slice(1)), weak: false };
  for (let n = Math.min(3, parts.length - 1); n >= 1; n--) {
    const prefix = parts.slice(0, n).join('.').toLowerCase();
    const e = s.entries.find((x) => x.names.includes(prefix));
    if (e) return { deps: fromEntry(e, parts.slice(n), c, name), weak: false };
  }
  const known: Col[] = [];
  for (const e of s.entries) {
    if (e.rel.value) continue;
    const cl = e.rel.cols.find((x) => x.key === k0);
    if (cl) known.push(cl);
  }
  const [only, ...others] = known;
  if (only && others.length === 0) return { deps: fromCol(only, parts.slice(1)), weak: false };
  if (others.length > 0) {
    const d = new Deps();
    for (const cl of known) d.addAll(cl.sources);
    d.unresolved = true;
    c.flag('unresolved_column', `${name}: ambiguous, several sources in scope have it`);
    return { deps: d, weak: false };
  }
  if (parts.length === 1) {
    const e = s.entries.find((x) => x.names.includes(k0));
    if (e) return { deps: wholeRow(e, c, name), weak: false };
  }
  const unknown = s.entries.filter((e) => e.rel.unknownTables.length || e.rel.opaque || e.rel.computed || (e.rel.value && e.names.length === 0));
  const [single, ...more] = unknown;
  if (!single) return null;
  if (more.length === 0) return { deps: fromUnknown(single.rel, parts, c, name), weak: true };
  const d = new Deps();
  for (const e of unknown) d.merge(fromUnknown(e.rel, parts, c, name));
  d.unresolved = true;
  c.flag('unresolved_column', `${name}: several sources with unknown columns are in scope`);
  return { deps: d, weak: true };
}

export function resolveName(parts: string[], w: Walk): Deps {
  const c = w.c;
  const out = new Deps();
  if (!isNamePath(parts)) {
    // Not made by chainOf or nameParts; a name nobody can look up reads something unknown.
    out.unresolved = true;
    c.flag('unresolved_column', 'a column reference with no name: cannot tell what it reads');
    return out;
  }
  const name = parts.join('.');
  const k0 = parts[0].toLowerCase();
  let found = false;
  if (parts.length === 1 && w.aliases?.has(k0)) {
    out.merge(fromCol(w.aliases.get(k0)!, []));
    out.direct = w.aliases.get(k0)!.direct;
    found = true;
    // An alias that is also an ambiguous FROM column: the engine uses the alias.
    const probe = new Collector(c.opts, c.sql, c.statement);
    for (let s = w.scope; s; s = s.parent) {
      const f = resolveIn(s, parts, probe, name);
      if (!f) continue;
      if (f.deps.unresolved) return out;
      break;
    }
  }
  // SQLite looks a name up in its own FROM items, then in its select list's AS aliases (WHERE,
  // HAVING), and only then in outer queries.
  const asAlias = parts.length === 1 && !found ? w.whereAliases?.get(k0) : undefined;
  for (let s = w.scope; s; s = s.parent) {
    const f = resolveIn(s, parts, c, name);
    if (!f) {
      if (asAlias && s === w.scope) {
        out.merge(fromCol(asAlias, []));
        out.direct = asAlias.direct;
        return out;
      }
      continue;
    }
    if (asAlias && s === w.scope && f.weak) {
      // The name may be a column of a source nobody knows, or the alias: it is both.
      out.merge(f.deps);
      out.merge(fromCol(asAlias, []));
      out.direct = false;
      return out;
    }
    if (found) {
      // Both a select-list alias and a FROM column: keep both, the engine picks one of them.
      // When both are the same column unchanged (SELECT x … GROUP BY x), it is still that column.
      const same = out.map.size === 1 && f.deps.map.size === 1 && out.map.keys().next().value === f.deps.map.keys().next().value;
      out.direct = same && out.direct && f.deps.direct;
      out.merge(f.deps);
      return out;
    }
    out.merge(f.deps);
    out.direct = f.deps.direct;
    found = true;
    if (!f.weak) return out;
  }
  if (found) return out;
  const dialect = c.opts.dialect;
  if ((parts.length === 1 && PSEUDO[dialect].has(k0)) || c.variables.has(k0)) return out;
  if (parts.length >= 1 && k0.startsWith('@')) return out;
  out.unresolved = true;
  c.flag('unresolved_column', `${name}: not found in any source in scope`);
  return out;
}
