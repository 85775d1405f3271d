// Applies a MaskPlan to an upstream MCP tool result before anything reaches the client: the
// result envelope and its content items, rows by name or position, and the per-cell decision
// (plan, fallback, clear). Detectors run in detect-pass.ts; upstream result shapes are read by
// src/upstreams/result-shapes.ts.
//
// Shapes handled: MCP Toolbox (one JSON row object per text item), a JSON array of rows in one
// text item, arrays of arrays (positional), BigQuery REST `{schema, rows:[{f:[{v}]}]}` (its
// wrapping and the upstreams' status lines are read by src/upstreams/result-shapes.ts),
// `structuredContent` (rows, or a wrapper object holding rows), markdown/CSV/TSV text tables,
// free text (errors, status lines), embedded resources with text. Anything we cannot map to
// columns while the query can return sensitive data is masked with the plan's fallback or
// withheld — never passed through on a guess.
import type { ColumnMask, MaskMethod, MaskPlan, MaskReport } from './types.js';
import type { MaskingOptions } from './config.js';
import { DetectorPass } from './detect-pass.js';
import { maskReport } from './report.js';
import { JsonSyntaxError, RawNumber, mayHoldRaw, parseJson, stringifyJson, type Json } from './json.js';
import { maskValue, pseudonymToken, setOwn, strictest } from './methods.js';
import { parseTextTable } from './text-tables.js';
import { NO_ROWS_TEXT, STATUS_TEXT, isRestRows, restColumnNames, rewrapRestValue, unwrapRestValue } from '../upstreams/result-shapes.js';

export type CallToolResultLike = Record<string, unknown>;

export interface MaskingOutcome {
  result: Record<string, unknown>;
  report: MaskReport;
}

export const WITHHELD_TEXT = '[bqwarden: upstream text withheld: the query can return sensitive columns and this text could not be mapped to them]';
export const WITHHELD_ITEM = (type: string) => `[bqwarden: ${type} content withheld: it cannot be inspected for sensitive data]`;

const MAX_DEPTH = 6;
const NO_EXTRAS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** For calls policy allowed without masking: nothing by lineage, detectors still on. */
export const DETECTORS_ONLY_PLAN: MaskPlan = Object.freeze({ columns: [], fallback: [], detectors: true }) as MaskPlan;

/** Pure and synchronous: returns a new result and the report; the input is never modified. */
export function applyMasking(result: CallToolResultLike, plan: MaskPlan, opts: MaskingOptions): MaskingOutcome {
  try {
    return new Masker(plan, opts).run(result);
  } catch (e) {
    // Fail closed: a result we could not mask (absurd nesting, a bug) is never released.
    const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return {
      result: { content: [{ type: 'text', text: MASKING_FAILED_TEXT }], isError: true },
      report: { maskedColumns: [], detectorHits: [], rows: null, notes: [`masking failed, result withheld: ${reason.slice(0, 200)}`] },
    };
  }
}

/**
 * Masks one piece of upstream text outside a result (an error message headed for the audit
 * event's error_message, a log line): withheld under a sensitive plan unless benign, else
 * detectors only — the same rule as unmapped text inside a result.
 */
export function maskText(text: string, plan: MaskPlan, opts: MaskingOptions): { text: string; report: MaskReport } {
  try {
    const m = new Masker(plan, opts);
    const out = m.text(text);
    return { text: out, report: m.finalReport() };
  } catch (e) {
    return { text: MASKING_FAILED_TEXT, report: { maskedColumns: [], detectorHits: [], rows: null, notes: [`masking failed: ${String(e).slice(0, 200)}`] } };
  }
}

/** Detectors only, over any JSON-like value (request params, log fields): a new value with matches replaced. */
export function redactDetected(value: unknown, opts: MaskingOptions): { value: unknown; detectorHits: MaskReport['detectorHits'] } {
  const m = new Masker({ columns: [], fallback: [], detectors: true }, opts);
  const out = m.detectOnly(fromUnknown(value));
  return { value: out, detectorHits: m.finalReport().detectorHits };
}

export const MASKING_FAILED_TEXT = '[bqwarden: result withheld: the gateway could not mask it safely]';

type Row = { [k: string]: Json };
type Mode = 'plan' | 'fallback';

class Masker {
  private readonly byName = new Map<string, ColumnMask[]>();
  private readonly byIndex = new Map<number, ColumnMask[]>();
  private readonly expectedNames: Set<string> | null;
  private readonly expectedCount: number | null;
  private readonly maxIndex: number;
  private readonly sensitive: boolean;
  private readonly fallbackMethod: MaskMethod | null;
  private readonly fallbackRule: { classification: string; ruleId: string } | null;
  private readonly detectors: DetectorPass;
  /** Output names policy shows in clear by classification: detectors do not second-guess them. */
  private readonly clearNames: Set<string>;

  private readonly notes = new Set<string>();
  private readonly fallbackColumns = new Set<string>();
  private rows: number | null = null;
  private readonly memo = new Map<string, Json>();

  constructor(
    private readonly plan: MaskPlan,
    private readonly opts: MaskingOptions,
  ) {
    for (const c of plan.columns) {
      push(this.byName, c.outputName.toLowerCase(), c);
      push(this.byIndex, c.outputIndex, c);
    }
    this.expectedNames = plan.outputColumns ? new Set(plan.outputColumns.map((c) => c.name.toLowerCase())) : null;
    this.expectedCount = plan.outputColumns ? plan.outputColumns.length : null;
    this.maxIndex = Math.max(-1, ...plan.columns.map((c) => c.outputIndex));
    this.sensitive = plan.columns.length > 0 || plan.fallback.length > 0;
    // The fallback must be at least as strict as anything the plan masks by name.
    this.fallbackMethod = strictest([...plan.fallback.map((f) => f.method), ...plan.columns.map((c) => c.method)]);
    const src = [...plan.fallback, ...plan.columns.map((c) => ({ classification: c.classification, method: c.method, ruleId: c.ruleId }))].find((f) => f.method === this.fallbackMethod);
    this.fallbackRule = src ? { classification: src.classification, ruleId: src.ruleId } : null;
    this.detectors = new DetectorPass(opts, plan.detectors);
    // Only a name that one output column carries: a duplicate key could hold another column's value.
    const counts = new Map<string, number>();
    for (const c of plan.outputColumns ?? []) counts.set(c.name.toLowerCase(), (counts.get(c.name.toLowerCase()) ?? 0) + 1);
    this.clearNames = new Set((plan.clearColumns ?? []).map((c) => c.name.toLowerCase()).filter((n) => counts.get(n) === 1 && !this.byName.has(n)));
  }

  run(result: CallToolResultLike): MaskingOutcome {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(result ?? {})) {
      if (k === 'content') out.content = this.content(v);
      else if (k === 'structuredContent') out.structuredContent = v === null || v === undefined ? v : this.container(fromUnknown(v), 0, 'structuredContent');
      else if (k === 'isError') out.isError = v === true;
      else if (k === '_meta') out._meta = this.detectors.value(fromUnknown(v), null);
      else this.notes.add(`unknown result field '${k}' removed`);
    }
    return { result: out, report: this.report() };
  }

  // ------------------------------------------------------------------ content items

  private content(v: unknown): unknown[] {
    if (!Array.isArray(v)) {
      this.notes.add('content was not an array: removed');
      return [];
    }
    // First pass: parse, so rows spread over items (MCP Toolbox) are checked as one result.
    // Toolbox answers a SELECT with no rows with an empty content list.
    if (v.length === 0) this.rows = this.rows ?? 0;
    const parsed = v.map((item) => this.parseItem(item));
    const rowItems = parsed.filter((p): p is ParsedRow => p.kind === 'row');
    const rowMode: Mode = this.objectRowsMismatch(
      rowItems.map((p) => p.row),
      'content rows',
    );
    if (rowItems.length > 0) this.rows = (this.rows ?? 0) + rowItems.length;
    return parsed.map((p) => {
      switch (p.kind) {
        case 'row':
          return { ...p.rest, type: 'text', text: stringifyJson(this.objectRow(p.row, rowMode), p.raw) };
        case 'json':
          return { ...p.rest, type: 'text', text: stringifyJson(this.container(p.value, 0, 'content'), p.raw) };
        case 'text':
          return { ...p.rest, type: 'text', text: this.text(p.text) };
        case 'resource':
          return { ...p.rest, type: 'resource', resource: { ...p.resource, text: this.textOrJson(p.resource.text as string) } };
        case 'link':
          return this.detectors.value(p.item, null);
        case 'withheld':
          this.notes.add(`${p.type} content item withheld`);
          return { type: 'text', text: WITHHELD_ITEM(p.type) };
      }
    });
  }

  private parseItem(item: unknown): ParsedItem {
    if (!isPlainObject(item)) return { kind: 'withheld', type: 'malformed' };
    const { type } = item;
    const rest = this.itemExtras(item);
    if (type === 'text' && typeof item.text === 'string') {
      const value = tryJson(item.text);
      if (value === undefined) return { kind: 'text', text: item.text, rest };
      const raw = mayHoldRaw(item.text);
      if (isPlainObject(value) && this.isRowLike(value as Row)) return { kind: 'row', row: value as Row, rest, raw };
      return { kind: 'json', value, rest, raw };
    }
    if (type === 'resource' && isPlainObject(item.resource)) {
      const r = item.resource as Record<string, unknown>;
      if (typeof r.text === 'string' && r.blob === undefined) {
        const resource: Record<string, unknown> = {};
        for (const k of ['uri', 'mimeType', 'name', 'title']) if (typeof r[k] === 'string') resource[k] = this.detectors.string(r[k] as string, null);
        resource.text = r.text;
        return { kind: 'resource', resource, rest };
      }
      return { kind: 'withheld', type: 'resource blob' };
    }
    if (type === 'resource_link') return { kind: 'link', item: fromUnknown(item) };
    return { kind: 'withheld', type: typeof type === 'string' ? type : 'unknown' };
  }

  /** annotations/_meta on an item: kept, run through the detectors. */
  private itemExtras(item: Record<string, unknown>): Record<string, unknown> {
    if (item.annotations === undefined && item._meta === undefined) return NO_EXTRAS;
    const rest: Record<string, unknown> = {};
    for (const k of ['annotations', '_meta']) if (item[k] !== undefined) rest[k] = this.detectors.value(fromUnknown(item[k]), null);
    return rest;
  }

  /** A text item or resource text: JSON if it parses, else a text table or free text. */
  private textOrJson(text: string): string {
    const value = tryJson(text);
    if (value === undefined) return this.text(text);
    return stringifyJson(this.container(value, 0, 'resource'));
  }

  // ------------------------------------------------------------------ structure

  /** Rows, a wrapper holding rows, or a lone value. */
  private container(v: Json, depth: number, where: string): Json {
    if (depth > MAX_DEPTH) {
      this.notes.add(`${where}: nested deeper than ${MAX_DEPTH} levels: masked with the fallback`);
      return this.fallbackValue(v, '(nested)');
    }
    if (Array.isArray(v)) return this.rowset(v, where);
    if (isPlainObject(v)) {
      const o = v as Row;
      if (this.isRowLike(o)) {
        const mode = this.objectRowsMismatch([o], where);
        this.rows = (this.rows ?? 0) + 1;
        return this.objectRow(o, mode);
      }
      if (isRestRows(o)) return this.restResult(o);
      const out: Row = {};
      for (const [k, x] of Object.entries(o)) {
        const key = this.detectors.key(k);
        if (Array.isArray(x) || isPlainObject(x)) setOwn(out, key, this.container(x, depth + 1, `${where}.${k}`));
        // A wrapper's own text fields are not columns we can map: under a sensitive plan they
        // follow the unmapped-text rule (a mis-named row could otherwise pass as a "wrapper").
        else if (typeof x === 'string' && this.sensitive) setOwn(out, key, this.text(x));
        else setOwn(out, key, this.detectors.value(x, k));
      }
      return out;
    }
    if (typeof v === 'string') return this.text(v);
    // A bare scalar where rows were expected: one value of unknown origin.
    if (v === null || !this.sensitive) return this.detectors.value(v, null);
    this.notes.add(`${where}: a bare value could not be mapped to a column: masked with the fallback`);
    return this.fallbackValue(v, '(value)');
  }

  private rowset(arr: Json[], where: string): Json {
    if (arr.length === 0) {
      this.rows = this.rows ?? 0;
      return [];
    }
    if (arr.every((r) => isPlainObject(r))) {
      const rows = arr as Row[];
      const mode = this.objectRowsMismatch(rows, where);
      this.rows = (this.rows ?? 0) + rows.length;
      return rows.map((r) => this.objectRow(r, mode));
    }
    if (arr.every((r) => Array.isArray(r))) {
      const rows = arr as Json[][];
      const mode = this.positionalMismatch(rows, where);
      this.rows = (this.rows ?? 0) + rows.length;
      return rows.map((r) => r.map((cell, i) => this.cell(cell, this.byIndex.get(i), mode, `#${i}`, null)));
    }
    // A list of scalars (or mixed): values without column names.
    if (this.sensitive) {
      this.notes.add(`${where}: array of values without column names: masked with the fallback`);
      return arr.map((x) => this.fallbackValue(x, '(value)'));
    }
    return arr.map((x) => (Array.isArray(x) || isPlainObject(x) ? this.container(x, 1, where) : this.detectors.value(x, null)));
  }

  /** BigQuery REST shape: rows[i].f[j].v is column j of schema.fields. */
  private restResult(o: Row): Json {
    const names = restColumnNames(o);
    const colMasks = this.headerMasks(
      names,
      (o.rows as Json[]).map((r) => ((r as Row).f as Json[]).length),
      'rows',
    );
    const out: Row = {};
    for (const [k, x] of Object.entries(o)) {
      if (k === 'rows') {
        this.rows = (this.rows ?? 0) + (x as Json[]).length;
        setOwn(
          out,
          k,
          (x as Row[]).map((r) => {
            const row: Row = {};
            for (const [rk, rv] of Object.entries(r)) {
              if (rk !== 'f') setOwn(row, rk, this.detectors.value(rv, null));
              else
                setOwn(
                  row,
                  'f',
                  (rv as Json[]).map((cell, j) => this.restCell(cell, colMasks.masks[j], colMasks.mode, names?.[j] || `#${j}`, names?.[j] ?? null)),
                );
            }
            return row;
          }),
        );
      } else setOwn(out, k, this.detectors.value(x, k));
    }
    return out;
  }

  /**
   * A REST cell is {v: value}; a RECORD value is {f: [cells]}, a REPEATED value [cells]. The
   * f/v wrapping is protocol, not data: mask what it wraps and keep the wrapping.
   */
  private restCell(cell: Json, masks: ColumnMask[] | undefined, mode: Mode, column: string, keyHint: string | null): Json {
    if (!isPlainObject(cell) || !('v' in cell)) return this.cell(cell, masks, mode, column, keyHint);
    const v = (cell as Row).v;
    return { v: rewrapRestValue(v, this.cell(unwrapRestValue(v) as Json, masks, mode, column, keyHint)) as Json };
  }

  // ------------------------------------------------------------------ rows

  /** Does this object hold columns (a row) rather than wrap rows? */
  private isRowLike(o: Row): boolean {
    const keys = Object.keys(o);
    if (keys.length === 0) return true;
    for (const k of keys) {
      const lk = k.toLowerCase();
      if (this.byName.has(lk) || this.expectedNames?.has(lk)) return true;
    }
    // No known column name: a row of unforeseen columns, unless it visibly wraps rows.
    return !keys.some((k) => {
      const x = o[k];
      return (Array.isArray(x) && x.length > 0 && x.every((e) => isPlainObject(e) || Array.isArray(e))) || (k === 'rows' && Array.isArray(x));
    });
  }

  private objectRowsMismatch(rows: Row[], where: string): Mode {
    // Rows of one result almost always share their keys: each distinct key list is judged once.
    const missing = new Set<string>();
    const unknown = new Set<string>();
    const seen = new Set<string>();
    for (const r of rows) {
      const keys = Object.keys(r);
      const signature = keys.join('\u0000');
      if (seen.has(signature)) continue;
      seen.add(signature);
      const lower = new Set(keys.map((k) => k.toLowerCase()));
      // A sensitive column the plan names but the row lacks means the engine named it
      // differently from the analysis (`ssn || ''`): its value is under some other key. This
      // check needs no outputColumns, so it also protects plans that do not carry them.
      for (const name of this.byName.keys()) if (!lower.has(name)) missing.add(name);
      if (this.expectedNames) for (const k of keys) if (!this.expectedNames.has(k.toLowerCase()) && !this.byName.has(k.toLowerCase())) unknown.add(k);
    }
    if (missing.size > 0) {
      const list = [...missing]
        .slice(0, 5)
        .map((k) => `'${k}'`)
        .join(', ');
      this.notes.add(`${where}: masked column(s) ${list} missing from the result: result masked with the fallback`);
      return 'fallback';
    }
    if (unknown.size === 0) return 'plan';
    const list = [...unknown]
      .slice(0, 5)
      .map((k) => `'${k}'`)
      .join(', ');
    this.notes.add(`${where}: column(s) ${list} not in the analysed output: result masked with the fallback`);
    return 'fallback';
  }

  private positionalMismatch(rows: Json[][], where: string): Mode {
    for (const r of rows) {
      if (this.expectedCount !== null ? r.length !== this.expectedCount : r.length <= this.maxIndex) {
        this.notes.add(`${where}: row has ${r.length} values, analysis expected ${this.expectedCount ?? `more than ${this.maxIndex}`}: result masked with the fallback`);
        return 'fallback';
      }
    }
    return 'plan';
  }

  /** Column masks by position for a header of names (text tables, REST schema). */
  private headerMasks(names: string[] | null, widths: number[], where: string): { masks: (ColumnMask[] | undefined)[]; mode: Mode } {
    if (!names) {
      const mode = this.positionalMismatch(
        widths.map((w) => new Array<Json>(w).fill(null)),
        where,
      );
      return { masks: Array.from({ length: Math.max(0, ...widths) }, (_, i) => this.byIndex.get(i)), mode };
    }
    const asRow: Row = {};
    for (const n of names) setOwn(asRow, n, null);
    let mode = this.objectRowsMismatch([asRow], where);
    if (widths.some((w) => w !== names.length)) {
      this.notes.add(`${where}: row width differs from the header: result masked with the fallback`);
      mode = 'fallback';
    }
    return { masks: names.map((n) => this.byName.get(n.toLowerCase())), mode };
  }

  private objectRow(row: Row, mode: Mode): Row {
    const out: Row = {};
    for (const [k, v] of Object.entries(row)) setOwn(out, this.detectors.key(k), this.cell(v, this.byName.get(k.toLowerCase()), mode, k, k));
    return out;
  }

  /** One cell: by plan (strictest of every column sharing the name/position), fallback, or detectors. */
  private cell(v: Json, masks: ColumnMask[] | undefined, mode: Mode, column: string, keyHint: string | null): Json {
    const methods = masks ? masks.map((m) => m.method) : [];
    if (mode === 'fallback' && this.fallbackMethod) {
      if (!masks) this.fallbackColumns.add(column);
      methods.push(this.fallbackMethod);
    }
    const method = strictest(methods);
    if (!method) return mode === 'plan' && keyHint !== null && this.clearNames.has(keyHint.toLowerCase()) ? v : this.detectors.value(v, keyHint);
    // FPE is not idempotent: a value the engine (or a row handle) already masked stays as it is.
    if (method === 'pseudonym_fpe' && mode === 'plan' && masks?.every((m) => m.engine)) return v;
    if ((method === 'pseudonym' || method === 'pseudonym_fpe') && (typeof v === 'string' || typeof v === 'number')) {
      // Keyed methods cost an HMAC / ten AES blocks; values repeat within a result (joins).
      const memoKey = method + '\u0000' + typeof v + '\u0000' + v;
      let out = this.memo.get(memoKey);
      if (out === undefined) this.memo.set(memoKey, (out = maskValue(method, v, this.opts.key)));
      return out;
    }
    return maskValue(method, v, this.opts.key, this.maskedKey);
  }

  private fallbackValue(v: Json, column: string): Json {
    if (!this.fallbackMethod) return this.detectors.value(v, null);
    this.fallbackColumns.add(column);
    return maskValue(this.fallbackMethod, v, this.opts.key, this.maskedKey);
  }

  // ------------------------------------------------------------------ text

  finalReport(): MaskReport {
    return this.report();
  }

  detectOnly(v: Json): Json {
    return this.detectors.value(v, null);
  }

  /** Free text or a text table. */
  text(s: string): string {
    if (STATUS_TEXT.some((re) => re.test(s.trim()))) {
      if (NO_ROWS_TEXT.test(s.trim())) this.rows = this.rows ?? 0;
      return this.detectors.string(s, null);
    }
    if (this.sensitive) {
      const table = parseTextTable(s);
      // A header we do not recognise may not be a header at all (an error message with commas
      // and newlines parses as CSV): its "names" could be data, so it is not a table to us.
      if (table && table.header.every((h) => this.byName.has(h.toLowerCase()) || this.expectedNames?.has(h.toLowerCase()))) {
        const { masks, mode } = this.headerMasks(
          table.header,
          table.rows.map((r) => r.length),
          'text table',
        );
        this.rows = (this.rows ?? 0) + table.rows.length;
        // Printed tables spell NULL as NULL: it stays NULL under every method.
        return table.render(table.rows.map((r) => r.map((c, j) => cellText(this.cell(c === 'NULL' ? null : c, masks[j], mode, table.header[j], table.header[j])))));
      }
      if (this.opts.unmappedText === 'withhold') {
        this.notes.add('text that could not be mapped to columns was withheld');
        return WITHHELD_TEXT;
      }
    }
    return this.detectors.string(s, null);
  }

  // ------------------------------------------------------------------ masked keys

  /**
   * Keys inside a masked value are tokenised: a JSON value's keys can be data
   * (`json_group_object(full_name, balance)`), and the response does not say whether an object
   * is a STRUCT (keys are schema) or JSON (keys may be anything). Tokens keep the structure
   * navigable and consistent across rows.
   */
  private readonly maskedKey = (k: string): string => pseudonymToken(this.opts.key, k);

  // ------------------------------------------------------------------ report

  private report(): MaskReport {
    return maskReport({
      plan: this.plan,
      byName: this.byName,
      fallback: this.fallbackMethod && this.fallbackRule ? { method: this.fallbackMethod, ...this.fallbackRule } : null,
      fallbackColumns: this.fallbackColumns,
      detectorHits: this.detectors.report(),
      rows: this.rows,
      notes: this.notes,
    });
  }
}

type ParsedRow = { kind: 'row'; row: Row; rest: Record<string, unknown>; raw: boolean };
type ParsedItem =
  | ParsedRow
  | { kind: 'json'; value: Json; rest: Record<string, unknown>; raw: boolean }
  | { kind: 'text'; text: string; rest: Record<string, unknown> }
  | { kind: 'resource'; resource: Record<string, unknown>; rest: Record<string, unknown> }
  | { kind: 'link'; item: Json }
  | { kind: 'withheld'; type: string };

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof RawNumber);
}

function tryJson(text: string): Json | undefined {
  const t = text.trimStart();
  if (t === '' || !'{["-0123456789tfn'.includes(t[0])) return undefined;
  try {
    return parseJson(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) return undefined;
    throw e;
  }
}

/** Values handed to us as objects (structuredContent, _meta) go through JSON: no functions, no prototypes. */
function fromUnknown(v: unknown): Json {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))) as Json;
}

function cellText(v: Json): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return v;
  return stringifyJson(v);
}
