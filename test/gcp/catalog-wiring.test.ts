// The BigQuery catalog in the running gateway (gcp.bigquery.catalog, set by Terraform): a column
// whose name says nothing is classified by the policy tag BigQuery carries for it, and policy
// acts on that. Real gateway, real BigQuery client (credentials from a local metadata server,
// as on Cloud Run) against the BigQuery REST fake.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FakeBigQuery, FakeQuery } from './bigquery-fake.js';
import type { FakeMetadataServer } from '../fixtures/metadata-server.js';
import { startBigQueryGateway, type BigQueryGateway } from './bigquery-gateway.js';
import { readEvents } from '../../src/audit/reader.js';
import type { TestStack } from '../helpers/gateway.js';
import { first } from '../helpers/present.js';

const SSN_TAG = 'projects/test-project/locations/us/taxonomies/7/policyTags/ssn';
const fieldRows = (q: FakeQuery) => {
  assert.match(q.query, /`test-project`\.`reporting`\.`INFORMATION_SCHEMA`\.`COLUMN_FIELD_PATHS`/);
  const rows = [
    { table_catalog: 'test-project', table_schema: 'reporting', table_name: 'payouts', column_name: 'payout_id', field_path: 'payout_id', data_type: 'INT64', policy_tags: [] },
    { table_catalog: 'test-project', table_schema: 'reporting', table_name: 'payouts', column_name: 'tax_ref', field_path: 'tax_ref', data_type: 'STRING', policy_tags: [SSN_TAG] },
    // The same column in a table where nobody tagged it.
    { table_catalog: 'test-project', table_schema: 'reporting', table_name: 'refunds', column_name: 'payout_id', field_path: 'payout_id', data_type: 'INT64', policy_tags: [] },
    { table_catalog: 'test-project', table_schema: 'reporting', table_name: 'refunds', column_name: 'tax_ref', field_path: 'tax_ref', data_type: 'STRING', policy_tags: [] },
  ].filter((r) => (q.params.names as string[]).includes(r.table_name));
  const f = (name: string, mode: 'NULLABLE' | 'REPEATED' = 'NULLABLE') => ({ name, type: 'STRING' as const, mode });
  return { schema: [f('table_catalog'), f('table_schema'), f('table_name'), f('column_name'), f('field_path'), f('data_type'), f('policy_tags', 'REPEATED')], rows };
};

let bq: FakeBigQuery;
let metadata: FakeMetadataServer;
let stack: TestStack;
let gw: BigQueryGateway;

before(async () => {
  gw = await startBigQueryGateway({ handler: fieldRows });
  ({ bq, metadata, stack } = gw);
});

after(() => gw?.stop());

test('a policy-tagged column is classified from BigQuery and the pipeline role is refused it; untagged, it is not', async () => {
  const job = await stack.client('reporting-job@test-project.iam.gserviceaccount.com', []);
  const call = async (table: string) =>
    (await job.callTool({ name: 'execute_sql', arguments: { sql: `SELECT payout_id, tax_ref FROM \`test-project.reporting.${table}\`` } })) as { isError?: boolean; content: { text?: string }[] };

  const refused = await call('payouts');
  assert.equal(refused.isError, true);
  assert.match(refused.content[0]?.text ?? '', /pii\.ssn/);
  assert.match(refused.content[0]?.text ?? '', /pipeline-no-pii/);
  assert.ok(bq.queries.length >= 1, 'the gateway asked BigQuery for the table');
  assert.deepEqual(bq.queries[0]?.params.names, ['payouts']);
  assert.ok(metadata.tokenRequests >= 1, 'with the service identity from the metadata server');

  // Control: the same column without the tag is not classified, so policy lets the read through
  // (it then reaches the SQLite demo upstream, which knows no such table: not our concern here).
  const passed = await call('refunds');
  assert.doesNotMatch(first(passed.content, 'content item of the control call').text ?? '', /pipeline-no-pii/);

  const decisions: string[] = [];
  for await (const { event } of readEvents(join(stack.dataDir, 'audit')))
    if (event.event_type === 'mcp_request' && event.tool_name === 'execute_sql') decisions.push(`${event.decision}:${(event.rule_ids ?? []).includes('pipeline-no-pii')}`);
  assert.deepEqual(decisions, ['deny:true', 'allow:false']);
});
