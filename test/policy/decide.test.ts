// Engine decisions against hand-built analyses: attacks first, then what must still work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { compilePolicy, loadPolicy, type Policy } from '../../src/policy/engine.js';
import type { Analysis, Clause } from '../../src/sql/types.js';
import type { Decision } from '../../src/policy/types.js';
import { analysis, identity, type StmtSpec } from './helpers.js';

const RULES = join(import.meta.dirname, '..', '..', 'rules');
const policy: Policy = await loadPolicy(RULES);

function decide(groups: string[], a: Analysis | null, tool = 'execute_sql', args?: Record<string, unknown>): Decision {
  const id = identity('user@bank.example', groups);
  const roles = policy.rolesFor(id);
  return policy.decide({ identity: id, roles, tool, args: args ?? { sql: a?.sql ?? '' }, analysis: a });
}
const q = (...s: StmtSpec[]) => analysis('SELECT …', ...s);
const CUST = ['customers'];

test('inference guard: a predicate on a masked column is denied in every predicate clause', () => {
  for (const clause of ['where', 'join', 'group_by', 'having', 'qualify', 'order_by', 'window', 'limit', 'set_op', 'distinct', 'other'] as const) {
    const d = decide(['analyst'], q({ read: CUST, out: [['customer_id', ['customers.customer_id']]], uses: [[clause, 'customers.ssn']] }));
    assert.equal(d.action, 'deny', clause);
    assert.ok(d.ruleIds.includes('mask-pii-analyst') && d.ruleIds.includes('inference-guard'), `${clause}: ${d.ruleIds}`);
    assert.match(d.message, /demo\.main\.customers\.ssn is classified pii\.ssn; role analyst sees it masked/);
  }
});

test('inference guard: a clause policy has never heard of is guarded too (fail closed)', () => {
  const future = 'some_future_clause' as unknown as Clause;
  const d = decide(['analyst'], q({ read: CUST, out: [['customer_id', ['customers.customer_id']]], uses: [[future, 'customers.ssn']] }));
  assert.equal(d.action, 'deny');
  assert.ok(d.ruleIds.includes('inference-guard'), String(d.ruleIds));
  assert.match(d.message, /some_future_clause/);
  // The value clauses stay unguarded for reads: a masked column in the select list is masked, not denied.
  assert.equal(decide(['analyst'], q({ read: CUST, out: [['ssn', ['customers.ssn']]], uses: [['select', 'customers.ssn']] })).action, 'mask');
});

test('set operations and DISTINCT name what they compare in the refusal', () => {
  const set = decide(['analyst'], q({ read: CUST, out: [['n', []]], uses: [['set_op', 'customers.ssn']] }));
  assert.match(set.message, /INTERSECT\/EXCEPT\/UNION/);
  const dist = decide(['analyst'], q({ read: CUST, out: [['n', []]], uses: [['distinct', 'customers.ssn']] }));
  assert.match(dist.message, /DISTINCT/);
  assert.equal(
    decide(
      ['pii-reader'],
      q({
        read: CUST,
        out: [['n', []]],
        uses: [
          ['set_op', 'customers.ssn'],
          ['distinct', 'customers.ssn'],
        ],
      }),
    ).action,
    'allow',
  );
});

test('inference guard covers DML WHERE for engineers (even though writes are approvable)', () => {
  const d = decide(['engineer'], q({ class: 'write', kind: 'delete', read: [], written: CUST, uses: [['dml_where', 'customers.email']] }));
  assert.equal(d.action, 'deny');
  assert.ok(d.ruleIds.includes('inference-guard'));
  assert.equal(d.privileged, true);
});

test('a predicate on a clear column is fine and the masked output column is planned', () => {
  const d = decide(
    ['analyst'],
    q({
      read: CUST,
      out: [
        ['ssn', ['customers.ssn']],
        ['state', ['customers.state']],
      ],
      uses: [['where', 'customers.state']],
    }),
  );
  assert.equal(d.action, 'mask');
  assert.deepEqual(
    d.maskPlan?.columns.map((c) => [c.outputName, c.classification, c.method, c.ruleId]),
    [['ssn', 'pii.ssn', 'last4', 'mask-pii-analyst']],
  );
  assert.deepEqual(
    d.maskPlan?.fallback.map((f) => f.classification),
    ['pii.ssn'],
  );
  assert.equal(d.maskPlan?.detectors, true);
});

test('per-classification inference exception: analysts may join and group on account pseudonyms, not filter', () => {
  const base = { read: ['accounts'], out: [['account_id', ['accounts.account_id']]] } as StmtSpec;
  assert.equal(decide(['analyst'], q({ ...base, uses: [['join', 'accounts.account_number']] })).action, 'allow');
  assert.equal(decide(['analyst'], q({ ...base, uses: [['group_by', 'accounts.account_number']] })).action, 'allow');
  const w = decide(['analyst'], q({ ...base, uses: [['where', 'accounts.account_number']] }));
  assert.equal(w.action, 'deny');
});

test('computed values of masked columns are denied (derived-masked): no partial reveal, no token oracle, no error channel', () => {
  const d = decide(['analyst'], q({ read: CUST, out: [['x', ['customers.ssn'], false]] }));
  assert.equal(d.action, 'deny');
  assert.deepEqual(d.ruleIds, ['derived-masked', 'mask-pii-analyst']);
  assert.equal(d.maskPlan, null);
  const direct = decide(['analyst'], q({ read: CUST, out: [['ssn', ['customers.ssn'], true]] }));
  assert.equal(direct.maskPlan?.columns[0]?.method, 'last4');
  // Keyed tokens would turn a derived small domain into an oracle (ssn = '…' → two tokens).
  const staff = decide(['engineer'], q({ read: CUST, out: [['b', ['customers.ssn'], false]] }));
  assert.equal(staff.action, 'deny');
  assert.ok(staff.ruleIds.includes('derived-masked'), String(staff.ruleIds));
  const direct2 = decide(['engineer'], q({ read: CUST, out: [['ssn', ['customers.ssn'], true]] }));
  assert.equal(direct2.maskPlan?.columns[0]?.method, 'pseudonym');
});

test('several classifications reaching one column: the strictest method wins', () => {
  const d = decide(['analyst'], q({ read: CUST, out: [['j', ['customers.ssn', 'customers.full_name'], true]] }));
  assert.equal(d.maskPlan?.columns[0]?.method, 'redact');
  const e = decide(['analyst'], q({ read: CUST, out: [['j', ['customers.ssn', 'customers.email'], true]] }));
  assert.equal(e.maskPlan?.columns[0]?.classification, 'pii.email');
  assert.equal(e.maskPlan?.columns[0]?.method, 'email_domain');
  assert.deepEqual(e.maskPlan?.columns[0]?.sources, ['demo.main.customers.email', 'demo.main.customers.ssn']);
});

test('an unlisted classification is denied for the role (ci has no visibility for pii.ssn)', () => {
  const d = decide(['ci'], q({ read: ['transactions'], out: [['ssn', ['transactions.ssn']]] }));
  assert.equal(d.action, 'deny');
  assert.ok(d.ruleIds.includes('default-deny'));
  assert.match(d.message, /no visibility rule for role ci mentions pii\.ssn/);
});

test('ci: card numbers masked last4, other tables and tools denied', () => {
  const ok = decide(
    ['ci'],
    q({
      read: ['transactions'],
      out: [
        ['card_number', ['transactions.card_number']],
        ['amount', ['transactions.amount']],
      ],
    }),
  );
  assert.equal(ok.action, 'mask');
  assert.equal(ok.maskPlan?.columns[0]?.method, 'last4');
  assert.equal(decide(['ci'], q({ read: ['accounts'], out: [['balance', ['accounts.balance']]] })).action, 'deny');
  assert.equal(decide(['ci'], null, 'list_tables', {}).action, 'deny');
  assert.equal(decide(['ci'], q({ class: 'write', kind: 'insert', written: ['transactions'] })).action, 'deny');
});

test('unresolved output column is denied for a masked role, allowed for a cleared one', () => {
  const a = q({ read: CUST, out: [['?', [], false, true]] });
  const d = decide(['analyst'], a);
  assert.equal(d.action, 'deny');
  assert.deepEqual(d.ruleIds, ['unresolved-output']);
  assert.equal(decide(['pii-reader'], a).action, 'allow');
});

test('opaque constructs are denied for every role without a trust rule, per kind', () => {
  for (const kind of [
    'parse_error',
    'unknown_statement',
    'execute_immediate',
    'external_query',
    'unknown_table_function',
    'unresolved_column',
    'unresolved_star',
    'unknown_table',
    'unsupported',
  ] as const) {
    const d = decide(['engineer'], q({ read: CUST, out: [], opaque: [{ kind, detail: 'test', statement: 0 }] }));
    assert.equal(d.action, 'deny', kind);
    assert.deepEqual(d.ruleIds, ['opaque-untrusted']);
    assert.ok(d.message.includes(kind));
  }
});

test('a parse failure is denied, never treated as an empty query', () => {
  const a: Analysis = { dialect: 'sqlite', ok: false, sql: 'SELEC x', sha256: 'h', fingerprint: 'f', statements: [], opaque: [{ kind: 'parse_error', detail: 'Syntax error', statement: -1 }] };
  assert.equal(decide(['pii-reader'], a).action, 'deny');
  const silent: Analysis = { ...a, opaque: [] };
  assert.equal(decide(['pii-reader'], silent).action, 'deny');
});

test('writes copying masked values are denied (CTAS / INSERT … SELECT / UPDATE SET)', () => {
  const ctas = decide(['engineer'], q({ class: 'ddl', kind: 'create_table', read: CUST, written: ['leak'], uses: [['select', 'customers.ssn']] }));
  assert.equal(ctas.action, 'deny');
  assert.ok(ctas.ruleIds.includes('copy-masked'));
  const ins = decide(['engineer'], q({ class: 'write', kind: 'insert', read: CUST, written: ['accounts'], uses: [['insert_values', 'customers.email']] }));
  assert.equal(ins.action, 'deny');
  const upd = decide(['engineer'], q({ class: 'write', kind: 'update', read: [], written: CUST, uses: [['dml_set', 'customers.ssn']] }));
  assert.equal(upd.action, 'deny');
});

test('engineer: writes need one approval, DROP/TRUNCATE two; approvers are approver', () => {
  const w = decide(
    ['engineer'],
    q({
      class: 'write',
      kind: 'update',
      written: ['accounts'],
      uses: [
        ['dml_where', 'accounts.account_id'],
        ['dml_set', 'accounts.status'],
      ],
    }),
  );
  assert.equal(w.action, 'approval_required');
  assert.deepEqual(w.approval, { approverRoles: ['approver'], required: 1, expiresInSeconds: 3600, ruleId: 'engineer-changes-need-approval' });
  assert.equal(w.privileged, true);
  const drop = decide(['engineer'], q({ class: 'ddl', kind: 'drop_table', destructive: true, written: ['accounts'] }));
  assert.equal(drop.action, 'approval_required');
  assert.equal(drop.approval?.required, 2);
  const trunc = decide(['engineer'], q({ class: 'write', kind: 'truncate', destructive: false, written: ['accounts'] }));
  assert.equal(trunc.approval?.required, 2);
  assert.match(drop.message, /2 approvals by approver/);
});

test('blocked classes are denied even for engineers; read-only roles cannot write', () => {
  for (const c of ['dcl', 'data_movement', 'dynamic_sql', 'call', 'transaction', 'scripting'] as const) {
    const d = decide(['engineer'], q({ class: c, kind: c, read: [], out: null }));
    assert.equal(d.action, 'deny', c);
    assert.deepEqual(d.ruleIds, ['block-privileged'], c);
  }
  const d = decide(['analyst'], q({ class: 'write', kind: 'insert', written: ['accounts'] }));
  assert.equal(d.action, 'deny');
  assert.match(d.message, /role analyst may not write demo\.main\.accounts/);
});

test('tables: unlisted tables and the sqlite schema tables are denied', () => {
  const d = decide(['pii-reader'], q({ read: ['demo.other.secrets'], out: [['x', ['demo.other.secrets.x']]] }));
  assert.equal(d.action, 'deny');
  assert.deepEqual(d.ruleIds, ['default-deny']);
  const m = decide(['pii-reader'], q({ read: ['sqlite_master'], out: [['sql', ['sqlite_master.sql']]] }));
  assert.deepEqual(m.ruleIds, ['tables-no-sqlite-internals']);
});

test('unknown tools are denied until described; examiner gets no tools at all', () => {
  const d = decide(['pii-reader'], null, 'drop_everything', {});
  assert.deepEqual([d.action, d.ruleIds], ['deny', ['unknown-tool']]);
  assert.equal(decide(['examiner'], q({ read: CUST, out: [] })).action, 'deny');
  assert.deepEqual(policy.visibleTools(['examiner'], ['execute_sql', 'list_tables']), []);
  assert.equal(policy.methodAllowed(['examiner'], 'tools/call').allowed, false);
  assert.equal(policy.can(['examiner'], 'console'), true);
  assert.equal(policy.can(['examiner'], 'approve'), false);
  assert.equal(policy.can(['approver'], 'approve'), true);
});

test('no role: denied with a message naming the groups', () => {
  const d = decide(['marketing'], q({ read: CUST, out: [] }));
  assert.deepEqual(d.ruleIds, ['no-role']);
  assert.match(d.message, /groups \[marketing\]/);
  assert.equal(policy.methodAllowed([], 'initialize').allowed, true);
  assert.equal(policy.methodAllowed([], 'tools/call').allowed, false);
  assert.deepEqual(policy.visibleTools([], ['execute_sql']), []);
});

test('an analysis of different SQL than the argument is refused', () => {
  const a = q({ read: CUST, out: [['state', ['customers.state']]] });
  const d = decide(['analyst'], a, 'execute_sql', { sql: 'SELECT ssn FROM customers' });
  assert.deepEqual(d.ruleIds, ['analysis-mismatch']);
  assert.equal(decide(['analyst'], null).action, 'deny');
});

test('two result sets with masking are refused (the response shape is ambiguous)', () => {
  const d = decide(['analyst'], q({ read: CUST, out: [['ssn', ['customers.ssn']]] }, { read: CUST, out: [['one', []]] }));
  assert.deepEqual(d.ruleIds, ['multi-result']);
});

test('pii-reader sees everything in clear: allow, no detectors', () => {
  const d = decide(['pii-reader'], q({ read: CUST, out: [['ssn', ['customers.ssn']]], uses: [['where', 'customers.ssn']] }));
  assert.equal(d.action, 'allow');
  assert.deepEqual(d.maskPlan, { columns: [], fallback: [], detectors: false });
});

test('role union: the most permissive visibility among roles that may read the table', () => {
  const both = decide(['analyst', 'pii-reader'], q({ read: CUST, out: [['ssn', ['customers.ssn']]] }));
  assert.equal(both.action, 'allow');
  // ci may read only transactions; combined with analyst, ci's rules do not change customers.
  const mixed = decide(['analyst', 'ci'], q({ read: CUST, out: [['ssn', ['customers.ssn']]] }));
  assert.equal(mixed.maskPlan?.columns[0]?.method, 'last4');
  // analyst + engineer: analyst's last4 is more permissive than engineer's pseudonym for SSNs.
  const ae = decide(['analyst', 'engineer'], q({ read: CUST, out: [['ssn', ['customers.ssn']]] }));
  assert.equal(ae.maskPlan?.columns[0]?.method, 'last4');
});

test('non-SQL metadata tools are decided by role alone', () => {
  const d = decide(['analyst'], null, 'list_tables', { table_names: '' });
  assert.equal(d.action, 'allow');
  assert.deepEqual(d.maskPlan, { columns: [], fallback: [], detectors: true });
});

test('keepLiterals only when every held role keeps them', () => {
  assert.equal(policy.keepLiterals(['ci']), true);
  assert.equal(policy.keepLiterals(['ci', 'analyst']), false);
  assert.equal(policy.keepLiterals([]), false);
});

test('tool shapes and analyze options come from the upstream description', () => {
  assert.deepEqual(policy.toolShape('execute_sql'), { tool: 'execute_sql', kind: 'sql', sqlArgument: 'sql', dialect: 'sqlite', upstream: 'demo-sqlite', upstreamTool: 'execute_sql' });
  assert.equal(policy.toolShape('nope'), null);
  const o = policy.analyzeOptions('execute_sql');
  assert.equal(o?.dialect, 'sqlite');
  assert.equal(o?.defaultProject, 'demo');
  assert.equal(o?.defaultDataset, 'main');
  assert.ok(o?.catalog?.getTable({ fq: 'demo.main.customers', project: 'demo', dataset: 'main', table: 'customers' }));
  assert.equal(policy.analyzeOptions('list_tables'), null);
});

test('decision messages never carry literals from the SQL (they go into audit)', () => {
  const detail = `Syntax Error: Unexpected "'123-45-6789'" near 'alice@bank.example' and 4111 1111 1111 1111 at line 1 column 53`;
  const a: Analysis = { dialect: 'sqlite', ok: false, sql: 'x', sha256: 'h', fingerprint: 'f', statements: [], opaque: [{ kind: 'parse_error', detail, statement: -1 }] };
  const d = decide(['analyst'], a);
  assert.equal(d.action, 'deny');
  assert.doesNotMatch(d.message, /123-45-6789|alice@bank|4111/);
  assert.match(d.message, /line 1 column 53|Syntax Error/);
});

test('output names built from literals are scrubbed in messages', () => {
  const d = decide(['analyst'], q({ read: CUST, out: [["ssn = '123-45-6789'", ['customers.ssn'], false]] }));
  assert.equal(d.action, 'deny');
  assert.match(d.message, /^ssn = '…' derives from/);
  assert.doesNotMatch(d.message, /123-45-6789/);
  const m = decide(['analyst'], q({ read: CUST, out: [["ssn_or_'123-45-6789'", ['customers.ssn'], true]] }));
  assert.equal(m.action, 'mask');
  assert.doesNotMatch(m.message, /123-45-6789/);
});

test('derived-masked: a computed value reaching a clear and a masked classification is refused; clear-only is fine', () => {
  const mixed = decide(['analyst'], q({ read: ['accounts', 'customers'], out: [['x', ['accounts.routing_number', 'customers.ssn'], false]] }));
  assert.equal(mixed.action, 'deny');
  assert.ok(mixed.ruleIds.includes('derived-masked'));
  const clear = decide(['analyst'], q({ read: ['accounts'], out: [['x', ['accounts.routing_number'], false]] }));
  assert.equal(clear.action, 'allow', clear.message);
});

test('derived-masked: with a role that may not see the column at all and one that sees it masked, the refusal explains the masked one', () => {
  const p = compilePolicy([
    {
      name: 'p.yaml',
      text: `
upstreams: [{ id: u, dialect: sqlite, defaultProject: demo, defaultDataset: main, tools: { execute_sql: { kind: sql, sqlArgument: sql } } }]
roles: [{ id: r-a, role: a, groups: [a] }, { id: r-b, role: b, groups: [b] }]
tools: [{ id: t, tools: [execute_sql], effect: allow }]
tables: [{ id: tb, tables: ['demo.main.*'], effect: allow }]
statements: [{ id: s, classes: [read], effect: allow }]
classifications: [{ id: c, classification: pii.ssn, names: [ssn] }]
visibility: [{ id: v-a, roles: [a], classifications: { pii.ssn: deny } }, { id: v-b, roles: [b], classifications: { pii.ssn: last4 } }]
`,
    },
  ]);
  const a = q({ read: CUST, out: [['x', ['customers.ssn'], false]] });
  const id = identity('u@bank.example', ['a', 'b']);
  const d = p.decide({ identity: id, roles: p.rolesFor(id), tool: 'execute_sql', args: { sql: a.sql }, analysis: a });
  assert.equal(d.action, 'deny');
  assert.deepEqual(d.ruleIds, ['derived-masked', 'v-b']);
  assert.match(d.message, /which role b sees masked \(last4\)/);
  const onlyA = p.decide({ identity: id, roles: ['a'], tool: 'execute_sql', args: { sql: a.sql }, analysis: a });
  assert.deepEqual(onlyA.ruleIds, ['v-a'], 'a plain deny stays a plain deny');
});
