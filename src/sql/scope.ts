// Relations, scopes and the per-statement collector the lineage walker writes into.
import type { AnalyzeOptions, Clause, ColumnRef, ColumnUse, OpaqueFlag, OpaqueKind, TableRef, TableSite } from './types.js';
import { columnKey } from './types.js';

/** A column of a relation (table, CTE, derived table …) with what it derives from. */
export interface Col {
  /** Name as the engine reports it. */
  name: string;
  /** Lower-cased name used for matching (column names are case-insensitive). */
  key: string;
  sources: ColumnRef[];
  direct: boolean;
  unresolved: boolean;
  /** The name is the expression's own text (SQLite, no alias): its offsets in the SQL. */
  nameRange?: [number, number];
}

export interface Relation {
  cols: Col[];
  /** Tables whose columns flow through this relation but are not known to the catalog:
   * a name not among `cols` may belong to any of them. */
  unknownTables: TableRef[];
  /** The relation may have columns nobody can know (TVF, EXTERNAL_QUERY, unresolved star). */
  opaque: boolean;
  /** A value table (UNNEST AS x): `x` is the element itself, `x.f` a field of it. */
  value?: { sources: ColumnRef[]; unresolved: boolean };
  /** Columns besides `cols` whose names only the engine knows, each computed from these sources
   * (a model's predictions in ML.PREDICT): a name not among `cols` resolves to them. */
  computed?: { sources: ColumnRef[]; what: string };
}

export interface ScopeEntry {
  /** Lower-cased names the relation can be qualified with (alias, or table name and dataset.table). */
  names: string[];
  rel: Relation;
  /** Columns merged by JOIN … USING, hidden from `*` expansion of this entry after the first. */
  usingHidden?: Set<string>;
}

export interface Scope {
  entries: ScopeEntry[];
  parent: Scope | null;
  /** Columns produced by JOIN USING: unqualified references resolve here first. */
  using: Col[];
}

/** What an expression derives from. */
export class Deps {
  readonly map = new Map<string, ColumnRef>();
  unresolved = false;
  /** The expression is exactly one source column (possibly through aliases). */
  direct = false;
  add(c: ColumnRef): void {
    this.map.set(columnKey(c), c);
  }
  addAll(cs: Iterable<ColumnRef>): void {
    for (const c of cs) this.add(c);
  }
  merge(d: Deps): void {
    this.addAll(d.map.values());
    this.unresolved ||= d.unresolved;
  }
  get sources(): ColumnRef[] {
    return [...this.map.values()];
  }
}

/** Everything one top-level statement accumulates while it is walked. */
export class Collector {
  readonly tablesRead: TableRef[] = [];
  readonly tablesWritten: TableRef[] = [];
  /** Where base tables are read in FROM position, in this statement's own text (not in views). */
  readonly sites: TableSite[] = [];
  readonly uses: ColumnUse[] = [];
  readonly opaque: OpaqueFlag[] = [];
  private readonly useKeys = new Set<string>();
  /** Uses recorded after every other (see useLast). */
  private readonly lastUses: ColumnUse[] = [];
  private readonly flagKeys = new Set<string>();
  /** Script variables (DECLARE) and routine parameters: names that are not columns. */
  readonly variables = new Set<string>();
  /** Views being expanded, to stop self-referencing definitions. */
  readonly viewStack: string[] = [];
  /** A name made from an expression's text was renamed (x:1, columnN): the analysis is tied to its literals. */
  literalNames = false;

  constructor(
    readonly opts: AnalyzeOptions,
    readonly sql: string,
    readonly statement: number,
  ) {}

  use(c: ColumnRef, clause: Clause): void {
    const k = `${clause}|${columnKey(c)}`;
    if (this.useKeys.has(k)) return;
    this.useKeys.add(k);
    this.uses.push({ column: c, clause });
  }

  /**
   * Records a use that must come after every use the walk records: policy names the first
   * use it refuses, and a predicate (`where: ssn`) says more than the catch-all `other`.
   */
  useLast(c: ColumnRef, clause: Clause): void {
    this.lastUses.push({ column: c, clause });
  }

  /** The uses in order, the useLast ones at the end (deduplicated against the others). */
  finishUses(): ColumnUse[] {
    for (const u of this.lastUses.splice(0)) this.use(u.column, u.clause);
    return this.uses;
  }

  flag(kind: OpaqueKind, detail: string): void {
    const k = `${kind}|${detail}`;
    if (this.flagKeys.has(k)) return;
    this.flagKeys.add(k);
    this.opaque.push({ kind, detail, statement: this.statement });
  }
}

export function col(name: string, sources: ColumnRef[], direct: boolean, unresolved = false): Col {
  return { name, key: name.toLowerCase(), sources, direct, unresolved };
}
