// The facts the SQL analyzer hands to policy, masking, approvals and audit.
// Contract between modules: extend with care, never silently change a meaning.

export type Dialect = 'bigquery' | 'sqlite' | 'postgresql';

export type StatementClass =
  | 'read' // SELECT, WITH … SELECT, pipe queries
  | 'write' // INSERT, UPDATE, DELETE, MERGE, TRUNCATE
  | 'ddl' // CREATE / ALTER / DROP / OR REPLACE / CTAS / views / functions / procedures / models
  | 'dcl' // GRANT / REVOKE / row access policies
  | 'data_movement' // EXPORT DATA, LOAD DATA, COPY / CLONE / SNAPSHOT
  | 'dynamic_sql' // EXECUTE IMMEDIATE
  | 'call' // CALL procedure
  | 'scripting' // DECLARE, SET, IF, LOOP, WHILE, BEGIN…END, RETURN, RAISE …
  | 'transaction' // BEGIN TRANSACTION, COMMIT, ROLLBACK
  | 'unknown';

/** A table as resolved against the configured default project and dataset. */
export interface TableRef {
  /** project.dataset.table (BigQuery) or main.table-like names for SQLite; lower-cased where the dialect is case-insensitive. */
  fq: string;
  project: string | null;
  dataset: string | null;
  table: string;
  /** `dataset.events_*` wildcard table. */
  wildcard: boolean;
  /** INFORMATION_SCHEMA views, incl. region-qualified. */
  informationSchema: boolean;
  /** A view per the catalog (expanded when its definition is known). */
  view: boolean;
  /** Table-valued function call rather than a table. */
  function: boolean;
  /** Source whose content the analyzer cannot see: EXTERNAL_QUERY, unknown TVFs, … */
  opaque: boolean;
  /** FOR SYSTEM_TIME AS OF was used. */
  timeTravel: boolean;
}

/** One source column, e.g. p.d.customers.ssn or p.d.events.payload.user.email (struct path). */
export interface ColumnRef {
  /** fq of the table the column belongs to. */
  table: string;
  column: string;
  /** Struct field path below the column, [] when the whole column. */
  path: string[];
}

/** `${table}.${column}` plus `.field…` for struct paths: the key policy matches on. */
export function columnKey(c: ColumnRef): string {
  return [c.table, c.column, ...c.path].join('.');
}

export interface OutputColumn {
  /** Position in the result row, 0-based. */
  index: number;
  /** Name as the result will carry it (alias, column name, or engine-generated like f0_). */
  name: string;
  /** Every source column the value can derive from (direct or via expressions). */
  sources: ColumnRef[];
  /** True when the value is the source column itself (no transformation). */
  direct: boolean;
  /** Sources could not all be determined: consumers must treat as possibly anything. */
  unresolved: boolean;
  /** Set when the name is the expression's own text (SQLite): offsets of that text in the SQL. */
  nameRange?: [number, number];
}

export type Clause =
  | 'select'
  | 'where'
  | 'join'
  | 'group_by'
  | 'having'
  | 'qualify'
  | 'order_by'
  | 'window'
  | 'dml_set'
  | 'dml_where'
  | 'merge_on'
  | 'insert_values'
  | 'limit'
  /** Compared by INTERSECT / EXCEPT / UNION DISTINCT (whichever branch it comes from). */
  | 'set_op'
  /** Compared by SELECT DISTINCT, DISTINCT ON or an aggregate's DISTINCT (count(DISTINCT x)). */
  | 'distinct'
  | 'other';

export interface ColumnUse {
  column: ColumnRef;
  clause: Clause;
}

export type OpaqueKind =
  | 'parse_error'
  | 'unknown_statement'
  | 'execute_immediate'
  | 'external_query'
  | 'unknown_table_function'
  | 'unresolved_column'
  | 'unresolved_star' // SELECT * over a table the catalog does not know
  | 'unknown_table'
  | 'unsupported';

export interface OpaqueFlag {
  kind: OpaqueKind;
  detail: string;
  /** Statement index it belongs to, -1 for the whole script. */
  statement: number;
}

/** A place where a base table (not a CTE) is named as a row source, for rewriters that splice. */
export interface TableSite {
  fq: string;
  /** Offsets of the source in the SQL text: the table name, or the name with its FOR SYSTEM_TIME AS OF / TABLESAMPLE. */
  range: [number, number];
  /** Offsets of the table name alone. */
  nameRange: [number, number];
  /** The alias the query gives it, null when none (the rewriter then supplies the table's own name). */
  alias: string | null;
  /** `TABLE t` as a function argument (ML.PREDICT): replaced by a parenthesised projection, no alias. */
  tableArg?: boolean;
}

export interface StatementAnalysis {
  index: number;
  /** Offsets of the statement in the SQL text (null when the parser gave none). */
  range: [number, number] | null;
  /**
   * Where a WITH list that scopes every query of the statement can go: the start of the
   * statement, or of the query inside CREATE … AS / EXPLAIN. Null for statements that read no
   * rows through a query (DROP, ALTER, PRAGMA …).
   */
  queryAt: number | null;
  /** Every place a base table is read in FROM position (views and CTEs excluded). */
  tableSites: TableSite[];
  /** Parser statement kind, e.g. select, insert, delete, create_table, drop_table, merge … */
  kind: string;
  class: StatementClass;
  /** CREATE OR REPLACE, DROP, TRUNCATE …: policy may ask for approval on these. */
  destructive: boolean;
  text: string;
  sha256: string;
  fingerprint: string;
  tablesRead: TableRef[];
  tablesWritten: TableRef[];
  /** Output columns of a result-producing statement, null otherwise. */
  output: OutputColumn[] | null;
  /** Every column referenced outside the select list, with its clause. */
  uses: ColumnUse[];
  opaque: OpaqueFlag[];
}

export interface Analysis {
  dialect: Dialect;
  /** False when the SQL did not parse; statements is then empty and opaque holds the reason. */
  ok: boolean;
  sql: string;
  sha256: string;
  fingerprint: string;
  statements: StatementAnalysis[];
  /** Union over statements plus script-level flags (parse errors). Non-empty means fail closed unless trusted. */
  opaque: OpaqueFlag[];
  /**
   * False when the analysis depends on literal text in a way offsets cannot carry over (a name
   * SQLite invents from an expression's text): the template cache must not reuse it for other
   * literals (sql/template.ts).
   */
  templateSafe?: boolean;
}

/** Column as the catalog knows it; struct fields nested. */
export interface CatalogColumn {
  name: string;
  type: string;
  fields?: CatalogColumn[];
  /** BigQuery policy tags (projects/…/taxonomies/…/policyTags/…) or their display names. */
  policyTags?: string[];
}

export interface CatalogTable {
  fq: string;
  columns: CatalogColumn[];
  /** View definition, when the catalog knows it. */
  viewSql?: string;
}

/** Synchronous lookups for the pure analyzer; async sources are loaded into one of these first. */
export interface SchemaCatalog {
  getTable(ref: Pick<TableRef, 'fq' | 'project' | 'dataset' | 'table'>): CatalogTable | undefined;
}

/** Async catalog source (static rules/, BigQuery INFORMATION_SCHEMA, upstream table-info tool). */
export interface CatalogProvider {
  readonly name: string;
  /** Fetch (cached) the given tables; unknown tables are simply absent from the result. */
  load(tables: Pick<TableRef, 'fq' | 'project' | 'dataset' | 'table'>[]): Promise<CatalogTable[]>;
}

export interface AnalyzeOptions {
  dialect: Dialect;
  defaultProject?: string | null;
  defaultDataset?: string | null;
  catalog?: SchemaCatalog;
}
