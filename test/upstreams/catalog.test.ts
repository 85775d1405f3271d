// Catalog sources of the upstream kinds: each reads table schemas through its upstream's own
// metadata tool, with the arguments that upstream names; answers are cached, failures retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeAgainstCatalog } from '../../src/sql/index.js';
import { createCatalogView } from '../../src/server/catalog.js';
import { createUpstreamCatalogProvider } from '../../src/upstreams/catalog.js';
import { toolboxSqlite } from '../../src/upstreams/toolbox-sqlite/index.js';
import { toolboxBigquery } from '../../src/upstreams/toolbox-bigquery/index.js';
import { bigqueryManaged } from '../../src/upstreams/bigquery-managed/index.js';
import { first, only } from '../helpers/present.js';

test('upstream provider parses Toolbox sqlite list_tables and bigquery get_table_info, with TTL cache', async () => {
  let calls = 0;
  let clock = 0;
  const sqlite = createUpstreamCatalogProvider(
    async (name, args) => {
      calls++;
      assert.equal(name, 'list_tables');
      assert.equal(args.output_format, 'detailed');
      assert.equal(args.table_names, 'customers');
      return {
        content: [
          { type: 'text', text: JSON.stringify({ object_details: { object_name: 'customers', schema_name: 'main', object_type: 'table', columns: [{ column_name: 'SSN', data_type: 'TEXT' }] } }) },
        ],
      };
    },
    toolboxSqlite.catalog!,
    { ttlMs: 1000, now: () => clock },
  );
  const ref = { fq: 'demo.main.customers', project: 'demo', dataset: 'main', table: 'customers' };
  assert.deepEqual(first(await sqlite.load([ref]), 'loaded table').columns, [{ name: 'ssn', type: 'TEXT' }]);
  await sqlite.load([ref]);
  assert.equal(calls, 1);
  clock = 5000;
  await sqlite.load([ref]);
  assert.equal(calls, 2);

  const bq = createUpstreamCatalogProvider(async (name, args) => {
    assert.equal(name, 'get_table_info');
    if (args.table !== 'customers') return { content: [{ type: 'text', text: 'error: not found' }] };
    return {
      content: [
        {
          type: 'text',
          text: JSON.stringify({
            schema: {
              fields: [
                { name: 'ssn', type: 'STRING', policyTags: { names: ['projects/x/locations/us/taxonomies/1/policyTags/2'] } },
                { name: 'addr', type: 'RECORD', fields: [{ name: 'city', type: 'STRING' }] },
              ],
            },
            view: { query: 'SELECT 1' },
          }),
        },
      ],
    };
  }, toolboxBigquery.catalog!);
  const got = await bq.load([
    { fq: 'p.d.customers', project: 'p', dataset: 'd', table: 'customers' },
    { fq: 'p.d.nope', project: 'p', dataset: 'd', table: 'nope' },
  ]);
  const t = only(got, 'loaded table');
  assert.equal(t.columns[0]?.policyTags?.[0], 'projects/x/locations/us/taxonomies/1/policyTags/2');
  assert.equal(t.columns[1]?.fields?.[0]?.name, 'city');
  assert.equal(t.viewSql, 'SELECT 1');
});

test('upstream failure leaves tables unknown (fail closed) and is retried', async () => {
  let n = 0;
  const p = createUpstreamCatalogProvider(async () => {
    n++;
    throw new Error('upstream down');
  }, toolboxSqlite.catalog!);
  const view = createCatalogView({ staticTables: [], providers: [p] });
  const { analysis: a } = await analyzeAgainstCatalog('SELECT * FROM customers', { dialect: 'sqlite', defaultProject: 'demo', defaultDataset: 'main' }, view);
  assert.ok(a.opaque.some((f) => f.kind === 'unknown_table'));
  assert.ok(a.opaque.some((f) => f.kind === 'unresolved_star'));
  await p.load([{ fq: 'demo.main.customers', project: 'demo', dataset: 'main', table: 'customers' }]);
  assert.equal(n, 2);
});

test('the managed endpoint is asked with its own argument names (projectId, datasetId, tableId)', async () => {
  const seen: Record<string, unknown>[] = [];
  const p = createUpstreamCatalogProvider(async (name, args) => {
    assert.equal(name, 'get_table_info');
    seen.push(args);
    return { content: [{ type: 'text', text: JSON.stringify({ schema: { fields: [{ name: 'ssn', type: 'STRING' }] } }) }] };
  }, bigqueryManaged.catalog!);
  const got = await p.load([{ fq: 'acme-prod.core.customers', project: 'acme-prod', dataset: 'core', table: 'customers' }]);
  assert.deepEqual(seen, [{ projectId: 'acme-prod', datasetId: 'core', tableId: 'customers' }]);
  assert.equal(got[0]?.columns[0]?.name, 'ssn');
});

test('an upstream answers only for the tables it owns (several upstreams share one catalog)', async () => {
  let asked = 0;
  const p = createUpstreamCatalogProvider(
    async () => {
      asked++;
      return { content: [] };
    },
    toolboxSqlite.catalog!,
    { owns: (t) => t.project === 'hr' },
  );
  assert.deepEqual(await p.load([{ fq: 'bank.main.customers', project: 'bank', dataset: 'main', table: 'customers' }]), []);
  assert.equal(asked, 0);
});
