// Masking methods as SQL the engine computes, so every clause of a query (WHERE, JOIN, GROUP BY,
// ORDER BY, aggregates, windows) only ever sees the masked value. The query rewriter
// (src/sql/rewrite.ts) puts these expressions into the projection that replaces each table.
//
// Each method is NULL-preserving (NULL stays NULL, so `IS NULL` counts stay true) and, where the
// method says so, format-preserving (last four, e-mail domain, year of birth), so ordinary
// analytics keep working on the masked values.
import type { Dialect } from '../sql/types.js';
import type { MaskMethod } from './types.js';

/** What a masked value reads as when nothing of it may be shown: never a plausible real value. */
const MASKED_TEXT = 'XXXXX';

/**
 * How the engine gets a column:
 * - `expr`: the masked value is computed in the engine by `sql`;
 * - `handle`: the engine sees an opaque row handle instead of the value (it cannot compute the
 *   method itself, e.g. a keyed pseudonym in SQLite, which has no HMAC); the gateway replaces
 *   each handle in the result with the masked value of that row after the query;
 * - `narrow`: the engine cannot compute the method and has no row handle (BigQuery without a
 *   keyset for pseudonyms, FPE): the clear value reaches the query, and policy allows only direct
 *   output of the column (docs/masking.md, "Limits").
 */
export type EngineForm = { kind: 'expr'; sql: string } | { kind: 'handle'; sql: string } | { kind: 'narrow' };

export interface EngineColumn {
  /** Column reference as SQL (already quoted). */
  ref: string;
  /** Catalog type (STRING, INTEGER, DATE, TIMESTAMP, INT64, ARRAY<…>, STRUCT<…> …). */
  type: string;
}

interface HandleSpec {
  /** Per-request prefix, derived from the request's SQL (so equal requests agree). */
  nonce: string;
  /** The table's place in the request's handle plan (or a placeholder filled in per request). */
  table: number | string;
  column: number;
  /** SQL for the row's identity inside the projection (SQLite: rowid). */
  rowRef: string;
}

/** `@bqw:<nonce>:<table>:<column>:<row>@` — see handles.ts for the reader. */
function handlePrefix(h: Pick<HandleSpec, 'nonce' | 'table' | 'column'>): string {
  return `@bqw:${h.nonce}:${h.table}:${h.column}:`;
}

const str = (s: string) => `'${s.replace(/'/g, "''")}'`;

function isTimestampType(type: string): boolean {
  return /^(TIMESTAMP|DATETIME)/i.test(type.trim());
}

function sqliteForm(method: MaskMethod, c: EngineColumn, handle: HandleSpec | null): EngineForm {
  const t = `CAST(${c.ref} AS TEXT)`;
  const keepNull = (expr: string) => `CASE WHEN ${c.ref} IS NULL THEN NULL ELSE ${expr} END`;
  switch (method) {
    case 'nullify':
      return { kind: 'expr', sql: 'NULL' };
    case 'redact':
      return { kind: 'expr', sql: keepNull(str(MASKED_TEXT)) };
    case 'last4':
      return { kind: 'expr', sql: `CASE WHEN ${c.ref} IS NULL THEN NULL WHEN length(${t}) > 4 THEN ${str(MASKED_TEXT)} || substr(${t}, -4) ELSE ${str(MASKED_TEXT)} END` };
    case 'first4':
      return { kind: 'expr', sql: `CASE WHEN ${c.ref} IS NULL THEN NULL WHEN length(${t}) > 4 THEN substr(${t}, 1, 4) || ${str(MASKED_TEXT)} ELSE ${str(MASKED_TEXT)} END` };
    case 'email_domain': {
      // One @ with something before it: the domain is everything after it. Anything else shows nothing.
      const at = `instr(${t}, '@')`;
      return {
        kind: 'expr',
        sql: `CASE WHEN ${c.ref} IS NULL THEN NULL WHEN ${at} > 1 AND instr(substr(${t}, ${at} + 1), '@') = 0 AND length(${t}) > ${at} THEN ${str(MASKED_TEXT)} || substr(${t}, ${at}) ELSE ${str(MASKED_TEXT)} END`,
      };
    }
    case 'year_only': {
      // Only text that starts like an ISO date keeps its year (date() would also accept 'now' and
      // Julian day numbers); everything else becomes NULL, as DATE_YEAR_MASK does for non-dates.
      const rest = isTimestampType(c.type) ? "'-01-01T00:00:00Z'" : "'-01-01'";
      return {
        kind: 'expr',
        sql: `CASE WHEN ${t} GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]*' THEN substr(${t}, 1, 4) || ${rest} ELSE NULL END`,
      };
    }
    case 'sha256':
    case 'pseudonym':
    case 'pseudonym_fpe':
      // SQLite has no keyed hash (and no sha256 without an extension): a row handle instead.
      if (!handle) return { kind: 'narrow' };
      return { kind: 'handle', sql: keepNull(`${str(handlePrefix(handle))} || ${handle.rowRef} || '@'`) };
  }
}

/** BigQuery keyset for in-engine pseudonyms: a Cloud KMS-wrapped Tink keyset (docs/masking.md). */
export interface BigQueryKeyset {
  kmsKeyUri: string;
  /** The wrapped keyset, base64. Not a key: it is useless without decrypt rights on kmsKeyUri. */
  wrappedKeysetBase64: string;
}

function bigqueryForm(method: MaskMethod, c: EngineColumn, keyset: BigQueryKeyset | null): EngineForm {
  const type = c.type.trim().toUpperCase();
  const complex = /^(ARRAY|STRUCT|RECORD|JSON)/.test(type);
  const s = type === 'STRING' ? c.ref : `CAST(${c.ref} AS STRING)`;
  const sha = `TO_HEX(SHA256(${s}))`;
  // A masked STRUCT, ARRAY or JSON value has no meaningful partial form: nothing of it is shown.
  // ARRAYs cannot be NULL in BigQuery (an empty array is their NULL).
  const none = type.startsWith('ARRAY') ? `${type}[]` : /^(STRUCT|JSON)/.test(type) ? `CAST(NULL AS ${type})` : 'NULL';
  if (complex) return { kind: 'expr', sql: none };
  switch (method) {
    case 'nullify':
      return { kind: 'expr', sql: /^[A-Z0-9_]+$/.test(type) ? `CAST(NULL AS ${type})` : 'NULL' };
    case 'redact':
      return { kind: 'expr', sql: `IF(${c.ref} IS NULL, NULL, ${str(MASKED_TEXT)})` };
    case 'sha256':
      return { kind: 'expr', sql: `IF(${c.ref} IS NULL, NULL, ${sha})` };
    case 'last4':
      return { kind: 'expr', sql: `IF(${c.ref} IS NULL, NULL, IF(CHAR_LENGTH(${s}) > 4, CONCAT(${str(MASKED_TEXT)}, SUBSTR(${s}, -4)), ${sha}))` };
    case 'first4':
      return { kind: 'expr', sql: `IF(${c.ref} IS NULL, NULL, IF(CHAR_LENGTH(${s}) > 4, CONCAT(SUBSTR(${s}, 1, 4), ${str(MASKED_TEXT)}), ${sha}))` };
    case 'email_domain':
      return {
        kind: 'expr',
        sql: `IF(${c.ref} IS NULL, NULL, IF(REGEXP_CONTAINS(${s}, r'^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$'), CONCAT('${MASKED_TEXT}', REGEXP_EXTRACT(${s}, r'(@[^@]+)$')), ${sha}))`,
      };
    case 'year_only':
      if (type === 'DATE') return { kind: 'expr', sql: `DATE_TRUNC(${c.ref}, YEAR)` };
      if (type === 'DATETIME') return { kind: 'expr', sql: `DATETIME_TRUNC(${c.ref}, YEAR)` };
      if (type === 'TIMESTAMP') return { kind: 'expr', sql: `TIMESTAMP_TRUNC(${c.ref}, YEAR, 'UTC')` };
      return { kind: 'expr', sql: `DATE_TRUNC(SAFE.PARSE_DATE('%Y-%m-%d', SUBSTR(${s}, 1, 10)), YEAR)` };
    case 'pseudonym':
      if (!keyset) return { kind: 'narrow' };
      // Deterministic AEAD under a KMS-wrapped keyset, then hashed and shortened: equal values
      // give equal tokens (joins and grouping work), and the token cannot be decrypted.
      return {
        kind: 'expr',
        sql: `IF(${c.ref} IS NULL, NULL, CONCAT('tok_', TO_HEX(SUBSTR(SHA256(DETERMINISTIC_ENCRYPT(KEYS.KEYSET_CHAIN(${str(keyset.kmsKeyUri)}, FROM_BASE64(${str(keyset.wrappedKeysetBase64)})), ${s}, 'bqwarden')), 1, 16))))`,
      };
    case 'pseudonym_fpe':
      // No FF1 in BigQuery SQL.
      return { kind: 'narrow' };
  }
}

export interface EngineOptions {
  /** SQLite: handles for methods the engine cannot compute. */
  handle?: HandleSpec | null;
  /** BigQuery: keyset for in-engine pseudonyms. */
  keyset?: BigQueryKeyset | null;
}

export function engineForm(dialect: Dialect, method: MaskMethod, c: EngineColumn, opts: EngineOptions = {}): EngineForm {
  if (dialect === 'sqlite') return sqliteForm(method, c, opts.handle ?? null);
  if (dialect === 'bigquery') return bigqueryForm(method, c, opts.keyset ?? null);
  return { kind: 'narrow' };
}
