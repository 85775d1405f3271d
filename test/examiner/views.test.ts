// The BigQuery views in dashboards/views: valid BigQuery SQL for the analyzer's parser once
// Terraform's templatefile() has filled the placeholders, a partition filter on event_time in
// the WHERE that reads the base table (the table has require_partition_filter), no template
// syntax Terraform would choke on, and the dashboard link binds every view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseSql } from '../../src/sql/parse.js';
import { DASHBOARD_VIEWS, examinerDashboardUrl } from '../../src/gcp/dashboard-url.js';

const DIR = resolve(import.meta.dirname, '..', '..', 'dashboards', 'views');
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.sql'))
  .sort();
const BASE = '`${project}.${dataset}.${table}`';

/** What templatefile() does with the module's view_vars. */
function fill(sql: string): string {
  return sql.replaceAll('${project}', 'acme-prod').replaceAll('${dataset}', 'bqwarden_audit').replaceAll('${table}', 'events');
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, '');
}

test('there are views for every examiner question', () => {
  assert.deepEqual(
    files.map((f) => f.replace(/\.sql$/, '')),
    [...DASHBOARD_VIEWS].sort(),
  );
});

for (const f of files) {
  const raw = readFileSync(join(DIR, f), 'utf8');

  test(`${f}: parses as BigQuery SQL`, () => {
    const r = parseSql(fill(raw), 'bigquery');
    assert.ok(r.ok, `${f}: ${r.ok ? '' : r.error}`);
  });

  test(`${f}: reads the base table with an event_time partition filter`, () => {
    const body = stripComments(raw);
    const at = body.indexOf(BASE);
    assert.ok(at > 0, 'reads the raw table through the templatefile placeholders');
    assert.equal(body.indexOf(BASE, at + 1), -1, 'reads the base table once');
    const after = body.slice(at + BASE.length);
    const where = /^\s*WHERE\b([\s\S]*?)(?:\bQUALIFY\b|\n\)|$)/.exec(after);
    assert.ok(where, 'a WHERE follows the base table');
    assert.match(where[1]!, /event_time\s*>=\s*TIMESTAMP_SUB\(CURRENT_TIMESTAMP\(\), INTERVAL \d+ DAY\)/);
  });

  test(`${f}: header comment names the examiner question; only the three template placeholders`, () => {
    assert.match(raw, /^-- Examiner question: /);
    const placeholders = [...raw.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(placeholders)].sort(), ['dataset', 'project', 'table']);
    assert.ok(!raw.includes('%{'), 'no templatefile directives');
  });
}

test('attack: a view that forgets the partition filter is caught by the check', () => {
  const bad = `SELECT * FROM ${BASE} WHERE actor_email IS NOT NULL`;
  const after = bad.slice(bad.indexOf(BASE) + BASE.length);
  const where = /^\s*WHERE\b([\s\S]*?)(?:\bQUALIFY\b|\n\)|$)/.exec(after);
  assert.doesNotMatch(where![1]!, /event_time\s*>=/);
});

test('dashboard link: the events view under `audit` plus one data source per view', () => {
  const url = new URL(examinerDashboardUrl({ projectId: 'acme-prod', datasetId: 'bqwarden_views', templateReportId: 'tmpl-1' }));
  assert.equal(url.origin + url.pathname, 'https://lookerstudio.google.com/reporting/create');
  assert.equal(url.searchParams.get('c.reportId'), 'tmpl-1');
  assert.equal(url.searchParams.get('ds.audit.tableId'), 'events');
  for (const v of DASHBOARD_VIEWS) {
    assert.equal(url.searchParams.get(`ds.${v}.connector`), 'bigQuery');
    assert.equal(url.searchParams.get(`ds.${v}.type`), 'TABLE');
    assert.equal(url.searchParams.get(`ds.${v}.projectId`), 'acme-prod');
    assert.equal(url.searchParams.get(`ds.${v}.datasetId`), 'bqwarden_views');
    assert.equal(url.searchParams.get(`ds.${v}.tableId`), v);
  }
  assert.throws(() => examinerDashboardUrl({ projectId: 'acme&ds.x=1', datasetId: 'v', templateReportId: 't' }), /not a valid identifier/);
});
