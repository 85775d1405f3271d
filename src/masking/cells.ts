// The per-cell decision of one masking pass, and what the pass remembers for its report. A
// result's columns are first checked against the analysed output: when they do not match (a
// name the analysis did not foresee, a masked column missing, a row of another width) the
// engine named or placed something differently from our model of the query, so every cell
// also takes the fallback. Then each cell gets the strictest method of the columns sharing its
// name or position, or the fallback, or is left clear by policy, or goes to the detectors.
import type { MaskingOptions } from './config.js';
import { DetectorPass } from './detect-pass.js';
import type { Json } from './json.js';
import { maskValue, pseudonymToken, setOwn, strictest } from './methods.js';
import { maskReport } from './report.js';
import type { ColumnMask, MaskMethod, MaskPlan, MaskReport } from './types.js';

export type Row = { [k: string]: Json };
/** 'plan': the result's columns match the analysis; 'fallback': they do not, so every cell also takes the fallback. */
export type Mode = 'plan' | 'fallback';

export class CellMasker {
  readonly byName = new Map<string, ColumnMask[]>();
  readonly byIndex = new Map<number, ColumnMask[]>();
  private readonly expectedNames: Set<string> | null;
  private readonly expectedCount: number | null;
  private readonly maxIndex: number;
  /** The plan masks something: values we cannot map to a column are not released on a guess. */
  readonly sensitive: boolean;
  private readonly fallbackMethod: MaskMethod | null;
  private readonly fallbackRule: { classification: string; ruleId: string } | null;
  readonly detectors: DetectorPass;
  /** Output names policy shows in clear by classification: detectors do not second-guess them. */
  private readonly clearNames: Set<string>;

  /** Why the fallback was used, what was withheld: reported to the caller and the audit. */
  readonly notes = new Set<string>();
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

  /** A column name the plan masks or the analysis expects (lower case). */
  knows(lowerName: string): boolean {
    return this.byName.has(lowerName) || this.expectedNames?.has(lowerName) === true;
  }

  /** Rows seen; 0 still tells "no rows" apart from "no row count" (free text). */
  countRows(n: number): void {
    this.rows = (this.rows ?? 0) + n;
  }

  // ------------------------------------------------------------------ does the result match the analysis?

  objectRowsMismatch(rows: Row[], where: string): Mode {
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
      this.notes.add(`${where}: masked column(s) ${quoted(missing)} missing from the result: result masked with the fallback`);
      return 'fallback';
    }
    if (unknown.size === 0) return 'plan';
    this.notes.add(`${where}: column(s) ${quoted(unknown)} not in the analysed output: result masked with the fallback`);
    return 'fallback';
  }

  positionalMismatch(rows: Json[][], where: string): Mode {
    for (const r of rows) {
      if (this.expectedCount !== null ? r.length !== this.expectedCount : r.length <= this.maxIndex) {
        this.notes.add(`${where}: row has ${r.length} values, analysis expected ${this.expectedCount ?? `more than ${this.maxIndex}`}: result masked with the fallback`);
        return 'fallback';
      }
    }
    return 'plan';
  }

  /** Column masks by position for a header of names (text tables, REST schema). */
  headerMasks(names: string[] | null, widths: number[], where: string): { masks: (ColumnMask[] | undefined)[]; mode: Mode } {
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

  // ------------------------------------------------------------------ cells

  objectRow(row: Row, mode: Mode): Row {
    const out: Row = {};
    for (const [k, v] of Object.entries(row)) setOwn(out, this.detectors.key(k), this.cell(v, this.byName.get(k.toLowerCase()), mode, k, k));
    return out;
  }

  /** One cell: by plan (strictest of every column sharing the name/position), fallback, or detectors. */
  cell(v: Json, masks: ColumnMask[] | undefined, mode: Mode, column: string, keyHint: string | null): Json {
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

  /** A value no column can be named for (too deep, a bare scalar): the fallback, or the detectors when the plan has none. */
  fallbackValue(v: Json, column: string): Json {
    if (!this.fallbackMethod) return this.detectors.value(v, null);
    this.fallbackColumns.add(column);
    return maskValue(this.fallbackMethod, v, this.opts.key, this.maskedKey);
  }

  /**
   * Keys inside a masked value are tokenised: a JSON value's keys can be data
   * (`json_group_object(full_name, balance)`), and the response does not say whether an object
   * is a STRUCT (keys are schema) or JSON (keys may be anything). Tokens keep the structure
   * navigable and consistent across rows.
   */
  private readonly maskedKey = (k: string): string => pseudonymToken(this.opts.key, k);

  report(): MaskReport {
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

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}

function quoted(names: Set<string>): string {
  return [...names]
    .slice(0, 5)
    .map((k) => `'${k}'`)
    .join(', ');
}
