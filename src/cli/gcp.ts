// GCP production commands: `schema generate|check` (BigQuery table + Pub/Sub topic schema from
// the audit event schema); `dashboard-url` lives with the examiner commands (src/cli/examiner.ts). `verify
// --bigquery` is provided to the audit verify command through src/gcp/verify-source.ts.
import type { Command } from 'commander';
import { registerVerifySource, type VerifySource } from './audit.js';

/** `bqwarden verify --bigquery project.dataset.table --from YYYY-MM-DD --to YYYY-MM-DD`. */
export const bigQueryVerifySource: VerifySource = {
  configure(cmd: Command): void {
    cmd
      .option('--bigquery <project.dataset.table>', 'verify the raw audit table in BigQuery instead of a local directory')
      .option('--from <YYYY-MM-DD>', 'with --bigquery: first UTC day (inclusive)')
      .option('--to <YYYY-MM-DD>', 'with --bigquery: last UTC day (inclusive)')
      .option('--location <location>', 'with --bigquery: dataset location, e.g. US or europe-west2')
      .option('--bigquery-endpoint <url>', 'with --bigquery: REST endpoint override (emulator, test server)');
  },
  run(opts, ctx) {
    if (typeof opts.bigquery !== 'string') return null;
    if (typeof opts.from !== 'string' || typeof opts.to !== 'string') {
      return Promise.reject(new Error('--bigquery needs --from YYYY-MM-DD and --to YYYY-MM-DD (the table requires a partition filter)'));
    }
    const table = opts.bigquery;
    const { from, to } = opts;
    return import('../gcp/verify-source.js').then(({ verifyBigQuery }) =>
      verifyBigQuery({
        table,
        from,
        to,
        publicKeys: ctx.publicKeys,
        anchors: ctx.anchors ?? undefined,
        chainId: typeof opts.chain === 'string' ? opts.chain : undefined,
        location: typeof opts.location === 'string' ? opts.location : undefined,
        apiEndpoint: typeof opts.bigqueryEndpoint === 'string' ? opts.bigqueryEndpoint : undefined,
      }),
    );
  },
};

export function register(program: Command): void {
  registerVerifySource('bigquery', bigQueryVerifySource);

  const schema = program.command('schema').description('Audit schema artefacts for BigQuery and Pub/Sub');
  schema
    .command('generate')
    .description('Write terraform/modules/bqwarden/generated/ from the audit event schema')
    .option('--out <dir>', 'output directory (default: the Terraform module)')
    .action(async (opts: { out?: string }) => {
      const { writeGenerated } = await import('../gcp/generate.js');
      const written = await writeGenerated(opts.out);
      for (const p of written) process.stdout.write(`wrote ${p}\n`);
    });
  schema
    .command('check')
    .description('Exit 1 when the generated schema files are stale')
    .action(async () => {
      const { staleGenerated } = await import('../gcp/generate.js');
      const stale = await staleGenerated();
      if (stale.length === 0) {
        process.stdout.write('generated schema files are up to date\n');
        return;
      }
      for (const p of stale) process.stderr.write(`stale: ${p} (run npm run schema)\n`);
      process.exitCode = 1;
    });
}
