// Checkpoints signed by Cloud KMS: the real @google-cloud/kms client against a local gRPC server
// built from the client's own protos, signing for real (ECDSA P-256 over the digest, Ed25519 over
// the data). The verifier checks the signatures with node:crypto and the pinned public key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createKmsSigner } from '../../src/gcp/kms-signer.js';
import { verifyCheckpointSignature } from '../../src/audit/checkpoint.js';
import { verifyDir } from '../../src/audit/verify.js';
import { AuditUnavailableError } from '../../src/audit/log.js';
import { GatewayError } from '../../src/pipeline/types.js';
import { FakeKmsServer, type KmsAlgorithm } from '../fixtures/kms-server.js';
import { openLog, request, tempData } from '../audit/helpers.js';
import { ctxFor, pipelineFor, rulesWithDirectWrites, sqlCall } from '../pipeline/helpers.js';

process.env.METADATA_SERVER_DETECTION = 'none';

let kms: FakeKmsServer;
before(async () => {
  kms = new FakeKmsServer();
  await kms.start();
});
after(() => kms.stop());

const keyName = (alg: string) => `projects/bank-prod/locations/europe-west2/keyRings/bqwarden/cryptoKeys/audit-${alg.toLowerCase()}/cryptoKeyVersions/1`;

for (const alg of ['EC_SIGN_P256_SHA256', 'EC_SIGN_ED25519'] as KmsAlgorithm[]) {
  test(`${alg}: a chain sealed with KMS checkpoints verifies with the pinned KMS public key, and only with it`, async () => {
    const name = kms.addKey(keyName(alg), alg);
    const signer = await createKmsSigner({ keyVersion: name, ...kms.endpoint });
    assert.match(signer.keyId, alg === 'EC_SIGN_ED25519' ? /^ed25519:[0-9a-f]{16}$/ : /^ecdsa-p256:[0-9a-f]{16}$/);
    assert.match(signer.description!, /Cloud KMS key .*audit-.*cryptoKeyVersions\/1 \(EC_SIGN_.*, HSM\)/);
    const t = tempData();
    try {
      const calls = kms.signCalls;
      const { log } = await openLog(t.audit, t.keys, { signer });
      for (let i = 0; i < 12; i++) await log.append(request(i));
      await log.close();
      assert.equal(kms.signCalls - calls, 3, 'checkpoints after 5 and 10 events, and the seal');
      const pinned = { pem: signer.publicKeyPem, source: 'Terraform output audit_signing_public_key_pem' };
      const r = await verifyDir(t.audit, { publicKeys: [pinned], requireSealed: true });
      assert.equal(r.ok, true, JSON.stringify(r.breaks));
      assert.deepEqual(r.keys, [{ key_id: signer.keyId, source: pinned.source }]);
      assert.equal(r.chains[0]?.checkpoints, 3);
      // The local demo key is not the KMS key: pinning it refuses every checkpoint.
      const other = await verifyDir(t.audit, { publicKeys: [(await import('../../src/audit/checkpoint.js')).loadOrCreateSigner({ keysDir: t.keys }).publicKeyPem] });
      assert.deepEqual([...new Set(other.breaks.map((b) => b.kind))], ['unknown_key']);
      const sig = await signer.sign('c', 1, 'a'.repeat(64));
      assert.equal(verifyCheckpointSignature(signer.publicKey, 'c', 1, 'a'.repeat(64), sig), true);
      assert.equal(verifyCheckpointSignature(signer.publicKey, 'c', 2, 'a'.repeat(64), sig), false);
    } finally {
      t.cleanup();
    }
  });
}

test('KMS unavailable: events stay durable and unsigned for maxUnsignedMs, then calls are refused with the audit error before reaching the upstream; signing resumes when KMS returns', async () => {
  const name = kms.addKey(keyName('outage'), 'EC_SIGN_P256_SHA256');
  const signer = await createKmsSigner({ keyVersion: name, ...kms.endpoint, timeoutMs: 500 });
  const t = tempData();
  const rules = rulesWithDirectWrites();
  let clock = Date.parse('2026-06-01T09:00:00.000Z');
  try {
    const { log } = await openLog(t.audit, t.keys, { signer, now: () => clock, maxUnsignedMs: 5_000, checkpointEvery: { events: 3, ms: 600_000 } });
    const pipeline = await pipelineFor(rules.dir, log);
    const acknowledged: number[] = [];
    for (let i = 0; i < 3; i++) acknowledged.push((await log.append(request(i))).seq);

    kms.unavailable = true;
    for (let i = 3; i < 8; i++) {
      acknowledged.push((await log.append(request(i))).seq);
      clock += 500;
    }
    assert.equal(log.isReady(), true, 'within maxUnsignedMs the chain goes on, unsigned');
    clock += 3_000;
    assert.equal(log.isReady(), false);
    await assert.rejects(log.append(request(9)), (e: Error) => e instanceof AuditUnavailableError && /could not be signed for \d+ s \(limit 5 s\).*Cloud KMS key/.test(e.message));
    let forwarded = 0;
    await assert.rejects(
      pipeline.onRequest(ctxFor('ana@bank.example', ['analyst']), 'tools/call', sqlCall('SELECT account_id FROM accounts LIMIT 1'), async () => {
        forwarded++;
        return { content: [] };
      }),
      (e: unknown) => e instanceof GatewayError && e.code === -32004 && e.data?.reason === 'audit_unavailable' && /not sent upstream/.test(e.message),
    );
    assert.equal(forwarded, 0);

    kms.unavailable = false;
    // The log retries the checkpoint on its own within a second; wait (bounded) until it is ready.
    for (let i = 0; i < 100 && !log.isReady(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(log.isReady(), true, log.lastFailure() ?? '');
    acknowledged.push((await log.append(request(10))).seq);
    await log.close();
    const r = await verifyDir(t.audit, { publicKeys: [signer.publicKeyPem], requireSealed: true });
    assert.equal(r.ok, true, JSON.stringify(r.breaks));
    const present = new Set<number>();
    for await (const { event } of (await import('../../src/audit/reader.js')).readEvents(t.audit)) present.add(event.seq);
    assert.deepEqual(
      acknowledged.filter((s) => !present.has(s)),
      [],
      'nothing acknowledged is lost',
    );
  } finally {
    kms.unavailable = false;
    rules.cleanup();
    t.cleanup();
  }
});

test('a key version KMS cannot serve, or of the wrong kind, stops the signer from being built', async () => {
  await assert.rejects(createKmsSigner({ keyVersion: keyName('missing'), ...kms.endpoint }), /cannot read the public key of KMS key .*NOT_FOUND|not found/);
});
