// Server-rendered pages of the examiner console. Every value that came from the audit log
// (SQL, names, reasons, payloads) was written by callers and is escaped; the only script is
// the console's own static file, and chart data travels as escaped JSON in a non-executable
// <script type="application/json"> block.
import type { AuditEvent } from '../audit/event.js';
import type { VerifyReport } from '../audit/verify.js';
import { formatReport } from '../audit/verify.js';
import { STORED_COPY_LABEL, deliveryOf, responseText } from '../audit/replay.js';
import { esc } from '../web/html.js';
import { AUTH_BASE } from '../web/pages.js';
import { CONSOLE_BASE as B } from './assets.js';
import { approvalFlags, filterQuery, type Count, type Filter, type Overview } from './queries.js';
import type { ApprovalSummary, InvalidLine, PolicyVersionSeen } from './audit-index.js';

export interface Viewer {
  who: string;
  csrf: string;
}

function iso(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '' : new Date(ms).toISOString();
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function layout(title: string, body: string, viewer: Viewer | null): string {
  const nav = viewer
    ? `<nav><a href="${B}">Overview</a><a href="${B}/events">Events</a><a href="${B}/approvals">Approvals</a><a href="${B}/tools">Tool pins</a><a href="${B}/integrity">Chain integrity</a></nav>
<form class="who" method="post" action="${AUTH_BASE}/logout"><input type="hidden" name="csrf" value="${esc(viewer.csrf)}"><span>${esc(viewer.who)}</span> <button type="submit">Sign out</button></form>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · bqwarden examiner console</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="${B}/assets/uPlot.min.css"><link rel="stylesheet" href="${B}/assets/console.css"></head>
<body><header><a href="${B}"><strong>bqwarden</strong> examiner console</a>${nav}</header>
<main>${body}</main>
<script src="${B}/assets/uPlot.iife.min.js"></script><script src="${B}/assets/console.js"></script></body></html>`;
}

/** Shown when nobody is signed in and sign-in cannot start by itself (refused credential, not configured). */
export function signInPage(error: string | null, signInUrl: string | null): string {
  const how = signInUrl
    ? `<p><a id="sign-in" href="${esc(signInUrl)}">Sign in with the bank's identity provider</a>.</p>`
    : `<p>This gateway has no browser sign-in configured (OpenID Connect in <code>web.signIn</code>, or Identity-Aware Proxy in front of it).</p>`;
  return layout(
    'Sign in',
    `${error ? `<div class="flash" role="alert">${esc(error)}</div>` : ''}<div class="card"><h1>Examiner sign-in</h1>
<p>Only the examiner role may open the console, and every page you view is itself recorded in the audit trail.</p>${how}</div>`,
    null,
  );
}

export function errorPage(status: number, message: string, viewer: Viewer | null): string {
  return layout(`Error ${status}`, `<div class="flash" role="alert"><strong>${status}</strong> ${esc(message)}</div>`, viewer);
}

export interface FilterOptions {
  actors: string[];
  tables: string[];
}

function filterForm(action: string, f: Filter, opts: FilterOptions): string {
  const dateVal = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString().slice(0, 10));
  const dl = (id: string, values: string[]) =>
    `<datalist id="${id}">${values
      .slice(0, 500)
      .map((v) => `<option value="${esc(v)}">`)
      .join('')}</datalist>`;
  const decisions = ['', 'allow', 'mask', 'deny', 'approval_required', 'none'];
  const hidden = (['rule', 'session', 'approval', 'column', 'classification', 'visibility', 'type'] as const)
    .filter((k) => f[k] !== undefined)
    .map((k) => `<label>${k}<input name="${k}" value="${esc(f[k])}"></label>`)
    .join('');
  return `<form class="filters" method="get" action="${action}">
<label>User<input name="actor" list="actors" value="${esc(f.actor ?? '')}" placeholder="any"></label>${dl('actors', opts.actors)}
<label>Table<input name="table" list="tables" value="${esc(f.table ?? '')}" placeholder="any"></label>${dl('tables', opts.tables)}
<label>Decision<select name="decision">${decisions.map((d) => `<option value="${d}"${f.decision === d ? ' selected' : ''}>${d || 'any'}</option>`).join('')}</select></label>
<label>From (UTC)<input type="date" name="from" value="${dateVal(f.from)}"></label>
<label>To (UTC)<input type="date" name="to" value="${dateVal(f.to)}"></label>
${hidden}<button type="submit" id="apply">Apply</button> <a href="${action}">clear</a></form>`;
}

function tile(label: string, n: number, href: string, cls = ''): string {
  return `<a class="tile ${cls}" href="${esc(href)}" data-tile="${esc(label)}"><div class="n">${fmt(n)}</div><div class="l">${esc(label)}</div></a>`;
}

function bars(rows: Count[], href: (key: string) => string, cls = ''): string {
  if (!rows.length) return '<p class="muted">none</p>';
  const max = Math.max(...rows.map((r) => r.n));
  return `<table>${rows
    .map(
      (r) => `<tr><td><a href="${esc(href(r.key))}">${esc(r.key)}</a></td><td class="num">${fmt(r.n)}</td>
<td><svg class="bar" width="160" height="12" aria-hidden="true"><rect class="${cls}" width="${Math.max(1, Math.round((160 * r.n) / max))}" height="12"/></svg></td></tr>`,
    )
    .join('')}</table>`;
}

function bucketName(ms: number): string {
  if (ms < 3_600_000) return `${ms / 60_000} min`;
  if (ms < 86_400_000) return `${ms / 3_600_000} h`;
  return ms === 86_400_000 ? 'day' : `${ms / 86_400_000} days`;
}

function badge(text: string, cls = text): string {
  return `<span class="badge ${esc(cls)}">${esc(text)}</span>`;
}

function approvalRows(list: ApprovalSummary[], f: Filter): string {
  if (!list.length) return '<p class="muted">no approvals in this selection</p>';
  return `<table id="approvals"><tr><th>approval</th><th>status</th><th>requester</th><th>approvers</th><th>rejected / expired — by, reason</th><th>statement</th><th>tables</th><th class="num">latency</th><th>self-approved</th><th>text differs</th></tr>${list
    .map((a) => {
      const fl = approvalFlags(a);
      const closed = a.closing ? `${a.closing.by ?? ''} at ${a.closing.at}${a.closing.reason ? ` — ${a.closing.reason}` : ''}` : '';
      return `<tr data-approval="${esc(a.approvalId)}"><td><a href="${B}/events${esc(filterQuery({ approval: a.approvalId }))}">${esc(a.approvalId)}</a></td><td>${badge(fl.status, fl.status === 'executed' ? 'good' : fl.status)}</td>
<td>${esc(a.requester)}</td><td>${esc(a.grants.map((g) => g.approver).join(', '))}</td><td class="closing">${esc(closed)}</td><td>${esc(a.kinds.join(', '))}</td><td>${esc(a.tables.join(', '))}</td>
<td class="num">${fl.latencySeconds === null ? '' : `${fmt(fl.latencySeconds)} s`}</td><td>${fl.selfApproved ? badge('YES', 'bad') : badge('no', 'good')}</td><td>${fl.textDiffers ? badge('YES', 'bad') : badge('no', 'good')}</td></tr>`;
    })
    .join('')}</table>${f.from || f.to ? '' : ''}`;
}

export function overviewPage(o: Overview, f: Filter, opts: FilterOptions, integrity: { ok: boolean; at: string } | null, viewer: Viewer): string {
  const ev = (extra: Filter) => `${B}/events${filterQuery({ ...f, ...extra })}`;
  const tiles = [
    tile('events', o.total, ev({})),
    tile('tool calls', o.toolCalls, ev({ type: 'mcp_request' })),
    tile('denied', o.denied, ev({ decision: 'deny' }), o.denied ? 'warn' : ''),
    tile('masked', o.masked, ev({ decision: 'mask' })),
    tile('privileged', o.privileged, ev({ privileged: true })),
    tile('approval required', o.approvalRequired, ev({ decision: 'approval_required' })),
    tile('auth failures', o.authFailures, ev({ type: 'auth_failure' }), o.authFailures ? 'warn' : ''),
    tile('rows returned', o.rows, ev({})),
  ].join('');
  const series = JSON.stringify({ bucket: bucketName(o.series.bucketMs), t: o.series.t, calls: o.series.calls, denied: o.series.denied, masked: o.series.masked }).replace(/</g, '\\u003c');
  const colRows = o.columnAccess.slice(0, 30);
  const columns = colRows.length
    ? `<table id="column-access"><tr><th>column</th><th>classification</th><th>user</th><th class="num">clear</th><th class="num">masked</th></tr>${colRows
        .map(
          (r) => `<tr><td>${esc(r.column)}</td><td>${esc(r.classification)}</td><td>${esc(r.actor)}</td>
<td class="num">${r.clear ? `<a class="bad" href="${esc(ev({ column: r.column, actor: r.actor, visibility: 'clear' }))}">${fmt(r.clear)}</a>` : '0'}</td>
<td class="num">${r.masked ? `<a href="${esc(ev({ column: r.column, actor: r.actor, visibility: 'masked' }))}">${fmt(r.masked)}</a>` : '0'}</td></tr>`,
        )
        .join('')}</table>`
    : '<p class="muted">no classified column was returned in this selection (a column counts as classified once a masking rule has masked it)</p>';
  const integ = integrity
    ? `<p>Last verification (${esc(integrity.at)}): ${integrity.ok ? '<strong class="ok">intact</strong>' : '<strong class="bad">BROKEN</strong>'}. <a href="${B}/integrity">details</a></p>`
    : `<p>Not verified yet in this console session. <a href="${B}/integrity?run=1" id="run-verify">Run the verifier</a></p>`;
  const body = `<h1>Overview</h1>${filterForm(B, f, opts)}
<p class="muted">${o.firstEvent ? `Events from ${esc(iso(o.firstEvent))} to ${esc(iso(o.lastEvent))} (UTC).` : 'No events match.'}
Quick windows: <a href="${B}${esc(filterQuery({ ...f, from: Date.now() - 7 * 86_400_000, to: undefined }))}">7 days</a> · <a href="${B}${esc(filterQuery({ ...f, from: Date.now() - 90 * 86_400_000, to: undefined }))}">90 days</a> · <a href="${B}${esc(filterQuery({ ...f, from: Date.now() - 365 * 86_400_000, to: undefined }))}">12 months</a></p>
<div class="grid">${tiles}</div>
<div class="card"><h2>Activity over time (per ${esc(bucketName(o.series.bucketMs))})</h2><div id="chart"></div>
<script type="application/json" id="series-data">${series}</script></div>
<div class="cols">
<div class="card"><h2>Top users</h2>${bars(o.topActors, (k) => ev({ actor: k }))}</div>
<div class="card"><h2>Top tables</h2>${bars(o.topTables, (k) => ev({ table: k }))}</div>
<div class="card"><h2>Denials by rule</h2><p class="muted">Refusals without a policy rule (credentials, malformed requests, console pages) are filed under what refused them.</p>${bars(o.denialsByRule, (k) => (k.includes(': ') ? ev({ decision: 'deny', type: k.split(': ')[0] }) : ev({ decision: 'deny', rule: k })), 'deny')}</div>
<div class="card"><h2>Policy decisions</h2>${bars(o.decisions, (k) => ev({ decision: k }))}</div>
<div class="card" id="approval-events"><h2>Approval workflow</h2><p class="muted">Requests, votes, rejections, expiries and executions: counted here, not as policy decisions or denials.</p>${bars(o.approvalEvents, () => `${B}/approvals`)}</div>
</div>
<div class="card"><h2>Who saw classified columns — clear vs masked</h2>${columns}</div>
<div class="card"><h2>Approvals of privileged statements</h2>${approvalRows(o.approvals.slice(0, 50), f)}</div>
<div class="card"><h2>Chain integrity</h2>${integ}</div>`;
  return layout('Overview', body, viewer);
}

export interface EventRow {
  index: number;
  time: string;
  type: string;
  actor: string | null;
  decision: string;
  outcome: string;
  table: string | null;
  rules: string[];
  session: string | null;
  chain: string;
  seq: number;
  privileged: boolean;
}

export function eventsPage(rows: EventRow[], total: number, page: number, pageSize: number, f: Filter, opts: FilterOptions, viewer: Viewer): string {
  const list = rows.length
    ? `<table id="events"><tr><th>time (UTC)</th><th>event</th><th>user</th><th>decision</th><th>outcome</th><th>table</th><th>rules</th><th>session</th></tr>${rows
        .map(
          (
            r,
          ) => `<tr data-event="${esc(r.chain)}/${r.seq}"><td><a href="${B}/events/${esc(encodeURIComponent(r.chain))}/${r.seq}">${esc(r.time)}</a></td><td>${esc(r.type)}${r.privileged ? ' ' + badge('privileged', 'approval_required') : ''}</td>
<td>${esc(r.actor)}</td><td>${r.decision === 'none' ? '' : badge(r.decision)}</td><td>${esc(r.outcome)}</td><td>${esc(r.table)}</td><td>${esc(r.rules.join(', '))}</td>
<td>${r.session ? `<a class="session" href="${B}/sessions/${esc(encodeURIComponent(r.session))}">replay</a>` : ''}</td></tr>`,
        )
        .join('')}</table>`
    : '<p class="muted">No events match these filters.</p>';
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const pager = `<div class="pager">${page > 0 ? `<a href="${B}/events${esc(filterQuery(f, { page: String(page - 1) }))}">← newer</a>` : ''}
<span>page ${page + 1} of ${pages} · ${fmt(total)} event(s)</span>
${page + 1 < pages ? `<a href="${B}/events${esc(filterQuery(f, { page: String(page + 1) }))}">older →</a>` : ''}</div>`;
  return layout('Events', `<h1>Events</h1>${filterForm(`${B}/events`, f, opts)}${pager}<div class="card">${list}</div>${pager}`, viewer);
}

/** Per column, what the caller received and what the stored copy holds. */
function deliveryTable(e: AuditEvent): string {
  const d = deliveryOf(e);
  if (!d.rows.length) return '';
  return `<table class="delivery"><tr><th>column</th><th>classification</th><th>the caller received</th><th>the stored copy holds</th></tr>${d.rows
    .map((r) => `<tr><td>${esc(r.column)}</td><td>${esc(r.classification ?? '')}</td><td class="released">${esc(r.released)}</td><td>${esc(r.stored)}</td></tr>`)
    .join('')}</table>${d.recorded ? '' : '<p class="muted">This event predates the per-column record: columns not listed reached the caller as the upstream returned them.</p>'}`;
}

function storedResponse(e: AuditEvent, open: boolean): string {
  const resp = responseText(e.response_json);
  if (!resp) return '';
  return `<details class="stored"${open ? ' open' : ''}><summary>${esc(STORED_COPY_LABEL)}</summary>${deliveryTable(e)}<pre class="response">${esc(resp)}</pre></details>`;
}

function pretty(json: string | null): string {
  if (json === null) return '';
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

function eventDetail(e: AuditEvent): string {
  const row = (k: string, v: unknown) => (v === null || v === undefined || v === '' || (Array.isArray(v) && !v.length) ? '' : `<dt>${esc(k)}</dt><dd>${esc(Array.isArray(v) ? v.join(', ') : v)}</dd>`);
  const masked = e.masked_columns.length
    ? `<table><tr><th>output column</th><th>source</th><th>classification</th><th>method</th><th>rule</th></tr>${e.masked_columns
        .map((m) => `<tr><td>${esc(m.column)}</td><td>${esc(m.source)}</td><td>${esc(m.classification)}</td><td>${esc(m.method)}</td><td>${esc(m.rule_id)}</td></tr>`)
        .join('')}</table>`
    : '';
  const resp = responseText(e.response_json);
  return `<dl>
${row('event', `${e.event_type} · ${e.event_id}`)}${row('time (UTC)', e.event_time)}${row('user', e.actor_email ?? e.actor_subject)}${row('actor type', `${e.actor_type} via ${e.auth_method}`)}
${row('roles', e.actor_roles)}${row('groups', e.actor_groups)}${row('source', [e.source_ip, e.user_agent].filter(Boolean).join(' · '))}${row('client', [e.client_name, e.client_version].filter(Boolean).join(' '))}
${row('MCP method', e.mcp_method)}${row('tool', e.tool_name)}${row('tables', e.target_tables)}${row('columns', e.target_columns)}${row('statement', [...e.statement_types, ...e.statement_kinds].join(', '))}
${row('decision', e.decision === 'none' ? null : e.decision)}${row('rules', e.rule_ids)}${row('reason', e.decision_reason)}${row('privileged', e.privileged ? 'yes' : null)}${row('justification', e.justification)}
${row('outcome', e.outcome)}${row('error', [e.error_code, e.error_message].filter(Boolean).join(': '))}${row('HTTP status', e.http_status)}${row('rows / bytes', e.rows_returned === null ? null : `${e.rows_returned} rows, ${e.bytes_returned ?? 0} bytes, ${e.duration_ms ?? '?'} ms`)}
${row('approval', e.approval_id)}${row('requester', e.approval_requester)}${row('approvers', e.approval_approvers)}${row('sql sha256', e.sql_sha256)}
${row('policy version', e.policy_version)}${row(
  'detector hits',
  e.detector_hits.filter((h) => h.count > 0).map((h) => `${h.detector}×${h.count}`),
)}
${row('chain / seq', `${e.chain_id} #${e.seq}`)}${row('hash', e.hash)}${row('signing key', e.signing_key_id)}
</dl>
${e.sql_text ? `<h3>SQL (as stored: literals removed unless policy keeps them)</h3><pre class="sql">${esc(e.sql_text)}</pre>` : ''}
${masked ? `<h3>Masked columns</h3>${masked}` : ''}
${e.request_json ? `<h3>Request</h3><pre>${esc(pretty(e.request_json))}</pre>` : ''}
${resp ? `<h3>What the caller received, and the stored copy</h3>${storedResponse(e, true)}` : ''}`;
}

export function eventPage(e: AuditEvent, viewer: Viewer): string {
  const links = [
    e.session_id ? `<a href="${B}/sessions/${esc(encodeURIComponent(e.session_id))}" id="to-session">Replay the whole session</a>` : '',
    e.approval_id ? `<a href="${B}/events${esc(filterQuery({ approval: e.approval_id }))}">Every event of approval ${esc(e.approval_id)}</a>` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return layout(`Event ${e.chain_id}#${e.seq}`, `<h1>Event ${esc(e.event_type)} #${e.seq}</h1><p>${links}</p><div class="card">${eventDetail(e)}</div>`, viewer);
}

export function sessionPage(sessionId: string, events: AuditEvent[], approvals: AuditEvent[], viewer: Viewer): string {
  const first = events[0];
  const last = events.at(-1);
  if (!first || !last) return layout('Session', `<h1>Session ${esc(sessionId)}</h1><p class="muted">No audit events carry this session id.</p>`, viewer);
  const items = events
    .map(
      (e) => `<div class="ev ${esc(e.decision)}" data-seq="${e.seq}"><div><strong>${esc(e.event_time)}</strong> · ${esc(e.event_type)} ${esc([e.mcp_method, e.tool_name].filter(Boolean).join(' '))}
${e.decision !== 'none' ? badge(e.decision) : ''} → ${esc(e.outcome)} · <a href="${B}/events/${esc(encodeURIComponent(e.chain_id))}/${e.seq}">event</a></div>
${e.sql_text ? `<pre class="sql">${esc(e.sql_text)}</pre>` : ''}
${e.rule_ids.length ? `<div>rules: ${esc(e.rule_ids.join(', '))}${e.decision_reason ? ` — ${esc(e.decision_reason)}` : ''}</div>` : ''}
${e.masked_columns.length ? `<div>masked: ${esc(e.masked_columns.map((m) => `${m.column} (${m.classification}, ${m.method})`).join(', '))}</div>` : ''}
${e.approval_id ? `<div>approval ${esc(e.approval_id)}${e.approval_approvers.length ? ` approved by ${esc(e.approval_approvers.join(', '))}` : ''}</div>` : ''}
${storedResponse(e, true)}</div>`,
    )
    .join('');
  const appr = approvals.length
    ? `<div class="card"><h2>Approvals involved</h2><table><tr><th>time</th><th>event</th><th>approval</th><th>by</th><th>outcome</th><th>reason</th></tr>${approvals
        .map(
          (a) =>
            `<tr><td>${esc(a.event_time)}</td><td>${esc(a.event_type)}</td><td>${esc(a.approval_id)}</td><td>${esc(a.actor_email ?? a.actor_subject)}</td><td>${esc(a.outcome)}</td><td>${esc(a.decision_reason)}</td></tr>`,
        )
        .join('')}</table></div>`
    : '';
  return layout(
    `Session ${sessionId}`,
    `<h1>Session replay</h1><div class="card"><dl><dt>session</dt><dd>${esc(sessionId)}</dd><dt>user</dt><dd>${esc(first.actor_email ?? first.actor_subject)} (${esc(first.actor_type)}, ${esc(first.auth_method)})</dd>
<dt>client</dt><dd>${esc([first.client_name, first.client_version].filter(Boolean).join(' '))}</dd><dt>span</dt><dd>${esc(first.event_time)} → ${esc(last.event_time)} · ${events.length} event(s)</dd></dl></div>
${appr}<div class="replay" id="replay">${items}</div>`,
    viewer,
  );
}

export function approvalsPage(list: ApprovalSummary[], f: Filter, opts: FilterOptions, viewer: Viewer): string {
  return layout(
    'Approvals',
    `<h1>Approvals of privileged statements</h1>${filterForm(`${B}/approvals`, f, opts)}
<p class="muted">Self-approved and text-differs must both read "no" on every row: the gateway refuses self-approval, and an approval binds the exact statement (sql_sha256).</p>
<div class="card">${approvalRows(list, f)}</div>`,
    viewer,
  );
}

/** A tool's current pin, as the pin store holds it. */
export interface PinRow {
  upstream: string;
  tool: string;
  seq: number;
  sha256: string;
  pinned_at: string;
  how: string;
  approval_id: string | null;
  approved_by: string[];
}

/** Tool-definition pinning: the current pins, then every event of rule tool-pinning (newest first). */
export function toolPinsPage(pins: PinRow[] | null, pinsError: string | null, events: { chain: string; seq: number; e: AuditEvent }[], viewer: Viewer): string {
  const current = pins
    ? pins.length
      ? `<table id="pins"><tr><th>upstream</th><th>tool</th><th class="num">record</th><th>sha256</th><th>pinned at</th><th>how</th><th>approval</th></tr>${pins
          .map(
            (p) =>
              `<tr><td>${esc(p.upstream)}</td><td>${esc(p.tool)}</td><td class="num">${p.seq}</td><td><code>${esc(p.sha256.slice(0, 16))}…</code></td><td>${esc(p.pinned_at)}</td><td>${esc(p.how)}</td><td>${p.approval_id ? `<a href="${B}/approvals?approval=${encodeURIComponent(p.approval_id)}">${esc(p.approval_id)}</a> by ${esc(p.approved_by.join(', '))}` : ''}</td></tr>`,
          )
          .join('')}</table>`
      : '<p class="muted">No tool is pinned yet (pins are made on the first tools/list or tools/call).</p>'
    : `<p class="bad">The pin store could not be read: ${esc(pinsError ?? 'not configured')}</p>`;
  const rows = events.length
    ? `<table id="pin-events"><tr><th>time</th><th>event</th><th>tool</th><th>actor</th><th>decision</th><th>outcome</th><th>reason</th></tr>${events
        .map(
          ({ chain, seq, e }) =>
            `<tr><td><a href="${B}/events/${encodeURIComponent(chain)}/${seq}">${esc(e.event_time)}</a></td><td>${esc(e.event_type)}${e.error_code ? ` (${esc(e.error_code)})` : ''}</td><td>${esc(e.tool_name ?? '')}</td><td>${esc(e.actor_email ?? e.actor_subject ?? '')}</td><td>${badge(e.decision)}</td><td>${badge(e.outcome)}</td><td>${esc((e.decision_reason ?? '').slice(0, 400))}</td></tr>`,
        )
        .join('')}</table>`
    : '<p class="muted">none recorded</p>';
  return layout(
    'Tool pins',
    `<h1>Tool-definition pins</h1><p class="muted">Each upstream tool's name, description, input schema and annotations are pinned on first sight; a changed definition is withheld from tools/list and its calls are refused until an approver accepts it (rule tool-pinning).</p>
<div class="card"><h2>Current pins</h2>${current}</div><div class="card"><h2>Pinning events</h2>${rows}</div>`,
    viewer,
  );
}

export interface IntegrityView {
  report: VerifyReport | null;
  at: string | null;
  running: boolean;
  error: string | null;
  keys: string[];
  signingKeysSeen: string[];
  invalid: InvalidLine[];
  invalidCount: number;
  policies: PolicyVersionSeen[];
}

export function integrityPage(v: IntegrityView, viewer: Viewer): string {
  const r = v.report;
  const summary = r
    ? `<p id="verdict">${r.ok ? '<strong class="ok">Chain intact</strong>' : '<strong class="bad">Chain BROKEN</strong>'} — verified at ${esc(v.at)}: ${fmt(r.events)} event(s), ${r.chains.length} chain(s), ${r.breaks.length} break(s), ${r.notices.length} notice(s).</p>
<table><tr><th>chain</th><th class="num">events</th><th class="num">seq</th><th class="num">checkpoints</th><th class="num">last signed seq</th><th>sealed</th></tr>${r.chains
        .map(
          (c) =>
            `<tr><td>${esc(c.chain_id)}</td><td class="num">${fmt(c.events)}</td><td class="num">${c.first_seq}–${c.last_seq}</td><td class="num">${c.checkpoints}</td><td class="num">${c.last_signed_seq}</td><td>${c.sealed ? 'yes' : 'no (running or cut)'}</td></tr>`,
        )
        .join('')}</table><pre id="verify-report">${esc(formatReport(r))}</pre>`
    : `<p>${v.error ? `<strong class="bad">The verifier could not run: ${esc(v.error)}</strong>` : 'The verifier has not run in this console session.'}</p>`;
  const invalid = v.invalidCount
    ? `<p class="bad">${v.invalidCount} line(s) of the audit store could not be read as events and are not in the console's figures:</p><ul>${v.invalid.map((i) => `<li>${esc(i.file)}:${i.line}: ${esc(i.reason)}</li>`).join('')}</ul>`
    : '<p class="ok">Every line of the audit store was read as an event.</p>';
  const policies = v.policies.length
    ? `<table><tr><th>policy version (sha256 of the rule files)</th><th>first seen</th><th>last seen</th><th class="num">loads</th><th class="num">refused loads</th><th class="num">events</th></tr>${v.policies
        .map(
          (p) =>
            `<tr><td><code>${esc(p.version)}</code></td><td>${esc(p.firstSeen)}</td><td>${esc(p.lastSeen)}</td><td class="num">${p.loads}</td><td class="num">${p.failedLoads}</td><td class="num">${fmt(p.events)}</td></tr>`,
        )
        .join('')}</table>`
    : '<p class="muted">none recorded</p>';
  return layout(
    'Chain integrity',
    `<h1>Chain integrity</h1><div class="card"><h2>Verification of the hash chain and checkpoint signatures</h2>${summary}
<form method="get" action="${B}/integrity"><input type="hidden" name="run" value="1"><button type="submit" id="run-verify">${r ? 'Verify again' : 'Run the verifier'}</button></form></div>
<div class="card"><h2>Signature keys</h2><p>Verification keys given to the console: ${v.keys.length ? v.keys.map((k) => `<code>${esc(k)}</code>`).join(', ') : '<strong class="bad">none — checkpoint signatures cannot be checked</strong>'}</p>
<p>Keys that signed checkpoints in the store: ${v.signingKeysSeen.length ? v.signingKeysSeen.map((k) => `<code>${esc(k)}</code>`).join(', ') : 'none'}</p></div>
<div class="card"><h2>Readable lines</h2>${invalid}</div>
<div class="card"><h2>Policy versions in force</h2>${policies}</div>`,
    viewer,
  );
}
