// The one place that knows how sql-parser-cst is called for each dialect.
import { parse, type ParserOptions, type Program } from 'sql-parser-cst';
import type { Dialect } from './types.js';

const PARAM_TYPES: Record<Dialect, ParserOptions['paramTypes']> = {
  // BigQuery query parameters: positional ? and named @name.
  bigquery: ['?', '@name'],
  // Every binding form SQLite accepts, so parameterised demo queries parse.
  sqlite: ['?', '?nr', ':name', '$name', '@name'],
  postgresql: ['$nr'],
};

export function parserOptions(dialect: Dialect): ParserOptions {
  return { dialect, includeRange: true, paramTypes: PARAM_TYPES[dialect] };
}

export type ParseResult = { ok: true; program: Program } | { ok: false; error: string };

/** Parses without throwing: a syntax error becomes a message (first line, no SQL echoed beyond
 * the parser's own pointer line, which can hold literals and so is dropped). */
export function parseSql(sql: string, dialect: Dialect): ParseResult {
  try {
    return { ok: true, program: parse(sql, parserOptions(dialect)) };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const loc = /--> [^:]*:(\d+):(\d+)/.exec(msg);
    // The offending token may be a literal (an SSN): keep it only when it is a plain word.
    const [first = ''] = msg.split('\n');
    const head = first.replace(/Unexpected "(.*)"$/, (m, t: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(t) ? m : 'Unexpected token'));
    return { ok: false, error: loc ? `${head} at line ${loc[1]} column ${loc[2]}` : head };
  }
}
