// The running gateway in front of "BigQuery": the production example policy on the test project
// (edited by the caller), the real BigQuery client with credentials from a local metadata server
// (as on Cloud Run) pointed at the BigQuery REST fake, and the demo Toolbox as the upstream.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeBigQuery, type FakeQuery, type FakeResult } from './bigquery-fake.js';
import { FakeMetadataServer } from '../fixtures/metadata-server.js';
import { REPO, startStack, type TestStack } from '../helpers/gateway.js';

export interface BigQueryGateway {
  bq: FakeBigQuery;
  metadata: FakeMetadataServer;
  stack: TestStack;
  stop(): Promise<void>;
}

export async function startBigQueryGateway(o: { handler: (q: FakeQuery) => FakeResult; policy?: (yaml: string) => string; catalogTtlMs?: number }): Promise<BigQueryGateway> {
  const savedHost = process.env.GCE_METADATA_HOST;
  const metadata = new FakeMetadataServer();
  await metadata.start();
  process.env.GCE_METADATA_HOST = metadata.host;
  const bq = new FakeBigQuery(o.handler);
  await bq.start();
  // No catalog/ directory at all: what the gateway knows of tables comes from BigQuery.
  const rules = mkdtempSync(join(tmpdir(), 'bqw-bq-rules-'));
  const policy = readFileSync(join(REPO, 'rules', 'examples', 'bigquery-bank.yaml'), 'utf8').replaceAll('acme-bank-prod', 'test-project');
  writeFileSync(join(rules, 'policy.yaml'), o.policy ? o.policy(policy) : policy);
  const stack = await startStack({
    rulesDir: rules,
    config: {
      rules: { dir: rules, catalogDir: join(rules, 'catalog') },
      upstream: { name: 'toolbox-bigquery' },
      gcp: { project: 'test-project', bigquery: { catalog: true, apiEndpoint: bq.endpoint, location: 'US', catalogTtlMs: o.catalogTtlMs ?? 0 } },
    },
  });
  return {
    bq,
    metadata,
    stack,
    async stop() {
      await stack.stop();
      await bq.stop();
      await metadata.stop();
      if (savedHost === undefined) delete process.env.GCE_METADATA_HOST;
      else process.env.GCE_METADATA_HOST = savedHost;
      rmSync(rules, { recursive: true, force: true });
    },
  };
}
