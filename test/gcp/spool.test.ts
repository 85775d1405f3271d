// The optional local spool: acknowledged once fsync'd, drained in order, survives restarts,
// refuses writes (fail closed) when full.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpoolSink, SpoolError } from '../../src/sinks/spool.js';
import { createPubSubSink } from '../../src/sinks/pubsub.js';
import type { AuditSink, ChainHead } from '../../src/audit/sink.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { FakePubSubServer } from '../fixtures/pubsub-server.js';
import { status } from '@grpc/grpc-js';
import { fakeChain } from './events.js';
import { at } from '../helpers/present.js';

process.env.METADATA_SERVER_DETECTION = 'none';

class MemorySink implements AuditSink {
  readonly name = 'memory';
  failing = true;
  received: AuditEvent[] = [];
  async write(events: AuditEvent[]): Promise<void> {
    if (this.failing) throw new Error('downstream unavailable');
    this.received.push(...events);
  }
  async recoverHead(): Promise<ChainHead | null> {
    return null;
  }
  isReady(): boolean {
    return !this.failing;
  }
  async close(): Promise<void> {}
}

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'bqw-spool-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('writes are acknowledged once spooled, even while downstream is down, then drained in order', async (t) => {
  const dir = tmp(t);
  const inner = new MemorySink();
  const spool = new SpoolSink(inner, { dir, drainIntervalMs: 20 });
  const evs = fakeChain('c', 10);
  for (let i = 0; i < 10; i += 2) await spool.write(evs.slice(i, i + 2));
  const onDisk = readFileSync(join(dir, 'spool.jsonl'), 'utf8').trim().split('\n');
  assert.equal(onDisk.length, 10, 'every acknowledged event is on disk');
  assert.equal(inner.received.length, 0);
  assert.ok(spool.isReady(), 'the spool stays ready while it has room');
  assert.ok(spool.lastDrainError, 'the failed drain is reported');
  assert.deepEqual(await spool.recoverHead('c'), { chain_id: 'c', seq: 9, hash: at(evs, 9, 'spooled event').hash });
  inner.failing = false;
  await spool.drain();
  assert.deepEqual(
    inner.received.map((e) => e.seq),
    evs.map((e) => e.seq),
  );
  assert.equal(await spool.fileBytes(), 0, 'a fully drained spool is compacted');
  await spool.close();
});

test('a full spool refuses writes and reports not ready', async (t) => {
  const dir = tmp(t);
  const spool = new SpoolSink(new MemorySink(), { dir, maxBytes: 4096, drainIntervalMs: 1000 });
  const evs = fakeChain('full', 20);
  let refused: unknown = null;
  for (const e of evs) {
    try {
      await spool.write([e]);
    } catch (err) {
      refused = err;
      break;
    }
  }
  assert.ok(refused instanceof SpoolError && refused.reason === 'full', 'write refused when the spool is full');
  assert.ok(spool.backlogBytes() <= 4096);
  await spool.close();
});

test('undrained events survive a restart; a torn last line is dropped', async (t) => {
  const dir = tmp(t);
  const first = new SpoolSink(new MemorySink(), { dir, drainIntervalMs: 1000 });
  const evs = fakeChain('r', 4);
  await first.write(evs);
  await first.close();
  appendFileSync(join(dir, 'spool.jsonl'), '{"event_id":"torn'); // crash mid-append
  const inner = new MemorySink();
  inner.failing = false;
  const second = new SpoolSink(inner, { dir, drainIntervalMs: 1000 });
  assert.deepEqual(await second.recoverHead('r'), { chain_id: 'r', seq: 3, hash: at(evs, 3, 'spooled event').hash });
  await second.drain();
  assert.deepEqual(
    inner.received.map((e) => e.event_id),
    evs.map((e) => e.event_id),
  );
  await second.close();
});

test('spool in front of the real Pub/Sub client: outage absorbed, then delivered', async (t) => {
  const dir = tmp(t);
  let down = true;
  const server = new FakePubSubServer({ onPublish: () => (down ? { kind: 'fail', code: status.UNAVAILABLE } : { kind: 'ok' }) });
  await server.start();
  t.after(() => server.stop());
  const sink = createPubSubSink({
    topic: 'audit',
    project: 'p',
    pubsubEndpoint: server.endpoint,
    retry: { totalTimeoutMs: 200, rpcTimeoutMs: 200, maxAttempts: 1, initialBackoffMs: 5, maxBackoffMs: 10 },
    spool: { enabled: true, dir, drainIntervalMs: 30 },
  });
  assert.ok(sink instanceof SpoolSink);
  const evs = fakeChain('ps', 5);
  await sink.write(evs);
  assert.equal(server.messages.length, 0);
  down = false;
  for (let i = 0; i < 200 && server.messages.length < 5; i++) await new Promise((r) => setTimeout(r, 25));
  assert.deepEqual(
    server.messages.map((m) => Number(m.attributes.seq)),
    [0, 1, 2, 3, 4],
  );
  await sink.close();
});
