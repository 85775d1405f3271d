// Pub/Sub audit sink against the local gRPC fake: per-write latency (p50/p99, one event per
// write, sequential) and events/s with concurrent writers (group commit per chain), next to
// the JSONL sink (fsync per write) measured in the same run as the baseline. The fake has no
// network RTT, so absolute numbers understate production latency; the ratios show the
// client + sink overhead.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakePubSubServer } from '../test/fixtures/pubsub-server.js';
import { PubSubAuditSink } from '../src/sinks/pubsub.js';
import { JsonlSink } from '../src/sinks/jsonl.js';
import type { AuditSink } from '../src/audit/sink.js';
import { fakeChain } from '../test/gcp/events.js';
import { quantile } from './lib/samples.js';

process.env.METADATA_SERVER_DETECTION = 'none';
const N = Number(process.env.BENCH_N ?? 1500);
const CONCURRENCY = 32;

function pct(xs: number[], p: number): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    p / 100,
  );
}

async function measure(sink: AuditSink): Promise<{ p50: number; p99: number; eps: number }> {
  // One chain across phases (the JSONL sink holds exactly one chain).
  const all = fakeChain('bench', 50 + 2 * N);
  const warm = all.slice(0, 50);
  for (const e of warm) await sink.write([e]);
  const seq = all.slice(50, 50 + N);
  const lat: number[] = [];
  for (const e of seq) {
    const t = process.hrtime.bigint();
    await sink.write([e]);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const conc = all.slice(50 + N);
  // One iterator shared by the writers: each event is written by exactly one of them.
  const queue = conc.values();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (const e of queue) await sink.write([e]);
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { p50: pct(lat, 50), p99: pct(lat, 99), eps: N / secs };
}

const dir = mkdtempSync(join(tmpdir(), 'bqw-bench-pubsub-'));
const server = new FakePubSubServer();
await server.start();
try {
  const jsonl = await JsonlSink.open({ dir: join(dir, 'audit'), chainId: 'bench' });
  const base = await measure(jsonl);
  await jsonl.close();
  const pubsub = new PubSubAuditSink({ topic: 'audit', project: 'bench', endpoint: server.endpoint });
  const ps = await measure(pubsub);
  await pubsub.close();
  const row = (n: string, r: typeof base) =>
    `${n.padEnd(22)} p50 ${r.p50.toFixed(2).padStart(7)} ms  p99 ${r.p99.toFixed(2).padStart(7)} ms  ${r.eps.toFixed(0).padStart(7)} events/s (${CONCURRENCY} writers)`;
  console.log(`events per run: ${N}`);
  console.log(row('jsonl (baseline)', base));
  console.log(row('pubsub (local fake)', ps));
  console.log(`ratio pubsub/jsonl: p50 ${(ps.p50 / base.p50).toFixed(2)}x  p99 ${(ps.p99 / base.p99).toFixed(2)}x  throughput ${(ps.eps / base.eps).toFixed(2)}x`);
  console.log(`server stored ${server.messages.length} messages in ${server.publishCalls} Publish RPCs (${(server.messages.length / server.publishCalls).toFixed(1)} per RPC)`);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
