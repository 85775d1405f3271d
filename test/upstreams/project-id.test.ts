// A call's own projectId (Google's managed BigQuery MCP endpoint: execute_sql takes projectId,
// query, dryRun) decides where BigQuery resolves unqualified names, so it decides where policy
// resolves them. Attacks first: a static defaultProject let policy judge one table while
// BigQuery read another. Then dry runs: decided as the statement they test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, type Policy } from '../../src/policy/engine.js';
import { analyze } from '../../src/sql/index.js';
import { argsSha256 } from '../../src/approvals/binding.js';
import type { Identity } from '../../src/identity/types.js';

const POLICY = `
upstreams:
  - id: bq
    kind: bigquery-managed
    url: https://bigquery.googleapis.com/mcp
    credential: { type: google }
    defaultProject: acme-sandbox
    tools: { execute_sql: {}, get_table_info: {} }
  - id: tb
    kind: toolbox-bigquery
    url: http://127.0.0.1:5000/mcp
    defaultProject: acme-sandbox
    tools: { tb_sql: { kind: sql, sqlArgument: sql }, forecast: {}, list_table_ids: {} }
roles: [{ id: r, role: analyst, groups: [analyst] }]
tools: [{ id: t, roles: [analyst], tools: ['*'], effect: allow }]
tables:
  - { id: sandbox-open, roles: [analyst], tables: ['acme-sandbox.core.*'], access: read, effect: allow }
  - { id: prod-customers-closed, tables: [acme-prod.core.customers], effect: deny }
  - { id: prod-accounts-read, roles: [analyst], tables: [acme-prod.core.accounts], access: read, effect: allow }
statements: [{ id: s, roles: [analyst], classes: [read], effect: allow }]
classifications:
  - { id: c-prod-iban, classification: pii.iban, columns: [acme-prod.core.accounts.iban] }
visibility: [{ id: v, roles: [analyst], classifications: { pii.iban: deny } }]
`;
const CATALOG = `
tables:
  - { fq: acme-sandbox.core.customers, columns: [{ name: ssn, type: STRING }] }
  - { fq: acme-sandbox.core.accounts, columns: [{ name: iban, type: STRING }] }
  - { fq: acme-prod.core.customers, columns: [{ name: ssn, type: STRING }] }
  - { fq: acme-prod.core.accounts, columns: [{ name: iban, type: STRING }] }
`;

const policy: Policy = compilePolicy([{ name: 'p.yaml', text: POLICY }], [{ name: 'catalog/c.yaml', text: CATALOG }]);
const alice: Identity = { subject: 'alice', issuer: 'https://idp.example', email: 'alice@bank.example', groups: ['analyst'], roles: [], actorType: 'human' } as unknown as Identity;

/** What the pipeline does: the call's target from its kind, the analysis there, then the decision. */
function call(tool: string, args: Record<string, unknown>) {
  const roles = policy.rolesFor(alice);
  const o = policy.callOptions(tool, args);
  if (o && !o.ok) return { action: 'deny' as const, ruleIds: [o.ruleId], message: o.message, target: null };
  const sqlArg = policy.toolShape(tool)?.sqlArgument;
  const analysis = o && sqlArg ? analyze(String(args[sqlArg]), o.options) : null;
  const d = policy.decide({ identity: alice, roles, tool, args, analysis });
  return { ...d, target: o?.ok ? o.target : null, analysis };
}

test('attack: projectId moves an unqualified name into a project whose table policy closes', () => {
  // BigQuery runs the job in acme-prod and reads acme-prod.core.customers.
  const d = call('execute_sql', { projectId: 'acme-prod', query: 'SELECT ssn FROM core.customers' });
  assert.equal(d.action, 'deny', d.message);
  assert.deepEqual(d.ruleIds, ['prod-customers-closed']);
  assert.match(d.message, /acme-prod\.core\.customers/);
  // Without projectId the call runs in the upstream's default project, which is open.
  assert.notEqual(call('execute_sql', { query: 'SELECT ssn FROM core.customers' }).action, 'deny');
});

test('attack: projectId moves a read onto a column classified only in that project', () => {
  const d = call('execute_sql', { projectId: 'acme-prod', query: 'SELECT iban FROM core.accounts' });
  assert.equal(d.action, 'deny', d.message);
  assert.ok(d.ruleIds.includes('v'), d.ruleIds.join());
  assert.equal(call('execute_sql', { projectId: 'acme-sandbox', query: 'SELECT iban FROM core.accounts' }).action, 'allow');
});

test('projectId the upstream would read differently from us is refused, not guessed', () => {
  for (const projectId of ['acme-prod`', 'acme prod', 42, ['acme-prod'], 'a', 'ACME-PROD']) {
    const d = call('execute_sql', { projectId, query: 'SELECT 1' });
    assert.equal(d.action, 'deny', JSON.stringify(projectId));
    assert.deepEqual(d.ruleIds, ['tool-arguments']);
  }
  assert.equal(call('execute_sql', { projectId: 'example.com:acme-prod', query: 'SELECT 1' }).action, 'allow');
});

test('engine masking resolves names where the call runs too', () => {
  // iban shown as its last four in acme-prod only: the rewrite masks it there and nowhere else.
  const p = compilePolicy([{ name: 'p.yaml', text: POLICY.replace('pii.iban: deny', 'pii.iban: last4') }], [{ name: 'catalog/c.yaml', text: CATALOG }]);
  const plan = (projectId: string) => {
    const args = { projectId, query: 'SELECT * FROM core.accounts' };
    const o = p.callOptions('execute_sql', args);
    assert.ok(o?.ok);
    const r = p.rewrite({ identity: alice, roles: p.rolesFor(alice), tool: 'execute_sql', args, analysis: analyze(args.query, o.options) });
    assert.ok(r?.ok);
    return r.masking;
  };
  const prod = plan('acme-prod');
  assert.equal(prod.changed, true);
  assert.deepEqual(prod.tables, ['acme-prod.core.accounts']);
  assert.match(prod.sql, /CONCAT\('XXXXX', SUBSTR\(`iban`, -4\)\)/);
  assert.equal(plan('acme-sandbox').changed, false);
});

test('dry run: read from the call, decided as the statement it tests (a denied table stays denied)', () => {
  const dry = call('execute_sql', { projectId: 'acme-prod', query: 'SELECT ssn FROM core.customers', dryRun: true });
  assert.equal(dry.action, 'deny');
  const ok = call('execute_sql', { query: 'SELECT ssn FROM core.customers', dryRun: true });
  assert.equal(ok.target?.dryRun, true);
  assert.notEqual(ok.action, 'deny');
  // Toolbox's execute_sql names it dry_run; a string is not a flag.
  assert.equal(call('tb_sql', { sql: 'SELECT 1', dry_run: true }).target?.dryRun, false, "dry_run is the argument of the kind's own execute_sql only");
  assert.deepEqual(call('execute_sql', { query: 'SELECT 1', dryRun: 'false' }).ruleIds, ['tool-arguments']);
});

test('an approval is bound to the project and the dry-run flag (neither may change after approval)', () => {
  const base = { query: 'DELETE FROM core.customers WHERE TRUE' };
  const sqlArg = policy.toolShape('execute_sql')!.sqlArgument;
  assert.equal(sqlArg, 'query', 'the kind names the SQL argument; nothing guesses it from values');
  const a = argsSha256({ ...base, projectId: 'acme-sandbox', dryRun: true }, sqlArg);
  assert.notEqual(a, argsSha256({ ...base, projectId: 'acme-sandbox', dryRun: false }, sqlArg));
  assert.notEqual(a, argsSha256({ ...base, projectId: 'acme-prod', dryRun: true }, sqlArg));
});

test("Toolbox BigQuery: the project is the source's, a call cannot move it; tools that compute untraceable values are denied with the reason", () => {
  const o = policy.callOptions('tb_sql', { sql: 'SELECT 1', project: 'acme-prod' });
  assert.ok(o?.ok);
  assert.equal(o.options.defaultProject, 'acme-sandbox');
  const f = call('forecast', { history_data: 'acme-prod.core.accounts', timestamp_col: 'ts', data_col: 'iban' });
  assert.equal(f.action, 'deny');
  assert.deepEqual(f.ruleIds, ['upstream-tool-denied']);
  assert.match(f.message, /cannot mask/);
  assert.deepEqual(policy.visibleTools(['analyst'], ['forecast', 'list_table_ids', 'tb_sql']), ['list_table_ids', 'tb_sql']);
});

test('metadata tools: a schema is shown only for a table the role may read', () => {
  assert.equal(call('get_table_info', { projectId: 'acme-sandbox', datasetId: 'core', tableId: 'customers' }).action, 'allow');
  const d = call('get_table_info', { projectId: 'acme-prod', datasetId: 'core', tableId: 'customers' });
  assert.equal(d.action, 'deny');
  assert.deepEqual(d.ruleIds, ['prod-customers-closed']);
});

test('attack: metadata tools refuse a table name that does not resolve to exactly project.dataset.table', () => {
  for (const args of [
    { projectId: 'acme-sandbox', tableId: 'customers' }, // no dataset: was checked as acme-sandbox.?.customers
    { projectId: 'acme-prod', datasetId: 'core', tableId: 'customers.x' }, // dotted: escapes a rule on the real name
    { projectId: 'acme-prod', datasetId: 'core', tableId: '`customers`' },
    { projectId: 'acme-prod', datasetId: 'core' }, // no table at all
  ]) {
    const d = call('get_table_info', args);
    assert.equal(d.action, 'deny', JSON.stringify(args));
    assert.deepEqual(d.ruleIds, ['tool-arguments'], JSON.stringify(args));
  }
});

test("BigQuery's dry run (second opinion) resolves names in the call's project too", () => {
  const p = compilePolicy(
    [
      {
        name: 'p.yaml',
        text: POLICY.replace(
          '    defaultProject: acme-sandbox\n    tools: { execute_sql: {}, get_table_info: {} }',
          '    defaultProject: acme-sandbox\n    dryRun: true\n    tools: { execute_sql: {}, get_table_info: {} }',
        ),
      },
    ],
    [{ name: 'catalog/c.yaml', text: CATALOG }],
  );
  assert.equal(p.dryRunFor('execute_sql', { projectId: 'acme-prod', query: 'SELECT 1' })?.defaultProject, 'acme-prod');
  assert.equal(p.dryRunFor('execute_sql', { query: 'SELECT 1' })?.defaultProject, 'acme-sandbox');
});
