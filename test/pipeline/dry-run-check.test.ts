// Our analysis against BigQuery's statement types and referenced tables (what the dry-run stage
// compares), on statements analysed by the real analyzer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyze } from '../../src/sql/index.js';
import { classOfStatementType, dryRunDisagreement } from '../../src/pipeline/dry-run-check.js';

const a = (sql: string) => analyze(sql, { dialect: 'bigquery', defaultProject: 'p', defaultDataset: 'd' });

test('statement types: agreement where BigQuery and our analysis name the same thing', () => {
  const agree: [string, string, string[]][] = [
    ['SELECT x FROM t', 'SELECT', ['p.d.t']],
    ['DELETE FROM d.t WHERE x = 1', 'DELETE', ['p.d.t']],
    ['CREATE TABLE d.t2 AS SELECT x FROM d.t', 'CREATE_TABLE_AS_SELECT', ['p.d.t', 'p.d.t2']],
    ['SELECT 1; SELECT x FROM t', 'SCRIPT', ['p.d.t']],
    ['SELECT x FROM `p.d.events_*`', 'SELECT', ['p.d.events_2024', 'p.d.events_2025']],
  ];
  for (const [sql, type, tables] of agree) assert.equal(dryRunDisagreement(a(sql), { statementType: type, tables }), null, sql);
});

test('disagreements are named: type, class, a script, an unseen table, an unknown type', () => {
  const cases: [string, string, string[], string][] = [
    ['SELECT x FROM t', 'DELETE', ['p.d.t'], 'dry_run_statement_mismatch'],
    ['SELECT x FROM t', 'SCRIPT', ['p.d.t'], 'dry_run_statement_mismatch'],
    ['UPDATE d.t SET x = 1 WHERE true', 'DELETE', ['p.d.t'], 'dry_run_statement_mismatch'],
    ['SELECT 1; SELECT x FROM t', 'SELECT', ['p.d.t'], 'dry_run_statement_mismatch'],
    ['SELECT x FROM t', 'SELECT', ['p.d.t', 'p.hr.salaries'], 'dry_run_table_mismatch'],
    ['SELECT x FROM t', 'SELECT', ['other.d.t'], 'dry_run_table_mismatch'],
    ['SELECT x FROM t', 'TELEPORT', ['p.d.t'], 'dry_run_statement_mismatch'],
  ];
  for (const [sql, type, tables, code] of cases) assert.equal(dryRunDisagreement(a(sql), { statementType: type, tables })?.code, code, `${sql} vs ${type} ${tables}`);
  assert.equal(classOfStatementType('CREATE_ROW_ACCESS_POLICY'), 'dcl');
  assert.equal(classOfStatementType('EXPORT_DATA'), 'data_movement');
  assert.equal(classOfStatementType('TRUNCATE_TABLE'), 'write');
});
