// The tampers of issue 13, each tried as an attacker with write access to the data directory
// would, first against the old defences (to show the attack works), then against pinned keys
// and anchors. Anchors go to a directory outside the audit directory here (the demo layout);
// test/gcp/anchors-gcs.test.ts repeats the tail attacks with the locked bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnchorExporter, dirAnchorStore, type AnchorStore } from '../../src/audit/anchors.js';
import { loadOrCreateSigner, loadPublicKeysFromDir, signerFromPrivateKey, PUBLIC_KEY_FILE } from '../../src/audit/checkpoint.js';
import { verifyDir, type VerifyReport } from '../../src/audit/verify.js';
import { resolveTrust } from '../../src/cli/trust.js';
import { chainFiles, openLog, readLinesOf, request, rewrite, tempData, writeLinesOf } from './helpers.js';
import { first, only } from '../helpers/present.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'bqwarden.js');

const kinds = (r: VerifyReport) => r.breaks.map((b) => b.kind);
const notices = (r: VerifyReport) => r.notices.map((n) => n.kind);

/** A running gateway's chain: requests, checkpoints every 5 events, the head anchored, not sealed. */
async function liveChain(t: ReturnType<typeof tempData>, n: number, store: AnchorStore = dirAnchorStore(join(t.data, 'anchors'))) {
  const { log } = await openLog(t.audit, t.keys);
  const exporter = new AnchorExporter({ log, store, instance: 'test-1' });
  for (let i = 0; i < n; i++) {
    const denied = i === n - 1;
    await log.append(request(i, denied ? { sql_text: 'DELETE FROM accounts WHERE id = ?', decision: 'deny', outcome: 'denied', rule_ids: ['engineer-changes-need-approval'] } : {}));
  }
  await exporter.flush();
  return { log, exporter, store };
}

async function anchorsOf(store: AnchorStore) {
  return { store: store.name, ...(await store.list()) };
}

test('cut tail: the unsigned tail is removed — verify without anchors passes, with anchors it breaks', async () => {
  const t = tempData();
  try {
    const { log, store } = await liveChain(t, 12); // seqs 0..13, checkpoints at 5 and 11, head 13 anchored
    const keys = loadPublicKeysFromDir(t.keys);
    const file = first(chainFiles(t.audit), 'audit chain file');
    const lines = readLinesOf(file);
    assert.equal(JSON.parse(lines.at(-1)!).seq, 13);
    writeLinesOf(file, lines.slice(0, -2)); // the attacker drops seq 12 and 13 (the denied DELETE)

    const attack = await verifyDir(t.audit, { publicKeys: keys });
    assert.equal(attack.ok, true, 'the hash chain alone cannot see a cut unsigned tail');
    assert.deepEqual(notices(attack), ['open_tail']);

    const r = await verifyDir(t.audit, { publicKeys: keys, anchors: await anchorsOf(store) });
    assert.equal(r.ok, false);
    assert.deepEqual(kinds(r), ['anchor_missing']);
    assert.match(r.breaks[0]!.message, /events 12\.\.13 were cut/);
    await log.close().catch(() => undefined);
  } finally {
    t.cleanup();
  }
});

test('rewritten tail: a denied DELETE turned into allow/success with hashes rebuilt — caught by the anchor', async () => {
  const t = tempData();
  try {
    const { log, store } = await liveChain(t, 12);
    await log.close(); // sealed: the tail after checkpoint 11 is seq 12, 13 (denied DELETE), gateway_stop, checkpoint
    const keys = loadPublicKeysFromDir(t.keys);
    const file = first(chainFiles(t.audit), 'audit chain file');
    // Only the anchored head (13) and the unsigned events up to it: drop the seal so no signature covers them.
    writeLinesOf(file, readLinesOf(file).slice(0, 14));
    rewrite(file, 13, (e) => {
      assert.equal(e.decision, 'deny');
      e.decision = 'allow';
      e.outcome = 'success';
      e.rule_ids = [];
    });
    const attack = await verifyDir(t.audit, { publicKeys: keys });
    assert.equal(attack.ok, true, 'a rebuilt unsigned tail verifies without anchors');

    const r = await verifyDir(t.audit, { publicKeys: keys, anchors: await anchorsOf(store) });
    assert.deepEqual(kinds(r), ['anchor_mismatch']);
    assert.equal(r.breaks[0]!.seq, 13);
    assert.match(r.breaks[0]!.message, /rewritten after it was anchored/);
  } finally {
    t.cleanup();
  }
});

test('deleted newest file: a whole sealed run removed — verify without anchors says sealed, with anchors it breaks', async () => {
  const t = tempData();
  try {
    const store = dirAnchorStore(join(t.data, 'anchors'));
    for (let run = 0; run < 2; run++) {
      const { log } = await openLog(t.audit, t.keys);
      const exporter = new AnchorExporter({ log, store, instance: `run-${run}` });
      for (let i = 0; i < 3; i++) await log.append(request(i));
      await log.close();
      await exporter.close(); // the gateway anchors its sealed head last
    }
    const files = chainFiles(t.audit);
    assert.equal(files.length, 2);
    unlinkSync(files[1]!);
    const keys = loadPublicKeysFromDir(t.keys);
    const attack = await verifyDir(t.audit, { publicKeys: keys, requireSealed: true });
    assert.equal(attack.ok, true, 'the first run is sealed on its own: even --require-sealed passes');

    const r = await verifyDir(t.audit, { publicKeys: keys, requireSealed: true, anchors: await anchorsOf(store) });
    assert.deepEqual(kinds(r), ['anchor_missing']);
    assert.match(r.breaks[0]!.message, /were cut \(tail removed or newest file deleted\)/);
  } finally {
    t.cleanup();
  }
});

test('rewritten middle, re-signed with a dropped-in key: trusted before, refused now; replacing the demo key file is caught by the anchors', async () => {
  const t = tempData();
  try {
    const { log, store } = await liveChain(t, 12);
    await log.close();
    const { exporter } = { exporter: new AnchorExporter({ log, store, instance: 'test-1' }) };
    await exporter.close(); // anchors the sealed head
    const original = readFileSync(join(t.keys, PUBLIC_KEY_FILE), 'utf8');
    const file = first(chainFiles(t.audit), 'audit chain file');
    const evil = signerFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
    rewrite(
      file,
      2,
      (e) => (e.actor_email = 'someone-else@bank.example'),
      (e) => {
        e.signature = evil.sign(e.chain_id, e.seq, e.prev_hash);
        e.signing_key_id = evil.keyId;
      },
    );
    writeFileSync(join(t.keys, 'rotated.pub.pem'), evil.publicKeyPem);

    const attack = await verifyDir(t.audit, { publicKeys: loadPublicKeysFromDir(t.keys) });
    assert.equal(attack.ok, true, 'trusting every *.pub.pem in keys/ accepts the forgery');

    // Defence 1: verify trusts the pinned key, or only the demo key file, never a directory listing.
    const trust = await resolveTrust({ auditDir: t.audit, anchors: false });
    assert.deepEqual(
      trust.publicKeys.map((k) => k.pinned),
      [false],
    );
    const r = await verifyDir(t.audit, { publicKeys: trust.publicKeys });
    assert.ok(kinds(r).includes('unknown_key'), JSON.stringify(r.breaks));
    assert.ok(notices(r).includes('unpinned_key'));

    // The attacker also replaces the demo key file: the unpinned fallback now accepts the signatures…
    writeFileSync(join(t.keys, PUBLIC_KEY_FILE), evil.publicKeyPem);
    const replaced = await resolveTrust({ auditDir: t.audit });
    const r2 = await verifyDir(t.audit, { publicKeys: replaced.publicKeys, anchors: replaced.anchors! });
    assert.ok(!kinds(r2).includes('unknown_key'));
    // …but every anchored hash after the edit differs (defence 2), and a pinned key still refuses them (defence 1).
    assert.ok(kinds(r2).includes('anchor_mismatch'), JSON.stringify(r2.breaks));
    const pinned = join(t.data, 'pinned.pub.pem');
    writeFileSync(pinned, original);
    const r3 = await verifyDir(t.audit, { publicKeys: (await resolveTrust({ auditDir: t.audit, key: [pinned], anchors: false })).publicKeys });
    assert.ok(kinds(r3).includes('unknown_key'));
    assert.equal(first(r3.keys, 'verified key').source, `pinned by --key ${pinned}`);
  } finally {
    t.cleanup();
  }
});

test("a planned key rotation verifies with both keys pinned and is reported as a key change with each key's source", async () => {
  const t = tempData();
  try {
    const a = loadOrCreateSigner({ keysDir: t.keys });
    const b = signerFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
    for (const signer of [a, b]) {
      const { log } = await openLog(t.audit, t.keys, { signer });
      for (let i = 0; i < 3; i++) await log.append(request(i));
      await log.close();
    }
    const r = await verifyDir(t.audit, {
      publicKeys: [
        { pem: a.publicKeyPem, source: 'config (old key)' },
        { pem: b.publicKeyPem, source: 'Terraform output (new key)' },
      ],
      requireSealed: true,
    });
    assert.equal(r.ok, true, JSON.stringify(r.breaks));
    const change = r.notices.find((n) => n.kind === 'key_change')!;
    assert.ok(change, JSON.stringify(r.notices));
    assert.match(change.message, new RegExp(`from key ${a.keyId} \\(config \\(old key\\)\\) to key ${b.keyId} \\(Terraform output \\(new key\\)\\)`));
  } finally {
    t.cleanup();
  }
});

test('the window: what became durable after the last anchor can be cut unseen, and verify says how much is unanchored', async () => {
  const t = tempData();
  try {
    const { log, store } = await liveChain(t, 12);
    await log.append(request(99));
    await log.append(request(100));
    const keys = loadPublicKeysFromDir(t.keys);
    const before = await verifyDir(t.audit, { publicKeys: keys, anchors: await anchorsOf(store) });
    assert.equal(before.ok, true);
    assert.match(before.notices.find((n) => n.kind === 'unanchored_tail')!.message, /^2 event\(s\) after the last anchor \(seq 13\)/);
    const file = first(chainFiles(t.audit), 'audit chain file');
    writeLinesOf(file, readLinesOf(file).slice(0, -2));
    const cut = await verifyDir(t.audit, { publicKeys: keys, anchors: await anchorsOf(store) });
    assert.equal(cut.ok, true, 'a cut inside the window (not yet anchored) is not detectable: the documented limit');
    await log.close().catch(() => undefined);
  } finally {
    t.cleanup();
  }
});

test('anchor store: create-only, retries are idempotent, a conflicting or unreadable anchor is a break', async () => {
  const t = tempData();
  try {
    const { log, store } = await liveChain(t, 3);
    const { anchors } = await store.list();
    const anchor = only(anchors, 'anchor of the live chain');
    await store.put(anchor);
    await assert.rejects(store.put({ ...anchor, hash: 'f'.repeat(64) }), /already exists with other content/);
    const dir = join(t.data, 'anchors', anchor.chain_id);
    writeFileSync(join(dir, '000000000002.json'), JSON.stringify({ ...anchor, seq: 2, hash: 'e'.repeat(64) }));
    writeFileSync(join(dir, '000000000001.json'), 'not json');
    const r = await verifyDir(t.audit, { publicKeys: loadPublicKeysFromDir(t.keys), anchors: await anchorsOf(store) });
    assert.deepEqual(kinds(r).sort(), ['anchor_invalid', 'anchor_mismatch']);
    await log.close();
  } finally {
    t.cleanup();
  }
});

test('an anchor store that cannot be written closes the log after maxLagMs (fail closed) and reopens it when it heals', async () => {
  const t = tempData();
  try {
    let clock = Date.parse('2026-06-01T10:00:00.000Z');
    const { log } = await openLog(t.audit, t.keys, { now: () => clock });
    const inner = dirAnchorStore(join(t.data, 'anchors'));
    let broken = true;
    const store: AnchorStore = { name: inner.name, list: inner.list, put: (a) => (broken ? Promise.reject(new Error('bucket unreachable')) : inner.put(a)) };
    const exporter = new AnchorExporter({ log, store, instance: 'i', maxLagMs: 10_000, now: () => clock });
    await log.append(request(1));
    await assert.rejects(exporter.flush(), /unreachable/);
    clock += 9_000;
    await log.append(request(2));
    clock += 2_000;
    assert.equal(log.isReady(), false);
    await assert.rejects(log.append(request(3)), /anchors to dir:.* are 11 s behind \(limit 10 s\): bucket unreachable/);
    broken = false;
    await exporter.flush();
    assert.equal(log.isReady(), true);
    await log.append(request(4));
    await log.close();
    await exporter.close();
  } finally {
    t.cleanup();
  }
});

test('CLI: verify --anchors --key names each key source and exits 1 on a cut tail', { timeout: 120_000 }, async () => {
  const t = tempData();
  try {
    const { log } = await liveChain(t, 12);
    const file = first(chainFiles(t.audit), 'audit chain file');
    writeLinesOf(file, readLinesOf(file).slice(0, -2));
    const pinned = join(t.data, 'pinned.pub.pem');
    writeFileSync(pinned, readFileSync(join(t.keys, PUBLIC_KEY_FILE), 'utf8'));
    const out = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, [bin, 'verify', '--dir', t.audit, '--key', pinned, '--anchors', join(t.data, 'anchors')], { env: { ...process.env, BQWARDEN_DATA: t.data } }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      ),
    );
    assert.equal(out.code, 1, out.stdout);
    assert.match(out.stdout, new RegExp(`key +ed25519:[0-9a-f]{16}: pinned by --key ${pinned}`));
    assert.match(out.stdout, /anchors dir:.*: 1 anchor\(s\), 0 matched/);
    assert.match(out.stdout, /BREAK +anchor_missing/);
    await log.close().catch(() => undefined);
  } finally {
    t.cleanup();
  }
});
