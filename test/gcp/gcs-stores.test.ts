// Anchors and approval claims in Cloud Storage: the real @google-cloud/storage client against a
// local server speaking the GCS JSON API, with the bucket's retention policy locked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Storage } from '@google-cloud/storage';
import { gcsAnchorStore } from '../../src/gcp/anchors-gcs.js';
import { gcsClaimStore } from '../../src/gcp/claims-gcs.js';
import { AnchorExporter } from '../../src/audit/anchors.js';
import { loadPublicKeysFromDir } from '../../src/audit/checkpoint.js';
import { verifyDir } from '../../src/audit/verify.js';
import { FakeGcsServer } from '../fixtures/gcs-server.js';
import { chainFiles, openLog, readLinesOf, request, tempData, writeLinesOf } from '../audit/helpers.js';
import { at, first } from '../helpers/present.js';

process.env.METADATA_SERVER_DETECTION = 'none';

let gcs: FakeGcsServer;
before(async () => {
  gcs = new FakeGcsServer();
  gcs.retentionLocked.add('bank-audit-anchors');
  await gcs.start();
});
after(() => gcs.stop());

const store = () => gcsAnchorStore({ bucket: 'bank-audit-anchors', apiEndpoint: gcs.endpoint, projectId: 'bank-prod' });

test('anchors in the locked bucket: a cut tail is a break, and the anchors themselves cannot be deleted or replaced', async () => {
  const t = tempData();
  try {
    const s = store();
    const { log } = await openLog(t.audit, t.keys);
    const exporter = new AnchorExporter({ log, store: s, instance: 'gw-1' });
    for (let i = 0; i < 8; i++) await log.append(request(i));
    await exporter.flush();
    const file = first(chainFiles(t.audit), 'chain file');
    writeLinesOf(file, readLinesOf(file).slice(0, -3));
    const listed = await s.list();
    assert.equal(listed.anchors.length, 1);
    assert.equal(s.name, 'gs://bank-audit-anchors/anchors/');
    const r = await verifyDir(t.audit, { publicKeys: loadPublicKeysFromDir(t.keys), anchors: { store: s.name, ...listed } });
    assert.deepEqual(
      r.breaks.map((b) => b.kind),
      ['anchor_missing'],
    );

    // The attacker holds the gateway's identity (objectCreator): no delete, and a create-only put cannot replace.
    const bucket = new Storage({ apiEndpoint: gcs.endpoint, projectId: 'bank-prod' }).bucket('bank-audit-anchors');
    const name = first(gcs.list('bank-audit-anchors'), 'anchor object').name;
    await assert.rejects(bucket.file(name).delete(), (e: { code?: number }) => e.code === 403);
    await assert.rejects(bucket.file(name).save('{}', { resumable: false }), (e: { code?: number }) => e.code === 403);
    await assert.rejects(s.put({ ...first(listed.anchors, 'listed anchor'), hash: '0'.repeat(64) }), /already exists with other content/);
    await log.close().catch(() => undefined);
  } finally {
    t.cleanup();
  }
});

test('anchor store unreachable: the put fails (and the exporter keeps the lag), it is not silently skipped', async () => {
  const t = tempData();
  try {
    const { log } = await openLog(t.audit, t.keys);
    const exporter = new AnchorExporter({ log, store: store(), instance: 'gw-2' });
    await log.append(request(1));
    gcs.unavailable = true;
    await assert.rejects(exporter.flush(), /unavailable/);
    assert.match(String(exporter.lastError()?.message), /unavailable/);
    gcs.unavailable = false;
    await exporter.flush();
    assert.equal(exporter.lastError(), null);
    await log.close();
  } finally {
    gcs.unavailable = false;
    t.cleanup();
  }
});

test('approval claims: of 20 concurrent claims from 4 instances exactly one wins; an unreachable store is an error, not a win', async () => {
  const instances = Array.from({ length: 4 }, () => gcsClaimStore({ bucket: 'bank-approvals', apiEndpoint: gcs.endpoint, projectId: 'bank-prod' }));
  const by = (i: number) => ({ instance: `gw-${i % 4}`, session_id: `s-${i}`, request_id: String(i), at: new Date().toISOString() });
  const instance = (i: number) => at(instances, i % 4, 'claim store');
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => instance(i).claim('apr-abcdefgh2345', by(i))));
  assert.equal(results.filter(Boolean).length, 1);
  const obj = first(gcs.list('bank-approvals', 'claims/'), 'claim object');
  assert.equal(obj.name, 'claims/apr-abcdefgh2345.json');
  assert.equal(JSON.parse(obj.data.toString()).approval_id, 'apr-abcdefgh2345');
  assert.equal(await instance(0).claim('apr-abcdefgh2345', by(99)), false);
  await assert.rejects(instance(0).claim('../x', by(1)), /invalid approval id/);
  gcs.unavailable = true;
  try {
    await assert.rejects(instance(1).claim('apr-zzzzzzzz2345', by(1)), /unavailable/);
  } finally {
    gcs.unavailable = false;
  }
});

test('two approval services that both see an approval as approved (neither has seen the other claim): the shared claim store lets exactly one run it', async () => {
  const { setup, held, reviewer } = await import('../approvals/helpers.js');
  const { memoryApprovalSource } = await import('../../src/approvals/index.js');
  const claims = () => gcsClaimStore({ bucket: 'bank-approvals-2', apiEndpoint: gcs.endpoint, projectId: 'bank-prod' });
  const DELETE = "DELETE FROM accounts WHERE account_id = 'A-1'";
  const a = await setup({ extra: { claims: claims(), instance: 'gw-a' } });
  const bSource = memoryApprovalSource();
  const b = await setup({ extra: { claims: claims(), instance: 'gw-b', source: bSource } });
  const pending = await a.gate.check(held('eve@bank.example', DELETE));
  await a.service.approve(pending.approvalId, reviewer('bob@bank.example'), 'ok');
  for (const e of a.audit.events) bSource.publish(e); // B folds the request and the grant (as from BigQuery)
  assert.equal(b.service.get(pending.approvalId)?.status, 'approved');
  const [onA, onB] = await Promise.all([a.gate.check(held('eve@bank.example', DELETE)), b.gate.check(held('eve@bank.example', DELETE))]);
  assert.deepEqual([onA.status, onB.status].sort(), ['approved', 'used']);
  const loser = onA.status === 'used' ? onA : onB;
  assert.match(JSON.stringify(loser), /already used through another gateway instance/);
  const claimEvents = [...a.audit.events, ...b.audit.events].filter((e) => e.event_type === 'approval_executed' && e.outcome === 'pending');
  assert.equal(claimEvents.length, 1, 'only the winner wrote a claim event');
  await a.approvals.close();
  await b.approvals.close();
});
