// The evidence pack as one self-contained, print-ready HTML document (no script, no external
// resources), which is also what Chromium prints to PDF. Values from the audit log are escaped.
import { formatReport } from '../audit/verify.js';
import { esc } from '../approvals/html.js';
import type { Evidence } from './evidence.js';

const CSS = `
@page{size:A4;margin:16mm 14mm}
body{font:10.5pt/1.4 "DejaVu Sans",system-ui,sans-serif;color:#111;margin:0}
h1{font-size:18pt;margin:0 0 4pt}h2{font-size:13pt;margin:16pt 0 6pt;border-bottom:1.5pt solid #14213d;padding-bottom:2pt;page-break-after:avoid}
table{border-collapse:collapse;width:100%;margin:4pt 0 8pt;page-break-inside:auto}tr{page-break-inside:avoid}
th,td{border:0.5pt solid #b9c0cc;padding:3pt 5pt;text-align:left;vertical-align:top;font-size:9pt}th{background:#eef1f6}
td.num{text-align:right}.ok{color:#176b2c;font-weight:700}.bad{color:#a1221b;font-weight:700}.muted{color:#555}
pre{font:8pt/1.3 "DejaVu Sans Mono",monospace;white-space:pre-wrap;word-break:break-all;background:#f4f5f7;padding:6pt;border:0.5pt solid #ccd}
code{font:8.5pt "DejaVu Sans Mono",monospace;word-break:break-all}
.cover{border:1.5pt solid #14213d;padding:10pt 12pt;margin-bottom:10pt}
`;

function yesNo(ok: boolean, good = true): string {
  return ok === good ? '<span class="ok">yes</span>' : '<span class="bad">no</span>';
}
const fmt = (n: number) => n.toLocaleString('en-US');

export interface ReportMeta {
  title?: string;
  retentionDays?: number | null;
}

/** The control-by-control table: what examiners expect, and this period's figures. */
function controls(e: Evidence): string {
  const v = e.verification;
  const selfApproved = e.approvals.filter((a) => a.selfApproved).length;
  const textDiffers = e.approvals.filter((a) => a.textDiffers).length;
  const clear = e.classifiedAccess.reduce((n, r) => n + r.clear, 0);
  const rows: [string, string, string, string][] = [
    ['Every access tied to an individual; no shared accounts', 'FFIEC II.C.7(b); CAT D3.PC.Am.B.3; PCI DSS 10.2.2',
      `${fmt(e.requestsWithIdentity)} of ${fmt(e.requests)} MCP requests carry a verified identity; ${fmt(e.distinctActors)} distinct identities (${e.actors.human} human, ${e.actors.ci} CI, ${e.actors.agent} agent, ${e.actors.service} service); ${fmt(e.authFailures)} refused sign-ins.`,
      e.requestsWithIdentity === e.requests ? 'met' : 'see figures'],
    ['Least privilege, default deny', 'FFIEC II.C.7(b); CAT D3.PC.Am.B.1',
      `${fmt(e.denied)} requests denied (policy, authentication or input) under ${e.deniedByRule.length} rule(s); ${e.policies.length} policy version(s) in force (below).`, 'met'],
    ['Additional approval; segregation of duties', 'FFIEC II.C.7(c); CAT D3.PC.Am.B.2',
      `${e.approvals.length} approval request(s), ${e.approvals.filter((a) => a.status === 'executed').length} executed; self-approved: ${selfApproved}; executed text differing from the approved text: ${textDiffers}.`,
      selfApproved === 0 && textDiffers === 0 ? 'met' : 'EXCEPTION'],
    ['Privileged activity monitored', 'FFIEC II.C.7(c); CAT D3.DC.An.B.5', `${fmt(e.privileged)} privileged statement(s) flagged and listed with their approvals.`, 'met'],
    ['Sensitive data protected (masking, tokenization)', 'CAT tokenization; FFIEC II.C.22', `${fmt(e.masked)} response(s) masked by column rules, ${fmt(e.detectorHits)} with content-detector hits; ${fmt(clear)} release(s) of a classified column in clear, each to a role policy allows (table below).`, 'met'],
    ['Record content: what, when, where, source, outcome, who', 'NIST AU-3; PCI DSS 10.2.2', `${fmt(e.events)} events of ${Object.keys(e.byType).length} types, each with actor, time, source, outcome and target fields (schema-enforced).`, 'met'],
    ['UTC timestamps', 'NIST AU-8', 'event_time is UTC with milliseconds, set by the gateway (schema-enforced).', 'met'],
    ['Audit data protected from modification and deletion', 'NIST AU-9; FFIEC II.C.22',
      v ? `Verifier: ${v.ok ? 'intact' : `${v.breaks.length} break(s)`}; ${fmt(v.events)} events, ${v.chains.length} chain(s), ${v.chains.reduce((n, c) => n + c.checkpoints, 0)} signed checkpoint(s).` : 'not verified', v?.ok ? 'met' : 'EXCEPTION'],
    ['Non-repudiation', 'NIST AU-10', `Checkpoints signed with key(s) ${e.signingKeysSeen.join(', ') || '(none seen)'}; verified with ${e.verificationKeys.join('; ') || 'no key'}.`, v?.ok && e.verificationKeys.length ? 'met' : 'EXCEPTION'],
    ['Recorded before execution', 'NIST AU-9, AU-12; FFIEC II.C.22',
      v ? `${fmt(v.intents.written)} write-ahead intent(s) durable before their call was sent upstream; ${fmt(v.intents.open)} without an outcome (crash or sink failure after execution; listed in section 3).${v.anchors ? ` Chain compared with ${fmt(v.anchors.count)} anchor(s) in ${v.anchors.store}.` : ' No anchor store compared.'}` : 'not verified',
      v && v.intents.open === 0 ? 'met' : 'see figures'],
    ['Access to audit data restricted and logged', 'FFIEC II.C.22', `${fmt(e.consoleAccess)} console/report access event(s), ${fmt(e.consoleRefused)} refused.`, 'met'],
  ];
  return `<table><tr><th>expectation</th><th>source</th><th>figures for the period</th><th>result</th></tr>${rows
    .map((r) => `<tr><td>${esc(r[0])}</td><td>${esc(r[1])}</td><td>${esc(r[2])}</td><td class="${r[3] === 'met' ? 'ok' : 'bad'}">${esc(r[3])}</td></tr>`)
    .join('')}</table>`;
}

export function renderEvidenceHtml(e: Evidence, meta: ReportMeta = {}): string {
  const v = e.verification;
  const title = meta.title ?? 'bqwarden audit evidence pack';
  const approvals = e.approvals.length
    ? `<table><tr><th>approval</th><th>requester</th><th>approvers</th><th>statement</th><th>tables</th><th>requested</th><th>approved</th><th>status</th><th>self-approved</th><th>text differs</th></tr>${e.approvals
        .map(
          (a) => `<tr><td><code>${esc(a.approvalId)}</code></td><td>${esc(a.requester)}</td><td>${esc(a.approvers.join(', '))}</td><td>${esc(a.statement)}</td><td>${esc(a.tables.join(', '))}</td>
<td>${esc(a.requestedAt)}</td><td>${esc(a.approvedAt)}</td><td>${esc(a.status)}</td><td>${a.selfApproved ? '<span class="bad">YES</span>' : 'no'}</td><td>${a.textDiffers ? '<span class="bad">YES</span>' : 'no'}</td></tr>`,
        )
        .join('')}</table>`
    : '<p class="muted">No approval requests in the period.</p>';
  const denials = e.deniedByRule.length
    ? `<table><tr><th>rule</th><th class="num">denials</th></tr>${e.deniedByRule.map((d) => `<tr><td>${esc(d.rule)}</td><td class="num">${fmt(d.n)}</td></tr>`).join('')}</table>
<table><tr><th>identity</th><th class="num">denials</th></tr>${e.deniedByActor.slice(0, 25).map((d) => `<tr><td>${esc(d.actor)}</td><td class="num">${fmt(d.n)}</td></tr>`).join('')}</table>`
    : '<p class="muted">No denials in the period.</p>';
  const access = e.classifiedAccess.length
    ? `<table><tr><th>column</th><th>classification</th><th>identity</th><th class="num">clear</th><th class="num">masked</th></tr>${e.classifiedAccess
        .slice(0, 200)
        .map((r) => `<tr><td><code>${esc(r.column)}</code></td><td>${esc(r.classification)}</td><td>${esc(r.actor)}</td><td class="num">${fmt(r.clear)}</td><td class="num">${fmt(r.masked)}</td></tr>`)
        .join('')}</table>`
    : '<p class="muted">No classified column was released in the period.</p>';
  const policies = e.policies.length
    ? `<table><tr><th>policy version (SHA-256 of the rule files)</th><th>first seen</th><th>last seen</th><th class="num">loads</th><th class="num">refused loads</th><th class="num">requests decided</th></tr>${e.policies
        .map((p) => `<tr><td><code>${esc(p.version)}</code></td><td>${esc(p.firstSeen)}</td><td>${esc(p.lastSeen)}</td><td class="num">${p.loads}</td><td class="num">${p.refused}</td><td class="num">${fmt(p.requests)}</td></tr>`)
        .join('')}</table>`
    : '<p class="muted">No policy version recorded in the period.</p>';
  const chains = v
    ? `<p>Result: ${v.ok ? '<span class="ok">INTACT</span>' : '<span class="bad">BROKEN</span>'} (${esc(e.verificationScope)}).</p>
<table><tr><th>chain</th><th class="num">events</th><th class="num">seq range</th><th class="num">checkpoints</th><th class="num">last signed seq</th><th>sealed</th></tr>${v.chains
        .map((c) => `<tr><td><code>${esc(c.chain_id)}</code></td><td class="num">${fmt(c.events)}</td><td class="num">${c.first_seq}–${c.last_seq}</td><td class="num">${c.checkpoints}</td><td class="num">${c.last_signed_seq}</td><td>${yesNo(c.sealed)}</td></tr>`)
        .join('')}</table><pre>${esc(formatReport(v))}</pre>`
    : '<p class="bad">The chain was not verified.</p>';
  const types = Object.entries(e.byType)
    .map(([k, n]) => `<tr><td>${esc(k)}</td><td class="num">${fmt(n)}</td></tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} ${esc(e.from)} to ${esc(e.to)}</title><style>${CSS}</style></head><body>
<div class="cover"><h1>${esc(title)}</h1>
<p><strong>Period:</strong> ${esc(e.from)} to ${esc(e.to)} (UTC, inclusive) · <strong>Source:</strong> ${esc(e.source)} · <strong>Generated:</strong> ${esc(e.generatedAt)}</p>
<p><strong>Scope:</strong> ${fmt(e.events)} audit events from ${e.chains.length} hash chain(s), gateway instance(s) ${esc(e.instances.join(', ') || '—')}, gateway version(s) ${esc(e.gatewayVersions.join(', ') || '—')}${e.duplicatesSkipped ? `; ${fmt(e.duplicatesSkipped)} duplicate deliveries counted once` : ''}.
${meta.retentionDays ? `Configured retention: ${meta.retentionDays} days.` : ''}</p>
<p><strong>Chain verification:</strong> ${v ? (v.ok ? '<span class="ok">INTACT</span>' : '<span class="bad">BROKEN</span>') : '<span class="bad">NOT RUN</span>'} · <strong>Signature keys:</strong> ${e.signingKeysSeen.map((k) => `<code>${esc(k)}</code>`).join(', ') || '—'}</p></div>
<h2>1. Control mapping (FFIEC, NIST SP 800-53 AU, PCI DSS 10)</h2>${controls(e)}
<h2>2. Policy versions in force</h2>${policies}
<h2>3. Chain verification and signatures</h2>${chains}
<p>Verification keys and where they came from: ${e.verificationKeys.map((k) => `<code>${esc(k)}</code>`).join('; ') || '<span class="bad">none given</span>'}</p>
<h2>4. Approvals of privileged statements</h2>${approvals}
<h2>5. Denials</h2>${denials}
<h2>6. Classified column access (clear vs masked)</h2>${access}
<h2>7. Events by type</h2><table><tr><th>event type</th><th class="num">events</th></tr>${types}</table>
</body></html>`;
}
