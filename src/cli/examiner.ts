// Examiner commands: `report` (the evidence pack, HTML + PDF) and `dashboard-url` (the Looker
// Studio link for the examiner dashboard over the BigQuery views).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { BigQuery } from '@google-cloud/bigquery';
import { paths } from '../config/paths.js';
import type { ReportSource } from '../report/generate.js';

interface ReportCliOptions {
  from: string;
  to: string;
  out: string;
  dir?: string;
  bigquery?: string;
  location?: string;
  bigqueryEndpoint?: string;
  key?: string[];
  keysDir?: string;
  pdf: boolean;
  chromium?: string;
  retentionDays?: string;
  signKey?: string;
  sign: boolean;
  preparer?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function verifyReportCommand(program: Command): void {
  program
    .command('verify-report <manifest>')
    .description("Check an evidence pack: every file's SHA-256 against its manifest, and the manifest's signature (with --key: by a pinned key)")
    .option('--key <pem-file>', 'public key the signer must match (repeatable)', collect)
    .action(async (manifest: string, opts: { key?: string[] }) => {
      const { readFileSync } = await import('node:fs');
      const { verifyManifest } = await import('../report/manifest.js');
      try {
        const r = await verifyManifest(
          resolve(manifest),
          (opts.key ?? []).map((f) => readFileSync(f, 'utf8')),
        );
        process.stdout.write(`${r.lines.join('\n')}\n${r.ok ? 'evidence pack OK' : 'evidence pack NOT OK'}\n`);
        process.exitCode = r.ok ? 0 : 1;
      } catch (err) {
        process.stderr.write(`verify-report: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}

function reportCommand(program: Command): void {
  program
    .command('report')
    .description('Write the audit evidence pack (HTML and PDF) for a period: scope, policy versions, control mapping, chain verification, approvals, denials')
    .requiredOption('--from <YYYY-MM-DD>', 'first UTC day (inclusive)')
    .requiredOption('--to <YYYY-MM-DD>', 'last UTC day (inclusive)')
    .option('--out <dir>', 'output directory', 'reports')
    .option('--dir <dir>', 'local audit directory (default: <BQWARDEN_DATA, else data/ in the checkout>/audit)')
    .option('--bigquery <project.dataset.table>', 'read the raw audit table in BigQuery instead of a local directory')
    .option('--location <location>', 'with --bigquery: dataset location')
    .option('--bigquery-endpoint <url>', 'with --bigquery: REST endpoint override (emulator, test server)')
    .option('--key <pem-file>', 'checkpoint verification key (repeatable)', collect)
    .option('--keys-dir <dir>', 'where the demo key file is when nothing is pinned (default: keys/ beside the audit directory, else <data>/keys)')
    .option('--retention-days <n>', 'configured retention to state in the report (Terraform audit_retention_days)')
    .option('--chromium <path>', 'Chromium binary for the PDF', '/usr/bin/chromium')
    .option('--no-pdf', 'HTML only')
    .option('--sign-key <pem-file>', 'Ed25519 private key that signs the pack (default: the audit signing key in the keys directory, when present)')
    .option('--no-sign', 'do not sign the pack (the report and the manifest say it is unsigned)')
    .option('--preparer <name>', 'who prepares the pack, printed in the sign-off block')
    .action(async (opts: ReportCliOptions) => {
      const { generateReport } = await import('../report/generate.js');
      const { resolveTrust } = await import('./trust.js');
      const t0 = Date.now();
      const say = (m: string) => process.stderr.write(`report: [${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);
      try {
        const auditDir = resolve(opts.dir ?? paths.audit());
        const trust = await resolveTrust({ auditDir, key: opts.key, keysDir: opts.keysDir, anchors: opts.bigquery ? false : undefined });
        const publicKeys = trust.publicKeys;
        if (!publicKeys.length) say('warning: no verification key pinned (--key) and no demo key file found; checkpoint signatures will be reported as unverifiable');
        const pinned = publicKeys.length > 0 && publicKeys.every((k) => k.pinned !== false);
        // The pack is signed with the audit signing key when it is on this machine (the demo), else --sign-key.
        const { PRIVATE_KEY_FILE } = await import('../audit/checkpoint.js');
        const sibling = join(dirname(auditDir), 'keys');
        const keysDir = opts.keysDir ? resolve(opts.keysDir) : existsSync(sibling) ? sibling : paths.keys();
        const defaultSignKey = join(keysDir, PRIVATE_KEY_FILE);
        const signKey = opts.sign === false ? null : opts.signKey ? resolve(opts.signKey) : existsSync(defaultSignKey) ? defaultSignKey : null;
        if (opts.sign !== false && !signKey) say(`warning: no signing key (no --sign-key, and none at ${defaultSignKey}); the pack will say it is unsigned`);
        if (!pinned && publicKeys.length) say('note: the verification key was not pinned (--key); the pack lists that as an open item');
        const retention = opts.retentionDays ? Number(opts.retentionDays) : null;
        if (retention !== null && !(Number.isInteger(retention) && retention > 0)) throw new Error('--retention-days must be a positive whole number');
        const res = await generateReport({
          from: opts.from,
          to: opts.to,
          out: resolve(opts.out),
          source: await reportSource(opts.bigquery ? { table: opts.bigquery, location: opts.location, apiEndpoint: opts.bigqueryEndpoint } : { dir: auditDir }),
          publicKeys,
          anchors: trust.anchors ?? undefined,
          signKey,
          preparer: opts.preparer ?? null,
          pdf: opts.pdf,
          chromiumPath: opts.chromium,
          retentionDays: retention,
          progress: say,
        });
        process.stdout.write(`${res.html}\n${res.pdf ? `${res.pdf}\n` : ''}${res.manifest}\n`);
        const exceptions = res.evidence.exceptions.filter((x) => x.severity === 'exception').length;
        say(`${exceptions} exception(s), ${res.evidence.exceptions.length - exceptions} open item(s) listed in section 1`);
        const v = res.evidence.verification;
        if (!v?.ok) {
          say('the audit chain did NOT verify; the report says so');
          process.exitCode = 1;
        }
      } catch (err) {
        process.stderr.write(`report: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}

interface DashboardCliOptions {
  project?: string;
  dataset?: string;
  table?: string;
  reportId?: string;
  report?: string;
  name: string;
}

/** `dashboard-url --project P --dataset VIEWS_DATASET [--report-id ID]`, or the single-table form `--table`. */
function dashboardUrlCommand(program: Command): Command {
  return program
    .command('dashboard-url')
    .description('Print the Looker Studio link that copies the examiner dashboard onto your BigQuery audit views')
    .option('--project <id>', 'GCP project of the views dataset')
    .option('--dataset <id>', 'views dataset (Terraform views_dataset_id)')
    .option('--report-id <id>', 'Looker Studio template report id (or BQWARDEN_LOOKER_TEMPLATE)')
    .option('--report <id>', 'alias of --report-id')
    .option('--table <project.dataset.table>', 'single-table form: bind only the `audit` data source to this table or view')
    .option('--name <name>', 'name of the new report', 'bqwarden examiner dashboard')
    .action(async (opts: DashboardCliOptions) => {
      const templateReportId = opts.reportId ?? opts.report ?? process.env.BQWARDEN_LOOKER_TEMPLATE;
      try {
        if (!templateReportId) throw new Error('--report-id (or BQWARDEN_LOOKER_TEMPLATE) is required: the id of the template report you built from dashboards/looker-studio.md');
        if (opts.table) {
          const { lookerStudioUrl, parseTableId } = await import('../gcp/looker.js');
          process.stdout.write(lookerStudioUrl({ templateReportId, reportName: opts.name, ...parseTableId(opts.table) }) + '\n');
          return;
        }
        if (!opts.project || !opts.dataset) throw new Error('give --project and --dataset (the views dataset), or --table');
        const { examinerDashboardUrl } = await import('../gcp/dashboard-url.js');
        process.stdout.write(examinerDashboardUrl({ projectId: opts.project, datasetId: opts.dataset, templateReportId, reportName: opts.name }) + '\n');
      } catch (err) {
        process.stderr.write(`dashboard-url: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}

export function register(program: Command): void {
  reportCommand(program);
  verifyReportCommand(program);
  dashboardUrlCommand(program);
}

/** The audit store `report` reads: the BigQuery table (its period, as a window) or the local directory (every chain verified). */
export async function reportSource(from: { dir: string } | { table: string; location?: string; apiEndpoint?: string; client?: BigQuery }): Promise<ReportSource> {
  if ('table' in from) {
    const { BigQueryAuditStore } = await import('../gcp/audit-store.js');
    return {
      store: new BigQueryAuditStore({ table: from.table, location: from.location, apiEndpoint: from.apiEndpoint, bigquery: from.client }),
      label: `BigQuery ${from.table}`,
      where: from.table,
      verify: 'period',
    };
  }
  const { JsonlAuditStore } = await import('../audit/store-jsonl.js');
  return { store: new JsonlAuditStore(from.dir), label: `local audit store ${from.dir}`, where: from.dir, verify: 'all' };
}
