// The evidence pack as one self-contained, print-ready HTML document (no script, no external
// resources), which is also what Chromium prints to PDF. Values from the audit log are escaped.
import { formatReport } from '../audit/verify.js';
import { esc } from '../approvals/html.js';
import type { Evidence, EvidenceException } from './evidence.js';

// The body keeps a 5 mm gutter inside the right margin: Chromium clips whatever runs past the
// printable area at its edge, so ink in that gutter on a page image means something was cut off.
const CSS = `
@page{size:A4;margin:16mm 14mm}
body{font:10pt/1.4 "DejaVu Sans",system-ui,sans-serif;color:#111;margin:0 5mm 0 0}
h1{font-size:18pt;margin:0 0 4pt}h2{font-size:13pt;margin:16pt 0 6pt;border-bottom:1.5pt solid #14213d;padding-bottom:2pt;page-break-after:avoid}
table{border-collapse:collapse;width:100%;max-width:100%;table-layout:fixed;margin:4pt 0 8pt;page-break-inside:auto}tr{page-break-inside:avoid}
th,td{border:0.5pt solid #b9c0cc;padding:3pt 4pt;text-align:left;vertical-align:top;font-size:8.5pt;overflow-wrap:anywhere;word-break:break-word}th{background:#eef1f6}
td.num,th.num{text-align:right}.ok{color:#176b2c;font-weight:700}.bad{color:#a1221b;font-weight:700}.warn{color:#9a5b00;font-weight:700}.muted{color:#555}
pre{font:7.5pt/1.3 "DejaVu Sans Mono",monospace;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-all;background:#f4f5f7;padding:6pt;border:0.5pt solid #ccd}
code{font:8pt "DejaVu Sans Mono",monospace;overflow-wrap:anywhere;word-break:break-all}
.cover{border:1.5pt solid #14213d;padding:10pt 12pt;margin-bottom:10pt}
table.signoff td{height:26pt}
table.small td,table.small th{font-size:7.5pt}
`;

function yesNo(ok: boolean, good = true): string {
  return ok === good ? '<span class="ok">yes</span>' : '<span class="bad">no</span>';
}
const fmt = (n: number) => n.toLocaleString('en-US');

export interface ReportMeta {
  title?: string;
  retentionDays?: number | null;
  /** Printed in the sign-off block. */
  preparer?: string | null;
  /** The manifest file beside the pack (its SHA-256 and signature). */
  manifestName?: string | null;
  /** Fingerprint of the key that signs the manifest; null: the pack is unsigned. */
  signedBy?: string | null;
}

/** Current sources only: the FFIEC Cybersecurity Assessment Tool was retired in August 2025. */
const REFERENCES = [
  ['FFIEC', 'FFIEC IT Examination Handbook, Information Security booklet (2016): II.C.7 user access and segregation of duties; II.C.22 log management.'],
  ['NIST', 'NIST SP 800-53 Rev. 5, Security and Privacy Controls: AC-2, AC-3, AC-5, AC-6, AU-3, AU-6, AU-8, AU-9, AU-10, AU-11, CM-3, IA-2, SC-28.'],
  [
    'PCI DSS',
    'PCI DSS v4.0.1 (June 2024): Requirement 3.4–3.5 (PAN masked and unreadable), 7.2 (access by need to know), 8.2 (unique IDs), 10.2–10.6 (audit logs: content, protection, review, retention, time).',
  ],
] as const;

function exceptionsOf(e: Evidence, kinds: string[]): EvidenceException[] {
  return e.exceptions.filter((x) => kinds.includes(x.kind));
}

/** 'met', 'met; N open item(s)', or 'EXCEPTION', from the exceptions that bear on a control. */
function result(e: Evidence, kinds: string[], failed = false): string {
  const found = exceptionsOf(e, kinds);
  if (failed || found.some((x) => x.severity === 'exception')) return `EXCEPTION (${found.filter((x) => x.severity === 'exception').length || 1}, section 1)`;
  return found.length ? `met; ${found.length} open item(s), section 1` : 'met';
}

/** The control-by-control table: what examiners expect, and this period's figures. */
function controls(e: Evidence, meta: ReportMeta): string {
  const v = e.verification;
  const selfApproved = e.approvals.filter((a) => a.selfApproved).length;
  const textDiffers = e.approvals.filter((a) => a.textDiffers).length;
  const clear = e.classifiedAccess.reduce((n, r) => n + r.clear, 0);
  const open = e.approvals.filter((a) => a.status === 'pending' || a.status === 'approved').length;
  const rows: [string, string, string, string][] = [
    [
      'Every access tied to an individual; no shared accounts',
      'FFIEC II.C.7(b); NIST AC-2, IA-2, AU-3; PCI DSS 8.2.1, 10.2.2',
      `${fmt(e.requestsWithIdentity)} of ${fmt(e.requests)} MCP requests carry a verified identity; ${fmt(e.distinctActors)} distinct identities (${e.actors.human} human, ${e.actors.ci} CI, ${e.actors.agent} agent, ${e.actors.service} service); ${fmt(e.authFailures)} refused sign-ins.`,
      e.requestsWithIdentity === e.requests ? 'met' : 'EXCEPTION',
    ],
    [
      'Least privilege, default deny',
      'FFIEC II.C.7(b); NIST AC-3, AC-6; PCI DSS 7.2',
      `${fmt(e.denied)} request(s) denied (policy, authentication or input) under ${e.deniedByRule.length} rule(s) or cause(s); ${e.policies.length} policy version(s) in force; ${e.refusedPolicyLoads.length} refused policy load(s).`,
      result(e, ['policy load refused']),
    ],
    [
      'Additional approval; segregation of duties',
      'FFIEC II.C.7(c); NIST AC-5, CM-3',
      `${e.approvals.length} approval request(s): ${e.approvals.filter((a) => a.status === 'executed').length} executed, ${open} open, ${e.approvals.filter((a) => a.status === 'stale').length} stale, ${e.approvals.filter((a) => a.status === 'rejected').length} rejected, ${e.approvals.filter((a) => a.status === 'expired').length} expired; self-approved: ${selfApproved}; executed text differing from the approved text: ${textDiffers}.`,
      result(e, ['approval pending', 'approved, not executed', 'approval stale', 'approved, never executed', 'approved execution failed', 'self-approval', 'executed text differs']),
    ],
    ['Privileged activity monitored', 'FFIEC II.C.7(c); NIST AC-6(9), AU-6; PCI DSS 10.2.1.2', `${fmt(e.privileged)} privileged statement(s) flagged and listed with their approvals.`, 'met'],
    [
      'Sensitive data protected (masking, tokenization)',
      'FFIEC II.C.22; NIST SC-28, AU-9; PCI DSS 3.4.1, 3.5.1',
      `${fmt(e.masked)} response(s) masked by column rules, ${fmt(e.detectorHits)} with content-detector hits; ${fmt(clear)} release(s) of a classified column in clear, each to a role policy allows (section 7). Stored copies are tokenised whatever the caller saw.`,
      'met',
    ],
    [
      'Record content: what, when, where, source, outcome, who',
      'NIST AU-3; PCI DSS 10.2.2',
      `${fmt(e.events)} events of ${Object.keys(e.byType).length} types, each with actor, time, source, outcome and target fields (schema-enforced).`,
      'met',
    ],
    ['UTC timestamps', 'NIST AU-8; PCI DSS 10.6.1', 'event_time is UTC with milliseconds, set by the gateway (schema-enforced).', 'met'],
    [
      'Audit data protected from modification and deletion',
      'FFIEC II.C.22; NIST AU-9; PCI DSS 10.3.2, 10.3.4',
      v
        ? `Verifier: ${v.ok ? 'intact' : `${v.breaks.length} break(s)`}; ${fmt(v.events)} events, ${v.chains.length} chain(s), ${v.chains.reduce((n, c) => n + c.checkpoints, 0)} signed checkpoint(s); ${exceptionsOf(e, ['unsigned tail']).length} chain(s) with an unsigned tail.`
        : 'not verified',
      result(e, ['unsigned tail', 'chain not verified', 'intent without outcome', ...e.exceptions.filter((x) => x.kind.startsWith('chain ')).map((x) => x.kind)], !v?.ok),
    ],
    [
      'Non-repudiation',
      'NIST AU-10',
      `Checkpoints signed with key(s) ${e.signingKeysSeen.join(', ') || '(none seen)'}; verified with ${e.verificationKeys.join('; ') || 'no key'} (section 4).`,
      result(e, ['no verification key', 'checkpoint key not given', 'verification key not pinned'], !(v?.ok && e.verificationKeys.length)),
    ],
    [
      'Recorded before execution',
      'NIST AU-9, AU-12; FFIEC II.C.22',
      v
        ? `${fmt(v.intents.written)} write-ahead intent(s) durable before their call was sent upstream; ${fmt(v.intents.open)} without an outcome (crash or sink failure after execution; section 1).${v.anchors ? ` Chain compared with ${fmt(v.anchors.count)} anchor(s) in ${v.anchors.store}.` : ' No anchor store compared.'}`
        : 'not verified',
      result(e, ['intent without outcome'], !v),
    ],
    ['Access to audit data restricted and logged', 'FFIEC II.C.22; PCI DSS 10.2.1.3, 10.3.1', `${fmt(e.consoleAccess)} console/report access event(s), ${fmt(e.consoleRefused)} refused.`, 'met'],
    [
      'Retention',
      'NIST AU-11; PCI DSS 10.5.1',
      meta.retentionDays ? `Configured retention: ${meta.retentionDays} days.` : 'Not stated for this report (pass --retention-days).',
      meta.retentionDays ? (meta.retentionDays >= 365 ? 'met' : 'EXCEPTION') : 'not stated',
    ],
  ];
  return `<table id="controls"><colgroup><col style="width:22%"><col style="width:20%"><col style="width:43%"><col style="width:15%"></colgroup><tr><th>expectation</th><th>source</th><th>figures for the period</th><th>result</th></tr>${rows
    .map((r) => `<tr><td>${esc(r[0])}</td><td>${esc(r[1])}</td><td>${esc(r[2])}</td><td class="${r[3] === 'met' ? 'ok' : r[3].startsWith('met') ? 'warn' : 'bad'}">${esc(r[3])}</td></tr>`)
    .join('')}</table>`;
}

function exceptionsSection(e: Evidence): string {
  if (!e.exceptions.length) return '<p class="ok">None: every approval closed, every chain verified and signed to its end, no refused policy load, no intent without outcome.</p>';
  const n = (sev: string) => e.exceptions.filter((x) => x.severity === sev).length;
  return `<p>${n('exception')} exception(s) and ${n('open item')} open item(s), as of ${esc(e.asOf)}. Each must be explained before sign-off (section 9).</p>
<table id="exceptions"><colgroup><col style="width:16%"><col style="width:11%"><col style="width:19%"><col style="width:54%"></colgroup><tr><th>what</th><th>severity</th><th>subject</th><th>detail</th></tr>${e.exceptions
    .map((x) => `<tr><td>${esc(x.kind)}</td><td class="${x.severity === 'exception' ? 'bad' : 'warn'}">${esc(x.severity)}</td><td><code>${esc(x.subject)}</code></td><td>${esc(x.detail)}</td></tr>`)
    .join('')}</table>`;
}

function keyProvenance(e: Evidence, meta: ReportMeta): string {
  const seen = new Set(e.signingKeysSeen);
  const rows = e.verificationKeys.map((k) => {
    const [id = '', ...rest] = k.split(' — ');
    return `<tr><td><code>${esc(id)}</code></td><td>${esc(rest.join(' — ') || 'given to the report (source not stated)')}</td><td>${seen.has(id) ? 'yes' : 'no'}</td></tr>`;
  });
  for (const k of e.signingKeysSeen)
    if (!e.verificationKeys.some((v) => v.startsWith(k))) rows.push(`<tr><td><code>${esc(k)}</code></td><td class="bad">not given for verification</td><td>yes</td></tr>`);
  return `<table id="keys"><colgroup><col style="width:30%"><col style="width:52%"><col style="width:18%"></colgroup><tr><th>key (fingerprint)</th><th>where it came from</th><th>signed checkpoints here</th></tr>${rows.join('') || '<tr><td colspan="3" class="bad">none given</td></tr>'}</table>
<p>This pack: ${meta.signedBy ? `its SHA-256 and an Ed25519 signature by key <code>${esc(meta.signedBy)}</code> are in <code>${esc(meta.manifestName ?? 'the manifest')}</code> beside it` : '<span class="bad">UNSIGNED</span> (no signing key was available); its SHA-256 is in the manifest beside it'}.</p>`;
}

export function renderEvidenceHtml(e: Evidence, meta: ReportMeta = {}): string {
  const v = e.verification;
  const title = meta.title ?? 'bqwarden audit evidence pack';
  const approvals = e.approvals.length
    ? `<table id="approvals" class="small"><colgroup><col style="width:17%"><col style="width:22%"><col style="width:19%"><col style="width:24%"><col style="width:18%"></colgroup><tr><th>approval, status</th><th>requested by, at</th><th>statement, tables</th><th>approved by; rejected or expired by, and why</th><th>justification</th></tr>${e.approvals
        .map(
          (
            a,
          ) => `<tr><td><code>${esc(a.approvalId)}</code><br><span class="${a.status === 'executed' ? 'ok' : a.status === 'stale' || a.status === 'failed' ? 'bad' : 'warn'}">${esc(a.status)}</span>${a.selfApproved ? '<br><span class="bad">SELF-APPROVED</span>' : ''}${a.textDiffers ? '<br><span class="bad">TEXT DIFFERS</span>' : ''}</td>
<td>${esc(a.requester)}<br>${esc(a.requestedAt)}</td><td>${esc(a.statement.toUpperCase())}<br>${esc(a.tables.join(', '))}</td>
<td>approved (${a.approvers.length}/${a.required ?? 1}): ${esc(a.approvers.join(', ') || '—')}${a.approvedAt ? ` at ${esc(a.approvedAt)}` : ''}${a.closedBy ? `<br>${esc(a.status)} by ${esc(a.closedBy)}${a.closeReason ? `: ${esc(a.closeReason)}` : ''}` : ''}</td><td>${esc(a.justification ?? '—')}</td></tr>`,
        )
        .join(
          '',
        )}</table><p class="muted">Self-approved: ${e.approvals.filter((a) => a.selfApproved).length}; executed text differing from the approved text: ${e.approvals.filter((a) => a.textDiffers).length}. Statuses as of ${esc(e.asOf)}.</p>`
    : '<p class="muted">No approval requests in the period.</p>';
  const denials = `${
    e.deniedByRule.length
      ? `<table id="denials"><tr><th>rule (or, when no rule refused it, what did)</th><th class="num">denials</th></tr>${e.deniedByRule.map((d) => `<tr><td>${esc(d.rule)}</td><td class="num">${fmt(d.n)}</td></tr>`).join('')}</table>
<table><tr><th>identity</th><th class="num">denials</th></tr>${e.deniedByActor
          .slice(0, 25)
          .map((d) => `<tr><td>${esc(d.actor)}</td><td class="num">${fmt(d.n)}</td></tr>`)
          .join('')}</table>`
      : '<p class="muted">No denials in the period.</p>'
  }${
    e.approvalSteps.length
      ? `<p>The approval workflow, counted apart from denials:</p><table id="approval-steps"><tr><th>approval step</th><th class="num">events</th></tr>${e.approvalSteps.map((d) => `<tr><td>${esc(d.step)}</td><td class="num">${fmt(d.n)}</td></tr>`).join('')}</table>`
      : ''
  }`;
  const access = e.classifiedAccess.length
    ? `<table><colgroup><col style="width:34%"><col style="width:18%"><col style="width:28%"><col style="width:10%"><col style="width:10%"></colgroup><tr><th>column</th><th>classification</th><th>identity</th><th class="num">clear</th><th class="num">masked</th></tr>${e.classifiedAccess
        .slice(0, 200)
        .map((r) => `<tr><td><code>${esc(r.column)}</code></td><td>${esc(r.classification)}</td><td>${esc(r.actor)}</td><td class="num">${fmt(r.clear)}</td><td class="num">${fmt(r.masked)}</td></tr>`)
        .join('')}</table>`
    : '<p class="muted">No classified column was released in the period.</p>';
  const policies = e.policies.length
    ? `<table><colgroup><col style="width:38%"><col style="width:17%"><col style="width:17%"><col style="width:8%"><col style="width:10%"><col style="width:10%"></colgroup><tr><th>policy version (SHA-256 of the rule files)</th><th>first seen</th><th>last seen</th><th class="num">loads</th><th class="num">refused loads</th><th class="num">requests decided</th></tr>${e.policies
        .map(
          (p) =>
            `<tr><td><code>${esc(p.version)}</code></td><td>${esc(p.firstSeen)}</td><td>${esc(p.lastSeen)}</td><td class="num">${p.loads}</td><td class="num">${p.refused}</td><td class="num">${fmt(p.requests)}</td></tr>`,
        )
        .join('')}</table>`
    : '<p class="muted">No policy version recorded in the period.</p>';
  const chains = v
    ? `<p>Result: ${v.ok ? '<span class="ok">INTACT</span>' : '<span class="bad">BROKEN</span>'} (${esc(e.verificationScope)}).</p>
<table><colgroup><col style="width:34%"><col style="width:12%"><col style="width:16%"><col style="width:13%"><col style="width:14%"><col style="width:11%"></colgroup><tr><th>chain</th><th class="num">events</th><th class="num">seq range</th><th class="num">checkpoints</th><th class="num">last signed seq</th><th>sealed</th></tr>${v.chains
        .map(
          (c) =>
            `<tr><td><code>${esc(c.chain_id)}</code></td><td class="num">${fmt(c.events)}</td><td class="num">${c.first_seq}–${c.last_seq}</td><td class="num">${c.checkpoints}</td><td class="num">${c.last_signed_seq}</td><td>${yesNo(c.sealed)}</td></tr>`,
        )
        .join('')}</table><pre>${esc(formatReport(v))}</pre>`
    : '<p class="bad">The chain was not verified.</p>';
  const types = Object.entries(e.byType)
    .map(([k, n]) => `<tr><td>${esc(k)}</td><td class="num">${fmt(n)}</td></tr>`)
    .join('');
  const refused = e.refusedPolicyLoads.length
    ? `<p class="bad">Refused policy loads (the previous policy stayed in force):</p><table><tr><th>time</th><th>version</th><th>error</th></tr>${e.refusedPolicyLoads.map((p) => `<tr><td>${esc(p.at)}</td><td><code>${esc(p.version ?? '')}</code></td><td>${esc(p.error ?? '')}</td></tr>`).join('')}</table>`
    : '';
  const exceptionCount = e.exceptions.filter((x) => x.severity === 'exception').length;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} ${esc(e.from)} to ${esc(e.to)}</title><style>${CSS}</style></head><body>
<div class="cover"><h1>${esc(title)}</h1>
<p><strong>Period:</strong> ${esc(e.from)} to ${esc(e.to)} (UTC, inclusive) · <strong>Source:</strong> ${esc(e.source)} · <strong>Generated:</strong> ${esc(e.generatedAt)}</p>
<p><strong>Scope:</strong> ${fmt(e.events)} audit events from ${e.chains.length} hash chain(s), gateway instance(s) ${esc(e.instances.join(', ') || '—')}, gateway version(s) ${esc(e.gatewayVersions.join(', ') || '—')}${e.duplicatesSkipped ? `; ${fmt(e.duplicatesSkipped)} duplicate deliveries counted once` : ''}.
${meta.retentionDays ? `Configured retention: ${meta.retentionDays} days.` : ''}</p>
<p><strong>Chain verification:</strong> ${v ? (v.ok ? '<span class="ok">INTACT</span>' : '<span class="bad">BROKEN</span>') : '<span class="bad">NOT RUN</span>'} · <strong>Exceptions:</strong> ${exceptionCount ? `<span class="bad">${exceptionCount}</span>` : '<span class="ok">0</span>'}, open items: ${e.exceptions.length - exceptionCount} (section 1) · <strong>Signature keys:</strong> ${e.signingKeysSeen.map((k) => `<code>${esc(k)}</code>`).join(', ') || '—'}</p>
<p><strong>This document:</strong> ${meta.signedBy ? `SHA-256 and Ed25519 signature (key <code>${esc(meta.signedBy)}</code>)` : '<span class="bad">unsigned</span>; SHA-256'} in <code>${esc(meta.manifestName ?? 'the manifest beside it')}</code>.</p></div>
<h2>1. Exceptions and open items</h2>${exceptionsSection(e)}
<h2>2. Control mapping (FFIEC IT Handbook, NIST SP 800-53 Rev. 5, PCI DSS v4.0.1)</h2>${controls(e, meta)}
<h2>3. Policy versions in force</h2>${policies}${refused}
<h2>4. Chain verification and signatures</h2>${chains}
<p><strong>Key provenance.</strong></p>${keyProvenance(e, meta)}
<h2>5. Approvals of privileged statements</h2>${approvals}
<h2>6. Denials</h2>${denials}
<h2>7. Classified column access (clear vs masked)</h2>${access}
<h2>8. Events by type</h2><table><tr><th>event type</th><th class="num">events</th></tr>${types}</table>
<h2>9. Sign-off</h2>
<p>The preparer generated this pack from the audit store named above; the reviewer examined every item of section 1 and the control results of section 2.</p>
<table class="signoff" id="signoff"><colgroup><col style="width:16%"><col style="width:38%"><col style="width:28%"><col style="width:18%"></colgroup><tr><th></th><th>name, role</th><th>signature</th><th>date</th></tr>
<tr><td>Prepared by</td><td>${esc(meta.preparer ?? '')}</td><td></td><td></td></tr>
<tr><td>Reviewed by</td><td></td><td></td><td></td></tr></table>
<h2>10. References</h2><ul>${REFERENCES.map(([, text]) => `<li>${esc(text)}</li>`).join('')}</ul>
<p class="muted">The FFIEC Cybersecurity Assessment Tool was retired in August 2025 and is not cited.</p>
</body></html>`;
}
