// Examiner commands: `report` (the evidence pack, HTML + PDF) and `dashboard-url` (the Looker
// Studio link for the examiner dashboard over the BigQuery views).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { paths } from '../config/paths.js';

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
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function reportCommand(program: Command): void {
  program
    .command('report')
    .description('Write the audit evidence pack (HTML and PDF) for a period: scope, policy versions, control mapping, chain verification, approvals, denials')
    .requiredOption('--from <YYYY-MM-DD>', 'first UTC day (inclusive)')
    .requiredOption('--to <YYYY-MM-DD>', 'last UTC day (inclusive)')
    .option('--out <dir>', 'output directory', 'reports')
    .option('--dir <dir>', 'local audit directory (default: <BQWARDEN_DATA or ./data>/audit)')
    .option('--bigquery <project.dataset.table>', 'read the raw audit table in BigQuery instead of a local directory')
    .option('--location <location>', 'with --bigquery: dataset location')
    .option('--bigquery-endpoint <url>', 'with --bigquery: REST endpoint override (emulator, test server)')
    .option('--key <pem-file>', 'checkpoint verification key (repeatable)', collect)
    .option('--keys-dir <dir>', 'where the demo key file is when nothing is pinned (default: keys/ beside the audit directory, else <data>/keys)')
    .option('--retention-days <n>', 'configured retention to state in the report (Terraform audit_retention_days)')
    .option('--chromium <path>', 'Chromium binary for the PDF', '/usr/bin/chromium')
    .option('--no-pdf', 'HTML only')
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
        const retention = opts.retentionDays ? Number(opts.retentionDays) : null;
        if (retention !== null && !(Number.isInteger(retention) && retention > 0)) throw new Error('--retention-days must be a positive whole number');
        const res = await generateReport({
          from: opts.from,
          to: opts.to,
          out: resolve(opts.out),
          auditDir: opts.bigquery ? undefined : auditDir,
          bigquery: opts.bigquery ? { table: opts.bigquery, location: opts.location, apiEndpoint: opts.bigqueryEndpoint } : undefined,
          publicKeys,
          anchors: trust.anchors ?? undefined,
          pdf: opts.pdf,
          chromiumPath: opts.chromium,
          retentionDays: retention,
          progress: say,
        });
        process.stdout.write(`${res.html}\n${res.pdf ? `${res.pdf}\n` : ''}`);
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
export function dashboardUrlCommand(program: Command): Command {
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
        const { examinerDashboardUrl } = await import('../report/dashboard-url.js');
        process.stdout.write(examinerDashboardUrl({ projectId: opts.project, datasetId: opts.dataset, templateReportId, reportName: opts.name }) + '\n');
      } catch (err) {
        process.stderr.write(`dashboard-url: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}

export function register(program: Command): void {
  reportCommand(program);
  dashboardUrlCommand(program);
}
