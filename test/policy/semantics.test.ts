// Semantics that the demo policy does not exercise: BigQuery policy tags, struct fields,
// dotted wildcards, case rules, trust, and how rules combine inside one role.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { compilePolicy, type Policy } from '../../src/policy/engine.js';
import type { Analysis, CatalogTable, SchemaCatalog } from '../../src/sql/types.js';
import { analyze } from '../../src/sql/analyze.js';
import { StaticCatalog } from '../../src/policy/catalog.js';
import { first } from '../helpers/present.js';
import { analysis, identity, type StmtSpec } from './helpers.js';

const EXAMPLE = readFileSync(join(import.meta.dirname, '..', '..', 'rules', 'examples', 'bigquery-bank.yaml'), 'utf8');
const CATALOG = `
tables:
  - fq: acme-bank-prod.core_banking.customers
    columns:
      - { name: customer_id, type: INT64 }
      - { name: tin_value, type: STRING, policyTags: ['projects/acme-bank-prod/locations/us/taxonomies/42/policyTags/ssn_high'] }
      - name: contact
        type: RECORD
        fields:
          - { name: primary_addr, type: STRING, policyTags: [Email] }
          - { name: city, type: STRING }
`;
const bq: Policy = compilePolicy([{ name: 'bq.yaml', text: EXAMPLE }], [{ name: 'catalog/bq.yaml', text: CATALOG }]);
const MANAGED = readFileSync(join(import.meta.dirname, '..', '..', 'rules', 'examples', 'bigquery-managed.yaml'), 'utf8');
/** The example with Google's managed endpoint beside Toolbox. */
const bqm: Policy = compilePolicy(
  [
    { name: 'bq.yaml', text: EXAMPLE },
    { name: 'managed.yaml', text: MANAGED },
  ],
  [{ name: 'catalog/bq.yaml', text: CATALOG }],
);

function bqa(...s: StmtSpec[]): Analysis {
  return { ...analysis('SELECT …', ...s), dialect: 'bigquery' };
}
/** Real BigQuery SQL through the real analyzer: masked tables are rewritten, so the SQL must exist. */
function bqsql(sql: string, catalog?: SchemaCatalog): Analysis {
  const opts = bq.analyzeOptions('execute_sql')!;
  return analyze(sql, catalog ? { ...opts, catalog } : opts);
}
function decide(p: Policy, groups: string[], a: Analysis, tool = 'execute_sql', email = 'u@acme-bank.com') {
  const id = identity(email, groups);
  return p.decide({ identity: id, roles: p.rolesFor(id), tool, args: { [tool === 'execute_sql_readonly' ? 'query' : 'sql']: a.sql }, analysis: a });
}
const FRAUD = ['gcp-fraud-analysts@acme-bank.com'];
const CUST = 'acme-bank-prod.core_banking.customers';

test('a BigQuery policy tag classifies a column whose name says nothing', () => {
  const d = decide(bq, FRAUD, bqsql(`SELECT tin_value FROM \`${CUST}\``));
  assert.equal(d.action, 'mask');
  assert.equal(d.maskPlan?.columns[0]?.classification, 'pii.ssn');
  assert.equal(d.maskPlan?.columns[0]?.method, 'last4');
  assert.ok(d.ruleIds.includes('mask-fraud'));
  // … and the engine masks it where it is read.
  assert.match(d.engine?.sql ?? '', /CONCAT\('XXXXX', SUBSTR\(`tin_value`, -4\)\)/);
});

test('a live catalog passed with the call overrides the static one (tags found at request time)', () => {
  const live = new StaticCatalog([{ fq: `${CUST}`, columns: [{ name: 'note', type: 'STRING', policyTags: ['PAN'] }] } as CatalogTable]);
  const sql = `SELECT note FROM \`${CUST}\``;
  const a = bqsql(sql, live);
  const id = identity('u@acme-bank.com', FRAUD);
  const d = bq.decide({ identity: id, roles: bq.rolesFor(id), tool: 'execute_sql', args: { sql }, analysis: a, catalog: live });
  assert.equal(d.maskPlan?.columns[0]?.classification, 'pci.pan');
  // The static catalog does not know the column at all: the analyzer cannot resolve it.
  assert.equal(decide(bq, FRAUD, bqsql(sql)).action, 'deny');
});

test('a STRUCT with classified fields is rebuilt field by field in the engine: clear fields stay usable', () => {
  const d = decide(bq, FRAUD, bqsql(`SELECT contact FROM \`${CUST}\``));
  assert.equal(d.action, 'mask', d.message);
  // The whole value is computed from masked fields: returned as computed, not masked again.
  assert.deepEqual(
    d.maskPlan?.derived?.map((x) => x.outputName),
    ['contact'],
  );
  assert.match(
    d.engine?.sql ?? '',
    /IF\(`contact` IS NULL, NULL, STRUCT\(IF\(`contact`\.`primary_addr` IS NULL, NULL, .*CONCAT\('XXXXX', .* AS `primary_addr`, `contact`\.`city` AS `city`\)\) AS `contact`/,
  );
  const leaf = decide(bq, FRAUD, bqsql(`SELECT c.contact.city FROM \`${CUST}\` c WHERE c.contact.primary_addr LIKE '%@bank.example'`));
  assert.equal(leaf.action, 'mask', leaf.message);
  assert.deepEqual(leaf.maskPlan?.columns, [], 'the clear field is not masked');
  // Without in-engine masking (hand-built analysis), selecting the whole STRUCT still carries its fields' classifications.
  const narrow = decide(bq, FRAUD, bqa({ read: [CUST], out: [['contact', [`${CUST}.contact`]]] }));
  assert.equal(narrow.action, 'deny');
  assert.deepEqual(narrow.ruleIds, ['mask-rewrite']);
});

test('dotted wildcards: * stays in one segment, ** spans; denies match in any project', () => {
  assert.equal(decide(bq, FRAUD, bqa({ read: ['acme-bank-prod.core_banking.accounts'], out: [] })).action, 'allow');
  assert.equal(decide(bq, FRAUD, bqa({ read: ['acme-bank-prod.core_banking_archive.accounts'], out: [] })).action, 'deny');
  const audit = decide(bq, ['gcp-data-eng@acme-bank.com'], bqa({ read: ['other-proj.bqwarden_audit.events'], out: [] }));
  assert.deepEqual(audit.ruleIds, ['tables-no-audit-or-hr']);
});

test('BigQuery allows match case-sensitively, denies case-insensitively', () => {
  assert.equal(decide(bq, FRAUD, bqa({ read: ['acme-bank-prod.CORE_BANKING.accounts'], out: [] })).action, 'deny');
  const hr = decide(bq, ['gcp-data-eng@acme-bank.com'], bqa({ read: ['acme-bank-prod.HR.salaries'], out: [] }));
  assert.deepEqual(hr.ruleIds, ['tables-no-audit-or-hr']);
});

test("the managed BigQuery MCP server's query argument is the SQL argument", () => {
  assert.equal(bqm.toolShape('execute_sql_readonly')?.sqlArgument, 'query');
  assert.equal(bqm.toolShape('execute_sql_readonly')?.upstream, 'managed-bigquery');
  const a = bqsql(`SELECT customer_id FROM \`${CUST}\``);
  assert.equal(decide(bqm, FRAUD, a, 'execute_sql_readonly').action, 'allow');
  const id = identity('u@acme-bank.com', FRAUD);
  const wrong = bqm.decide({ identity: id, roles: bqm.rolesFor(id), tool: 'execute_sql_readonly', args: { query: 'SELECT tin_value FROM x' }, analysis: a });
  assert.deepEqual(wrong.ruleIds, ['analysis-mismatch']);
});

test('data-analysis tools that run their own queries stay denied (not described)', () => {
  for (const tool of ['ask_data_insights', 'forecast', 'analyze_contribution']) {
    const id = identity('u@acme-bank.com', FRAUD);
    assert.deepEqual(bq.decide({ identity: id, roles: bq.rolesFor(id), tool, args: {}, analysis: null }).ruleIds, ['unknown-tool']);
  }
});

test('trust is per kind and per role: kyc may run unresolved columns, fraud may not', () => {
  const a = bqa({ read: [CUST], out: [['x', [], false, true]], opaque: [{ kind: 'unresolved_column', detail: 'x', statement: 0 }] });
  const kyc = decide(bq, ['gcp-kyc@acme-bank.com'], a);
  assert.notEqual(kyc.action, 'deny', kyc.message);
  assert.ok(kyc.ruleIds.includes('kyc-trusts-views'));
  // kyc is not cleared for pci.pan, so the untraceable column is masked with the strictest method it uses.
  assert.equal(kyc.maskPlan?.columns[0]?.classification, 'unresolved');
  assert.equal(kyc.maskPlan?.columns[0]?.method, 'last4');
  assert.equal(decide(bq, FRAUD, a).action, 'deny');
  const ei = bqa({ read: [], out: [], opaque: [{ kind: 'execute_immediate', detail: '', statement: 0 }] });
  assert.equal(decide(bq, ['gcp-kyc@acme-bank.com'], ei).action, 'deny');
});

test('users bind by email (case-insensitive) or by subject; groups match exactly', () => {
  const ex = identity('Examiner@FFIEC.gov', []);
  assert.deepEqual(bq.rolesFor(ex), ['examiner']);
  const svc = { ...identity('x@y', []), email: null, subject: 'reporting-job@acme-bank-prod.iam.gserviceaccount.com' };
  assert.deepEqual(bq.rolesFor(svc), ['pipeline']);
  assert.deepEqual(bq.rolesFor(identity('a@b', ['GCP-FRAUD-ANALYSTS@acme-bank.com'])), []);
});

test('a denied classification refuses the query wherever the column appears', () => {
  const pipe = ['x'];
  const p = compilePolicy([{ name: 'bq.yaml', text: EXAMPLE.replace('users: [reporting-job@acme-bank-prod.iam.gserviceaccount.com]', 'groups: [x]') }]);
  const sel = decide(p, pipe, bqa({ read: ['acme-bank-prod.reporting.daily'], out: [['email', ['acme-bank-prod.reporting.daily.email']]] }));
  assert.equal(sel.action, 'deny');
  assert.deepEqual(sel.ruleIds, ['pipeline-no-pii']);
  const where = decide(p, pipe, bqa({ read: ['acme-bank-prod.reporting.daily'], out: [], uses: [['where', 'acme-bank-prod.reporting.daily.email']] }));
  assert.equal(where.action, 'deny');
});

const MINI = (extra: string) => `
upstreams:
  - id: up
    dialect: sqlite
    defaultProject: demo
    defaultDataset: main
    tools:
      execute_sql: { kind: sql, sqlArgument: sql }
roles:
  - { id: r-a, role: a, groups: [a] }
  - { id: r-b, role: b, groups: [b] }
methods:
  - { id: m-a, roles: [a], methods: ['tools/*'], effect: allow }
  - { id: m-a-no-list, roles: [a], methods: [tools/list], effect: deny }
tools:
  - { id: t-all, tools: ['*'], effect: allow }
tables:
  - { id: tb-all, tables: ['demo.main.*'], effect: allow }
statements:
  - { id: st-read, classes: [read], effect: allow }
classifications:
  - { id: c-ssn, classification: pii.ssn, names: [ssn] }
${extra}`;

test('within a role the strictest visibility rule wins, whatever the order', () => {
  for (const order of [
    ['{ pii.ssn: last4 }', "{ 'pii.*': redact }"],
    ["{ 'pii.*': redact }", '{ pii.ssn: last4 }'],
  ] as const) {
    const p = compilePolicy([{ name: 'p.yaml', text: MINI(`visibility:\n  - { id: v1, roles: [a], classifications: ${order[0]} }\n  - { id: v2, roles: [a], classifications: ${order[1]} }\n`) }]);
    const d = decide(p, ['a'], analysis('q', { read: ['customers'], out: [['ssn', ['customers.ssn']]] }));
    assert.equal(d.maskPlan?.columns[0]?.method, 'redact');
    assert.equal(d.maskPlan?.columns[0]?.ruleId, 'v2'.replace('2', order[0].includes('*') ? '1' : '2'));
  }
});

test('methods: a deny beats an allow within a role; another role can still allow; default applies otherwise', () => {
  const p = compilePolicy([{ name: 'p.yaml', text: MINI('visibility: []\n') }]);
  assert.equal(p.methodAllowed(['a'], 'tools/call').allowed, true);
  assert.equal(p.methodAllowed(['a'], 'tools/list').allowed, false);
  assert.equal(p.methodAllowed(['a'], 'tools/list').ruleId, 'm-a-no-list');
  assert.equal(p.methodAllowed(['b'], 'tools/call').ruleId, 'default-deny');
  const open = compilePolicy([{ name: 'p.yaml', text: MINI('defaults: { methods: allow }\n') }]);
  assert.equal(open.methodAllowed(['b'], 'logging/setLevel').allowed, true);
  assert.equal(open.methodAllowed(['a'], 'tools/list').allowed, false);
  assert.equal(open.methodAllowed(['a', 'b'], 'tools/list').allowed, true);
});

test('inference default can be relaxed globally and tightened per classification', () => {
  const p = compilePolicy([
    {
      name: 'p.yaml',
      text: MINI(
        "defaults: { inference: allow }\nvisibility:\n  - { id: v, classifications: { 'pii.*': redact } }\ninference:\n  - { id: no-ssn-filters, classifications: [pii.ssn], clauses: [where], effect: deny }\n",
      ).replace('  - { id: c-ssn, classification: pii.ssn, names: [ssn] }', '  - { id: c-ssn, classification: pii.ssn, names: [ssn] }\n  - { id: c-mail, classification: pii.email, names: [email] }'),
    },
  ]);
  const mail = decide(p, ['a'], analysis('q', { read: ['customers'], out: [], uses: [['where', 'customers.email']] }));
  assert.equal(mail.action, 'allow');
  assert.ok(mail.ruleIds.includes('inference-default-allow'));
  const ssn = decide(p, ['a'], analysis('q', { read: ['customers'], out: [], uses: [['where', 'customers.ssn']] }));
  assert.deepEqual([ssn.action, ssn.ruleIds.includes('no-ssn-filters')], ['deny', true]);
  const ord = decide(p, ['a'], analysis('q', { read: ['customers'], out: [], uses: [['order_by', 'customers.ssn']] }));
  assert.equal(ord.action, 'allow');
});

test('decide never throws: internal failures deny', () => {
  const p = compilePolicy([{ name: 'p.yaml', text: MINI('') }]);
  const id = identity('u@x', ['a']);
  const broken = { dialect: 'sqlite', ok: true, sql: 'q', sha256: '', fingerprint: '', statements: [null], opaque: [] } as unknown as Analysis;
  const d = p.decide({ identity: id, roles: ['a'], tool: 'execute_sql', args: { sql: 'q' }, analysis: broken });
  assert.deepEqual([d.action, d.ruleIds], ['deny', ['policy-error']]);
});

test('EXTERNAL_QUERY is judged by trust (its opaque flag), not by a table rule', () => {
  const ext = {
    fq: 'EXTERNAL_QUERY(conn)',
    project: 'acme-bank-prod',
    dataset: null,
    table: 'EXTERNAL_QUERY',
    wildcard: false,
    informationSchema: false,
    view: false,
    function: true,
    opaque: true,
    timeTravel: false,
  };
  const a = bqa({ read: [], out: [] });
  first(a.statements, 'statement').tablesRead.push(ext);
  const flagged: Analysis = { ...a, opaque: [{ kind: 'external_query', detail: 'federated', statement: 0 }] };
  const d = decide(bq, FRAUD, flagged);
  assert.deepEqual([d.action, d.ruleIds], ['deny', ['opaque-untrusted']]);
  assert.match(d.message, /EXTERNAL_QUERY/);
  // Without the flag (an analyzer gap) the table rules still deny it.
  const unflagged = decide(bq, FRAUD, a);
  assert.deepEqual([unflagged.action, unflagged.ruleIds], ['deny', ['default-deny']]);
});

test('INFORMATION_SCHEMA needs a pattern that names it: ** does not reach JOBS', () => {
  const p = compilePolicy([
    {
      name: 'p.yaml',
      text: MINI('').replace("tables: ['demo.main.*']", "tables: ['**']").replace('dialect: sqlite', 'dialect: bigquery') + 'trust:\n  - { id: tr, opaque: [unresolved_star] }\n',
    },
  ]);
  const is = {
    fq: 'demo.region-us.INFORMATION_SCHEMA.JOBS',
    project: 'demo',
    dataset: 'region-us',
    table: 'JOBS',
    wildcard: false,
    informationSchema: true,
    view: false,
    function: false,
    opaque: false,
    timeTravel: false,
  };
  const a = bqa({ read: [], out: [] });
  first(a.statements, 'statement').tablesRead.push(is);
  const d = decide(p, ['a'], a);
  assert.deepEqual([d.action, d.ruleIds], ['deny', ['default-deny']]);
  const named = compilePolicy([{ name: 'p.yaml', text: MINI('').replace("tables: ['demo.main.*']", "tables: ['**', 'demo.*.INFORMATION_SCHEMA.*']").replace('dialect: sqlite', 'dialect: bigquery') }]);
  assert.equal(decide(named, ['a'], a).action, 'allow');
});

test('a script mixing approvals needs the strictest count from approvers common to all; none in common is refused', () => {
  const text = MINI('')
    .replace('  - { id: r-b, role: b, groups: [b] }', '  - { id: r-b, role: b, groups: [b] }\n  - { id: r-x, role: x, groups: [x] }\n  - { id: r-y, role: y, groups: [y] }')
    .replace(
      '  - { id: st-read, classes: [read], effect: allow }',
      '  - { id: st-read, classes: [read], effect: allow }\n  - { id: st-w, roles: [a], classes: [write], effect: approval, approval: { approvers: [x, y], count: 1, expiry: 2h } }\n  - { id: st-d, roles: [a], classes: [ddl], effect: approval, approval: { approvers: [y], count: 2, expiry: 30m } }\n  - { id: st-c, roles: [a], classes: [dcl], effect: approval, approval: { approvers: [x], count: 1 } }',
    );
  const p = compilePolicy([{ name: 'p.yaml', text }]);
  const w: StmtSpec = { class: 'write', kind: 'update', written: ['accounts'] };
  const d = decide(p, ['a'], analysis('q', w, { class: 'ddl', kind: 'drop_table', written: ['accounts'] }));
  assert.equal(d.action, 'approval_required');
  assert.deepEqual(d.approval, { approverRoles: ['y'], required: 2, expiresInSeconds: 1800, ruleId: 'st-d' });
  const c = decide(p, ['a'], analysis('q', { class: 'ddl', kind: 'drop_table', written: ['accounts'] }, { class: 'dcl', kind: 'grant', written: [] }));
  assert.equal(c.action, 'deny');
  assert.ok(c.ruleIds.includes('approval-conflict'));
});

// A role that may not see one field of a STRUCT at all, and sees another field masked.
const STRUCT_CATALOG = `
tables:
  - fq: acme-bank-prod.core_banking.customers
    columns:
      - { name: customer_id, type: INT64 }
      - name: contact
        type: RECORD
        fields:
          - { name: acct, type: STRING, policyTags: ['Account number'] }
          - { name: primary_addr, type: STRING, policyTags: [Email] }
          - { name: city, type: STRING }
`;
const PIPELINE_READS_CUSTOMERS = `
tables:
  - { id: tables-pipeline-customers, roles: [pipeline], tables: ['acme-bank-prod.core_banking.customers'], access: read, effect: allow }
`;
const bqs: Policy = compilePolicy(
  [
    { name: 'bq.yaml', text: EXAMPLE },
    { name: 'pipeline.yaml', text: PIPELINE_READS_CUSTOMERS },
  ],
  [{ name: 'catalog/bq.yaml', text: STRUCT_CATALOG }],
);
const PIPELINE = 'reporting-job@acme-bank-prod.iam.gserviceaccount.com';
function bqsSql(sql: string): Analysis {
  return analyze(sql, bqs.analyzeOptions('execute_sql')!);
}

test('a STRUCT field the role may not see is refused where the query uses it, as a plain column would be', () => {
  // pipeline: pii.* deny. The engine nulls contact.primary_addr inside the STRUCT; a filter on
  // it used to run against that NULL (silently empty) instead of being refused by its rule.
  for (const sql of [
    `SELECT c.contact.city FROM \`${CUST}\` c WHERE c.contact.primary_addr LIKE '%@bank.example'`,
    `SELECT c.customer_id FROM \`${CUST}\` c ORDER BY c.contact.primary_addr`,
    `SELECT c.contact.primary_addr FROM \`${CUST}\` c`,
  ]) {
    const d = decide(bqs, [], bqsSql(sql), 'execute_sql', PIPELINE);
    assert.equal(d.action, 'deny', `${sql}: ${d.message}`);
    assert.deepEqual(d.ruleIds, ['pipeline-no-pii'], sql);
    assert.match(d.message, /primary_addr/);
  }
  // The whole STRUCT is still readable: the denied field comes back NULL, the rest as the role sees it.
  const whole = decide(bqs, [], bqsSql(`SELECT contact FROM \`${CUST}\``), 'execute_sql', PIPELINE);
  assert.equal(whole.action, 'mask', whole.message);
  assert.match(whole.engine?.sql ?? '', /CAST\(NULL AS STRING\) AS `primary_addr`|NULL AS `primary_addr`/);
  // A clear field next to the denied one stays usable.
  const city = decide(bqs, [], bqsSql(`SELECT c.contact.city FROM \`${CUST}\` c WHERE c.contact.city = 'Boston'`), 'execute_sql', PIPELINE);
  assert.equal(city.action, 'allow', city.message);
});

test("a STRUCT's own engine entry carries its strictest field, not its first", () => {
  const whole = decide(bqs, [], bqsSql(`SELECT contact FROM \`${CUST}\``), 'execute_sql', PIPELINE);
  const entry = whole.engine?.columns.get(`${CUST}.contact`);
  assert.ok(entry, 'the STRUCT has an engine entry');
  // acct (bank.account_number → pseudonym) comes first; primary_addr (pii.email → deny) is stricter.
  assert.equal(entry.classification, 'pii.email');
  assert.equal(entry.method, 'nullify');
  assert.equal(entry.ruleId, 'pipeline-no-pii');
});
