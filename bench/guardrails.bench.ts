// Guardrails (docs/guardrails.md): what they add to a tools/call.
// (1) The BigQuery dry run: a statement not seen before costs one dry-run job through the real
// @google-cloud/bigquery client (here against the loopback REST fake; real BigQuery adds its own
// network and planning time, which this machine cannot measure), a statement seen before costs a
// cache lookup. Baseline, in the same run: our own analysis of the same statement.
// (2) Tool-definition pinning on the hot path: checking a tools/list of 20 tools that are all
// pinned, against a baseline of serialising the same list once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OAuth2Client } from 'google-auth-library';
import { FakeBigQuery } from '../test/gcp/bigquery-fake.js';
import { createDryRunner } from '../src/gcp/dry-run.js';
import { createBigQueryClient } from '../src/gcp/bigquery.js';
import { analyze } from '../src/sql/index.js';
import { ToolPins } from '../src/pins/service.js';
import { filePinStore } from '../src/pins/store.js';
import { createLogger } from '../src/ops/logger.js';
import type { RequestContext } from '../src/pipeline/types.js';

process.env.METADATA_SERVER_DETECTION = 'none';
const data = mkdtempSync(join(tmpdir(), 'bqw-bench-guard-'));
const us = (t: bigint, n: number) => Number(process.hrtime.bigint() - t) / 1e3 / n;

try {
  const bq = new FakeBigQuery(() => ({ schema: [], rows: [] }));
  bq.dryRunHandler = () => ({ statementType: 'SELECT', referencedTables: ['p.core.accounts'], totalBytesProcessed: 123456 });
  await bq.start();
  try {
    const authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: 'bench', expiry_date: Date.now() + 3_600_000 });
    const runner = createDryRunner({ bigquery: createBigQueryClient({ projectId: 'p', apiEndpoint: bq.endpoint, clientOptions: { authClient } }) });
    const sql = (i: number) => `SELECT account_id, balance FROM core.accounts WHERE branch = 'B${i}' AND balance > ${i}`;
    const opts = { dialect: 'bigquery' as const, defaultProject: 'p', defaultDataset: 'core' };
    for (let i = 0; i < 50; i++) await runner.run({ sql: sql(-i - 1), defaultProject: 'p', defaultDataset: 'core' });
    const N = 400;
    let t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) analyze(sql(i), opts);
    const analyzeUs = us(t, N);
    t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await runner.run({ sql: sql(i), defaultProject: 'p', defaultDataset: 'core' });
    const firstUs = us(t, N);
    t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await runner.run({ sql: sql(i), defaultProject: 'p', defaultDataset: 'core' });
    const cachedUs = us(t, N);
    console.log(`BigQuery dry run per statement (n=${N}, loopback REST fake, real client library)`);
    console.log(`  baseline: our analysis of the statement  ${analyzeUs.toFixed(1).padStart(9)} µs`);
    console.log(`  dry run, statement not seen before       ${firstUs.toFixed(1).padStart(9)} µs   ratio ${(firstUs / analyzeUs).toFixed(2)}`);
    console.log(`  dry run, statement seen before (cache)   ${cachedUs.toFixed(1).padStart(9)} µs   ratio ${(cachedUs / analyzeUs).toFixed(3)}`);
  } finally {
    await bq.stop();
  }

  const tools = Array.from({ length: 20 }, (_, i) => ({
    name: `tool_${i}`,
    description: `Tool number ${i}: runs something against the warehouse and returns rows.`,
    inputSchema: { type: 'object', properties: { sql: { type: 'string', description: 'The SQL to run.' }, limit: { type: 'integer' } }, required: ['sql'] },
    annotations: { readOnlyHint: i % 2 === 0, destructiveHint: i % 2 === 1 },
  }));
  const log = createLogger('silent');
  const pins = new ToolPins({
    store: filePinStore(join(data, 'pins')),
    upstream: 'bench',
    audit: { append: async (e) => e as never },
    approvals: null,
    approverRoles: ['approver'],
    required: 1,
    expirySeconds: 3600,
    refreshMs: 60_000,
    instance: 'bench',
    log,
  });
  const ctx = { identity: { subject: 'bench', issuer: 'bench', email: null, groups: [], roles: [], actorType: 'human', authMethod: 'dev' } } as unknown as RequestContext;
  await pins.onList(tools, ctx, []);
  const M = 2000;
  let t = process.hrtime.bigint();
  for (let i = 0; i < M; i++) JSON.stringify(tools);
  const baseUs = us(t, M);
  t = process.hrtime.bigint();
  for (let i = 0; i < M; i++) await pins.onList(tools, ctx, []);
  const listUs = us(t, M);
  t = process.hrtime.bigint();
  for (let i = 0; i < M; i++) await pins.onCall('tool_7', ctx, [], async () => tools);
  const callUs = us(t, M);
  console.log(`tool pinning, 20 pinned tools (n=${M})`);
  console.log(`  baseline: JSON.stringify of the list     ${baseUs.toFixed(1).padStart(9)} µs`);
  console.log(`  tools/list check (hash + compare all)    ${listUs.toFixed(1).padStart(9)} µs   ratio ${(listUs / baseUs).toFixed(2)}`);
  console.log(`  tools/call check (view fresh)            ${callUs.toFixed(1).padStart(9)} µs   ratio ${(callUs / baseUs).toFixed(3)}`);
} finally {
  rmSync(data, { recursive: true, force: true });
}
