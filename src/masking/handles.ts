// Row handles: where the engine cannot compute a method (a keyed pseudonym in SQLite, which has
// no HMAC), the masking projection gives the query an opaque `@bqw:<nonce>:<table>:<column>:<row>@`
// instead of the value. Whatever the query does with it (compare, group, sort, concatenate) it
// only learns the row, never the value. After the query the gateway looks the rows up itself and
// replaces each handle in the result with the masked value of that row.
import { parseJson, stringifyJson, type Json } from './json.js';
import type { HandlePlan, HandleTable, MaskMethod } from './types.js';

/** Runs one of the gateway's own lookup queries on the upstream; rows as JSON text objects. */
export type LookupRunner = (sql: string) => Promise<string[]>;

export type ValueMasker = (method: MaskMethod, value: Json) => Json;

const LOOKUP_CHUNK = 500;

function handleRe(nonce: string): RegExp {
  return new RegExp(`@bqw:${nonce}:(\\d+):(\\d+):(-?\\d+)@`, 'g');
}

/** Every text the result carries (content items, structured content), where handles can be. */
function texts(result: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const c of (result.content as { text?: unknown; resource?: { text?: unknown } }[] | undefined) ?? []) {
    if (typeof c?.text === 'string') out.push(c.text);
    if (typeof c?.resource?.text === 'string') out.push(c.resource.text);
  }
  if (result.structuredContent !== undefined) out.push(JSON.stringify(result.structuredContent));
  return out;
}

function lookupSql(t: HandleTable, rows: string[]): string {
  const cols = t.columns.map((c, i) => `"${c.column.replace(/"/g, '""')}" AS "c${i}"`).join(', ');
  return `SELECT ${t.rowRef} AS "r", ${cols} FROM ${t.source} WHERE ${t.rowRef} IN (${rows.join(', ')})`;
}

export interface HandleOutcome {
  result: Record<string, unknown>;
  /** Distinct handles replaced. */
  replaced: number;
  lookups: number;
}

/**
 * Replaces every handle of `plan` in `result`. A handle whose row cannot be found or is
 * ambiguous becomes the redaction text; a lookup that fails throws (the caller withholds the
 * whole result: fail closed).
 */
export async function resolveHandles(result: Record<string, unknown>, plan: HandlePlan, run: LookupRunner, mask: ValueMasker): Promise<HandleOutcome> {
  // By table index: the table the plan names for it, and the row references seen.
  const wanted = new Map<number, { table: HandleTable; rows: Set<string> }>();
  const re = handleRe(plan.nonce);
  for (const text of texts(result)) {
    for (const m of text.matchAll(re)) {
      const t = Number(m[1]);
      const table = plan.tables[t];
      if (!table) continue;
      let entry = wanted.get(t);
      if (!entry) wanted.set(t, (entry = { table, rows: new Set() }));
      entry.rows.add(m[3]!); // group 3 is mandatory
    }
  }
  if (wanted.size === 0) return { result, replaced: 0, lookups: 0 };
  const values = new Map<string, string>();
  let lookups = 0;
  for (const [ti, { table, rows: rowSet }] of wanted) {
    const rows = [...rowSet];
    const seen = new Map<string, (Json | undefined)[]>();
    const ambiguous = new Set<string>();
    for (let i = 0; i < rows.length; i += LOOKUP_CHUNK) {
      lookups++;
      for (const text of await run(lookupSql(table, rows.slice(i, i + LOOKUP_CHUNK)))) {
        const row = parseJson(text) as Record<string, Json>;
        const r = String(row.r);
        if (seen.has(r)) ambiguous.add(r);
        seen.set(
          r,
          table.columns.map((_, ci) => row[`c${ci}`]),
        );
      }
    }
    for (const r of rows) {
      const got = ambiguous.has(r) ? undefined : seen.get(r);
      table.columns.forEach((c, ci) => {
        const clear = got?.[ci];
        const masked: Json = clear === undefined ? 'XXXXX' : mask(c.method, clear);
        values.set(`@bqw:${plan.nonce}:${ti}:${c.index}:${r}@`, masked === null ? 'XXXXX' : typeof masked === 'string' ? masked : stringifyJson(masked));
      });
    }
  }
  const replace = (text: string, json: boolean) =>
    text.replace(re, (h) => {
      const v = values.get(h);
      // A handle of a column the plan does not hold: never pass a guess.
      const out = v ?? 'XXXXX';
      return json ? JSON.stringify(out).slice(1, -1) : out;
    });
  const isJson = (s: string) => /^\s*[[{"]/.test(s);
  const content = ((result.content as Record<string, unknown>[] | undefined) ?? []).map((c) => {
    const next = { ...c };
    if (typeof c.text === 'string') next.text = replace(c.text, isJson(c.text));
    const res = c.resource as { text?: unknown } | undefined;
    if (res && typeof res.text === 'string') next.resource = { ...res, text: replace(res.text, isJson(res.text)) };
    return next;
  });
  const out: Record<string, unknown> = { ...result, content };
  if (result.structuredContent !== undefined) out.structuredContent = JSON.parse(replace(JSON.stringify(result.structuredContent), true));
  return { result: out, replaced: values.size, lookups };
}
