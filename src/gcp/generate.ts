// Writes (or checks) the schema files Terraform deploys. `npm run schema` regenerates them;
// the test suite calls checkGenerated() so a change to the event schema without a regenerate
// fails CI instead of producing a table that rejects new events.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auditTableSchemaJson, auditTopicProto } from './audit-schema.js';
import { DASHBOARD_VIEWS, EVENTS_VIEW } from './dashboard-url.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GENERATED_DIR = join(REPO_ROOT, 'terraform', 'modules', 'bqwarden', 'generated');

interface GeneratedFile {
  path: string;
  content: string;
}

/** The report name `bqwarden dashboard-url` gives the copy when none is asked for. */
const DASHBOARD_REPORT_NAME = 'bqwarden examiner dashboard';

/**
 * The examiner dashboard's data sources in link order, from the CLI's own list, so the Terraform
 * output (terraform/modules/bqwarden/dashboard-url) builds the same link as the CLI.
 */
function lookerDataSourcesJson(): string {
  const sources = [{ alias: 'audit', table_id: EVENTS_VIEW }, ...DASHBOARD_VIEWS.map((v) => ({ alias: v, table_id: v }))];
  return JSON.stringify({ report_name: DASHBOARD_REPORT_NAME, data_sources: sources }, null, 2) + '\n';
}

function generatedFiles(dir = GENERATED_DIR): GeneratedFile[] {
  return [
    { path: join(dir, 'audit_table_schema.json'), content: auditTableSchemaJson() },
    { path: join(dir, 'audit_topic_schema.proto'), content: auditTopicProto() },
    { path: join(dir, 'looker_data_sources.json'), content: lookerDataSourcesJson() },
  ];
}

export async function writeGenerated(dir = GENERATED_DIR): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const out: string[] = [];
  for (const f of generatedFiles(dir)) {
    await writeFile(f.path, f.content);
    out.push(f.path);
  }
  return out;
}

/** Paths whose checked-in content differs from what the event schema generates. */
export async function staleGenerated(dir = GENERATED_DIR): Promise<string[]> {
  const stale: string[] = [];
  for (const f of generatedFiles(dir)) {
    const current = await readFile(f.path, 'utf8').catch(() => null);
    if (current !== f.content) stale.push(f.path);
  }
  return stale;
}
