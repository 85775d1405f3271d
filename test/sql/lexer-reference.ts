// Reference copy of src/sql/lexer.ts before its scanning was rewritten for speed (character by
// character regex tests). test/sql/lexer.test.ts checks that both give the same tokens.
// A deliberately small SQL tokenizer used for fingerprints and literal redaction.
// Why not the parser: redaction must also work on SQL that does not parse (the audit log
// still records a refused query, and its literals must never reach disk in clear), and the
// parser's CST does not keep operator tokens with positions.
import type { Dialect } from '../../src/sql/types.js';

export type TokenKind = 'string' | 'number' | 'blob' | 'quoted_ident' | 'word' | 'param' | 'comment' | 'space' | 'punct';

export interface Token {
  kind: TokenKind;
  text: string;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

function readQuoted(sql: string, i: number, quote: string, backslashEscapes: boolean): number {
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
      if (sql[j + 1] === quote && !backslashEscapes) j += 2; // SQL-standard doubled quote
      else return j + 1;
    } else j++;
  }
  return sql.length; // unterminated: the rest is the literal (never leak it)
}

/** Splits SQL into tokens; never throws, and the concatenated token texts equal the input. */
export function tokenize(sql: string, dialect: Dialect): Token[] {
  const out: Token[] = [];
  const bq = dialect === 'bigquery';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const start = i;
    let kind: TokenKind;
    if (/\s/.test(c)) {
      while (i < sql.length && /\s/.test(sql[i])) i++;
      kind = 'space';
    } else if ((c === '-' && sql[i + 1] === '-') || (c === '#' && bq)) {
      while (i < sql.length && sql[i] !== '\n') i++;
      kind = 'comment';
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
      kind = 'comment';
    } else if (bq && /[rRbB]/.test(c) && /^[rRbB]{1,2}['"]/.test(sql.slice(i, i + 3))) {
      // BigQuery string prefixes: r'..', b'..', rb'..', br'..'
      let j = i;
      while (/[rRbB]/.test(sql[j])) j++;
      const raw = /[rR]/.test(sql.slice(i, j));
      i = readQuoted(sql, j, sql[j], !raw);
      kind = /[bB]/.test(sql.slice(start, j)) ? 'blob' : 'string';
    } else if (!bq && /[xX]/.test(c) && sql[i + 1] === "'") {
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
      i = c === '`' ? readQuoted(sql, i, '`', bq) : Math.max(sql.indexOf(']', i) + 1, i + 1) || sql.length;
      kind = 'quoted_ident';
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      if (c === '0' && /[xX]/.test(sql[i + 1] ?? '')) {
        i += 2;
        while (i < sql.length && /[0-9a-fA-F]/.test(sql[i])) i++;
      } else {
        while (i < sql.length && /[0-9.]/.test(sql[i])) i++;
        if (/[eE]/.test(sql[i] ?? '') && /[-+0-9]/.test(sql[i + 1] ?? '')) {
          i += 2;
          while (i < sql.length && /[0-9]/.test(sql[i])) i++;
        }
      }
      kind = 'number';
    } else if (WORD_START.test(c)) {
      while (i < sql.length && WORD_CHAR.test(sql[i])) i++;
      kind = 'word';
    } else if (c === '?' || ((c === '@' || c === ':' || c === '$') && WORD_CHAR.test(sql[i + 1] ?? '') && !(c === ':' && sql[i - 1] === ':'))) {
      i++;
      if (c === '@' && sql[i] === '@') i++; // @@system_variable
      while (i < sql.length && WORD_CHAR.test(sql[i])) i++;
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
