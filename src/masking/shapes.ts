// Reads the shapes rows come in and hands each cell, with its column, to cells.ts: JSON rows by
// name, arrays of arrays by position, rows a protocol wraps (BigQuery REST, read through the
// upstreams' UpstreamShapes), wrappers holding rows, text tables and free text. A value we
// cannot tie to a column while the query can return sensitive data takes the fallback or is
// withheld — never passed through on a guess.
import type { CellMasker, Mode, Row } from './cells.js';
import type { MaskingOptions } from './config.js';
import { isJsonObject, stringifyJson, type Json } from './json.js';
import { setOwn } from './methods.js';
import { parseTextTable } from './text-tables.js';
import type { ColumnMask } from './types.js';

export const WITHHELD_TEXT = '[bqwarden: upstream text withheld: the query can return sensitive columns and this text could not be mapped to them]';

const MAX_DEPTH = 6;

export class ShapeReader {
  constructor(
    private readonly cells: CellMasker,
    private readonly opts: MaskingOptions,
  ) {}

  /** Rows, a wrapper holding rows, or a lone value. */
  container(v: Json, depth: number, where: string): Json {
    const cells = this.cells;
    if (depth > MAX_DEPTH) {
      cells.notes.add(`${where}: nested deeper than ${MAX_DEPTH} levels: masked with the fallback`);
      return cells.fallbackValue(v, '(nested)');
    }
    if (Array.isArray(v)) return this.rowset(v, where);
    if (isJsonObject(v)) {
      const o = v as Row;
      if (this.isRowLike(o)) {
        const mode = cells.objectRowsMismatch([o], where);
        cells.countRows(1);
        return cells.objectRow(o, mode);
      }
      if (this.opts.shapes.wrappedRows.is(o)) return this.wrappedRows(o);
      const out: Row = {};
      for (const [k, x] of Object.entries(o)) {
        const key = cells.detectors.key(k);
        if (Array.isArray(x) || isJsonObject(x)) setOwn(out, key, this.container(x, depth + 1, `${where}.${k}`));
        // A wrapper's own text fields are not columns we can map: under a sensitive plan they
        // follow the unmapped-text rule (a mis-named row could otherwise pass as a "wrapper").
        else if (typeof x === 'string' && cells.sensitive) setOwn(out, key, this.text(x));
        else setOwn(out, key, cells.detectors.value(x, k));
      }
      return out;
    }
    if (typeof v === 'string') return this.text(v);
    // A bare scalar where rows were expected: one value of unknown origin.
    if (v === null || !cells.sensitive) return cells.detectors.value(v, null);
    cells.notes.add(`${where}: a bare value could not be mapped to a column: masked with the fallback`);
    return cells.fallbackValue(v, '(value)');
  }

  /** Does this object hold columns (a row) rather than wrap rows? */
  isRowLike(o: Row): boolean {
    const keys = Object.keys(o);
    if (keys.length === 0) return true;
    for (const k of keys) if (this.cells.knows(k.toLowerCase())) return true;
    // No known column name: a row of unforeseen columns, unless it visibly wraps rows.
    return !keys.some((k) => {
      const x = o[k];
      return (Array.isArray(x) && x.length > 0 && x.every((e) => isJsonObject(e) || Array.isArray(e))) || (k === 'rows' && Array.isArray(x));
    });
  }

  private rowset(arr: Json[], where: string): Json {
    const cells = this.cells;
    if (arr.length === 0) {
      cells.countRows(0);
      return [];
    }
    if (arr.every((r) => isJsonObject(r))) {
      const rows = arr as Row[];
      const mode = cells.objectRowsMismatch(rows, where);
      cells.countRows(rows.length);
      return rows.map((r) => cells.objectRow(r, mode));
    }
    if (arr.every((r) => Array.isArray(r))) {
      const rows = arr as Json[][];
      const mode = cells.positionalMismatch(rows, where);
      cells.countRows(rows.length);
      return rows.map((r) => r.map((cell, i) => cells.cell(cell, cells.byIndex.get(i), mode, `#${i}`, null)));
    }
    // A list of scalars (or mixed): values without column names.
    if (cells.sensitive) {
      cells.notes.add(`${where}: array of values without column names: masked with the fallback`);
      return arr.map((x) => cells.fallbackValue(x, '(value)'));
    }
    return arr.map((x) => (Array.isArray(x) || isJsonObject(x) ? this.container(x, 1, where) : cells.detectors.value(x, null)));
  }

  /** Wrapped rows (BigQuery REST): rows[i].f[j] is column j of the names the result carries. */
  private wrappedRows(o: Row): Json {
    const cells = this.cells;
    const names = this.opts.shapes.wrappedRows.columnNames(o);
    const colMasks = cells.headerMasks(
      names,
      (o.rows as Json[]).map((r) => ((r as Row).f as Json[]).length),
      'rows',
    );
    const out: Row = {};
    for (const [k, x] of Object.entries(o)) {
      if (k === 'rows') {
        cells.countRows((x as Json[]).length);
        setOwn(
          out,
          k,
          (x as Row[]).map((r) => {
            const row: Row = {};
            for (const [rk, rv] of Object.entries(r)) {
              if (rk !== 'f') setOwn(row, rk, cells.detectors.value(rv, null));
              else
                setOwn(
                  row,
                  'f',
                  (rv as Json[]).map((cell, j) => this.wrappedCell(cell, colMasks.masks[j], colMasks.mode, names?.[j] || `#${j}`, names?.[j] ?? null)),
                );
            }
            return row;
          }),
        );
      } else setOwn(out, k, cells.detectors.value(x, k));
    }
    return out;
  }

  /**
   * A REST cell is {v: value}; a RECORD value is {f: [cells]}, a REPEATED value [cells]. The
   * f/v wrapping is protocol, not data: mask what it wraps and keep the wrapping.
   */
  private wrappedCell(cell: Json, masks: ColumnMask[] | undefined, mode: Mode, column: string, keyHint: string | null): Json {
    if (!isJsonObject(cell) || !('v' in cell)) return this.cells.cell(cell, masks, mode, column, keyHint);
    const { unwrap, rewrap } = this.opts.shapes.wrappedRows;
    const v = (cell as Row).v;
    return { v: rewrap(v, this.cells.cell(unwrap(v) as Json, masks, mode, column, keyHint)) as Json };
  }

  /** Free text or a text table. */
  text(s: string): string {
    const cells = this.cells;
    const status = this.opts.shapes.statusText(s.trim());
    if (status !== null) {
      if (status === 'no-rows') cells.countRows(0);
      return cells.detectors.string(s, null);
    }
    if (cells.sensitive) {
      const table = parseTextTable(s);
      // A header we do not recognise may not be a header at all (an error message with commas
      // and newlines parses as CSV): its "names" could be data, so it is not a table to us.
      if (table && table.header.every((h) => cells.knows(h.toLowerCase()))) {
        const { header } = table;
        const { masks, mode } = cells.headerMasks(
          header,
          table.rows.map((r) => r.length),
          'text table',
        );
        cells.countRows(table.rows.length);
        // Printed tables spell NULL as NULL: it stays NULL under every method. A cell past the
        // header (headerMasks has put the table in fallback mode then) is named by position.
        return table.render(table.rows.map((r) => r.map((c, j) => cellText(cells.cell(c === 'NULL' ? null : c, masks[j], mode, header[j] ?? `#${j}`, header[j] ?? null)))));
      }
      if (this.opts.unmappedText === 'withhold') {
        cells.notes.add('text that could not be mapped to columns was withheld');
        return WITHHELD_TEXT;
      }
    }
    return cells.detectors.string(s, null);
  }
}

function cellText(v: Json): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return v;
  return stringifyJson(v);
}
