// How upstreams answer, as far as masking must know, as a port masking owns: the upstream kinds
// fill it (src/upstreams/result-shapes.ts) and the entry wires it into MaskingOptions. So
// masking imports no upstream, and a kind that answers in a new shape brings its own reader.
type JsonObject = { [k: string]: unknown };

export interface UpstreamShapes {
  /**
   * Text that carries no table data (status lines, errors that only echo identifiers): passed
   * through the detectors, never withheld. 'no-rows' also says the query returned no rows;
   * null: the text may carry data.
   */
  statusText(text: string): 'status' | 'no-rows' | null;
  /** Rows whose cells a protocol wraps (BigQuery REST `{schema, rows:[{f:[{v}]}]}`). */
  wrappedRows: {
    /** Does this object hold such rows (`rows[i].f[j]` is column j)? */
    is(o: JsonObject): boolean;
    /** Column names by position, or null when the result names none. */
    columnNames(o: JsonObject): string[] | null;
    /** A cell's value without the wrapping (a wrapped RECORD or REPEATED becomes an array). */
    unwrap(value: unknown): unknown;
    /** The masked value put back into the wrapping `orig` had. */
    rewrap(orig: unknown, masked: unknown): unknown;
  };
}
