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
    await pubsub.subscription(`${topicName}-bq`).delete().catch(() => undefined);
    await pubsub.topic(topicName).delete().catch(() => undefined);
    await bq.dataset(datasetId).delete({ force: true }).catch(() => undefined);
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
