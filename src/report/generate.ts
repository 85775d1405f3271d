// `bqwarden report`: reads the period's events from the local store or the BigQuery audit
// table, verifies the chain, and writes evidence-<from>-<to>.html and .pdf. The BigQuery path
// streams the raw rows (with the partition filter) through the same normaliser and verifier
// as `verify --bigquery`, so the figures are computed from verified events, not from views.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DAY, type AuditStore } from '../audit/store.js';
import { verifyStore, type VerifierOptions, type VerifyReport } from '../audit/verify.js';
import { publicKeyMap } from '../audit/checkpoint.js';
import { EvidenceCollector, findExceptions, type Evidence } from './evidence.js';
import { renderEvidenceHtml } from './html.js';
import { signManifest, signingKeyId, type Manifest } from './manifest.js';
import { BqwardenError } from '../common/errors.js';

const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export interface ReportOptions {
  from: string;
  to: string;
  out: string;
  /** Where the events come from (built by the entry layer: cli/examiner.ts). */
  source: ReportSource;
  /** Pinned keys; a TrustedKey's source is printed in the report (key provenance). */
  publicKeys: VerifierOptions['publicKeys'];
  /** Anchors to compare the chain with. */
  anchors?: VerifierOptions['anchors'];
  /** Ed25519 private key (PEM file) that signs the pack's manifest; null: unsigned (said in the report). */
  signKey?: string | null;
  /** Who prepared the pack (printed in the sign-off block). */
  preparer?: string | null;
  pdf?: boolean;
  chromiumPath?: string;
  retentionDays?: number | null;
  /** Progress lines (stderr in the CLI). */
  progress?: (message: string) => void;
}

export interface ReportSource {
  store: AuditStore;
  /** What the pack names as its source, e.g. `local audit store /srv/audit`, `BigQuery p.d.t`. */
  label: string;
  /** The directory or table alone, for progress lines and the verification scope. */
  where: string;
  /**
   * `all`: verify every chain in the store (a local store: integrity is a property of the whole
   * chain); `period`: verify the period as a window (a table of every instance's chains since
   * the start is too big to re-verify per report), in the pass that folds its figures.
   */
  verify: 'all' | 'period';
}

export interface ReportResult {
  html: string;
  pdf: string | null;
  /** SHA-256 of each file, and the signature over them (null when no signing key was given). */
  manifest: string;
  sums: string;
  signed: Manifest['signature'];
  evidence: Evidence;
}

class ReportError extends BqwardenError {
  constructor(message: string) {
    super('report_failed', message);
    this.name = 'ReportError';
  }
}

const EVERY = 100_000;

async function readPeriod(o: ReportOptions, c: EvidenceCollector, say: (m: string) => void): Promise<{ scope: string; report: VerifyReport }> {
  const { store, where, verify } = o.source;
  if (verify === 'all') {
    say(`reading events ${o.from}..${o.to} from ${where}`);
    for await (const { event } of store.byDay(o.from, o.to)) {
      c.push(event);
      if (c.count % EVERY === 0) say(`${c.count.toLocaleString('en-US')} events read`);
    }
    say(`${c.count.toLocaleString('en-US')} events in the period; verifying every chain in the store`);
    const report = await verifyStore(store, { publicKeys: o.publicKeys, anchors: o.anchors });
    return { scope: `every chain in ${where}, ${report.events} events`, report };
  }
  say(`querying ${where} for ${o.from}..${o.to}`);
  let n = 0;
  const report = await verifyStore(store, {
    publicKeys: o.publicKeys,
    partial: true,
    anchors: o.anchors,
    days: { from: o.from, to: o.to },
    onEvent: (e) => c.push(e),
    onRecord: () => {
      if (++n % EVERY === 0) say(`${n.toLocaleString('en-US')} rows read`);
    },
  });
  say(`${n.toLocaleString('en-US')} rows read`);
  return { scope: `the period's rows of ${where} (a window: the chain before it is not re-verified)`, report };
}

/** Prints HTML to PDF with headless Chromium (playwright-core). */
export async function htmlToPdf(html: string, file: string, chromiumPath = DEFAULT_CHROMIUM): Promise<void> {
  if (!existsSync(chromiumPath)) throw new ReportError(`Chromium not found at ${chromiumPath}; install it (apt-get install -y chromium) or pass --no-pdf`);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.setContent(html, { waitUntil: 'load' });
    await page.pdf({
      path: file,
      format: 'A4',
      printBackground: true,
      displayHeaderFooter: true,
      headerTemplate: '<span></span>',
      footerTemplate: '<div style="font-size:8px;width:100%;text-align:center;color:#555">bqwarden evidence pack · page <span class="pageNumber"></span> of <span class="totalPages"></span></div>',
      margin: { top: '16mm', bottom: '16mm', left: '14mm', right: '14mm' },
    });
  } finally {
    await browser.close();
  }
}

export async function generateReport(o: ReportOptions): Promise<ReportResult> {
  if (!DAY.test(o.from) || !DAY.test(o.to)) throw new ReportError('--from and --to must be dates, YYYY-MM-DD');
  if (o.from > o.to) throw new ReportError(`--from ${o.from} is after --to ${o.to}`);
  const say = o.progress ?? (() => undefined);
  const collector = new EvidenceCollector(o.from, o.to, o.source.label);
  try {
    publicKeyMap(o.publicKeys);
  } catch (err) {
    throw new ReportError(`verification keys unusable: ${(err as Error).message}`);
  }
  const { scope, report } = await readPeriod(o, collector, say);
  // The report says where each key came from (pinned, or the demo's unpinned key file).
  const finished = collector.finish(
    report,
    scope,
    report.keys.map((k) => `${k.key_id} — ${k.source}`),
  );
  // Keys a caller handed over as text or objects count as pinned; the demo's key file does not.
  const pinned = o.publicKeys.length > 0 && o.publicKeys.every((k) => typeof k !== 'object' || !('pem' in k) || k.pinned !== false);
  const evidence: Evidence = { ...finished, exceptions: findExceptions(finished, { pinned }) };
  await mkdir(o.out, { recursive: true });
  const base = join(o.out, `evidence-${o.from}-${o.to}`);
  const signedBy = o.signKey
    ? await signingKeyId(o.signKey).catch((err: Error) => {
        throw new ReportError(err.message);
      })
    : null;
  const html = renderEvidenceHtml(evidence, { retentionDays: o.retentionDays ?? null, preparer: o.preparer ?? null, manifestName: `${basename(base)}.manifest.json`, signedBy });
  await writeFile(`${base}.html`, html, { mode: 0o640 });
  say(`wrote ${base}.html`);
  let pdf: string | null = null;
  if (o.pdf !== false) {
    say('printing the PDF with headless Chromium');
    await htmlToPdf(html, `${base}.pdf`, o.chromiumPath);
    pdf = `${base}.pdf`;
    say(`wrote ${pdf}`);
  }
  // The pack's own integrity: SHA-256 of every file, signed, beside it (a document cannot
  // carry its own hash). `bqwarden verify-report <manifest> --key <pem>` checks both.
  const files = [`${base}.html`, ...(pdf ? [pdf] : [])];
  const manifest = await signManifest({
    period: { from: o.from, to: o.to },
    generatedAt: evidence.generatedAt,
    preparer: o.preparer ?? null,
    exceptions: evidence.exceptions.length,
    files: await Promise.all(files.map(async (f) => ({ name: basename(f), bytes: (await readFile(f)).length, data: await readFile(f) }))),
    signKey: o.signKey ?? null,
  });
  const manifestPath = `${base}.manifest.json`;
  const sumsPath = `${base}.sha256`;
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
  await writeFile(sumsPath, manifest.files.map((f) => `${f.sha256}  ${f.name}\n`).join(''), { mode: 0o644 });
  say(`wrote ${manifestPath} (${manifest.signature ? `signed with ${manifest.signature.key_id}` : 'UNSIGNED: no signing key'}) and ${sumsPath}`);
  return { html: `${base}.html`, pdf, manifest: manifestPath, sums: sumsPath, signed: manifest.signature, evidence };
}
