// Replays one MCP session from the audit store: every event carrying the session id, in time
// order, with what an examiner asks first: who, what (method, tool, SQL as stored), the
// decision and its rules, what was masked, and the response as stored. The stored copy is masked
// for storage whatever the caller was cleared to see (a pii-reader saw SSNs in clear; the copy
// holds tokens), so every view labels it and says, per column, what the caller received.
import type { AuditEvent } from './event.js';
import type { AuditStore, Location, ReadIssue } from './store.js';

export interface ReplayEntry {
  event: AuditEvent;
  loc: Location;
}

export async function replaySession(store: AuditStore, sessionId: string, onInvalid?: (i: ReadIssue) => void): Promise<ReplayEntry[]> {
  const out: ReplayEntry[] = [];
  for await (const r of store.range({ sessionId }, { onInvalid })) out.push(r);
  out.sort((a, b) =>
    a.event.event_time < b.event.event_time
      ? -1
      : a.event.event_time > b.event.event_time
        ? 1
        : a.event.chain_id === b.event.chain_id
          ? a.event.seq - b.event.seq
          : a.event.chain_id < b.event.chain_id
            ? -1
            : 1,
  );
  return out;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The text a person reads from an MCP result: text content items, else the error, else the JSON. */
export function responseText(responseJson: string | null): string | null {
  const r = parseJson(responseJson);
  if (r === null || r === undefined) return null;
  if (typeof r !== 'object') return String(r);
  const obj = r as Record<string, unknown>;
  if (Array.isArray(obj.content)) {
    const texts = obj.content
      .map((c) => (c && typeof c === 'object' && (c as { type?: unknown }).type === 'text' ? String((c as { text?: unknown }).text ?? '') : null))
      .filter((t): t is string => t !== null);
    if (texts.length) return texts.join('\n');
  }
  if (obj.error && typeof obj.error === 'object') return `error: ${String((obj.error as { message?: unknown }).message ?? JSON.stringify(obj.error))}`;
  return JSON.stringify(r);
}

const TOKENS = new Set(['pseudonym', 'pseudonym_fpe', 'sha256']);

/** clear / masked / tokenised, from a masking method (or clear, or computed from masked values). */
function deliveryKind(method: string): string {
  if (method === 'clear') return 'clear';
  if (method === 'computed_from_masked') return 'computed from masked values';
  return TOKENS.has(method) ? `tokenised (${method})` : `masked (${method})`;
}

export interface DeliveryRow {
  column: string;
  classification: string | null;
  /** What the caller received. */
  released: string;
  /** What the stored copy holds. */
  stored: string;
}

export const STORED_COPY_LABEL = 'Response — stored copy (audit at rest: masked for storage whatever the caller saw)';

/**
 * Per column, what the caller received and what the stored copy holds: from the copy's own
 * record (_meta["bqwarden/stored_copy"]); for events written before it existed, from the
 * event's masked_columns (what the caller received masked), the rest unknown.
 */
export function deliveryOf(e: Pick<AuditEvent, 'response_json' | 'masked_columns'>): { rows: DeliveryRow[]; recorded: boolean } {
  const r = parseJson(e.response_json) as { _meta?: Record<string, unknown> } | null;
  const note =
    r && typeof r === 'object' ? (r._meta?.['bqwarden/stored_copy'] as { columns?: Record<string, { classification?: string | null; released?: string; stored?: string }> } | undefined) : undefined;
  if (note?.columns && typeof note.columns === 'object') {
    const rows = Object.entries(note.columns).map(([column, c]) => ({
      column,
      classification: c.classification ?? null,
      released: deliveryKind(String(c.released ?? 'clear')),
      stored: deliveryKind(String(c.stored ?? c.released ?? 'clear')),
    }));
    return { rows, recorded: true };
  }
  const rows = e.masked_columns.map((m) => ({ column: m.column, classification: m.classification, released: deliveryKind(m.method), stored: 'masked for storage (not recorded per column)' }));
  return { rows, recorded: false };
}

function indent(text: string, pad = '      '): string {
  return text
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

export function formatReplay(sessionId: string, entries: ReplayEntry[]): string {
  const first = entries[0]?.event;
  const last = entries.at(-1)?.event;
  if (!first || !last) return `session ${sessionId}: no audit events found`;
  const actor = (e: AuditEvent) => e.actor_email ?? e.actor_subject ?? 'anonymous';
  const lines = [
    `session ${sessionId}: ${entries.length} event(s), ${first.event_time} .. ${last.event_time}`,
    `  actor ${actor(first)} (${first.actor_type}, ${first.auth_method})${first.client_name ? `, client ${first.client_name} ${first.client_version ?? ''}`.trimEnd() : ''}${first.source_ip ? `, from ${first.source_ip}` : ''}`,
    '',
  ];
  for (const { event: e } of entries) {
    const what = [e.mcp_method, e.tool_name].filter(Boolean).join(' ');
    lines.push(`[${e.event_time}] #${e.seq} ${e.event_type}${what ? ` ${what}` : ''} by ${actor(e)} -> ${e.outcome}${e.http_status ? ` (HTTP ${e.http_status})` : ''}`);
    if (e.sql_text) lines.push('    sql:', indent(e.sql_text));
    if (e.decision !== 'none') lines.push(`    decision: ${e.decision}${e.rule_ids.length ? ` [${e.rule_ids.join(', ')}]` : ''}${e.decision_reason ? ` ${e.decision_reason}` : ''}`);
    if (e.privileged) lines.push('    privileged: yes' + (e.justification ? `, justification: ${e.justification}` : ''));
    if (e.approval_id) lines.push(`    approval: ${e.approval_id}${e.approval_approvers.length ? ` approved by ${e.approval_approvers.join(', ')}` : ''}`);
    if (e.masked_columns.length) lines.push(`    masked: ${e.masked_columns.map((m) => `${m.column} (${m.classification}, ${m.method})`).join(', ')}`);
    if (e.error_code || e.error_message) lines.push(`    error: ${[e.error_code, e.error_message].filter(Boolean).join(': ')}`);
    if (e.rows_returned !== null) lines.push(`    rows: ${e.rows_returned}${e.bytes_returned !== null ? `, ${e.bytes_returned} bytes` : ''}${e.duration_ms !== null ? `, ${e.duration_ms} ms` : ''}`);
    const resp = responseText(e.response_json);
    if (resp) {
      // The stored copy is not always what the caller saw: say so, and what they did see.
      const d = deliveryOf(e);
      if (d.rows.length) lines.push(`    the caller received: ${d.rows.map((x) => `${x.column} ${x.released}${x.stored !== x.released ? ` (stored ${x.stored})` : ''}`).join('; ')}`);
      lines.push(`    ${STORED_COPY_LABEL.charAt(0).toLowerCase()}${STORED_COPY_LABEL.slice(1)}:`, indent(resp));
    }
  }
  return lines.join('\n');
}

/** JSON form: the events themselves, in replay order. */
export function replayJson(sessionId: string, entries: ReplayEntry[]): string {
  return JSON.stringify({ session_id: sessionId, events: entries.map(({ event, loc }) => ({ ...event, _file: loc.file, _line: loc.line, _ref: loc.ref })) }, null, 2);
}

export interface SessionSummary {
  sessionId: string;
  actor: string;
  first: string;
  last: string;
  events: number;
  toolCalls: number;
  denied: number;
  approvals: number;
}

/** Every session in the store, most recent activity first: what `replay` without an id lists. */
export async function listSessions(store: AuditStore, onInvalid?: (i: ReadIssue) => void): Promise<SessionSummary[]> {
  const byId = new Map<string, SessionSummary>();
  for await (const { event: e } of store.range({}, { onInvalid })) {
    if (!e.session_id) continue;
    let s = byId.get(e.session_id);
    if (!s)
      byId.set(
        e.session_id,
        (s = { sessionId: e.session_id, actor: e.actor_email ?? e.actor_subject ?? 'anonymous', first: e.event_time, last: e.event_time, events: 0, toolCalls: 0, denied: 0, approvals: 0 }),
      );
    s.events++;
    if (e.event_time < s.first) s.first = e.event_time;
    if (e.event_time > s.last) s.last = e.event_time;
    if (e.event_type === 'mcp_request' && e.mcp_method === 'tools/call') s.toolCalls++;
    if (e.decision === 'deny') s.denied++;
    if (e.event_type === 'approval_requested') s.approvals++;
  }
  return [...byId.values()].sort((a, b) => (a.last < b.last ? 1 : a.last > b.last ? -1 : 0));
}

/** One line per session, each followed by the command that replays it (pasteable as printed). */
export function formatSessions(sessions: SessionSummary[], replayCommand: (sessionId: string) => string, limit: number): string {
  if (!sessions.length) return 'no sessions in the audit store yet (connect an MCP client first)';
  const shown = sessions.slice(0, limit);
  const lines = [`${sessions.length} session(s), most recent first${sessions.length > shown.length ? ` (showing ${shown.length}; --limit for more)` : ''}:`, ''];
  for (const s of shown) {
    lines.push(
      `${s.last}  ${s.actor}  ${s.events} event(s), ${s.toolCalls} tool call(s)${s.denied ? `, ${s.denied} denied` : ''}${s.approvals ? `, ${s.approvals} approval request(s)` : ''}  (since ${s.first})`,
      `  ${replayCommand(s.sessionId)}`,
    );
  }
  return lines.join('\n');
}
