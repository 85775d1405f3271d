// The writer: call-order chaining, group commit, failure without holes, restart continuity,
// checkpoints and sealing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AuditInputError, AuditUnavailableError } from '../../src/audit/log.js';
import { loadOrCreateSigner, loadPublicKeysFromDir, SigningKeyError, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from '../../src/audit/checkpoint.js';
import { ZERO_HASH, type AuditEvent } from '../../src/audit/event.js';
import { hashValidEvent } from '../../src/audit/hash.js';
import { verifyDir, formatReport } from '../../src/audit/verify.js';
import type { AuditSink, ChainHead } from '../../src/audit/sink.js';
import { openLog, request, tempData, chainFiles, readLinesOf } from './helpers.js';
import { at } from '../helpers/present.js';

/** In-memory sink that can be told to fail, and records each write's size. */
class MemorySink implements AuditSink {
  readonly name = 'memory';
  events: AuditEvent[] = [];
  writes: number[] = [];
  failNext = 0;
  /** When failing, persist this many events of the group first (a partial write). */
  partial = 0;
  recoverFails = false;
  async write(events: AuditEvent[]): Promise<void> {
    this.writes.push(events.length);
    await new Promise((r) => setTimeout(r, 2));
    if (this.failNext > 0) {
      this.failNext--;
      this.events.push(...events.slice(0, this.partial));
      throw new Error('disk full');
    }
    this.events.push(...events);
  }
  async recoverHead(chainId: string): Promise<ChainHead | null> {
    if (this.recoverFails) throw new Error('still broken');
    const last = this.events[this.events.length - 1];
    return last ? { chain_id: chainId, seq: last.seq, hash: last.hash } : null;
  }
  isReady() {
    return true;
  }
  async close() {}
}

function assertChain(events: AuditEvent[]): void {
  events.forEach((e, i) => {
    assert.equal(e.seq, i, `seq ${i}`);
    assert.equal(e.prev_hash, i === 0 ? ZERO_HASH : events[i - 1]!.hash, `link at ${i}`);
    assert.equal(hashValidEvent(e), e.hash, `hash at ${i}`);
  });
}

test('concurrent appends are chained in call order and share fsyncs (group commit)', async () => {
  const t = tempData();
  const sink = new MemorySink();
  try {
    const { log } = await openLog(t.audit, t.keys, { sink, checkpointEvery: { events: 1_000_000, ms: 600_000 } });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(request(i, { request_id: String(i) }))));
    assert.deepEqual(
      results.map((e) => e.request_id),
      results.map((_, i) => String(i)),
      'resolved events in call order',
    );
    assert.deepEqual(
      results.map((e) => e.seq),
      results.map((_, i) => i),
      'seq follows call order',
    );
    assert.ok(sink.writes.length < 20, `200 appends took ${sink.writes.length} writes`);
    assertChain(sink.events);
    await log.close();
  } finally {
    t.cleanup();
  }
});

test('maxBatch 1 is one write per event (the benchmark baseline)', async () => {
  const t = tempData();
  const sink = new MemorySink();
  try {
    const { log } = await openLog(t.audit, t.keys, { sink, maxBatch: 1, checkpointEvery: { events: 1_000_000, ms: 600_000 } });
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(request(i))));
    assert.deepEqual(sink.writes, Array(20).fill(1));
    await log.close();
  } finally {
    t.cleanup();
  }
});

test('append resolves only after the sink made it durable', async () => {
  const t = tempData();
  const sink = new MemorySink();
  try {
    const { log } = await openLog(t.audit, t.keys, { sink });
    const e = await log.append(request(1));
    assert.ok(sink.events.some((x) => x.event_id === e.event_id));
    await log.close();
  } finally {
    t.cleanup();
  }
});

test('a failed write rejects its whole group, leaves no hole, and the log heals from the durable head', async () => {
  const t = tempData();
  const sink = new MemorySink();
  try {
    const { log } = await openLog(t.audit, t.keys, { sink, checkpointEvery: { events: 1_000_000, ms: 600_000 } });
    await Promise.all([0, 1, 2].map((i) => log.append(request(i))));
    sink.failNext = 1;
    sink.partial = 1; // one event of the failed group reached the disk anyway
    const failed = await Promise.allSettled([3, 4, 5].map((i) => log.append(request(i))));
    assert.ok(failed.every((r) => r.status === 'rejected'));
    assert.ok(failed.every((r) => r.status === 'rejected' && r.reason instanceof AuditUnavailableError && /disk full/.test(r.reason.message)));
    assert.equal(log.isReady(), false, 'not ready until it re-learns the head');
    const later = await Promise.all([6, 7].map((i) => log.append(request(i))));
    assert.equal(log.isReady(), true);
    assert.deepEqual(
      later.map((e) => e.seq),
      [4, 5],
      'continues after the partially written event',
    );
    assertChain(sink.events);
    await log.close();
  } finally {
    t.cleanup();
  }
});

test('when recovery itself fails, appends keep failing closed', async () => {
  const t = tempData();
  const sink = new MemorySink();
  try {
    const { log } = await openLog(t.audit, t.keys, { sink });
    await log.append(request(0));
    sink.failNext = 1;
    sink.recoverFails = true;
    await assert.rejects(log.append(request(1)), AuditUnavailableError);
    await assert.rejects(log.append(request(2)), /audit recovery failed: still broken/);
    assert.equal(log.isReady(), false);
    sink.recoverFails = false;
    assert.equal((await log.append(request(3))).seq, 1);
    await log.close();
  } finally {
    t.cleanup();
  }
});

test('invalid input is refused without consuming a seq; callers cannot forge checkpoints or chain fields', async () => {
  const t = tempData();
  const sink = new MemorySink();
  try {
    const { log } = await openLog(t.audit, t.keys, { sink });
    await assert.rejects(log.append({ event_type: 'mcp_request', decision: 'maybe' as never }), AuditInputError);
    // The refusal names the field, never its value (client text that was not scanned yet).
    await assert.rejects(
      log.append({ event_type: 'mcp_request', user_agent: { ssn: '123-45-6789' } as never }),
      (e: Error) => e instanceof AuditInputError && /user_agent \(object\)/.test(e.message) && !e.message.includes('123-45-6789'),
    );
    await assert.rejects(log.append({ event_type: 'checkpoint' }), /written by the audit log itself/);
    const e = await log.append({ event_type: 'mcp_request', seq: 99, hash: 'x', chain_id: 'evil', signature: 'sig' } as never);
    assert.equal(e.seq, 0);
    assert.equal(e.chain_id, log.chainId);
    assert.equal(e.signature, null);
    await log.close();
    await assert.rejects(log.append(request(1)), /closed/);
  } finally {
    t.cleanup();
  }
});

test('checkpoints every N events and on the timer; close seals with gateway_stop + checkpoint', async () => {
  const t = tempData();
  const sink = new MemorySink();
  try {
    const { log, signer } = await openLog(t.audit, t.keys, { sink, checkpointEvery: { events: 3, ms: 100 } });
    for (let i = 0; i < 7; i++) await log.append(request(i));
    const types = () => sink.events.map((e) => e.event_type);
    assert.deepEqual(types().slice(0, 8), ['mcp_request', 'mcp_request', 'mcp_request', 'checkpoint', 'mcp_request', 'mcp_request', 'mcp_request', 'checkpoint']);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(types().at(-1), 'checkpoint', 'the timer signed the tail');
    const cps = sink.events.filter((e) => e.event_type === 'checkpoint').length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sink.events.filter((e) => e.event_type === 'checkpoint').length, cps, 'an idle chain gets no more checkpoints');
    await log.close({ decision_reason: 'shutdown' });
    assert.deepEqual(types().slice(-2), ['gateway_stop', 'checkpoint']);
    const cp = sink.events.at(-1)!;
    assert.equal(cp.signing_key_id, signer.keyId);
    assert.match(cp.signing_key_id!, /^ed25519:[0-9a-f]{16}$/);
    assertChain(sink.events);
  } finally {
    t.cleanup();
  }
});

test('close after a caller-written gateway_stop does not write a second one', async () => {
  const t = tempData();
  const sink = new MemorySink();
  try {
    const { log } = await openLog(t.audit, t.keys, { sink });
    await log.append(request(0));
    await log.append({ event_type: 'gateway_stop' });
    await log.close();
    assert.deepEqual(
      sink.events.map((e) => e.event_type),
      ['mcp_request', 'gateway_stop', 'checkpoint'],
    );
  } finally {
    t.cleanup();
  }
});

test('restart continues the chain (same chain id, seq+1, prev_hash = last durable hash) and verifies', async () => {
  const t = tempData();
  try {
    const a = await openLog(t.audit, t.keys);
    for (let i = 0; i < 4; i++) await a.log.append(request(i));
    const head = a.log.head();
    await a.log.close();
    const b = await openLog(t.audit, t.keys);
    assert.equal(b.log.chainId, a.log.chainId, 'chain id persists in the audit dir');
    const first = await b.log.append(request(9));
    const lines = chainFiles(t.audit).flatMap(readLinesOf);
    const prevLast = JSON.parse(at(lines, -2, 'chain line before the new event'));
    assert.ok(first.seq > head.nextSeq - 1);
    assert.equal(first.prev_hash, prevLast.hash);
    await b.log.close();
    const r = await verifyDir(t.audit, { publicKeys: loadPublicKeysFromDir(t.keys), requireSealed: true });
    assert.equal(r.ok, true, formatReport(r));
    assert.equal(chainFiles(t.audit).length, 2, 'a restart starts a new file');
  } finally {
    t.cleanup();
  }
});

test('signing keys: private key 0600, public PEM exported, reused on restart, never generated when forbidden', () => {
  const t = tempData();
  try {
    const s1 = loadOrCreateSigner({ keysDir: t.keys });
    assert.equal(statSync(join(t.keys, PRIVATE_KEY_FILE)).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(t.keys, PUBLIC_KEY_FILE), 'utf8'), s1.publicKeyPem);
    assert.ok(!s1.publicKeyPem.includes('PRIVATE'));
    const s2 = loadOrCreateSigner({ keysDir: t.keys });
    assert.equal(s2.keyId, s1.keyId);
    chmodSync(join(t.keys, PRIVATE_KEY_FILE), 0o644);
    assert.throws(() => loadOrCreateSigner({ keysDir: t.keys }), /readable by group\/others/);
    assert.throws(() => loadOrCreateSigner({ keysDir: join(t.data, 'nokeys'), allowGenerate: false }), SigningKeyError);
    // production: key from a mounted file
    const mounted = join(t.data, 'secret');
    mkdirSync(mounted);
    writeFileSync(join(mounted, 'key.pem'), readFileSync(join(t.keys, PRIVATE_KEY_FILE)));
    assert.equal(loadOrCreateSigner({ keysDir: join(t.data, 'unused'), signingKeyFile: join(mounted, 'key.pem'), allowGenerate: false }).keyId, s1.keyId);
    writeFileSync(join(mounted, 'bad.pem'), 'not a key');
    assert.throws(
      () => loadOrCreateSigner({ keysDir: t.keys, signingKeyFile: join(mounted, 'bad.pem') }),
      (e: Error) => /not a PEM private key/.test(e.message) && !e.message.includes('not a key'),
    );
  } finally {
    t.cleanup();
  }
});
