// The MCP tool result around the rows: its fields (content, structuredContent, isError, _meta)
// and its content items (text, resource, resource_link, anything else). Each is taken apart,
// what it holds goes to shapes.ts, and the result is put back together. Only what we can
// inspect is kept: unknown result fields are dropped, binary items (images, audio, blobs) are
// replaced by a notice.
import type { CellMasker, Row } from './cells.js';
import { isJsonObject, mayHoldRaw, parseJsonIfAny, stringifyJson, toJson, type Json } from './json.js';
import type { ShapeReader } from './shapes.js';

const WITHHELD_ITEM = (type: string) => `[bqwarden: ${type} content withheld: it cannot be inspected for sensitive data]`;

const NO_EXTRAS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

type Extras = Record<string, unknown>;
type ParsedRow = { kind: 'row'; row: Row; rest: Extras; raw: boolean };
type ParsedItem =
  | ParsedRow
  | { kind: 'json'; value: Json; rest: Extras; raw: boolean }
  | { kind: 'text'; text: string; rest: Extras }
  | { kind: 'resource'; resource: Record<string, unknown>; rest: Extras }
  | { kind: 'link'; item: Json }
  | { kind: 'withheld'; type: string };

/** A new result with every field masked; the input is not modified. */
export function maskEnvelope(result: Record<string, unknown>, cells: CellMasker, shapes: ShapeReader): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(result ?? {})) {
    if (k === 'content') out.content = content(v, cells, shapes);
    else if (k === 'structuredContent') out.structuredContent = v === null || v === undefined ? v : shapes.container(toJson(v), 0, 'structuredContent');
    else if (k === 'isError') out.isError = v === true;
    else if (k === '_meta') out._meta = cells.detectors.value(toJson(v), null);
    else cells.notes.add(`unknown result field '${k}' removed`);
  }
  return out;
}

function content(v: unknown, cells: CellMasker, shapes: ShapeReader): unknown[] {
  if (!Array.isArray(v)) {
    cells.notes.add('content was not an array: removed');
    return [];
  }
  // First pass: parse, so rows spread over items (MCP Toolbox) are checked as one result.
  // Toolbox answers a SELECT with no rows with an empty content list.
  if (v.length === 0) cells.countRows(0);
  const parsed = v.map((item) => parseItem(item, cells, shapes));
  const rowItems = parsed.filter((p): p is ParsedRow => p.kind === 'row');
  const rowMode = cells.objectRowsMismatch(
    rowItems.map((p) => p.row),
    'content rows',
  );
  if (rowItems.length > 0) cells.countRows(rowItems.length);
  return parsed.map((p) => {
    switch (p.kind) {
      case 'row':
        return { ...p.rest, type: 'text', text: stringifyJson(cells.objectRow(p.row, rowMode), p.raw) };
      case 'json':
        return { ...p.rest, type: 'text', text: stringifyJson(shapes.container(p.value, 0, 'content'), p.raw) };
      case 'text':
        return { ...p.rest, type: 'text', text: shapes.text(p.text) };
      case 'resource':
        return { ...p.rest, type: 'resource', resource: { ...p.resource, text: textOrJson(p.resource.text as string, shapes) } };
      case 'link':
        return cells.detectors.value(p.item, null);
      case 'withheld':
        cells.notes.add(`${p.type} content item withheld`);
        return { type: 'text', text: WITHHELD_ITEM(p.type) };
    }
  });
}

function parseItem(item: unknown, cells: CellMasker, shapes: ShapeReader): ParsedItem {
  if (!isJsonObject(item)) return { kind: 'withheld', type: 'malformed' };
  const { type } = item;
  const rest = itemExtras(item, cells);
  if (type === 'text' && typeof item.text === 'string') {
    const value = parseJsonIfAny(item.text);
    if (value === undefined) return { kind: 'text', text: item.text, rest };
    const raw = mayHoldRaw(item.text);
    if (isJsonObject(value) && shapes.isRowLike(value as Row)) return { kind: 'row', row: value as Row, rest, raw };
    return { kind: 'json', value, rest, raw };
  }
  if (type === 'resource' && isJsonObject(item.resource)) {
    const r = item.resource;
    if (typeof r.text === 'string' && r.blob === undefined) {
      const resource: Record<string, unknown> = {};
      for (const k of ['uri', 'mimeType', 'name', 'title']) {
        const field = r[k];
        if (typeof field === 'string') resource[k] = cells.detectors.string(field, null);
      }
      resource.text = r.text;
      return { kind: 'resource', resource, rest };
    }
    return { kind: 'withheld', type: 'resource blob' };
  }
  if (type === 'resource_link') return { kind: 'link', item: toJson(item) };
  return { kind: 'withheld', type: typeof type === 'string' ? type : 'unknown' };
}

/** annotations/_meta on an item: kept, run through the detectors. */
function itemExtras(item: Record<string, unknown>, cells: CellMasker): Extras {
  if (item.annotations === undefined && item._meta === undefined) return NO_EXTRAS;
  const rest: Extras = {};
  for (const k of ['annotations', '_meta']) if (item[k] !== undefined) rest[k] = cells.detectors.value(toJson(item[k]), null);
  return rest;
}

/** A resource's text: JSON if it parses, else a text table or free text. */
function textOrJson(text: string, shapes: ShapeReader): string {
  const value = parseJsonIfAny(text);
  if (value === undefined) return shapes.text(text);
  return stringifyJson(shapes.container(value, 0, 'resource'));
}
