import type { ColumnMask, MaskMethod, MaskPlan } from '../../src/masking/types.js';
import { resolveMaskingOptions, type MaskingOptions } from '../../src/masking/config.js';
import { UPSTREAM_SHAPES } from '../../src/upstreams/result-shapes.js';
import { at, first } from '../helpers/present.js';

export const KEY_A = 'test-key-A-0123456789abcdefghijklmnop';
export const KEY_B = 'test-key-B-0123456789abcdefghijklmnop';

export function options(over: Record<string, unknown> = {}, key = KEY_A): MaskingOptions {
  return resolveMaskingOptions({ pseudonym: { keyId: 'k', key }, ...over }, UPSTREAM_SHAPES);
}

export function col(outputIndex: number, outputName: string, method: MaskMethod, classification = outputName, ruleId = `rule.${outputName}`): ColumnMask {
  return { outputIndex, outputName, classification, method, ruleId, sources: [`demo.main.customers.${outputName}`] };
}

export function plan(columns: ColumnMask[], names: string[] | null, extra: Partial<MaskPlan> = {}): MaskPlan {
  const strict = columns.length ? [{ classification: 'fallback', method: 'redact' as MaskMethod, ruleId: 'rule.fallback' }] : [];
  return {
    columns,
    fallback: strict,
    detectors: true,
    ...(names ? { outputColumns: names.map((name, index) => ({ index, name })) } : {}),
    ...extra,
  };
}

/** MCP Toolbox shape: one JSON object per text item. */
export function toolbox(rows: Record<string, unknown>[]): { content: { type: 'text'; text: string }[] } {
  return { content: rows.map((r) => ({ type: 'text' as const, text: JSON.stringify(r) })) };
}

export function rowsOf(result: Record<string, unknown>): Record<string, unknown>[] {
  return (result.content as { text: string }[]).map((c) => JSON.parse(c.text));
}

/** The first row of a Toolbox-shaped result; fails naming it when the result has none. */
export function firstRow(result: Record<string, unknown>): Record<string, unknown> {
  return first(rowsOf(result), 'row of the masked result');
}

/** The text of content item i of a result; fails naming it when there is no such item. */
export function textAt(result: Record<string, unknown>, i = 0): string {
  return at(result.content as { text: string }[], i, 'content item of the result').text;
}
