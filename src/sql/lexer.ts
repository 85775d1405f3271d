// A deliberately small SQL tokenizer used for fingerprints and literal redaction.
// Why not the parser: redaction must also work on SQL that does not parse (the audit log
// still records a refused query, and its literals must never reach disk in clear), and the
// parser's CST does not keep operator tokens with positions.
import type { Dialect } from './types.js';

export type TokenKind = 'string' | 'number' | 'blob' | 'quoted_ident' | 'word' | 'param' | 'comment' | 'space' | 'punct';

export interface Token {
  kind: TokenKind;
  text: string;
}

// Sticky patterns: one native scan per token instead of one regex test per character (the
// lexer runs on every call, for the template cache, the fingerprint and redaction).
const SPACE = /\s+/y;
const WORD = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y;
const WORD_TAIL = /[A-Za-z0-9_$\u0080-\uffff]*/y;
const HEX = /0[xX][0-9a-fA-F]*/y;
const DECIMAL = /[0-9.]+(?:[eE][-+0-9][0-9]*)?/y;
const ONE_SPACE = /\s/;
const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

/** End of the match of a sticky pattern at i (i itself when it does not match). */
function scan(re: RegExp, sql: string, i: number): number {
  re.lastIndex = i;
  return re.test(sql) ? re.lastIndex : i;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** End of the quoted literal or identifier that starts at i (exported for the lexer's reference test). */
export function readQuoted(sql: string, i: number, quote: string, backslashEscapes: boolean): number {
  // Triple-quoted strings (BigQuery) end at the next unescaped triple quote.
  if (sql.startsWith(quote.repeat(3), i) && quote !== '`') {
    const q3 = quote.repeat(3);
    let j = i + 3;
    while (j < sql.length) {
      if (backslashEscapes && sql[j] === '\\') j += 2;
      else if (sql.startsWith(q3, j)) return j + 3;
      else j++;
    }
    return sql.length;
  }
  let j = i + 1;
  while (j < sql.length) {
    const c = sql[j];
    if (backslashEscapes && c === '\\') j += 2;
    else if (c === quote) {
      if (sql[j + 1] === quote && !backslashEscapes)
        j += 2; // SQL-standard doubled quote
      else return j + 1;
    } else j++;
  }
  return sql.length; // unterminated: the rest is the literal (never leak it)
}

/** Splits SQL into tokens; never throws, and the concatenated token texts equal the input. */
export function tokenize(sql: string, dialect: Dialect): Token[] {
  const out: Token[] = [];
  const bq = dialect === 'bigquery';
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i] as string;
    const start = i;
    let kind: TokenKind;
    if (ONE_SPACE.test(c)) {
      i = scan(SPACE, sql, i);
      kind = 'space';
    } else if ((c === '-' && sql[i + 1] === '-') || (c === '#' && bq)) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl;
      kind = 'comment';
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      kind = 'comment';
    } else if (bq && (c === 'r' || c === 'R' || c === 'b' || c === 'B') && /^[rRbB]{1,2}['"]/.test(sql.slice(i, i + 3))) {
      // BigQuery string prefixes: r'..', b'..', rb'..', br'..'
      let j = i;
      while (/[rRbB]/.test(sql[j] as string)) j++;
      const raw = /[rR]/.test(sql.slice(i, j));
      i = readQuoted(sql, j, sql[j] as string, !raw);
      kind = /[bB]/.test(sql.slice(start, j)) ? 'blob' : 'string';
    } else if (!bq && (c === 'x' || c === 'X') && sql[i + 1] === "'") {
      i = readQuoted(sql, i + 1, "'", false);
      kind = 'blob';
    } else if (c === "'") {
      i = readQuoted(sql, i, "'", bq);
      kind = 'string';
    } else if (c === '"') {
      i = readQuoted(sql, i, '"', bq);
      // BigQuery: a string. SQLite: an identifier that silently becomes a string when no such
      // column exists, so it is treated as a possible literal. PostgreSQL: always an identifier.
      kind = dialect === 'postgresql' ? 'quoted_ident' : 'string';
    } else if (c === '`' || (c === '[' && dialect === 'sqlite')) {
      i = c === '`' ? readQuoted(sql, i, '`', bq) : Math.max(sql.indexOf(']', i) + 1, i + 1) || n;
      kind = 'quoted_ident';
    } else if (isDigit(c) || (c === '.' && isDigit(sql[i + 1]))) {
      i = c === '0' && (sql[i + 1] === 'x' || sql[i + 1] === 'X') ? scan(HEX, sql, i) : scan(DECIMAL, sql, i);
      kind = 'number';
    } else if (WORD_START.test(c)) {
      i = scan(WORD, sql, i);
      kind = 'word';
    } else if (c === '?' || ((c === '@' || c === ':' || c === '$') && WORD_CHAR.test(sql[i + 1] ?? '') && !(c === ':' && sql[i - 1] === ':'))) {
      i++;
      if (c === '@' && sql[i] === '@') i++; // @@system_variable
      i = scan(WORD_TAIL, sql, i);
      kind = 'param';
    } else {
      i++;
      kind = 'punct';
    }
    if (i <= start) i = start + 1;
    out.push({ kind, text: sql.slice(start, i) });
  }
  return out;
}
