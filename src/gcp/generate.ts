// Writes (or checks) the schema files Terraform deploys. `npm run schema` regenerates them;
// the test suite calls checkGenerated() so a change to the event schema without a regenerate
// fails CI instead of producing a table that rejects new events.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auditTableSchemaJson, auditTopicProto } from './audit-schema.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GENERATED_DIR = join(REPO_ROOT, 'terraform', 'modules', 'bqwarden', 'generated');

export interface GeneratedFile {
  path: string;
  content: string;
}

export function generatedFiles(dir = GENERATED_DIR): GeneratedFile[] {
  return [
    { path: join(dir, 'audit_table_schema.json'), content: auditTableSchemaJson() },
    { path: join(dir, 'audit_topic_schema.proto'), content: auditTopicProto() },
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
