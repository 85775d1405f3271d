// The evidence pack from a seeded audit store: the CLI writes HTML and PDF, the PDF's text has
// every section and the period's figures, its pages render to PNG; a tampered store is
// reported as broken (exit 1); the BigQuery source reads the same events through the REST fake.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { BigQuery } from '@google-cloud/bigquery';
import { generateReport } from '../../src/report/generate.js';
import { readEvents } from '../../src/audit/reader.js';
import { auditTableSchema } from '../../src/gcp/audit-schema.js';
import { FakeBigQuery } from '../gcp/bigquery-fake.js';
import { reportSource } from '../../src/cli/examiner.js';
import { runCli } from '../helpers/cli.js';
import { seedAuditStore, type Seeded } from './seed.js';
import { at } from '../helpers/present.js';

process.env.METADATA_SERVER_DETECTION = 'none';
const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..', '..');
/** The CLI in process; rejects like execFile on a non-zero exit. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runCli(args, { cwd: REPO });
  if (r.code !== 0) throw r;
  return r;
}
const CHROMIUM = '/usr/bin/chromium';
const havePdfTools = existsSync(CHROMIUM) && existsSync('/usr/bin/pdftotext') && existsSync('/usr/bin/pdftoppm');
const DAYS: [string, string, string] = ['2026-01-05', '2026-01-06', '2026-01-07'];

let seed: Seeded;
let out: string;

before(async () => {
  seed = await seedAuditStore(DAYS);
  await seed.log.close(); // sealed: gateway_stop + signed checkpoint
  out = mkdtempSync(join(tmpdir(), 'bqw-report-'));
});

after(() => {
  if (seed) rmSync(seed.dir, { recursive: true, force: true });
  if (out) rmSync(out, { recursive: true, force: true });
});

test('evidence figures from the local store', async () => {
  const r = await generateReport({ from: DAYS[0], to: DAYS[2], out, source: await reportSource({ dir: seed.auditDir }), publicKeys: seed.publicKeys, pdf: false });
  const e = r.evidence;
  assert.equal(e.verification?.ok, true);
  assert.equal(e.denied, 2, 'the DROP and the failed sign-in');
  assert.deepEqual(e.deniedByRule.map((d) => d.rule).sort(), ['auth_failure: expired', 'deny-ddl-analyst'], 'a refusal no rule made is filed under what refused it, never "(no rule id)"');
  assert.equal(e.approvals.length, 1);
  const approval = e.approvals[0]!;
  assert.deepEqual(
    { req: approval.requester, by: approval.approvers, self: approval.selfApproved, differs: approval.textDiffers, status: approval.status },
    {
      req: 'eve@bank.example',
      by: ['bob@bank.example'],
      self: false,
      differs: false,
      status: 'executed',
    },
  );
  assert.deepEqual(
    e.policies.map((p) => p.version.slice(0, 4)),
    ['aaaa', 'bbbb'],
  );
  const ssn = e.classifiedAccess.filter((a) => a.classification === 'ssn');
  assert.deepEqual(ssn.map((a) => [a.actor, a.clear, a.masked]).sort(), [
    ['alice@bank.example', 0, 1],
    ['petra@bank.example', 1, 0],
  ]);
  // A narrower period leaves the other days out.
  const one = await generateReport({ from: DAYS[1], to: DAYS[1], out, source: await reportSource({ dir: seed.auditDir }), publicKeys: seed.publicKeys, pdf: false });
  assert.equal(one.evidence.approvals.length, 0);
  assert.equal(one.evidence.denied, 1);
});

test('CLI: HTML + PDF with every section; pages render to PNG', async (t) => {
  if (!havePdfTools) {
    t.skip('needs /usr/bin/chromium, pdftotext and pdftoppm (apt-get install -y chromium poppler-utils)');
    return;
  }
  const res = await cli(['report', '--from', DAYS[0], '--to', DAYS[2], '--dir', seed.auditDir, '--out', out, '--retention-days', '1826']);
  const [htmlPath, pdfPath] = res.stdout.trim().split('\n');
  assert.ok(htmlPath && pdfPath, `the report command prints the HTML and PDF paths: ${res.stdout}`);
  assert.ok(existsSync(htmlPath) && existsSync(pdfPath));
  assert.match(res.stderr, /events in the period/, 'progress on stderr');
  const { stdout: text } = await run('pdftotext', ['-layout', pdfPath, '-']);
  for (const section of [
    'Control mapping',
    'Policy versions in force',
    'Chain verification and signatures',
    'Approvals of privileged statements',
    'Denials',
    'Classified column access',
    'INTACT',
    'AU-9',
    '10.2.2',
    'II.C.7(c)',
    'eve@bank.example',
    'bob@bank.example',
    'deny-ddl-analyst',
    'ed25519:',
    'Configured retention: 1826 days',
  ]) {
    assert.ok(text.includes(section), `PDF mentions ${section}`);
  }
  const png = join(out, 'page');
  await run('pdftoppm', ['-png', '-r', '60', '-f', '1', '-l', '2', pdfPath, png]);
  const pngs = readdirSync(out).filter((f) => f.startsWith('page') && f.endsWith('.png'));
  assert.ok(pngs.length >= 1);
  assert.ok(statSync(join(out, pngs[0]!)).size > 5_000, 'page 1 renders to a non-blank image');
});

test('CLI: a tampered store is reported as broken and the command exits 1', async () => {
  const copy = mkdtempSync(join(tmpdir(), 'bqw-report-tamper-'));
  try {
    const { cpSync } = await import('node:fs');
    cpSync(seed.dir, copy, { recursive: true });
    const auditDir = join(copy, 'audit');
    // Rewrite petra's clear SSN read as masked: an insider hiding who saw the data.
    let done = false;
    for await (const r of readEvents(auditDir)) {
      if (r.event.actor_email === 'petra@bank.example' && r.event.event_type === 'mcp_request') {
        const lines = readFileSync(r.file, 'utf8').split('\n');
        lines[r.line - 1] = at(lines, r.line - 1, 'the audit line read').replace('"decision":"allow"', '"decision":"mask"');
        writeFileSync(r.file, lines.join('\n'));
        done = true;
        break;
      }
    }
    assert.ok(done);
    const err = await cli(['report', '--from', DAYS[0], '--to', DAYS[2], '--dir', auditDir, '--out', join(copy, 'out'), '--no-pdf']).then(
      () => null,
      (e: { code: number; stdout: string }) => e,
    );
    assert.ok(err, 'non-zero exit');
    assert.equal(err.code, 1);
    const html = readFileSync(err.stdout.trim().split('\n')[0]!, 'utf8');
    assert.match(html, /BROKEN/);
    assert.match(html, /hash_mismatch/);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});

test('CLI: bad period is refused with a clear message', async () => {
  const err = await cli(['report', '--from', '2026-02-01', '--to', '2026-01-01', '--dir', seed.auditDir, '--out', out, '--no-pdf']).then(
    () => null,
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(err?.code, 2);
  assert.match(err!.stderr, /is after --to/);
});

test('BigQuery source: same evidence from the raw table through the REST fake, duplicates counted once', async () => {
  const rows: Record<string, unknown>[] = [];
  for await (const r of readEvents(seed.auditDir)) rows.push({ ...r.event, subscription_name: 's', message_id: String(rows.length), publish_time: r.event.event_time, data: null, attributes: null });
  rows.push({ ...rows[3] }); // at-least-once delivery
  const fake = new FakeBigQuery((q) => {
    assert.match(q.query, /event_time >= TIMESTAMP\(@from_date\)/, 'partition filter');
    const from = Date.parse(`${q.params.from_date}T00:00:00Z`);
    const to = Date.parse(`${q.params.to_date}T00:00:00Z`) + 86_400_000;
    const sel = rows.filter((r) => Date.parse(String(r.event_time)) >= from && Date.parse(String(r.event_time)) < to);
    sel.sort((a, b) => String(a.chain_id).localeCompare(String(b.chain_id)) || Number(a.seq) - Number(b.seq));
    return { schema: auditTableSchema(), rows: sel };
  });
  await fake.start();
  try {
    const client = new BigQuery(fake.clientOptions());
    const r = await generateReport({ from: DAYS[0], to: DAYS[2], out, publicKeys: seed.publicKeys, pdf: false, source: await reportSource({ table: 'test-project.bqwarden_audit.events', client }) });
    const local = await generateReport({ from: DAYS[0], to: DAYS[2], out, source: await reportSource({ dir: seed.auditDir }), publicKeys: seed.publicKeys, pdf: false });
    assert.equal(r.evidence.duplicatesSkipped, 1);
    assert.equal(r.evidence.events, local.evidence.events);
    assert.deepEqual(r.evidence.approvals, local.evidence.approvals);
    assert.deepEqual(r.evidence.deniedByRule, local.evidence.deniedByRule);
    assert.equal(r.evidence.verification?.ok, true);
  } finally {
    await fake.stop();
  }
});
