// BigQuery's dry run as a second opinion, in the running gateway: the real @google-cloud/bigquery
// client (credentials from a local metadata server, as on Cloud Run) against the BigQuery REST
// fake answering dry-run jobs as BigQuery does. Attacks first: a statement our analysis calls a
// SELECT that BigQuery would run as DML or a script, a table BigQuery references that our
// analysis never saw, a statement over the role's byte budget, a dry run that fails. Then the
// defence's other half: the dry run sees the SQL that will run (the masked rewrite), and a
// statement seen before is not dry-run again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FakeBigQuery, FakeDryRunAnswer, FakeQuery } from './bigquery-fake.js';
import { startBigQueryGateway, type BigQueryGateway } from './bigquery-gateway.js';
import { readEvents } from '../../src/audit/reader.js';
import type { AuditEvent } from '../../src/audit/event.js';
import type { TestStack } from '../helpers/gateway.js';
import { at } from '../helpers/present.js';

const BUDGET = 1_000_000;

/** INFORMATION_SCHEMA answers for any table the gateway asks about: an id and an ssn column. */
const catalogRows = (q: FakeQuery) => {
  const dataset = /`test-project`\.`([a-z_]+)`\.`INFORMATION_SCHEMA`/.exec(q.query)?.[1] ?? 'unknown';
  const f = (name: string, mode: 'NULLABLE' | 'REPEATED' = 'NULLABLE') => ({ name, type: 'STRING' as const, mode });
  const rows = (q.params.names as string[]).flatMap((table) =>
    [
      ['id', 'INT64'],
      ['ssn', 'STRING'],
    ].map(([column, type]) => ({ table_catalog: 'test-project', table_schema: dataset, table_name: table, column_name: column, field_path: column, data_type: type, policy_tags: [] })),
  );
  return { schema: [f('table_catalog'), f('table_schema'), f('table_name'), f('column_name'), f('field_path'), f('data_type'), f('policy_tags', 'REPEATED')], rows };
};

/** BigQuery's opinion, steered by a marker comment in the statement (the text is what BigQuery sees). */
function dryRunAnswer(q: FakeQuery): FakeDryRunAnswer {
  const table = /`?test-project\.([a-z_]+)\.([a-z_]+)`?/.exec(q.query) ?? /FROM `?([a-z_]+)\.([a-z_]+)/.exec(q.query);
  const referenced = table ? [`test-project.${table[1]}.${table[2]}`] : [];
  if (q.query.includes('/*bq:script*/')) return { statementType: 'SCRIPT', referencedTables: referenced, totalBytesProcessed: 0 };
  if (q.query.includes('/*bq:delete*/')) return { statementType: 'DELETE', referencedTables: referenced, totalBytesProcessed: 0 };
  if (q.query.includes('/*bq:hr*/')) return { statementType: 'SELECT', referencedTables: [...referenced, 'test-project.hr.salaries'], totalBytesProcessed: 10 };
  if (q.query.includes('/*bq:big*/')) return { statementType: 'SELECT', referencedTables: referenced, totalBytesProcessed: 5_000_000_000 };
  if (q.query.includes('/*bq:invalid*/')) return { invalid: 'Syntax error: Unexpected keyword at [1:1]' };
  return { statementType: 'SELECT', referencedTables: referenced, totalBytesProcessed: 4096 };
}

let bq: FakeBigQuery;
let stack: TestStack;
let gw: BigQueryGateway;

before(async () => {
  // The production example policy with the dry run on and a byte budget for the pipeline role.
  const policy = (yaml: string) => {
    const edited = yaml
      .replace('    defaultDataset: null\n', '    defaultDataset: null\n    dryRun: true\n')
      .replace('    keepLiterals: true\n', `    keepLiterals: true\n    maxBytesProcessed: ${BUDGET}\n`);
    assert.match(edited, /dryRun: true[\s\S]*maxBytesProcessed/);
    return edited;
  };
  gw = await startBigQueryGateway({ handler: catalogRows, policy, catalogTtlMs: 60_000 });
  ({ bq, stack } = gw);
  bq.dryRunHandler = dryRunAnswer;
});

after(() => gw?.stop());

type Result = { isError?: boolean; content: { text?: string }[] };
const PIPELINE = 'reporting-job@test-project.iam.gserviceaccount.com';

async function call(user: string, groups: string[], sql: string): Promise<Result> {
  const c = await stack.client(user, groups);
  return (await c.callTool({ name: 'execute_sql', arguments: { sql } })) as Result;
}
const text = (r: Result) => r.content.map((c) => c.text ?? '').join('\n');

async function lastEvent(sqlSha: (e: AuditEvent) => boolean): Promise<AuditEvent> {
  let found: AuditEvent | null = null;
  for await (const { event } of readEvents(join(stack.dataDir, 'audit'))) if (event.event_type === 'mcp_request' && event.tool_name === 'execute_sql' && sqlSha(event)) found = event;
  assert.ok(found, 'the call was audited');
  return found;
}

test('attack: our analysis says SELECT, BigQuery would run a script or a DELETE: denied, naming both', async () => {
  for (const [marker, type] of [
    ['/*bq:script*/', 'SCRIPT'],
    ['/*bq:delete*/', 'DELETE'],
  ] as const) {
    const r = await call(PIPELINE, [], `SELECT id FROM \`test-project.reporting.refunds\` ${marker}`);
    assert.equal(r.isError, true);
    assert.match(text(r), new RegExp(`our analysis found SELECT \\(read\\), BigQuery's dry run says ${type}; denied \\(rule dry-run\\)`));
    const e = await lastEvent((ev) => (ev.sql_text ?? '').includes(marker));
    assert.equal(e.error_code, 'dry_run_statement_mismatch');
    assert.equal(e.decision, 'deny');
    assert.ok(e.rule_ids.includes('dry-run'));
  }
});

test('attack: BigQuery references a table our analysis did not find: denied, naming it', async () => {
  const r = await call(PIPELINE, [], 'SELECT id FROM `test-project.reporting.refunds` /*bq:hr*/');
  assert.equal(r.isError, true);
  assert.match(text(r), /BigQuery's dry run references test-project\.hr\.salaries, which our analysis did not find \(it found test-project\.reporting\.refunds\)/);
  assert.equal((await lastEvent((e) => (e.sql_text ?? '').includes('/*bq:hr*/'))).error_code, 'dry_run_table_mismatch');
});

test("cost guard: a statement over the role's byte budget is denied with the bytes and the budget", async () => {
  const r = await call(PIPELINE, [], 'SELECT id FROM `test-project.reporting.refunds` /*bq:big*/');
  assert.equal(r.isError, true);
  assert.match(
    text(r),
    new RegExp(`would process 5000000000 bytes \\(BigQuery dry run\\), more than the ${BUDGET} bytes your roles \\(pipeline\\) may process per statement; denied \\(rule byte-budget\\)`),
  );
  const e = await lastEvent((ev) => (ev.sql_text ?? '').includes('/*bq:big*/'));
  assert.equal(e.error_code, 'over_byte_budget');
  assert.ok(e.rule_ids.includes('byte-budget'));
  // A role with no budget is not held to one (roles grant; the budget is the pipeline's).
  const analyst = await call('fiona@test-project.example', ['gcp-data-eng@acme-bank.com'], 'SELECT id FROM `test-project.core_banking.accounts` /*bq:big*/');
  assert.doesNotMatch(text(analyst), /byte-budget|dry-run/);
  assert.ok(
    bq.dryRuns.some((d) => d.query.includes('core_banking') && d.query.includes('accounts')),
    'its statement was dry-run all the same',
  );
});

test('fail closed: a dry run BigQuery refuses, or that cannot reach BigQuery, denies the call', async () => {
  const invalid = await call(PIPELINE, [], 'SELECT id FROM `test-project.reporting.refunds` /*bq:invalid*/');
  assert.equal(invalid.isError, true);
  assert.match(text(invalid), /BigQuery's dry run of this statement failed \(Syntax error: Unexpected keyword at \[1:1\]\), so it is not forwarded \(rule dry-run, fail closed\)/);
  bq.failNext = { status: 403, reason: 'accessDenied', message: 'Access Denied: User does not have bigquery.jobs.create permission', count: 1 };
  const denied = await call(PIPELINE, [], 'SELECT id FROM `test-project.reporting.refunds` /*bq:perm*/');
  assert.match(text(denied), /dry run of this statement failed \(Access Denied: User does not have bigquery\.jobs\.create permission\)/);
  assert.equal((await lastEvent((e) => (e.sql_text ?? '').includes('/*bq:perm*/'))).error_code, 'dry_run_failed');
});

test('the dry run sees the SQL that will run (the masked rewrite), with the default project; a statement seen before is not dry-run again', async () => {
  const before = bq.dryRuns.length;
  const sql = 'SELECT id, ssn FROM `test-project.core_banking.customers` WHERE id > 10';
  const r = await call('fay@test-project.example', ['gcp-fraud-analysts@acme-bank.com'], sql);
  assert.doesNotMatch(text(r), /rule dry-run|byte-budget/, text(r));
  assert.equal(bq.dryRuns.length, before + 1);
  const seen = at(bq.dryRuns, -1, 'dry run sent to BigQuery');
  assert.notEqual(seen.query, sql, 'BigQuery was asked about the rewritten statement');
  const e = await lastEvent((ev) => ev.sql_sha256 !== null && (ev.sql_text ?? '').includes('core_banking.customers') && ev.decision === 'mask');
  assert.ok(e.sql_executed_sha256, 'the call ran the masked rewrite');
  const { createHash } = await import('node:crypto');
  assert.equal(createHash('sha256').update(seen.query).digest('hex'), e.sql_executed_sha256, 'the dry-run text is exactly the executed text');
  assert.equal(seen.project, 'test-project');

  // Again: the cached opinion is used (same text, same project).
  await call('fay@test-project.example', ['gcp-fraud-analysts@acme-bank.com'], sql);
  assert.equal(bq.dryRuns.length, before + 1);
});
