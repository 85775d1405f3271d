// Live suite against real Google Cloud. Runs only when GOOGLE_CLOUD_PROJECT is set and
// Application Default Credentials exist; otherwise every test skips and says why. It creates a
// temporary topic, dataset, table and BigQuery subscription, runs the real pipeline (audit
// writer -> Pub/Sub sink -> BigQuery subscription -> query back -> verify) and deletes it all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const project = process.env.GOOGLE_CLOUD_PROJECT;
const adc = process.env.GOOGLE_APPLICATION_CREDENTIALS ?? join(homedir(), '.config', 'gcloud', 'application_default_credentials.json');
const metadataServer = process.env.K_SERVICE || process.env.GCE_METADATA_HOST;
const skipReason = !project
  ? 'live GCP suite skipped: GOOGLE_CLOUD_PROJECT is not set'
  : !existsSync(adc) && !metadataServer
    ? `live GCP suite skipped: no Application Default Credentials (${adc} missing; run gcloud auth application-default login)`
    : null;

test('live: publish -> BigQuery subscription -> verify', { timeout: 15 * 60_000 }, async (t) => {
  if (skipReason) {
    t.skip(skipReason);
    return;
  }
  const { PubSub } = await import('@google-cloud/pubsub');
  const { BigQuery } = await import('@google-cloud/bigquery');
  const { AuditLog } = await import('../../src/audit/log.js');
  const { loadOrCreateSigner, loadPublicKeysFromDir } = await import('../../src/audit/checkpoint.js');
  const { formatReport } = await import('../../src/audit/verify.js');
  const { PubSubAuditSink } = await import('../../src/sinks/pubsub.js');
  const { auditTableSchema } = await import('../../src/gcp/audit-schema.js');
  const { verifyBigQuery } = await import('../../src/gcp/verify-source.js');

  const suffix = randomBytes(4).toString('hex');
  const pubsub = new PubSub({ projectId: project });
  const bq = new BigQuery({ projectId: project });
  const dir = mkdtempSync(join(tmpdir(), 'bqw-live-'));
  const datasetId = `bqwarden_live_${suffix}`;
  const topicName = `bqwarden-live-${suffix}`;
  t.after(async () => {
    await pubsub
      .subscription(`${topicName}-bq`)
      .delete()
      .catch(() => undefined);
    await pubsub
      .topic(topicName)
      .delete()
      .catch(() => undefined);
    await bq
      .dataset(datasetId)
      .delete({ force: true })
      .catch(() => undefined);
    await pubsub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const [dataset] = await bq.createDataset(datasetId, { location: 'US' });
  await dataset.createTable('events', {
    schema: { fields: auditTableSchema() as never },
    timePartitioning: { type: 'DAY', field: 'event_time' },
    requirePartitionFilter: true,
    clustering: { fields: ['actor_email', 'decision', 'target_table', 'event_type'] },
  });
  const [topic] = await pubsub.createTopic(topicName);
  await topic.createSubscription(`${topicName}-bq`, {
    bigqueryConfig: { table: `${project}.${datasetId}.events`, useTableSchema: true, writeMetadata: true },
  });

  const sink = new PubSubAuditSink({ topic: topicName, project });
  const signer = loadOrCreateSigner({ keysDir: join(dir, 'keys') });
  const log = await AuditLog.open({ sink, signer, gatewayVersion: 'live-test', instance: 'live', chainId: `live-${suffix}` });
  for (let i = 0; i < 5; i++) await log.append({ event_type: 'mcp_request', actor_email: 'live@bank.example', decision: 'allow', rows_returned: i });
  await log.close();
  const expected = log.head().nextSeq;

  const day = new Date().toISOString().slice(0, 10);
  let report = null;
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => setTimeout(r, 5000));
    report = await verifyBigQuery({ table: `${project}.${datasetId}.events`, from: day, to: day, publicKeys: loadPublicKeysFromDir(join(dir, 'keys')), bigquery: bq, progress: false });
    if (report.events >= expected) break;
  }
  assert.ok(report && report.events >= expected, `events arrived in BigQuery (${report?.events}/${expected})`);
  assert.equal(report!.ok, true, formatReport(report!));
});

// Masking in the engine on real BigQuery (issue 11): the same queries, rewritten for a masked
// role, on a table and on its twin (same visible values, different hidden ones) must return the
// same rows. BigQuery itself is the oracle here; the suite skips without credentials.
test('live: queries rewritten for a masked role answer the same on a table and on its twin', { timeout: 15 * 60_000 }, async (t) => {
  if (skipReason) {
    t.skip(skipReason);
    return;
  }
  const { BigQuery } = await import('@google-cloud/bigquery');
  const { compilePolicy } = await import('../../src/policy/engine.js');
  const { analyze } = await import('../../src/sql/analyze.js');
  const suffix = randomBytes(4).toString('hex');
  const bq = new BigQuery({ projectId: project });
  const real = `bqwarden_live_${suffix}_real`;
  const twin = `bqwarden_live_${suffix}_twin`;
  t.after(async () => {
    for (const ds of [real, twin])
      await bq
        .dataset(ds)
        .delete({ force: true })
        .catch(() => undefined);
  });
  const rows = [
    [1, '123-45-6789', 'ann.lee@bank.example', 'retail'],
    [2, '987-65-4321', 'bob.ray@mail.example', 'private'],
    [3, '555-12-0001', 'cy.doe@bank.example', 'retail'],
  ] as const;
  for (const [ds, hide] of [
    [real, false],
    [twin, true],
  ] as const) {
    await bq.createDataset(ds, { location: 'US' });
    const values = rows
      .map(([id, ssn, email, seg]) => {
        const s = hide ? `${String(100 + id * 7).padStart(3, '0')}-${String(10 + id).padStart(2, '0')}-${ssn.slice(-4)}` : ssn;
        const e = hide ? `x${id * 31}.q@${email.split('@')[1]}` : email;
        return `(${id}, '${s}', '${e}', '${seg}')`;
      })
      .join(', ');
    await bq.query({ query: `CREATE TABLE \`${project}.${ds}.customers\` AS SELECT * FROM UNNEST([STRUCT<customer_id INT64, ssn STRING, email STRING, segment STRING>${values}])`, location: 'US' });
  }
  const policyFor = (ds: string) =>
    compilePolicy(
      [
        {
          name: 'p.yaml',
          text: `
upstreams: [{ id: bq, dialect: bigquery, defaultProject: ${project}, defaultDataset: ${ds}, tools: { execute_sql: { kind: sql, sqlArgument: sql } } }]
roles: [{ id: r, role: analyst, groups: [analyst] }]
methods: [{ id: m, methods: ['*'], effect: allow }]
tools: [{ id: t, tools: [execute_sql], effect: allow }]
tables: [{ id: tb, tables: ['**'], access: read, effect: allow }]
statements: [{ id: s, classes: [read], effect: allow }]
classifications: [{ id: c1, classification: pii.ssn, names: [ssn] }, { id: c2, classification: pii.email, names: [email] }]
visibility: [{ id: v, roles: [analyst], classifications: { pii.ssn: last4, pii.email: email_domain } }]
`,
        },
      ],
      [
        {
          name: 'catalog/c.yaml',
          text: `tables:\n  - fq: ${project}.${ds}.customers\n    columns: [{ name: customer_id, type: INT64 }, { name: ssn, type: STRING }, { name: email, type: STRING }, { name: segment, type: STRING }]\n`,
        },
      ],
    );
  const QUERIES = [
    'SELECT customer_id, ssn, email FROM customers ORDER BY customer_id',
    "SELECT COUNT(*) AS n FROM customers WHERE ssn = '123-45-6789'",
    "SELECT customer_id FROM customers WHERE STARTS_WITH(ssn, '123') ORDER BY 1",
    'SELECT ssn, COUNT(*) AS n FROM customers GROUP BY ssn ORDER BY ssn',
    'SELECT customer_id FROM customers ORDER BY email, customer_id',
    "SELECT STRING_AGG(ssn, ',' ORDER BY ssn) AS s FROM customers",
    "SELECT customer_id, IF(email LIKE 'ann%', 1, 0) AS hit FROM customers ORDER BY 1",
    'SELECT SUBSTR(email, 1, 3) AS p, LENGTH(ssn) AS l FROM customers ORDER BY customer_id',
  ];
  for (const sql of QUERIES) {
    const answers: string[] = [];
    for (const ds of [real, twin]) {
      const p = policyFor(ds);
      const id = { subject: 'a', email: 'a@bank.example', issuer: 'x', groups: ['analyst'], roles: [], actorType: 'human' as const, authMethod: 'dev' as const, expiresAt: null, name: null };
      const d = p.decide({ identity: id, roles: p.rolesFor(id), tool: 'execute_sql', args: { sql }, analysis: analyze(sql, p.analyzeOptions('execute_sql')!) });
      assert.notEqual(d.action, 'deny', `${sql}: ${d.message}`);
      assert.ok(d.engine?.changed, `${sql}: rewritten`);
      try {
        const [out] = await bq.query({ query: d.engine!.sql, location: 'US', defaultDataset: { datasetId: ds, projectId: project } });
        answers.push(JSON.stringify(out));
      } catch (err) {
        answers.push(`error: ${(err as Error).message.replace(new RegExp(ds, 'g'), 'DS')}`);
      }
    }
    assert.equal(answers[0], answers[1], `the rewritten query tells the table from its twin: ${sql}`);
  }
});

// BigQuery's dry run as the gateway runs it (src/gcp/dry-run.ts), against a public table: the
// statement type and tables BigQuery reports must agree with our analysis, and a script of two
// statements is a SCRIPT to both. Dry runs are free; the suite skips without credentials.
test('live: BigQuery dry run agrees with our analysis on a public table and on a script', { timeout: 5 * 60_000 }, async (t) => {
  if (skipReason) {
    t.skip(skipReason);
    return;
  }
  const { createDryRunner } = await import('../../src/gcp/dry-run.js');
  const { analyze } = await import('../../src/sql/index.js');
  const { dryRunDisagreement } = await import('../../src/pipeline/dry-run-check.js');
  const runner = createDryRunner({ projectId: project, location: 'US' });
  const sql = 'SELECT word, word_count FROM `bigquery-public-data.samples.shakespeare` WHERE corpus = "hamlet"';
  const r = await runner.run({ sql, defaultProject: project!, defaultDataset: null });
  assert.equal(r.statementType, 'SELECT');
  assert.deepEqual(r.tables, ['bigquery-public-data.samples.shakespeare']);
  assert.ok(r.totalBytesProcessed > 0, `bytes ${r.totalBytesProcessed}`);
  assert.equal(r.cached, false);
  assert.equal(dryRunDisagreement(analyze(sql, { dialect: 'bigquery', defaultProject: project! }), r), null);
  assert.equal((await runner.run({ sql, defaultProject: project!, defaultDataset: null })).cached, true);

  const script = 'DECLARE n INT64 DEFAULT 3; SELECT word FROM `bigquery-public-data.samples.shakespeare` LIMIT n';
  const s = await runner.run({ sql: script, defaultProject: project!, defaultDataset: null });
  assert.equal(s.statementType, 'SCRIPT');
  const disagreement = dryRunDisagreement(analyze(script, { dialect: 'bigquery', defaultProject: project! }), s);
  // BigQuery may or may not list a script's tables in a dry run; a type disagreement would be a bug.
  assert.notEqual(disagreement?.code, 'dry_run_statement_mismatch', disagreement?.reason);
});
