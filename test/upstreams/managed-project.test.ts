// The managed BigQuery endpoint behind the whole gateway (official SDK client): a call's
// projectId decides which table policy judges, the refused call never reaches the upstream,
// and a call without projectId is forwarded with the project it was analysed in.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startStack, textOf, type TestStack } from '../helpers/gateway.js';
import { startManagedBigQueryServer, type ManagedServer } from '../fixtures/managed-bigquery-server.js';
import { waitForEvent } from '../security/helpers.js';

let stack: TestStack;
let managed: ManagedServer;
let analyst: Client;

before(async () => {
  managed = await startManagedBigQueryServer({ 'acme-sandbox.core.customers': ['customer_id', 'ssn'], 'acme-prod.core.customers': ['customer_id', 'ssn'] });
  const dir = mkdtempSync(join(tmpdir(), 'bqwarden-managed-'));
  const rulesDir = join(dir, 'rules');
  mkdirSync(rulesDir);
  writeFileSync(
    join(rulesDir, 'policy.yaml'),
    `
upstreams:
  - id: bq
    kind: bigquery-managed
    url: ${managed.url}
    credential: { type: none }
    defaultProject: acme-sandbox
    tools: { execute_sql: {} }
roles: [{ id: r, role: analyst, groups: [analyst] }]
methods: [{ id: m, methods: [initialize, ping, tools/list, tools/call], effect: allow }]
tools: [{ id: t, roles: [analyst], tools: [execute_sql], effect: allow }]
tables:
  - { id: sandbox-open, roles: [analyst], tables: ['acme-sandbox.core.*'], access: read, effect: allow }
  - { id: prod-customers-closed, tables: [acme-prod.core.customers], effect: deny }
statements: [{ id: s, roles: [analyst], classes: [read], effect: allow }]
`,
  );
  // No catalog directory: schemas come from the upstream's own get_table_info.
  stack = await startStack({ rulesDir, config: { rules: { dir: rulesDir, catalogDir: join(dir, 'no-catalog') } } });
  analyst = await stack.client('alice@bank.example', ['analyst']);
});

after(async () => {
  await stack?.stop();
  await managed?.close();
});

const executed = () => managed.calls.filter((c) => c.tool === 'execute_sql');

test('attack: projectId names the project BigQuery resolves core.customers in; policy judges that table and the call never leaves the gateway', async () => {
  const r = await analyst.callTool({ name: 'execute_sql', arguments: { projectId: 'acme-prod', query: 'SELECT customer_id FROM core.customers' } });
  assert.equal(r.isError, true);
  assert.match(textOf(r), /acme-prod\.core\.customers/);
  assert.match(textOf(r), /prod-customers-closed/);
  assert.equal(executed().length, 0, 'nothing reached the upstream');
  const ev = await waitForEvent(stack.dataDir, (e) => e.event_type === 'mcp_request' && e.tool_name === 'execute_sql' && e.decision === 'deny');
  assert.ok(ev?.target_tables?.includes('acme-prod.core.customers'), JSON.stringify(ev?.target_tables));
});

test("the catalog is read through the managed endpoint's get_table_info in the call's project", () => {
  const asked = managed.calls.filter((c) => c.tool === 'get_table_info').map((c) => c.args.projectId);
  assert.ok(asked.includes('acme-prod'), JSON.stringify(managed.calls));
});

test('a call without projectId runs where it was analysed: the gateway pins the default project', async () => {
  const r = await analyst.callTool({ name: 'execute_sql', arguments: { query: 'SELECT customer_id FROM core.customers', dryRun: true } });
  assert.notEqual(r.isError, true, textOf(r));
  const sent = executed().at(-1)!;
  assert.deepEqual(sent.args, { projectId: 'acme-sandbox', query: 'SELECT customer_id FROM core.customers', dryRun: true });
});

test('an explicit projectId is forwarded untouched', async () => {
  const r = await analyst.callTool({ name: 'execute_sql', arguments: { projectId: 'acme-sandbox', query: 'SELECT customer_id FROM core.customers' } });
  assert.notEqual(r.isError, true, textOf(r));
  assert.equal(executed().at(-1)!.args.projectId, 'acme-sandbox');
});

test('tools/list tells the agent that unqualified names resolve in the projectId it passes', async () => {
  const tool = (await analyst.listTools()).tools.find((t) => t.name === 'execute_sql');
  assert.match(tool?.description ?? '', /resolve in the project you pass as projectId, else acme-sandbox/);
});
