// Two full gateway instances (startGateway, production trust config) in front of one MCP Toolbox
// on one SQLite file, sharing one audit backend (Pub/Sub, read back as the BigQuery table the
// subscription would load), one approval claim store and one anchor bucket (Cloud Storage JSON
// API server, retention locked), with checkpoints signed by one Cloud KMS key (gRPC server from
// the client's protos). An approval granted through B is re-run on A and B at the same moment:
// it executes exactly once. Afterwards each instance's chain starts at seq 0, is sealed, verifies
// with the pinned KMS key and matches its anchors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { writeBankDb } from '../../src/demo/dataset.js';
import { startToolbox, type ToolboxProcess } from '../../src/demo/toolbox.js';
import { startGateway, type GatewayHandle } from '../../src/server/app.js';
import { loadGatewayConfig } from '../../src/server/config.js';
import { mintDevToken } from '../../src/identity/dev-issuer.js';
import { createLogger } from '../../src/ops/logger.js';
import { normalizeEvent } from '../../src/audit/normalize.js';
import { createVerifier } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { auditTableSchema } from '../../src/gcp/audit-schema.js';
import { gcsAnchorStore } from '../../src/gcp/anchors-gcs.js';
import { FakePubSubServer } from '../fixtures/pubsub-server.js';
import { FakeGcsServer } from '../fixtures/gcs-server.js';
import { FakeKmsServer } from '../fixtures/kms-server.js';
import { FakeBigQuery, type FakeQuery } from './bigquery-fake.js';
import { REPO, rowsOf } from '../helpers/gateway.js';
import { first, only, present } from '../helpers/present.js';

process.env.METADATA_SERVER_DETECTION = 'none';

const TABLE = 'test-project.bqwarden_audit_views.approval_events';
const KEY = 'projects/test-project/locations/europe-west2/keyRings/bqwarden/cryptoKeys/audit-checkpoints/cryptoKeyVersions/1';

let root: string;
let pubsub: FakePubSubServer;
let gcs: FakeGcsServer;
let kms: FakeKmsServer;
let bq: FakeBigQuery;
let toolbox: ToolboxProcess;

function stored(): AuditEvent[] {
  return pubsub.messages.map((m) => normalizeEvent(JSON.parse(m.data.toString('utf8'))));
}

/** The approval query, answered from what the topic holds (what the BigQuery subscription loads). */
function runQuery(q: FakeQuery) {
  const since = Date.parse(String(q.params.since));
  const types = q.params.event_types as string[];
  const rows = pubsub.messages
    .map((m) => ({ ...JSON.parse(m.data.toString('utf8')), message_id: m.messageId, publish_time: m.publishTime.toISOString() }) as Record<string, unknown>)
    .filter((r) => Date.parse(String(r.event_time)) >= since && types.includes(String(r.event_type)))
    .sort((a, b) => String(a.event_time).localeCompare(String(b.event_time)) || Number(a.seq) - Number(b.seq));
  return { schema: auditTableSchema(), rows };
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'bqw-two-'));
  pubsub = new FakePubSubServer();
  await pubsub.start();
  gcs = new FakeGcsServer();
  gcs.retentionLocked.add('bank-audit-anchors');
  gcs.retentionLocked.add('bank-approval-claims');
  await gcs.start();
  kms = new FakeKmsServer();
  kms.addKey(KEY, 'EC_SIGN_P256_SHA256', 'HSM');
  await kms.start();
  bq = new FakeBigQuery(runQuery);
  await bq.start();
  const db = join(root, 'bank.db');
  await writeBankDb(db);
  toolbox = await startToolbox({ database: db });
});

after(async () => {
  await toolbox?.stop();
  await bq?.stop();
  await kms?.stop();
  await gcs?.stop();
  await pubsub?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function instance(name: string): Promise<GatewayHandle> {
  const config = loadGatewayConfig({
    env: {},
    overrides: {
      mode: 'demo',
      dataDir: join(root, name),
      server: { host: '127.0.0.1', port: 0 },
      upstream: { url: toolbox.url, name: 'toolbox-sqlite', timeoutMs: 30_000 },
      rules: { dir: join(REPO, 'rules'), catalogDir: join(REPO, 'rules', 'catalog') },
      identity: { devIssuer: { enabled: true } },
      auditSink: 'pubsub',
      gcp: {
        project: 'test-project',
        topic: 'audit',
        pubsubEndpoint: pubsub.endpoint,
        bigquery: { apiEndpoint: bq.endpoint },
        approvals: { table: TABLE, pollIntervalMs: 100 },
      },
      audit: {
        kms: { keyVersion: KEY, endpoint: `${kms.endpoint.apiEndpoint}:${kms.endpoint.port}` },
        anchors: { gcs: { bucket: 'bank-audit-anchors', apiEndpoint: gcs.endpoint }, intervalMs: 200 },
      },
      approvals: {
        // The exact statement text must reach the approver's instance too (docs/gcp.md): one directory stands for a shared store.
        statementsDir: join(root, 'statements'),
        claims: { gcs: { bucket: 'bank-approval-claims', apiEndpoint: gcs.endpoint } },
      },
    },
  });
  return startGateway(config, { log: createLogger(process.env.BQWARDEN_TEST_LOG ?? 'silent') });
}

async function token(gw: GatewayHandle, name: string, user: string, groups: string[]): Promise<string> {
  return mintDevToken({ dataDir: join(root, name), issuer: `${gw.url}/dev-issuer`, audience: `${gw.url}/mcp`, user, groups });
}

async function client(gw: GatewayHandle, name: string, user: string, groups: string[]): Promise<Client> {
  const c = new Client({ name: `two-instances-${name}`, version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${await token(gw, name, user, groups)}` } } }));
  return c;
}

async function api(gw: GatewayHandle, name: string, user: string, groups: string[], method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${await token(gw, name, user, groups)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`gave up waiting for ${what}`);
}

type Result = { content?: { type: string; text?: string }[]; isError?: boolean };
const text = (r: Result) => (r.content ?? []).map((c) => c.text ?? '').join('\n');

test('two instances: an approval runs exactly once when re-run on both at the same moment; both chains continue, seal and match their anchors', { timeout: 300_000 }, async () => {
  const a = await instance('gw-a');
  const b = await instance('gw-b');
  let closed = false;
  try {
    const eveA = await client(a, 'gw-a', 'eve@bank.example', ['engineer']);
    const eveB = await client(b, 'gw-b', 'eve@bank.example', ['engineer']);
    const count = async () => Number(Object.values(rowsOf(await eveA.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT COUNT(*) AS n FROM transactions WHERE txn_id = 5' } }))[0] ?? {})[0]);
    assert.equal(await count(), 1);

    const del = 'DELETE FROM transactions WHERE txn_id = 5';
    const held = (await eveA.callTool({ name: 'execute_sql', arguments: { sql: del } })) as Result;
    const id = /apr-[a-z0-9]+/.exec(text(held))?.[0];
    assert.ok(id, text(held));

    // B learns of the request from the shared audit table, and bob approves it there.
    await until('B sees the request', async () => (await api(b, 'gw-b', 'bob@bank.example', ['approver'], 'GET', `/approvals/${id}`)).status === 200);
    const ok = await api(b, 'gw-b', 'bob@bank.example', ['approver'], 'POST', `/approvals/${id}/approve`, { reason: 'ticket CHG-1 checked' });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    for (const [gw, name] of [
      [a, 'gw-a'],
      [b, 'gw-b'],
    ] as const) {
      await until(`${name} sees it approved`, async () => (await api(gw, name, 'eve@bank.example', ['engineer'], 'GET', `/approvals/${id}`)).json.approval?.status === 'approved');
    }

    // The same approved call on both instances at once.
    const [onA, onB] = (await Promise.all([eveA.callTool({ name: 'execute_sql', arguments: { sql: del } }), eveB.callTool({ name: 'execute_sql', arguments: { sql: del } })])) as [Result, Result];
    const ran = [onA, onB].filter((r) => r.isError !== true);
    const refused = [onA, onB].filter((r) => r.isError === true);
    assert.equal(ran.length, 1, `exactly one instance executes: A=${text(onA).slice(0, 200)} B=${text(onB).slice(0, 200)}`);
    // The loser either lost the create-once claim ("already used"), or had already folded the
    // winner's claim from the shared table, in which case its re-run opens a new request.
    const loser = text(only(refused, 'refused call'));
    const newRequest = /Request (apr-[a-z0-9]+) is pending/.exec(loser)?.[1];
    assert.ok(/already used through another gateway instance/.test(loser) || (newRequest && newRequest !== id), loser);
    assert.equal(await count(), 0);
    assert.equal(gcs.list('bank-approval-claims', 'claims/').length, 1, 'one claim object');

    await eveA.close();
    await eveB.close();
    await a.close();
    await b.close();
    closed = true;

    const events = stored();
    const claims = events.filter((e) => e.event_type === 'approval_executed' && e.outcome === 'pending' && e.approval_id === id);
    assert.equal(claims.length, 1, 'one claim event across both chains');
    const executions = events.filter((e) => e.event_type === 'mcp_request' && e.approval_id === id && e.outcome === 'success');
    const execution = only(executions, 'successful execution of the approved DELETE');
    const intent = present(
      events.find((e) => e.event_type === 'mcp_intent' && e.approval_id === id),
      'mcp_intent event of the approval',
    );
    assert.equal(execution.intent_id, intent.event_id, 'the approved DELETE had its write-ahead intent');

    const anchors = gcsAnchorStore({ bucket: 'bank-audit-anchors', apiEndpoint: gcs.endpoint });
    const listed = await anchors.list();
    const v = createVerifier({
      publicKeys: [{ pem: kms.keys.get(KEY)!.publicPem, source: 'Terraform output audit_signing_public_key_pem' }],
      requireSealed: true,
      anchors: { store: anchors.name, ...listed },
    });
    const byChain = new Map<string, AuditEvent[]>();
    for (const e of events) byChain.set(e.chain_id, [...(byChain.get(e.chain_id) ?? []), e]);
    for (const list of byChain.values()) for (const e of list.sort((x, y) => x.seq - y.seq)) v.push(e);
    const r = v.finish();
    assert.equal(r.ok, true, JSON.stringify(r.breaks));
    assert.equal(r.chains.length, 2, 'one chain per instance');
    for (const c of r.chains) {
      assert.equal(c.first_seq, 0);
      assert.equal(c.sealed, true);
      assert.equal(byChain.get(c.chain_id)?.[0]?.event_type, 'gateway_start');
    }
    assert.ok(r.anchors!.checked >= 2, 'anchors of both instances matched');
    assert.deepEqual(new Set(listed.anchors.map((x) => x.chain_id)), new Set(r.chains.map((c) => c.chain_id)));
    assert.equal(r.intents.open, 0);
    assert.match(first(r.keys, 'verifier key').key_id, /^ecdsa-p256:/);
  } finally {
    if (!closed) {
      await a.close().catch(() => undefined);
      await b.close().catch(() => undefined);
    }
  }
});
