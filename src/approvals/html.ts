// Server-rendered pages for the approval web UI. Everything that came from a request (SQL,
// justification, names, reasons) is attacker-controlled and goes through esc(); the page
// runs no script at all and the Content-Security-Policy forbids any.
import { ageText, groupDuplicates, withRules, type ApprovalDetailView, type ApprovalView } from './views.js';
import { esc } from '../web/html.js';
import { AUTH_BASE } from '../web/pages.js';

export { esc };

export const UI_BASE = '/approvals/ui';

export const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1c2330;background:#f5f6f8}
header{background:#1c2330;color:#fff;padding:.7rem 1.2rem;display:flex;justify-content:space-between;align-items:center}
header a,header button{color:#fff}
main{max-width:70rem;margin:1.2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e1e4ea;vertical-align:top}
pre{background:#0f1522;color:#e8ecf3;padding:.8rem;overflow:auto;white-space:pre-wrap;word-break:break-word}
.card{background:#fff;padding:1rem 1.2rem;margin:0 0 1rem;border:1px solid #e1e4ea}
.status{font-weight:600;text-transform:uppercase;font-size:.8rem}
.pending{color:#9a5b00}.approved{color:#176b2c}.rejected,.expired{color:#a1221b}.executed{color:#3b4b66}
.flash{padding:.6rem 1rem;margin-bottom:1rem;border:1px solid}
.flash.ok{background:#e9f7ee;border-color:#9bd3ad}.flash.err{background:#fdecea;border-color:#f1a49c}
code.sql{font-size:.8rem;color:#3b4b66;word-break:break-word}.age{color:#5a6478;font-size:.85rem}
tr.dup td{background:#fbf7ee}tr.dup-note td{font-size:.85rem;color:#9a5b00;border-bottom:0}
textarea,input[type=text]{width:100%;box-sizing:border-box;font:inherit}
button{font:inherit;padding:.35rem .9rem;cursor:pointer}
form.inline{display:inline}
dl{display:grid;grid-template-columns:12rem 1fr;gap:.3rem 1rem}dt{color:#5a6478}dd{margin:0}
`;

function layout(title: string, body: string, who: string | null, csrf: string | null): string {
  const logout =
    who && csrf
      ? `<form class="inline" method="post" action="${AUTH_BASE}/logout"><input type="hidden" name="csrf" value="${esc(csrf)}"><span>${esc(who)}</span> <button type="submit">Sign out</button></form>`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · bqwarden approvals</title><link rel="stylesheet" href="${UI_BASE}/style.css"></head>
<body><header><a href="${UI_BASE}"><strong>bqwarden</strong> approvals</a><div>${logout}</div></header>
<main>${body}</main></body></html>`;
}

function flash(kind: 'ok' | 'err', text: string | null): string {
  return text ? `<div class="flash ${kind}" role="${kind === 'err' ? 'alert' : 'status'}">${esc(text)}</div>` : '';
}

/** Shown instead of a page when nobody is signed in and sign-in cannot start by itself. */
export function signInPage(error: string | null, signInUrl: string | null): string {
  const how = signInUrl
    ? `<p><a id="sign-in" href="${esc(signInUrl)}">Sign in with the bank's identity provider</a>.</p>`
    : `<p>This gateway has no browser sign-in configured (OpenID Connect in <code>web.signIn</code>, or Identity-Aware Proxy in front of it).</p>`;
  return layout('Sign in', `${flash('err', error)}<div class="card"><h1>Sign in to review approvals</h1>${how}</div>`, null, null);
}

function statusCell(s: string): string {
  return `<span class="status ${esc(s)}">${esc(s)}</span>`;
}

function shortSql(sql: string | null, max = 160): string {
  const one = (sql ?? '').replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function row(a: ApprovalView, dupOf: string | null): string {
  const what = a.statement_kinds.join(', ').toUpperCase() || a.statement_types.join(', ');
  return `<tr data-id="${esc(a.id)}"${dupOf ? ` class="dup" data-duplicate-of="${esc(dupOf)}"` : ''}><td>${dupOf ? '↳ ' : ''}<a href="${UI_BASE}/${esc(a.id)}">${esc(a.id)}</a></td><td>${statusCell(a.status)}</td>
<td>${esc(a.requester)}</td><td><span class="when">${esc(a.requested_at)}</span><br><span class="age">${esc(ageText(a.age_seconds))} ago</span></td>
<td><strong>${esc(what)}</strong> ${esc(a.tables.join(', '))}<br><code class="sql">${esc(shortSql(a.sql_text))}</code></td>
<td class="justification">${a.justification ? esc(a.justification) : '<em>none given</em>'}</td>
<td>${a.approvals.length} / ${a.approvals_required}</td><td>${esc(a.expires_at)}</td></tr>`;
}

export function listPage(items: ApprovalView[], who: string, csrf: string, notice: string | null): string {
  // Requests for the very same call (same requester, tool, statement text and arguments) are
  // shown together, so a stale duplicate never looks like a fresh request.
  const rows = groupDuplicates(items)
    .map((g) => {
      const [head, ...rest] = g;
      if (!head) return '';
      const note = rest.length
        ? `<tr class="dup-note"><td></td><td colspan="7">Same statement, same requester: ${rest.length} other request${rest.length > 1 ? 's' : ''} (${rest.map((r) => `${esc(r.id)} ${esc(r.status)}`).join(', ')})</td></tr>`
        : '';
      return [row(head, null), note, ...rest.map((r) => row(r, head.id))].join('\n');
    })
    .join('\n');
  return layout(
    'Approval requests',
    `${flash('ok', notice)}<h1>Approval requests</h1>
${items.length ? `<table id="requests"><thead><tr><th>Request</th><th>Status</th><th>Requester</th><th>Requested (UTC)</th><th>Statement (literals redacted)</th><th>Justification</th><th>Approvals</th><th>Expires (UTC)</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="card">Nothing is waiting for you.</p>'}`,
    who,
    csrf,
  );
}

export function detailPage(a: ApprovalDetailView, who: string, csrf: string, notice: { kind: 'ok' | 'err'; text: string } | null): string {
  const approvals = a.approvals.length ? a.approvals.map((v) => `${esc(v.by)} at ${esc(v.at)}${v.reason ? ` — ${esc(v.reason)}` : ''}`).join('<br>') : 'none yet';
  const sql =
    a.exact_sql !== null
      ? `<h2>Exact statement</h2><pre id="sql"><code>${esc(a.exact_sql)}</code></pre>`
      : `<h2>Statement (audit form, literals redacted)</h2><pre id="sql"><code>${esc(a.sql_text)}</code></pre><p>The exact text is not held by this gateway; it cannot be approved until the requester re-runs the call.</p>`;
  const hidden = `<input type="hidden" name="csrf" value="${esc(csrf)}"><input type="hidden" name="sql_sha256" value="${esc(a.sql_sha256)}">`;
  const forms =
    a.can_approve || a.can_reject
      ? `<div class="card"><h2>Decision</h2>
${a.can_approve ? `<form method="post" action="${UI_BASE}/${esc(a.id)}/approve">${hidden}<label for="approve-reason">Reason for approving</label><textarea id="approve-reason" name="reason" rows="2" required></textarea><p><button type="submit" id="approve">Approve</button></p></form>` : ''}
${a.can_reject ? `<form method="post" action="${UI_BASE}/${esc(a.id)}/reject">${hidden}<label for="reject-reason">Reason for rejecting</label><textarea id="reject-reason" name="reason" rows="2" required></textarea><p><button type="submit" id="reject">Reject</button></p></form>` : ''}
${a.why_not ? `<p>${esc(a.why_not)}</p>` : ''}</div>`
      : `<p class="card">${esc(a.why_not ?? 'No action available.')}</p>`;
  return layout(
    a.id,
    `${notice ? flash(notice.kind, notice.text) : ''}<h1>Request ${esc(a.id)} ${statusCell(a.status)}</h1>
<div class="card"><dl>
<dt>Requester</dt><dd id="requester">${esc(a.requester)}</dd>
<dt>Requested at (UTC)</dt><dd>${esc(a.requested_at)} (${esc(ageText(a.age_seconds))} ago)</dd>
<dt>Tool</dt><dd>${esc(a.tool)}</dd>
<dt>Statement classes</dt><dd>${esc(a.statement_types.join(', '))} (${esc(a.statement_kinds.join(', '))})</dd>
<dt>Tables</dt><dd>${esc(a.tables.join(', ') || '(none)')}</dd>
<dt>Justification</dt><dd id="justification">${a.justification ? esc(a.justification) : '<em>none given</em>'}</dd>
<dt>Why approval is needed</dt><dd id="why">${esc(withRules(a.policy_reason, a.rule_ids))}</dd>
<dt>Needs</dt><dd>${a.approvals_required} approval(s) from ${esc(a.approver_roles.join(' or '))}, distinct people, not the requester</dd>
<dt>Approvals</dt><dd id="approvals">${approvals}</dd>
${a.rejection ? `<dt>Rejected</dt><dd>by ${esc(a.rejection.by)} at ${esc(a.rejection.at)} — ${esc(a.rejection.reason)}</dd>` : ''}
${a.execution ? `<dt>Executed</dt><dd id="executed">${esc(a.execution.at)} (${esc(a.execution.outcome)}${a.execution.rows_affected !== null ? `, ${a.execution.rows_affected} row(s) affected` : ''})</dd>` : ''}
${a.duplicates.length ? `<dt>Same statement, same requester</dt><dd id="duplicates">${a.duplicates.map((d) => `<a href="${UI_BASE}/${esc(d.id)}">${esc(d.id)}</a> ${esc(d.status)} (${esc(d.requested_at)})`).join('<br>')}</dd>` : ''}
<dt>Expires (UTC)</dt><dd>${esc(a.expires_at)}</dd>
<dt>SQL sha256</dt><dd><code>${esc(a.sql_sha256)}</code></dd>
</dl></div>
<div class="card">${sql}</div>
${forms}`,
    who,
    csrf,
  );
}

export function errorPage(status: number, text: string, who: string | null, csrf: string | null): string {
  return layout(`Error ${status}`, `${flash('err', text)}<p><a href="${UI_BASE}">Back to the list</a></p>`, who, csrf);
}
