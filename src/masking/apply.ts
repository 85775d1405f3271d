// Applies a MaskPlan to an upstream MCP tool result before anything reaches the client. One
// pass is three parts sharing one CellMasker (which keeps the report): envelope.ts takes the
// MCP result and its content items apart, shapes.ts reads the rows in them (upstream-specific
// shapes through MaskingOptions.shapes), cells.ts decides each cell; detect-pass.ts runs the
// detectors and report.ts builds the report. Pure and synchronous: the input is never modified.
import { CellMasker } from './cells.js';
import type { MaskingOptions } from './config.js';
import { maskEnvelope } from './envelope.js';
import { toJson } from './json.js';
import { ShapeReader } from './shapes.js';
import type { MaskPlan, MaskReport } from './types.js';

export { WITHHELD_TEXT } from './shapes.js';

export type CallToolResultLike = Record<string, unknown>;

export interface MaskingOutcome {
  result: Record<string, unknown>;
  report: MaskReport;
}

export const MASKING_FAILED_TEXT = '[bqwarden: result withheld: the gateway could not mask it safely]';

/** For calls policy allowed without masking: nothing by lineage, detectors still on. */
export const DETECTORS_ONLY_PLAN: MaskPlan = Object.freeze({ columns: [], fallback: [], detectors: true }) as MaskPlan;

function pass(plan: MaskPlan, opts: MaskingOptions): { cells: CellMasker; shapes: ShapeReader } {
  const cells = new CellMasker(plan, opts);
  return { cells, shapes: new ShapeReader(cells, opts) };
}

/** A new result and the report. */
export function applyMasking(result: CallToolResultLike, plan: MaskPlan, opts: MaskingOptions): MaskingOutcome {
  try {
    const { cells, shapes } = pass(plan, opts);
    const out = maskEnvelope(result, cells, shapes);
    return { result: out, report: cells.report() };
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
    const { cells, shapes } = pass(plan, opts);
    const out = shapes.text(text);
    return { text: out, report: cells.report() };
  } catch (e) {
    return { text: MASKING_FAILED_TEXT, report: { maskedColumns: [], detectorHits: [], rows: null, notes: [`masking failed: ${String(e).slice(0, 200)}`] } };
  }
}

/** Detectors only, over any JSON-like value (request params, log fields): a new value with matches replaced. */
export function redactDetected(value: unknown, opts: MaskingOptions): { value: unknown; detectorHits: MaskReport['detectorHits'] } {
  const cells = new CellMasker({ columns: [], fallback: [], detectors: true }, opts);
  const out = cells.detectors.value(toJson(value), null);
  return { value: out, detectorHits: cells.report().detectorHits };
}
