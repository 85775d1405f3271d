// Reference copy of src/sql/lexer.ts before its scanning was rewritten for speed (character by
// character regex tests). test/sql/lexer.test.ts checks that both give the same tokens.
import type { Dialect } from '../../src/sql/types.js';
// Quoted literals were not part of the rewrite: the reference reads them with the same function.
import { readQuoted } from '../../src/sql/lexer.js';

import type { Token, TokenKind } from '../../src/sql/lexer.js';

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

/** Splits SQL into tokens; never throws, and the concatenated token texts equal the input. */
export function tokenize(sql: string, dialect: Dialect): Token[] {
  const out: Token[] = [];
  const bq = dialect === 'bigquery';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!; // i < sql.length
    const start = i;
    let kind: TokenKind;
    if (/\s/.test(c)) {
      while (i < sql.length && /\s/.test(sql[i]!)) i++;
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
      while (/[rRbB]/.test(sql[j]!)) j++; // a quote follows the prefix (matched above)
      const raw = /[rR]/.test(sql.slice(i, j));
      i = readQuoted(sql, j, sql[j]!, !raw);
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
        while (i < sql.length && /[0-9a-fA-F]/.test(sql[i]!)) i++;
      } else {
        while (i < sql.length && /[0-9.]/.test(sql[i]!)) i++;
        if (/[eE]/.test(sql[i] ?? '') && /[-+0-9]/.test(sql[i + 1] ?? '')) {
          i += 2;
          while (i < sql.length && /[0-9]/.test(sql[i]!)) i++;
        }
      }
      kind = 'number';
    } else if (WORD_START.test(c)) {
      while (i < sql.length && WORD_CHAR.test(sql[i]!)) i++;
      kind = 'word';
    } else if (c === '?' || ((c === '@' || c === ':' || c === '$') && WORD_CHAR.test(sql[i + 1] ?? '') && !(c === ':' && sql[i - 1] === ':'))) {
      i++;
      if (c === '@' && sql[i] === '@') i++; // @@system_variable
      while (i < sql.length && WORD_CHAR.test(sql[i]!)) i++;
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
