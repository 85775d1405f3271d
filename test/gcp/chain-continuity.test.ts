// Per-instance chains on Pub/Sub: every gateway process starts its own chain (named after the
// instance) at seq 0 and seals it at shutdown; `verify --bigquery` checks each chain on its own
// and explains chains that end unsealed: continuing after the window, still being written, or
// never sealed (the instance crashed). All through the real audit writer, the Pub/Sub sink, the
// gRPC fake, the BigQuery REST fake and the real BigQuery client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { AuditLog } from '../../src/audit/log.js';
import { CHAIN_ID_PATTERN } from '../../src/audit/files.js';
import { loadOrCreateSigner, loadPublicKeysFromDir } from '../../src/audit/checkpoint.js';
import { formatReport } from '../../src/audit/verify.js';
import { PubSubAuditSink, instanceChainId } from '../../src/sinks/pubsub.js';
import { SpoolSink } from '../../src/sinks/spool.js';
import { auditTableSchema } from '../../src/gcp/audit-schema.js';
import { verifyBigQuery } from '../../src/gcp/verify-source.js';
import { FakePubSubServer } from '../fixtures/pubsub-server.js';
import { chainHeadsResult, FakeBigQuery, type FakeQuery } from './bigquery-fake.js';
import { first } from '../helpers/present.js';

process.env.METADATA_SERVER_DETECTION = 'none';

const TABLE = 'test-project.bqwarden_audit.events';
let dir: string;
let keysDir: string;
let publicKeys: string[];
let pubsub: FakePubSubServer;
let bq: FakeBigQuery;
let client: BigQuery;
let rows: Record<string, unknown>[] = [];
const chains: Record<'clean' | 'crashed' | 'spanning', string> = { clean: '', crashed: '', spanning: '' };

const ms = (iso: string) => Date.parse(iso);
const inRange = (r: Record<string, unknown>, from: number, to: number) => ms(String(r.event_time)) >= from && ms(String(r.event_time)) < to;

function runQuery(q: FakeQuery) {
  const day = (d: unknown) => ms(`${String(d)}T00:00:00Z`);
  if (/GROUP BY chain_id/.test(q.query)) {
    assert.match(q.query, /event_time >= TIMESTAMP_ADD\(TIMESTAMP\(@to_date\), INTERVAL 1 DAY\)/, 'the look past the window is partition-filtered');
    const wanted = q.params.chains as string[];
    const later = rows.filter((r) => inRange(r, day(q.params.to_date) + 86_400_000, Infinity) && wanted.includes(String(r.chain_id)));
    return chainHeadsResult(later);
  }
  const out = rows
    .filter((r) => inRange(r, day(q.params.from_date), day(q.params.to_date) + 86_400_000))
    .sort((a, b) => String(a.chain_id).localeCompare(String(b.chain_id)) || Number(a.seq) - Number(b.seq));
  return { schema: auditTableSchema(), rows: out };
}

/** One gateway process with its own clock; returns the log and a way to crash it. */
async function gateway(host: string, startIso: string, checkpointEvents = 1000) {
  let clock = ms(startIso);
  const sink = new PubSubAuditSink({ topic: 'audit', project: 'test-project', endpoint: pubsub.endpoint, chainId: instanceChainId(new Date(clock), host) });
  const log = await AuditLog.open({
    sink,
    signer: loadOrCreateSigner({ keysDir }),
    gatewayVersion: 'test',
    instance: `${host}-1-abcdef`,
    checkpointEvery: { events: checkpointEvents, ms: 3_600_000 },
    now: () => clock,
  });
  await log.append({ event_type: 'gateway_start', gateway_instance: `${host}-1-abcdef` });
  return {
    log,
    sink,
    async calls(n: number, stepMs = 1000) {
      for (let i = 0; i < n; i++) {
        clock += stepMs;
        await log.append({ event_type: 'mcp_request', actor_email: 'analyst@bank.example', decision: 'allow', mcp_method: 'tools/call' });
      }
    },
    at(iso: string) {
      clock = ms(iso);
    },
    /** The process dies: nothing more is written, no gateway_stop, no final checkpoint. */
    async crash() {
      await sink.close();
    },
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bqw-gcp-chains-'));
  keysDir = join(dir, 'keys');
  loadOrCreateSigner({ keysDir });
  publicKeys = loadPublicKeysFromDir(keysDir);
  pubsub = new FakePubSubServer();
  await pubsub.start();

  // 1. Clean start and shutdown on revision 00001.
  const a = await gateway('bqwarden-gateway-00001-abc', '2026-01-10T10:00:00.000Z');
  await a.calls(5);
  await a.log.close();
  chains.clean = a.log.chainId;
  // 2. The restarted instance: a new chain, checkpoints every 3 events, then it is killed.
  const b = await gateway('bqwarden-gateway-00001-abc', '2026-01-10T10:30:00.000Z', 3);
  await b.calls(4);
  await b.crash();
  chains.crashed = b.log.chainId;
  // 3. An instance writing across midnight, killed the next day.
  const c = await gateway('bqwarden-gateway-00002-def', '2026-01-10T23:59:50.000Z');
  await c.calls(2);
  c.at('2026-01-11T00:00:05.000Z');
  await c.calls(3);
  await c.crash();
  chains.spanning = c.log.chainId;

  rows = pubsub.messages.map((m) => ({
    ...JSON.parse(m.data.toString('utf8')),
    subscription_name: 's',
    message_id: m.messageId,
    publish_time: m.publishTime.toISOString(),
    data: null,
    attributes: '{}',
  }));
  bq = new FakeBigQuery(runQuery);
  await bq.start();
  client = new BigQuery(bq.clientOptions());
});

after(async () => {
  await bq?.stop();
  await pubsub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const verify = (from: string, to: string, nowIso = '2026-01-20T00:00:00.000Z', extra: Partial<Parameters<typeof verifyBigQuery>[0]> = {}) =>
  verifyBigQuery({ table: TABLE, from, to, publicKeys, bigquery: client, progress: false, now: () => ms(nowIso), ...extra });

const noticeFor = (r: Awaited<ReturnType<typeof verify>>, chain: string) => r.notices.filter((n) => n.chain === chain);

test('every process starts its own chain, named after the instance, at seq 0 with gateway_start; a new sink knows no old head', async () => {
  assert.equal(new Set(Object.values(chains)).size, 3);
  for (const id of Object.values(chains)) assert.match(id, CHAIN_ID_PATTERN);
  assert.match(chains.clean, /^bqwarden-gateway-00001-abc\.20260110T100000Z\.[0-9a-f]{8}$/);
  assert.match(chains.crashed, /^bqwarden-gateway-00001-abc\.20260110T103000Z\./, 'a restart on the same revision is a new chain');
  for (const id of Object.values(chains)) {
    const genesis = rows.find((r) => r.chain_id === id && r.seq === 0)!;
    assert.equal(genesis.event_type, 'gateway_start');
    assert.match(String(genesis.gateway_instance), /^bqwarden-gateway-0000[12]/);
  }
  const fresh = new PubSubAuditSink({ topic: 'audit', project: 'test-project', endpoint: pubsub.endpoint });
  try {
    assert.equal(await fresh.recoverHead(chains.clean), null, 'Pub/Sub cannot be read back: no head for a chain this process did not write');
    const spool = new SpoolSink(fresh, { dir: join(dir, 'spool') });
    assert.equal(spool.chainId, fresh.chainId, 'the spool hands the instance chain id through to the audit log');
    await spool.close();
  } finally {
    await fresh.close();
  }
  assert.match(instanceChainId(new Date('2026-02-03T04:05:06.789Z'), 'weird host/name:1'), /^weird-host-name-1\.20260203T040506Z\.[0-9a-f]{8}$/);
  assert.match(instanceChainId(new Date(), '///'), /^gateway\./);
});

test('verify --bigquery checks each chain on its own: clean one sealed, crashed one a notice that says so, spanning one continues', async () => {
  const r = await verify('2026-01-10', '2026-01-10');
  const text = formatReport(r);
  assert.equal(r.ok, true, text);
  assert.equal(r.chains.length, 3);
  assert.deepEqual(
    r.chains.filter((c) => c.sealed).map((c) => c.chain_id),
    [chains.clean],
  );
  assert.deepEqual(noticeFor(r, chains.clean), []);

  const crashed = first(noticeFor(r, chains.crashed), 'notice for the crashed chain');
  assert.equal(crashed.kind, 'open_tail');
  assert.match(crashed.message, /never sealed/);
  assert.match(crashed.message, /instance bqwarden-gateway-00001-abc-1-abcdef/);
  assert.match(crashed.message, /started at seq 0 \(gateway_start\)/);
  assert.match(crashed.message, /signed up to seq 3; the 2 event\(s\) after that are hash-linked but unsigned/);
  assert.match(crashed.message, /Chains are per instance: each gateway process writes its own chain/);

  const spanning = first(noticeFor(r, chains.spanning), 'notice for the spanning chain');
  assert.match(spanning.message, /continues after 2026-01-10: 3 more event\(s\) up to seq 5 at 2026-01-11T00:00:08/);
  assert.match(text, /NOTICE open_tail .*never sealed/);
  assert.equal(bq.queries.filter((q) => /GROUP BY chain_id/.test(q.query)).length, 1, 'one grouped look past the window');
});

test('a wider window shows the spanning chain never sealed either; a recent end reads as still running', async () => {
  let r = await verify('2026-01-10', '2026-01-11');
  assert.match(first(noticeFor(r, chains.spanning), 'notice').message, /never sealed: it started at seq 0/);
  assert.match(first(noticeFor(r, chains.spanning), 'notice').message, /no signed checkpoint in the window; the 6 event\(s\)/);
  r = await verify('2026-01-10', '2026-01-10', '2026-01-10T10:40:00.000Z');
  assert.match(first(noticeFor(r, chains.crashed), 'notice').message, /still being written \(last event seq 5/);
  r = await verify('2026-01-10', '2026-01-10', undefined, { classifyOpenChains: false });
  assert.match(first(noticeFor(r, chains.spanning), 'notice').message, /not looked up/);
});

test('per-instance chains still catch tampering: a deleted middle event breaks; a cut seal reads as a crash (the archive is the check)', async () => {
  const saved = rows;
  try {
    rows = saved.filter((r) => !(r.chain_id === chains.clean && r.seq === 2));
    let r = await verify('2026-01-10', '2026-01-10');
    assert.equal(r.ok, false);
    assert.ok(
      r.breaks.some((b) => b.chain === chains.clean && (b.kind === 'seq_gap' || b.kind === 'broken_link')),
      formatReport(r),
    );
    // Cutting gateway_stop + the final checkpoint is indistinguishable from a crash in the table
    // alone; the notice names it, and the write-once archive holds the seal (docs/gcp.md).
    const last = Math.max(...saved.filter((x) => x.chain_id === chains.clean).map((x) => Number(x.seq)));
    rows = saved.filter((x) => !(x.chain_id === chains.clean && Number(x.seq) >= last - 1));
    r = await verify('2026-01-10', '2026-01-10');
    assert.match(first(noticeFor(r, chains.clean), 'notice').message, /never sealed/);
  } finally {
    rows = saved;
  }
});
