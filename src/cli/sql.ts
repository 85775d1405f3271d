import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { Analysis, ColumnRef, Dialect, SchemaCatalog } from '../sql/types.js';

const col = (c: ColumnRef) => [c.table, c.column, ...c.path].join('.');

/** What a person asks of an analysis, in a screenful: classes, tables, lineage, clauses, what could not be seen. */
function formatAnalysis(a: Analysis): string {
  const lines = [`dialect:     ${a.dialect}${a.ok ? '' : '  (did NOT parse: bqwarden denies it)'}`, `fingerprint: ${a.fingerprint}`, `sha256:      ${a.sha256}`];
  for (const f of a.opaque) lines.push(`opaque:      ${f.kind}${f.detail ? ` — ${f.detail}` : ''}`);
  for (const s of a.statements) {
    lines.push('', `statement ${s.index + 1}: ${s.class} (${s.kind})${s.destructive ? ', destructive' : ''}`);
    if (s.tablesRead.length) lines.push(`  reads:     ${s.tablesRead.map((t) => t.fq + (t.opaque ? ' (opaque)' : '')).join(', ')}`);
    if (s.tablesWritten.length) lines.push(`  writes:    ${s.tablesWritten.map((t) => t.fq).join(', ')}`);
    if (s.output) {
      lines.push('  returns:');
      for (const o of s.output) {
        const from = o.unresolved ? 'unresolved' : o.sources.length ? o.sources.map(col).join(', ') : 'no column (a constant or computed from none)';
        lines.push(`    ${o.name} ← ${o.direct ? '' : 'computed from '}${from}`);
      }
    }
    const byClause = new Map<string, Set<string>>();
    for (const u of s.uses) {
      const set = byClause.get(u.clause) ?? new Set<string>();
      set.add(col(u.column));
      byClause.set(u.clause, set);
    }
    if (byClause.size) {
      lines.push('  uses:');
      for (const [clause, cols] of byClause) lines.push(`    ${clause}: ${[...cols].join(', ')}`);
    }
    for (const f of s.opaque) lines.push(`  opaque:    ${f.kind}${f.detail ? ` — ${f.detail}` : ''}`);
  }
  if (!a.statements.length && a.ok) lines.push('', '(no statement)');
  return lines.join('\n');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function register(program: Command): void {
  const sql = program.command('sql').description('SQL analysis: statement classes, tables, column lineage');
  sql
    .command('analyze')
    .description('Print the analysis of SQL (argument, --file, or stdin): a summary, or everything as JSON with --json')
    .argument('[sql]', 'SQL text; read from stdin when omitted')
    .option('--dialect <dialect>', 'bigquery | sqlite | postgresql', 'bigquery')
    .option('--default-project <project>', 'project for names without one')
    .option('--default-dataset <dataset>', 'dataset (SQLite: schema) for names without one')
    .option('--catalog [dir]', "directory of catalog YAML files (without a value: the checkout's rules/catalog, the demo's)")
    .option('--file <path>', 'read SQL from a file')
    .option('--json', 'the whole analysis as JSON')
    .action(async (text: string | undefined, o: { dialect: string; defaultProject?: string; defaultDataset?: string; catalog?: string | true; file?: string; json?: boolean }) => {
      if (!['bigquery', 'sqlite', 'postgresql'].includes(o.dialect)) {
        process.stderr.write(`unknown dialect ${o.dialect}: use bigquery, sqlite or postgresql\n`);
        process.exitCode = 2;
        return;
      }
      const { analyze, createStaticCatalog, loadStaticCatalog } = await import('../sql/index.js');
      let catalog: SchemaCatalog | undefined;
      if (o.catalog) {
        const dir = o.catalog === true ? (await import('../config/paths.js')).paths.catalog() : o.catalog;
        try {
          catalog = createStaticCatalog(loadStaticCatalog(dir));
        } catch (e) {
          process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
          process.exitCode = 2;
          return;
        }
      }
      let input: string;
      try {
        input = text ?? (o.file ? readFileSync(o.file, 'utf8') : await readStdin());
      } catch (e) {
        process.stderr.write(`cannot read ${o.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const a = analyze(input, {
        dialect: o.dialect as Dialect,
        defaultProject: o.defaultProject ?? null,
        defaultDataset: o.defaultDataset ?? null,
        catalog,
      });
      process.stdout.write((o.json ? JSON.stringify(a, null, 2) : formatAnalysis(a)) + '\n');
      // Non-zero when the SQL did not parse, so scripts can tell.
      if (!a.ok) process.exitCode = 1;
    });
}
