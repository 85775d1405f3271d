// Several upstreams behind one gateway: two real MCP Toolbox processes (--prebuilt sqlite) on
// two SQLite files, one gateway, the official MCP SDK client. Both serve execute_sql (a
// collision: each is namespaced), only one describes list_tables (it keeps its name). Each
// upstream's tables carry its own project, so policy is per upstream: the same table name
// (customers) is readable on one and refused on the other.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import initSqlJs from 'sql.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startStack, rowsOf, textOf, REPO, type TestStack } from '../helpers/gateway.js';
import { startToolbox, type ToolboxProcess } from '../../src/demo/toolbox.js';
import { auditEvents, waitForEvent } from '../security/helpers.js';

let stack: TestStack;
let hr: ToolboxProcess;
let analyst: Client;
let rulesDir = '';

async function writeHrDb(file: string): Promise<void> {
  const require = createRequire(import.meta.url);
  const SQL = await initSqlJs({ locateFile: (f: string) => require.resolve(`sql.js/dist/${f}`) });
  const db = new SQL.Database();
  db.run(`CREATE TABLE employees (employee_id INTEGER PRIMARY KEY, full_name TEXT, ssn TEXT, department TEXT);
INSERT INTO employees VALUES (1, 'Hana Rivera', '512-44-9081', 'payroll'), (2, 'Omar Lind', '318-27-6650', 'risk');
CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, full_name TEXT, complaint TEXT);
INSERT INTO customers VALUES (1, 'HR-ONLY PERSON', 'grievance text');`);
  writeFileSync(file, Buffer.from(db.export()));
  db.close();
}

function rules(hrUrl: string): string {
  return `
upstreams:
  - id: demo
    kind: toolbox-sqlite
    defaultProject: demo
    defaultDataset: main
    tools: { execute_sql: {}, list_tables: {} }
  - id: hr
    kind: toolbox-sqlite
    url: ${hrUrl}
    credential: { type: none }
    defaultProject: hr
    defaultDataset: main
    tools: { execute_sql: {} }
roles:
  - { id: r-analyst, role: analyst, groups: [analyst] }
methods:
  - { id: m, methods: [initialize, ping, tools/list, tools/call], effect: allow }
tools:
  - { id: t, roles: [analyst], tools: [demo__execute_sql, hr__execute_sql, list_tables], effect: allow }
tables:
  - { id: tb-demo, roles: [analyst], tables: ['demo.main.*'], access: read, effect: allow }
  - { id: tb-hr-employees, roles: [analyst], tables: [hr.main.employees], access: read, effect: allow }
  - { id: tb-hr-customers-closed, roles: [analyst], tables: [hr.main.customers], effect: deny }
statements:
  - { id: s, roles: [analyst], classes: [read], effect: allow }
classifications:
  - { id: c-ssn, classification: pii.ssn, names: [ssn] }
visibility:
  - { id: v, roles: [analyst], classifications: { pii.ssn: last4 } }
`;
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqwarden-routing-'));
  await writeHrDb(join(dir, 'hr.db'));
  hr = await startToolbox({ database: join(dir, 'hr.db') });
  rulesDir = join(dir, 'rules');
  mkdirSync(rulesDir);
  writeFileSync(join(rulesDir, 'policy.yaml'), rules(hr.url));
  stack = await startStack({ rulesDir, config: { rules: { dir: rulesDir, catalogDir: join(REPO, 'rules', 'catalog') } } });
  analyst = await stack.client('alice@bank.example', ['analyst']);
});

after(async () => {
  await stack?.stop();
  await hr?.stop();
});

test('tools/list: the union of both upstreams, colliding names namespaced for both, the rest unchanged', async () => {
  const names = (await analyst.listTools()).tools.map((t) => t.name).sort();
  assert.deepEqual(names, ['demo__execute_sql', 'hr__execute_sql', 'list_tables']);
});

test('each namespaced tool reaches its own upstream (its own SQLite file)', async () => {
  const bank = await analyst.callTool({ name: 'demo__execute_sql', arguments: { sql: 'SELECT count(*) AS n FROM customers' } });
  assert.notEqual(bank.isError, true, textOf(bank));
  assert.ok(Number(rowsOf(bank)[0]?.n) > 10, 'the bank database has many customers');
  const staff = await analyst.callTool({ name: 'hr__execute_sql', arguments: { sql: 'SELECT full_name, department FROM employees ORDER BY employee_id' } });
  assert.notEqual(staff.isError, true, textOf(staff));
  assert.deepEqual(rowsOf(staff), [
    { full_name: 'Hana Rivera', department: 'payroll' },
    { full_name: 'Omar Lind', department: 'risk' },
  ]);
  // The tool that only one upstream serves keeps its name and reaches that upstream.
  const listed = await analyst.callTool({ name: 'list_tables', arguments: { table_names: 'accounts' } });
  assert.match(textOf(listed), /accounts/);
});

test('policy per upstream: the same table name is readable on one upstream and refused on the other', async () => {
  const bank = await analyst.callTool({ name: 'demo__execute_sql', arguments: { sql: 'SELECT full_name FROM customers LIMIT 1' } });
  assert.notEqual(bank.isError, true, textOf(bank));
  assert.doesNotMatch(textOf(bank), /HR-ONLY/);
  const refused = await analyst.callTool({ name: 'hr__execute_sql', arguments: { sql: 'SELECT full_name, complaint FROM customers' } });
  assert.equal(refused.isError, true);
  assert.match(textOf(refused), /hr\.main\.customers/);
  assert.match(textOf(refused), /tb-hr-customers-closed/);
  assert.doesNotMatch(textOf(refused), /grievance|HR-ONLY/);
});

test('masking on the second upstream uses its own catalog (read through its own list_tables)', async () => {
  const r = await analyst.callTool({ name: 'hr__execute_sql', arguments: { sql: 'SELECT full_name, ssn FROM employees ORDER BY employee_id' } });
  assert.notEqual(r.isError, true, textOf(r));
  const rows = rowsOf(r);
  assert.equal(rows.length, 2);
  assert.doesNotMatch(textOf(r), /512-44-9081|318-27-6650/);
  assert.match(String(rows[0]?.ssn), /9081$/);
});

test('audit names the upstream each call went to', async () => {
  await analyst.callTool({ name: 'hr__execute_sql', arguments: { sql: 'SELECT department FROM employees' } });
  const ev = await waitForEvent(stack.dataDir, (e) => e.event_type === 'mcp_request' && e.tool_name === 'hr__execute_sql' && e.outcome === 'success');
  assert.equal(ev?.upstream, 'hr');
  const bank = auditEvents(stack.dataDir).find((e) => e.event_type === 'mcp_request' && e.tool_name === 'demo__execute_sql' && e.outcome === 'success');
  assert.equal(bank?.upstream, 'demo');
});

test('an unknown or un-namespaced colliding name is refused, never routed by guess', async () => {
  const r = await analyst.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT 1' } });
  assert.equal(r.isError, true);
  // Refused by whichever check meets it first: the pin (no upstream lists the bare name) or policy.
  assert.match(textOf(r), /unknown-tool|tool-pinning/);
});

test('routing follows a policy reload: once hr no longer serves execute_sql, the name is no longer shared and stays bare', async () => {
  const file = join(rulesDir, 'policy.yaml');
  const original = readFileSync(file, 'utf8');
  try {
    writeFileSync(file, original.replace('tools: { execute_sql: {} }', 'tools: {}').replace('tools: [demo__execute_sql, hr__execute_sql, list_tables]', 'tools: [execute_sql, list_tables]'));
    await stack.gateway.reloadPolicy();
    assert.deepEqual((await analyst.listTools()).tools.map((t) => t.name).sort(), ['execute_sql', 'list_tables']);
    const r = await analyst.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT count(*) AS n FROM accounts' } });
    assert.notEqual(r.isError, true, textOf(r));
    assert.ok(Number(rowsOf(r)[0]?.n) > 10);
  } finally {
    writeFileSync(file, original);
    await stack.gateway.reloadPolicy();
  }
  assert.deepEqual((await analyst.listTools()).tools.map((t) => t.name).sort(), ['demo__execute_sql', 'hr__execute_sql', 'list_tables']);
});

test('one upstream down: /readyz says so and a new session is refused (never half the tools)', async () => {
  assert.equal((await fetch(`${stack.url}/readyz`)).status, 200);
  await hr.stop();
  const rz = await fetch(`${stack.url}/readyz`);
  assert.equal(rz.status, 503);
  await assert.rejects(stack.client('bob@bank.example', ['analyst']), /upstream|502/i);
});
