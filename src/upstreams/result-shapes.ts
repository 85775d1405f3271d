// How the upstream kinds answer, for the masking pass that reads their results
// (src/masking/apply.ts): which text lines are status, not data, and how a BigQuery REST result
// (`{schema, rows:[{f:[{v}]}]}`, what tables.list/jobs.query return and what BigQuery-backed MCP
// servers may relay) wraps its cells. Pure functions over parsed JSON; masking decides per cell.

/**
 * Upstream text that carries no table data: MCP Toolbox status lines, and SQLite errors as
 * Toolbox relays them that only echo SQL identifiers or tokens the caller wrote. Errors that can
 * echo values ("Bad int64 value: …") are not here.
 */
export const STATUS_TEXT: readonly RegExp[] = [
  /^The query returned 0 rows\.?$/,
  /^Query executed successfully and returned no content\.?$/,
  /^error processing request: unable to execute query: SQL logic error: (?:no such (?:table|column|function): [\w.$]+|ambiguous column name: [\w.$]+|near "[^"\n]{0,64}": syntax error|incomplete input) \(1\)$/,
];

/** Toolbox's answer to a query with no rows. */
export const NO_ROWS_TEXT = /^The query returned 0 rows/;

type Obj = { [k: string]: unknown };
/** A JSON object (not an array, not a class instance such as masking's RawNumber). */
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;

/** A BigQuery REST result: rows of `{f: [cells]}` (its schema, when present, names the cells). */
export function isRestRows(o: Obj): boolean {
  return Array.isArray(o.rows) && o.rows.length > 0 && o.rows.every((r) => isObj(r) && Array.isArray(r.f));
}

/** Column names from `schema.fields`, by position; null when the result carries no schema. */
export function restColumnNames(o: Obj): string[] | null {
  const schema = isObj(o.schema) ? o.schema : null;
  const fields = schema && Array.isArray(schema.fields) ? schema.fields : null;
  return fields ? fields.map((f) => (isObj(f) && typeof f.name === 'string' ? f.name : '')) : null;
}

/** A REST cell's value without the protocol wrapping: a RECORD `{f:[…]}` and a REPEATED `[{v}]` become arrays. */
export function unwrapRestValue<T>(x: T): T | unknown[] {
  if (isObj(x) && Array.isArray(x.f)) return x.f.map((c) => (isObj(c) && 'v' in c ? unwrapRestValue(c.v) : c));
  if (Array.isArray(x)) return x.map((c) => (isObj(c) && 'v' in c ? unwrapRestValue(c.v) : c));
  return x;
}

/** The masked value put back into the wrapping the original had (`{f:[{v}]}`, `[{v}]`). */
export function rewrapRestValue(orig: unknown, masked: unknown): unknown {
  if (isObj(orig) && Array.isArray(orig.f) && Array.isArray(masked)) {
    return { f: orig.f.map((c, i) => ({ v: rewrapRestValue(isObj(c) ? (c.v ?? null) : c, masked[i] ?? null) })) };
  }
  if (Array.isArray(orig) && Array.isArray(masked)) return masked.map((m, i) => ({ v: rewrapRestValue(isObj(orig[i]) ? ((orig[i] as Obj).v ?? null) : orig[i], m) }));
  return masked;
}
