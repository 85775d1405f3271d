// The evidence pack an examiner accepts: open, stale and unexecuted approvals, unsigned tails,
// refused policy loads and intents without outcome are listed as exceptions (and the controls
// they bear on are not "met"); key provenance; the pack's own SHA-256 and signature, checked by
// `verify-report`; a sign-off block; current references only; and no column cut off — every
// PDF page rendered as an image must leave its margins blank (the checker is shown to catch a
// table that runs off the page first).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { AuditEvent } from '../../src/audit/event.js';
import { EvidenceCollector, findExceptions } from '../../src/report/evidence.js';
import { htmlToPdf } from '../../src/report/generate.js';
import { runCli } from '../helpers/cli.js';
import { seedAuditStore, type Seeded } from './seed.js';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..', '..');
const DAYS: [string, string, string] = ['2026-02-02', '2026-02-03', '2026-02-04'];
const havePdfTools = existsSync('/usr/bin/chromium') && existsSync('/usr/bin/pdftotext') && existsSync('/usr/bin/pdftoppm');
const LONG = `CHG-${'7'.repeat(30)}-${'x'.repeat(120)}`;
// Events appended after seeding follow the writer's real clock into today's partition, so the
// period runs to today.
const TODAY = new Date().toISOString().slice(0, 10);

let seed: Seeded;
let out: string;

const eng = {
  actor_subject: 'sub-eve',
  actor_email: 'eve@bank.example',
  actor_issuer: 'http://127.0.0.1/dev',
  actor_groups: ['engineer'],
  actor_roles: ['engineer'],
  actor_type: 'human' as const,
  auth_method: 'dev' as const,
};
const appr = (email: string) => ({
  actor_subject: `sub-${email}`,
  actor_email: email,
  actor_issuer: 'http://127.0.0.1/dev',
  actor_groups: ['approver'],
  actor_roles: ['approver'],
  actor_type: 'human' as const,
  auth_method: 'dev' as const,
});
const t = (time: string) => `${DAYS[2]}T${time}.000Z`;

before(async () => {
  seed = await seedAuditStore(DAYS);
  const request = (id: string, kind: string, cls: string, table: string, required: number, expires: string, time: string, justification: string) => ({
    event_type: 'approval_requested' as const,
    ...eng,
    session_id: 'sess-eng-0002',
    mcp_method: 'tools/call',
    tool_name: 'execute_sql',
    target_table: table,
    target_tables: [table],
    statement_types: [cls],
    statement_kinds: [kind],
    sql_text: `${kind.toUpperCase()} …`,
    sql_sha256: id.slice(-1).repeat(64),
    privileged: true,
    decision: 'approval_required' as const,
    rule_ids: ['engineer-changes-need-approval'],
    outcome: 'pending' as const,
    approval_id: id,
    approval_requester: 'eve@bank.example',
    approvals_required: required,
    approval_expires_at: expires,
    justification,
    event_time: t(time),
  });
  const grant = (id: string, email: string, time: string) => ({
    event_type: 'approval_granted' as const,
    ...appr(email),
    approval_id: id,
    approval_requester: 'eve@bank.example',
    approval_approvers: [email],
    privileged: true,
    decision: 'allow' as const,
    outcome: 'success' as const,
    decision_reason: 'checked',
    event_time: t(time),
  });
  for (const e of [
    // A DROP still waiting for its second approver.
    request('apr-pendingdrop1', 'drop_table', 'ddl', `bank.main.${'very_long_table_name_'.repeat(4)}archive`, 2, '2099-01-01T00:00:00.000Z', '10:00:00', LONG),
    grant('apr-pendingdrop1', 'bob@bank.example', '10:05:00'),
    // An UPDATE approved, never run, past its expiry with nothing recorded (the gateway stopped).
    request('apr-staleupdate2', 'update', 'write', 'bank.main.accounts', 1, t('11:00:00'), '10:10:00', 'close dormant accounts'),
    grant('apr-staleupdate2', 'bob@bank.example', '10:12:00'),
    // A DELETE rejected, with the reviewer's reason.
    request('apr-rejectedrow3', 'delete', 'write', 'bank.main.transactions', 1, t('12:00:00'), '10:20:00', 'duplicate row'),
    {
      event_type: 'approval_rejected' as const,
      ...appr('carol@bank.example'),
      approval_id: 'apr-rejectedrow3',
      approval_requester: 'eve@bank.example',
      privileged: true,
      decision: 'deny' as const,
      outcome: 'denied' as const,
      decision_reason: 'wrong account: A-1002 is the customer’s only account',
      event_time: t('10:25:00'),
    },
    {
      event_type: 'policy_loaded' as const,
      policy_version: 'c'.repeat(64),
      outcome: 'failure' as const,
      error_message: 'access.yaml:3 (roles[0]): unknown role analsyt — hint: did you mean analyst?',
      event_time: t('10:30:00'),
    },
  ])
    await seed.log.append(e);
  // The log stays open: the events after its last checkpoint are an unsigned tail.
  out = mkdtempSync(join(tmpdir(), 'bqw-pack-'));
});

after(async () => {
  await seed?.log.close().catch(() => undefined);
  if (seed) rmSync(seed.dir, { recursive: true, force: true });
  if (out) rmSync(out, { recursive: true, force: true });
});

/** Reads a binary PGM (P5) as pdftoppm -gray writes it. */
function readPgm(file: string): { width: number; height: number; px: Buffer } {
  const buf = readFileSync(file);
  const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(buf.subarray(0, 64).toString('latin1'));
  assert.ok(header, `${file} is not a binary PGM`);
  return { width: Number(header[1]), height: Number(header[2]), px: buf.subarray(header[0].length) };
}

/**
 * Pages with ink where the layout never puts any: the left margin, or the right margin plus the
 * 5 mm gutter the report keeps inside it. Chromium clips content that runs past the printable
 * area at the margin, so a cut-off column shows as ink in that gutter.
 */
async function inkInMargins(pdf: string, dir: string): Promise<string[]> {
  const prefix = join(dir, `pg-${Date.now()}`);
  await run('pdftoppm', ['-gray', '-r', '72', pdf, prefix]);
  const pages = readdirSync(dir)
    .filter((f) => f.startsWith(prefix.split('/').pop()!) && f.endsWith('.pgm'))
    .sort();
  assert.ok(pages.length > 0, 'pages rendered');
  const bad: string[] = [];
  for (const p of pages) {
    const { width, height, px } = readPgm(join(dir, p));
    const mm = width / 210;
    const left = Math.round(10 * mm);
    const right = Math.round((14 + 4) * mm);
    let ink = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < left; x++) if (px[y * width + x]! < 160) ink++;
      for (let x = width - right; x < width; x++) if (px[y * width + x]! < 160) ink++;
    }
    if (ink > 0) bad.push(`${p}: ${ink} dark pixel(s) in the margins`);
  }
  return bad;
}

test('the margin checker catches a table that runs off the page (attack first)', async (t) => {
  if (!havePdfTools) return t.skip('needs chromium and poppler-utils (pdftoppm)');
  const dir = mkdtempSync(join(tmpdir(), 'bqw-margin-'));
  try {
    const wide = `<!doctype html><html><head><style>@page{size:A4;margin:16mm 14mm}body{margin:0 5mm 0 0;font:10pt sans-serif}td{white-space:nowrap;border:1px solid #000}</style></head><body><table><tr>${Array.from({ length: 9 }, (_, i) => `<td>column ${i} ${'wide'.repeat(6)}</td>`).join('')}</tr></table></body></html>`;
    await htmlToPdf(wide, join(dir, 'wide.pdf'));
    assert.ok((await inkInMargins(join(dir, 'wide.pdf'), dir)).length > 0, 'a cut-off table is detected');
    await htmlToPdf(
      '<!doctype html><html><head><style>@page{size:A4;margin:16mm 14mm}body{margin:0 5mm 0 0}table{width:100%;border:1px solid #000}</style></head><body><table><tr><td>a table as wide as the text area fits</td></tr></table></body></html>',
      join(dir, 'ok.pdf'),
    );
    assert.deepEqual(await inkInMargins(join(dir, 'ok.pdf'), dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the pack lists its exceptions, key provenance, sign-off and current references; is signed; and no column is cut off', async (t) => {
  if (!havePdfTools) return t.skip('needs chromium and poppler-utils (pdftotext, pdftoppm)');
  const pub = join(seed.keysDir, 'audit-signing.pub.pem');
  const r = await runCli(['report', '--from', DAYS[0], '--to', TODAY, '--dir', seed.auditDir, '--out', out, '--key', pub, '--retention-days', '400', '--preparer', 'Dana Reyes, IT audit'], {
    cwd: REPO,
  });
  assert.equal(r.code, 0, r.stderr);
  const [htmlPath, pdfPath, manifestPath] = r.stdout.trim().split('\n');
  assert.ok(htmlPath && pdfPath && manifestPath, `the report command prints the HTML, PDF and manifest paths: ${r.stdout}`);
  assert.match(r.stderr, /\d+ exception\(s\), \d+ open item\(s\) listed in section 1/);
  const html = readFileSync(htmlPath, 'utf8');
  const { stdout: text } = await run('pdftotext', ['-layout', pdfPath, '-']);
  const flat = text.replace(/\s+/g, ' ');

  // 1. Exceptions: what was pending, stale, rejected-after-nothing, refused, unsigned.
  const section = html.slice(html.indexOf('<table id="exceptions">'), html.indexOf('</table>', html.indexOf('<table id="exceptions">')));
  for (const [kind, subject] of [
    ['approval pending', 'apr-pendingdrop1'],
    ['approval stale', 'apr-staleupdate2'],
    ['policy load refused', 'cccccccccccccccc'],
    ['unsigned tail', ''],
  ]) {
    assert.match(section, new RegExp(`<td>${kind}</td><td class="(bad|warn)">[a-z ]+</td><td><code>${subject}`), `exception ${kind} ${subject}`);
  }
  assert.match(section, /1 of 2 approval\(s\)/);
  assert.doesNotMatch(section, /verification key not pinned/, 'the key was pinned');
  // The controls these bear on are not "met".
  assert.match(html, /<td>Additional approval; segregation of duties<\/td>.*?<td class="bad">EXCEPTION/s);
  assert.match(html, /<td>Audit data protected from modification and deletion<\/td>.*?<td class="bad">EXCEPTION/s);
  // Approvals with who rejected and why; the approval workflow apart from denials.
  assert.match(flat, /carol@bank\.example: wrong account: A-1002 is the customer’s only account/);
  assert.match(html, /<table id="approval-steps">.*rejected/s);
  assert.doesNotMatch(html, /\(no rule id\)/);
  // Key provenance, sign-off, references.
  assert.match(html, /<table id="keys">.*pinned by --key [^<]*audit-signing\.pub\.pem/s);
  assert.match(flat, /Prepared by Dana Reyes, IT audit/);
  assert.match(flat, /Reviewed by/);
  for (const ref of ['FFIEC IT Examination Handbook, Information Security booklet', 'NIST SP 800-53 Rev. 5', 'PCI DSS v4.0.1']) assert.ok(flat.includes(ref), ref);
  assert.doesNotMatch(flat, /CAT D\d|Cybersecurity Assessment Tool (?!was retired)/, 'the retired CAT is not cited as a source');

  // No column cut off: every page's margins are blank, though cells hold long unbroken text.
  assert.ok(flat.includes('7'.repeat(20)) || /7{10}/.test(text), 'the long justification is printed');
  assert.deepEqual(await inkInMargins(pdfPath, out), []);

  // The pack's own SHA-256 and signature.
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  assert.deepEqual(
    manifest.files.map((f: { name: string }) => f.name),
    [htmlPath.split('/').pop(), pdfPath.split('/').pop()],
  );
  const sums = readFileSync(manifestPath.replace(/\.manifest\.json$/, '.sha256'), 'utf8');
  const { stdout: checked } = await run(
    'sha256sum',
    [
      '-c',
      manifestPath
        .replace(/\.manifest\.json$/, '.sha256')
        .split('/')
        .pop()!,
    ],
    { cwd: out },
  );
  assert.match(checked, /\.html: OK\n.*\.pdf: OK/s, sums);
  assert.equal(manifest.signature.algorithm, 'Ed25519');
  assert.match(html, new RegExp(`Ed25519 signature \\(key <code>${manifest.signature.key_id}</code>\\)`));
  const ok = await runCli(['verify-report', manifestPath, '--key', pub], { cwd: REPO });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /OK +signer ed25519:[0-9a-f]+ is a pinned key\nevidence pack OK/);

  // Tampering: an edited page, or a signer the examiner did not pin, is refused.
  const otherKeys = mkdtempSync(join(tmpdir(), 'bqw-other-key-'));
  try {
    const { loadOrCreateSigner } = await import('../../src/audit/checkpoint.js');
    loadOrCreateSigner({ keysDir: otherKeys });
    const wrong = await runCli(['verify-report', manifestPath, '--key', join(otherKeys, 'audit-signing.pub.pem')], { cwd: REPO });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /UNTRUSTED signer/);
  } finally {
    rmSync(otherKeys, { recursive: true, force: true });
  }
  writeFileSync(htmlPath, html.replace('EXCEPTION', 'met'));
  const edited = await runCli(['verify-report', manifestPath, '--key', pub], { cwd: REPO });
  assert.equal(edited.code, 1);
  assert.match(edited.stdout, /CHANGED +evidence-.*\.html/);
});

test('intents without outcome are exceptions (write-ahead intents of schema v2)', () => {
  const c = new EvidenceCollector('2026-02-02', '2026-02-04', 'test');
  const base = {
    chain_id: 'c',
    actor_email: 'eve@bank.example',
    actor_subject: 'eve',
    actor_type: 'human',
    auth_method: 'dev',
    rule_ids: [],
    target_tables: [],
    target_columns: [],
    statement_kinds: [],
    statement_types: [],
    masked_columns: [],
    detector_hits: [],
    approval_approvers: [],
    decision: 'none',
    privileged: false,
    tool_name: 'execute_sql',
    policy_version: null,
    approval_id: null,
  } as unknown as AuditEvent;
  c.push({ ...base, seq: 1, event_type: 'mcp_intent', intent_id: 'int-done', event_time: '2026-02-03T10:00:00.000Z' } as unknown as AuditEvent);
  c.push({ ...base, seq: 2, event_type: 'mcp_request', intent_id: 'int-done', event_time: '2026-02-03T10:00:01.000Z' } as unknown as AuditEvent);
  c.push({ ...base, seq: 3, event_type: 'mcp_intent', intent_id: 'int-lost', event_time: '2026-02-03T10:01:00.000Z' } as unknown as AuditEvent);
  const e = c.finish(null, 'test', []);
  assert.deepEqual(
    e.intentsWithoutOutcome.map((i) => i.intentId),
    ['int-lost'],
  );
  const x = findExceptions(e, { pinned: true }).find((f) => f.kind === 'intent without outcome');
  assert.equal(x?.subject, 'int-lost');
  assert.equal(x?.severity, 'exception');
});
