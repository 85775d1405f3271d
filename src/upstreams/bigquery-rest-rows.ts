// BigQuery REST rows, `{schema, rows:[{f:[{v}]}]}`: what tables.list/jobs.query return and what
// BigQuery-backed MCP servers (both BigQuery kinds) may relay. The f/v wrapping is protocol, not
// data: masking unwraps a cell, masks the value and puts it back in the same wrapping.
import type { UpstreamShapes } from '../masking/upstream-shapes.js';

type Obj = { [k: string]: unknown };
/** A JSON object (not an array, not a class instance such as masking's RawNumber). */
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;

/** A cell's value without the wrapping: a RECORD `{f:[…]}` and a REPEATED `[{v}]` become arrays. */
function unwrap(x: unknown): unknown {
  if (isObj(x) && Array.isArray(x.f)) return x.f.map((c) => (isObj(c) && 'v' in c ? unwrap(c.v) : c));
  if (Array.isArray(x)) return x.map((c) => (isObj(c) && 'v' in c ? unwrap(c.v) : c));
  return x;
}

/** The masked value put back into the wrapping the original had (`{f:[{v}]}`, `[{v}]`). */
function rewrap(orig: unknown, masked: unknown): unknown {
  if (isObj(orig) && Array.isArray(orig.f) && Array.isArray(masked)) {
    return { f: orig.f.map((c, i) => ({ v: rewrap(isObj(c) ? (c.v ?? null) : c, masked[i] ?? null) })) };
  }
  if (Array.isArray(orig) && Array.isArray(masked)) {
    return masked.map((m, i) => {
      const o: unknown = orig[i];
      return { v: rewrap(isObj(o) ? (o.v ?? null) : o, m) };
    });
  }
  return masked;
}

export const bigqueryRestRows: UpstreamShapes['wrappedRows'] = {
  is: (o) => Array.isArray(o.rows) && o.rows.length > 0 && o.rows.every((r) => isObj(r) && Array.isArray(r.f)),
  // By position; a field without a name gets '' (masking then names the cell by position).
  columnNames(o) {
    const schema = isObj(o.schema) ? o.schema : null;
    const fields = schema && Array.isArray(schema.fields) ? schema.fields : null;
    return fields ? fields.map((f) => (isObj(f) && typeof f.name === 'string' ? f.name : '')) : null;
  },
  unwrap,
  rewrap,
};
