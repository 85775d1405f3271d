// Masking contract between policy (which decides) and the response transformer (which applies).

/** Masking methods. Names on the right of the comments are the BigQuery data-masking rule with the same semantics. */
export const MASK_METHODS = [
  'redact', // DEFAULT_MASKING_VALUE: '' for strings, 0 for numbers, …
  'last4', // LAST_FOUR_CHARACTERS: XXXXX1234
  'first4', // FIRST_FOUR_CHARACTERS
  'email_domain', // EMAIL_MASK: XXXXX@domain.com
  'year_only', // DATE_YEAR_MASK: date truncated to the year
  'nullify', // ALWAYS_NULL
  'sha256', // SHA256 (unkeyed; brute-forceable on small domains such as SSNs; not the default)
  'pseudonym', // keyed HMAC-SHA256 token: joins and groups consistently, not reversible without the key
  'pseudonym_fpe', // keyed, format-preserving (digits stay digits, separators kept)
] as const;
export type MaskMethod = (typeof MASK_METHODS)[number];

/** One output column to mask. */
export interface ColumnMask {
  outputIndex: number;
  outputName: string;
  classification: string;
  method: MaskMethod;
  ruleId: string;
  /** Fully-qualified source columns that made it sensitive. */
  sources: string[];
  /** The engine already returned it masked (the query was rewritten); applying the method again is the second line. */
  engine?: boolean;
}

/** An output column computed from values the engine masked (e.g. upper(ssn) over the masked ssn). */
export interface DerivedOutput {
  outputIndex: number;
  outputName: string;
  from: { source: string; classification: string; method: MaskMethod }[];
}

export interface MaskPlan {
  columns: ColumnMask[];
  /**
   * Used when the response's shape does not match the analysed output (unknown column names,
   * different count): every value is masked with the strictest method any of these reach.
   */
  fallback: { classification: string; method: MaskMethod; ruleId: string }[];
  /** Run content detectors over every value (defence in depth). */
  detectors: boolean;
  /**
   * Every output column the analysis expects, in order (names as the engine will return them).
   * Lets the masker tell a non-sensitive column from one the analysis did not foresee (which
   * triggers the fallback). When absent, only plan-named columns and positional overruns are checked.
   */
  outputColumns?: { index: number; name: string }[];
  /** Output columns computed from masked values: not masked again, but reported to the caller. */
  derived?: DerivedOutput[];
  /**
   * Output columns whose classification policy shows in clear to this caller: the detectors do
   * not second-guess them (a routing number shown in clear by policy is not redacted as "aba").
   */
  clearColumns?: { index: number; name: string }[];
}

export interface MaskReport {
  maskedColumns: { column: string; source: string | null; classification: string; method: string; rule_id: string | null }[];
  detectorHits: { detector: string; count: number }[];
  rows: number | null;
  /** Why the fallback was used, when it was. */
  notes: string[];
}

// Row handles (see handles.ts): what the gateway looks up after a query whose projection gave
// the engine a handle instead of a value it could not mask itself.
interface HandleColumn {
  index: number;
  column: string;
  method: MaskMethod;
}

export interface HandleTable {
  index: number;
  fq: string;
  /** SQL naming the base table for the gateway's own lookup query (e.g. "main"."accounts"). */
  source: string;
  rowRef: string;
  columns: HandleColumn[];
}

export interface HandlePlan {
  nonce: string;
  tables: HandleTable[];
}
