// Statement fingerprints (for approvals and audit grouping) and literal redaction (what the
// audit log stores instead of raw SQL, so an SSN in a WHERE clause never reaches disk).
import { bigqueryKeywords, sqliteKeywords, postgresqlKeywords } from 'sql-parser-cst';
import { tokenize, type Token } from './lexer.js';
import type { Dialect } from './types.js';

// Non-reserved words that are keywords in practice; upper-cased so `select * from t order by x
// desc` and `SELECT * FROM t ORDER BY x DESC` share a fingerprint.
const EXTRA_KEYWORDS = [
  'ASC',
  'DESC',
  'REPLACE',
  'TEMP',
  'TEMPORARY',
  'TABLE',
  'VIEW',
  'DATA',
  'EXPORT',
  'LOAD',
  'OVERWRITE',
  'OPTIONS',
  'DECLARE',
  'BEGIN',
  'TRANSACTION',
  'COMMIT',
  'ROLLBACK',
  'CALL',
  'EXECUTE',
  'IMMEDIATE',
  'OFFSET',
  'ORDINAL',
  'SAFE_OFFSET',
  'SAFE_ORDINAL',
  'VALUE',
  'VALUES',
  'SET',
  'UPDATE',
  'DELETE',
  'INSERT',
  'MERGE',
  'MATCHED',
  'TRUNCATE',
  'CLONE',
  'COPY',
  'SNAPSHOT',
  'SYSTEM_TIME',
  'FIRST',
  'LAST',
  'ROWS',
  'RANGE',
  'PRECEDING',
  'FOLLOWING',
  'CURRENT',
  'ROW',
  'UNBOUNDED',
  'QUALIFY',
  'PIVOT',
  'UNPIVOT',
  'LIMIT',
  'INDEX',
  'PRAGMA',
  'VACUUM',
  'ATTACH',
  'DETACH',
  'GLOB',
  'REGEXP',
  'MATCH',
  'ESCAPE',
  'NULLS',
  'OVER',
  'WINDOW',
  'GRANT',
  'REVOKE',
  'RETURN',
  'RAISE',
  'LOOP',
  'WHILE',
  'REPEAT',
  'UNTIL',
];

const keywordSets: Record<Dialect, Set<string>> = {
  bigquery: new Set([...Object.keys(bigqueryKeywords), ...EXTRA_KEYWORDS]),
  sqlite: new Set([...Object.keys(sqliteKeywords), ...EXTRA_KEYWORDS]),
  postgresql: new Set([...Object.keys(postgresqlKeywords), ...EXTRA_KEYWORDS]),
};

const LITERAL_KINDS = new Set<Token['kind']>(['string', 'number', 'blob']);

/** The statement text with string, number and bytes literals replaced by `?`; comments are dropped
 * too because they can carry data. Works on any input, parseable or not. */
export function redactLiterals(sql: string, dialect: Dialect): string {
  let out = '';
  for (const t of tokenize(sql, dialect)) {
    if (LITERAL_KINDS.has(t.kind)) out += '?';
    else if (t.kind === 'comment') out += t.text.startsWith('/*') ? ' ' : '';
    else out += t.text;
  }
  return out;
}

const NO_SPACE_BEFORE = new Set([',', ')', ']', '.', ';']);
const NO_SPACE_AFTER = new Set(['(', '[', '.']);
// The lexer emits operators one character at a time; these read as one operator (`>=`, not `> =`).
const OPERATORS = new Set(['>=', '<=', '<>', '!=', '==', '||', '->', '->>', '<<', '>>', '::', '=>', '|>']);
// Words after which `(` opens a list or subquery rather than a call's arguments: `IN (?)`, but `SUM(x)`.
const SPACE_BEFORE_PAREN = new Set([
  'IN',
  'EXISTS',
  'VALUES',
  'AS',
  'FROM',
  'JOIN',
  'ON',
  'USING',
  'AND',
  'OR',
  'NOT',
  'WHERE',
  'SELECT',
  'OVER',
  'WITH',
  'UNION',
  'INTERSECT',
  'EXCEPT',
  'ALL',
  'ANY',
  'SOME',
  'INTO',
  'TABLE',
  'BY',
  'THEN',
  'ELSE',
  'WHEN',
  'CASE',
  'IS',
  'LIKE',
  'BETWEEN',
  'RETURNING',
  'DISTINCT',
  'LATERAL',
  'SET',
  'HAVING',
  'QUALIFY',
  'WINDOW',
  'PIVOT',
  'UNPIVOT',
  'RECURSIVE',
  'VIEW',
  'OPTIONS',
]);

/** Literals → `?`, comments dropped, whitespace collapsed, keywords upper-cased, `IN (?, ?, …)`
 * lists collapsed so the number of values does not split a fingerprint, trailing `;` removed. */
export function fingerprint(sql: string, dialect: Dialect): string {
  const kw = keywordSets[dialect];
  const toks: string[] = [];
  let prevPunct = false;
  for (const t of tokenize(sql, dialect)) {
    const adjacentPunct = prevPunct;
    prevPunct = t.kind === 'punct';
    if (t.kind === 'space' || t.kind === 'comment') continue;
    if (t.kind === 'punct' && adjacentPunct && OPERATORS.has(`${toks.at(-1)}${t.text}`)) toks[toks.length - 1] += t.text;
    else if (LITERAL_KINDS.has(t.kind)) toks.push('?');
    else if (t.kind === 'word' && kw.has(t.text.toUpperCase())) toks.push(t.text.toUpperCase());
    else toks.push(t.text);
  }
  // Negative numbers and literal lists: `-?` → `?`, `(?, ?, ?)` → `(?)`.
  const norm: string[] = [];
  for (const t of toks) {
    if (t === '?' && norm.at(-1) === '-' && /^(\(|,|=|<|>|\+|\*|\/|[A-Z]+)$/.test(norm.at(-2) ?? '(')) norm.pop();
    if (t === '?' && norm.at(-1) === ',' && norm.at(-2) === '?') {
      norm.pop();
      continue;
    }
    norm.push(t);
  }
  while (norm.at(-1) === ';') norm.pop();
  let out = '';
  let prev: string | undefined;
  for (const t of norm) {
    // A call: `SUM(x)`, `COUNT(*)`, `dataset.fn(x)` — a name right before `(` that is not a clause word.
    const call = t === '(' && prev !== undefined && /^[A-Za-z_][\w$]*$/.test(prev) && !SPACE_BEFORE_PAREN.has(prev.toUpperCase());
    if (prev !== undefined && !NO_SPACE_BEFORE.has(t) && !NO_SPACE_AFTER.has(prev) && !call) out += ' ';
    out += t;
    prev = t;
  }
  return out;
}
