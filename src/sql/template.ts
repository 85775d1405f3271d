// Statement templates: the SQL with its literals taken out, so that queries differing only in
// literal values (an agent's `WHERE id = 17`, `= 18`, …) share one analysis and are not parsed
// again. Made by the lexer alone, no parse.
//
// An analysis is reused only where literals cannot change it. Literals that do shape the
// analysis stay in the template, so a query that differs there is a different template:
//   - a number after BY or a comma may be a column ordinal (ORDER BY / GROUP BY), so it is kept;
//   - PIVOT / UNPIVOT values name output columns, an EXTERNAL_QUERY connection names a source:
//     such statements get no template at all;
//   - SQLite's "double-quoted" text is an identifier when a column has that name: kept.
// Everything the analysis holds as offsets (statements, table sites, the place for a WITH list,
// output names that are an expression's own text) is carried over token by token; an analysis
// whose names SQLite invented from expression text (x:1, columnN) is never reused.
import { sha256Hex as sha256 } from '../common/digest.js';
import type { Analysis, Dialect, StatementAnalysis } from './types.js';
import { tokenize, type Token } from './lexer.js';

export interface SqlTemplate {
  key: string;
  /** Start and end offset of every significant token, in order. */
  starts: number[];
  ends: number[];
}

const LITERAL = new Set(['string', 'number', 'blob']);
const SHAPING_WORDS = new Set(['PIVOT', 'UNPIVOT', 'EXTERNAL_QUERY']);

export function sqlTemplate(sql: string, dialect: Dialect): SqlTemplate | null {
  const sig: Token[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  // A punctuation token that follows space or a comment is marked: `>=` and `> =` lex alike here
  // but not in the fingerprint, and two texts of one template must share their fingerprint.
  const spaced: boolean[] = [];
  let at = 0;
  let gap = false;
  for (const t of tokenize(sql, dialect)) {
    const start = at;
    at += t.text.length;
    if (t.kind === 'space' || t.kind === 'comment') {
      gap = true;
      continue;
    }
    if (t.kind === 'word' && SHAPING_WORDS.has(t.text.toUpperCase())) return null;
    sig.push(t);
    starts.push(start);
    ends.push(at);
    spaced.push(gap && t.kind === 'punct');
    gap = false;
  }
  let key = '';
  for (let i = 0; i < sig.length; i++) {
    const t = sig[i] as Token;
    if (i > 0) key += spaced[i] ? '\u0000\u0002' : '\u0000';
    const identifierLike = dialect === 'sqlite' && t.kind === 'string' && t.text.startsWith('"');
    if (!LITERAL.has(t.kind) || identifierLike) {
      key += t.text;
      continue;
    }
    // Any number that could be an ordinal stays: after BY or a comma (with or without a sign),
    // whatever follows it — guessing the end of the item from the next token missed pipe syntax
    // (`ORDER BY 1 |> LIMIT 5`), and a kept literal only costs a cache miss.
    let before = sig[i - 1]?.text.toUpperCase();
    if ((before === '+' || before === '-') && i > 1) before = sig[i - 2]?.text.toUpperCase();
    const ordinal = t.kind === 'number' && (before === 'BY' || before === ',');
    key += ordinal ? t.text : `\u0001${t.kind}`;
  }
  return { key, starts, ends };
}

/**
 * The analysis of `sql` (whose template is `to`), made from the analysis of another SQL text of
 * the same template (`from`). Null when an offset does not fall on a token boundary: the caller
 * then analyses the SQL itself.
 */
export function rebase(a: Analysis, from: SqlTemplate, to: SqlTemplate, sql: string): Analysis | null {
  if (a.templateSafe === false || from.starts.length !== to.starts.length) return null;
  const starts = new Map(from.starts.map((s, i) => [s, to.starts[i]]));
  const ends = new Map(from.ends.map((e, i) => [e, to.ends[i]]));
  let ok = true;
  const range = (r: [number, number]): [number, number] => {
    const s = starts.get(r[0]);
    const e = ends.get(r[1]);
    if (s === undefined || e === undefined) {
      ok = false;
      return r;
    }
    return [s, e];
  };
  const statements: StatementAnalysis[] = a.statements.map((st) => {
    const r = st.range ? range(st.range) : null;
    const text = r ? sql.slice(r[0], r[1]) : sql;
    let queryAt: number | null = null;
    if (st.queryAt !== null) {
      const q = starts.get(st.queryAt);
      if (q === undefined) ok = false;
      else queryAt = q;
    }
    return {
      ...st,
      range: r,
      queryAt,
      text,
      sha256: sha256(text),
      // Same template, same fingerprint: the fingerprint is a function of the template's tokens
      // (literals as `?`, spacing of punctuation kept in the key), so it is carried over.
      tableSites: st.tableSites.map((site) => ({ ...site, range: range(site.range), nameRange: range(site.nameRange) })),
      output:
        st.output?.map((o) => {
          if (!o.nameRange) return o;
          const nr = range(o.nameRange);
          return { ...o, name: sql.slice(nr[0], nr[1]), nameRange: nr };
        }) ?? null,
    };
  });
  if (!ok) return null;
  return { ...a, sql, sha256: sha256(sql), statements };
}
