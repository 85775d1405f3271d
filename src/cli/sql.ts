import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { Dialect, SchemaCatalog } from '../sql/types.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function register(program: Command): void {
  const sql = program.command('sql').description('SQL analysis: statement classes, tables, column lineage');
  sql
    .command('analyze')
    .description('Print the analysis of SQL (argument, --file, or stdin) as JSON')
    .argument('[sql]', 'SQL text; read from stdin when omitted')
    .option('--dialect <dialect>', 'bigquery | sqlite | postgresql', 'bigquery')
    .option('--default-project <project>', 'project for names without one')
    .option('--default-dataset <dataset>', 'dataset (SQLite: schema) for names without one')
    .option('--catalog <dir>', 'directory of catalog YAML files (e.g. rules/catalog)')
    .option('--file <path>', 'read SQL from a file')
    .action(async (text: string | undefined, o: { dialect: string; defaultProject?: string; defaultDataset?: string; catalog?: string; file?: string }) => {
      if (!['bigquery', 'sqlite', 'postgresql'].includes(o.dialect)) {
        process.stderr.write(`unknown dialect ${o.dialect}: use bigquery, sqlite or postgresql\n`);
        process.exitCode = 2;
        return;
      }
      const { analyze, createStaticCatalog, loadStaticCatalog } = await import('../sql/analyze.js');
      let catalog: SchemaCatalog | undefined;
      if (o.catalog) {
        try {
          catalog = createStaticCatalog(loadStaticCatalog(o.catalog));
        } catch (e) {
          process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
          process.exitCode = 2;
          return;
        }
      }
      const input = text ?? (o.file ? readFileSync(o.file, 'utf8') : await readStdin());
      const a = analyze(input, {
        dialect: o.dialect as Dialect,
        defaultProject: o.defaultProject ?? null,
        defaultDataset: o.defaultDataset ?? null,
        catalog,
      });
      process.stdout.write(JSON.stringify(a, null, 2) + '\n');
      // Non-zero when the SQL did not parse, so scripts can tell.
      if (!a.ok) process.exitCode = 1;
    });
}
