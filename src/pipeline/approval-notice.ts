// Closes the loop for an approved statement: its answer names the approval, who approved it and
// why, and how many rows it changed — an approved DELETE otherwise comes back as `content: []`,
// which tells neither the agent nor the person behind it that anything happened.
import type { Analysis } from '../sql/types.js';
import { tokenize } from '../sql/lexer.js';
import type { GateResult } from './deps.js';
import { APPROVAL_META_KEY } from '../approvals/gate.js';

const ROWS_MARKER = 'bqwarden_rows_affected';

/**
 * The statement plus a row count the same call returns, where that is reliable: SQLite's
 * changes() counts the previous statement of the same connection, and one call runs on one
 * connection. Only for a single data-changing statement that returns no rows of its own.
 * BigQuery is left alone (a DML job's count is in its job statistics, which the MCP tool does
 * not return), so its answer says the upstream did not report one.
 */
export function countingSql(sql: string, analysis: Analysis): string | null {
  const [s, ...more] = analysis.statements;
  if (analysis.dialect !== 'sqlite' || !s || more.length > 0) return null;
  if (s.class !== 'write' || s.output) return null;
  const meaningful = tokenize(sql, 'sqlite').filter((t) => t.kind !== 'space' && t.kind !== 'comment');
  const ended = meaningful.at(-1)?.text === ';';
  // A newline first: a trailing `-- comment` must not swallow the count.
  return `${sql}\n${ended ? '' : ';'}SELECT changes() AS ${ROWS_MARKER}`;
}

/** Takes the count row out of the result (it is the gateway's, not the caller's). */
export function takeRowCount(result: Record<string, unknown>): { result: Record<string, unknown>; rows: number | null } {
  if (!Array.isArray(result.content) || result.isError === true) return { result, rows: null };
  let rows: number | null = null;
  const content = (result.content as { type?: string; text?: string }[]).filter((c) => {
    if (rows !== null || c?.type !== 'text' || typeof c.text !== 'string' || !c.text.includes(ROWS_MARKER)) return true;
    try {
      const parsed = JSON.parse(c.text) as unknown;
      const row = (Array.isArray(parsed) && parsed.length === 1 ? parsed[0] : parsed) as Record<string, unknown> | null;
      const n = row && typeof row === 'object' && Object.keys(row).length === 1 ? row[ROWS_MARKER] : undefined;
      if (typeof n === 'number' && Number.isInteger(n) && n >= 0) {
        rows = n;
        return false;
      }
    } catch {
      // not the count row
    }
    return true;
  });
  return { result: { ...result, content }, rows };
}

type Approved = Extract<GateResult, { status: 'approved' }>;

/** Adds the approval's closing line (and `_meta["bqwarden/approval"]`) to the executed call's result. */
export function approvalNotice(result: Record<string, unknown>, gate: Approved, rows: number | null, failed: boolean): Record<string, unknown> {
  const votes = gate.votes ?? gate.approvers.map((by) => ({ by, reason: null }));
  const who = votes.map((v) => `${v.by}${v.reason ? ` ("${v.reason}")` : ''}`).join(', ');
  const count = rows === null ? 'rows affected: not reported by the upstream' : `rows affected: ${rows}`;
  const line = failed
    ? `bqwarden: approval ${gate.approvalId} (requested by ${gate.requester}, approved by ${who}) was used for this call and the database reported an error; the approval is spent, so a new attempt needs a new request.`
    : `bqwarden: executed under approval ${gate.approvalId} — requested by ${gate.requester}, approved by ${who}; ${count}. The approval is now spent: running the statement again needs a new request.`;
  const meta = {
    ...((result._meta as Record<string, unknown> | undefined) ?? {}),
    [APPROVAL_META_KEY]: { id: gate.approvalId, status: failed ? 'failed' : 'executed', requester: gate.requester, approvers: votes, rows_affected: rows },
  };
  const content = Array.isArray(result.content) ? [...result.content, { type: 'text', text: line }] : [{ type: 'text', text: line }];
  return { ...result, content, _meta: meta };
}
