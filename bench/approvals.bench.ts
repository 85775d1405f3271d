// Approvals: (1) start-up rebuild of approval state from a local audit store where approval
// events are 1% of the traffic; baseline = reading every event with readEvents (what a naive
// rebuild would do), measured in the same run. (2) the hot path of a re-run while pending
// (gate.check on an existing request) against a baseline of hashing the same SQL. (3) the
// cross-instance claim: a create-once object through the real @google-cloud/storage client
// against the local JSON API server, vs an O_EXCL file (the single-host store), per claim.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { AuditLog } from '../src/audit/log.js';
import { loadOrCreateSigner } from '../src/audit/checkpoint.js';
import { JsonlSink } from '../src/sinks/jsonl.js';
import { readEvents } from '../src/audit/reader.js';
import { JsonlAuditStore } from '../src/audit/store-jsonl.js';
import { storeApprovalSource, reduceApprovals } from '../src/approvals/index.js';
import type { AuditEvent } from '../src/audit/event.js';
import { fakeSql, held, policyView, reviewer, setup, silent } from '../test/approvals/helpers.js';
import { createApprovals, fileStatementStore } from '../src/approvals/index.js';
import { quantile } from './lib/samples.js';

const N = Number(process.env.BENCH_N ?? 20_000);
const data = mkdtempSync(join(tmpdir(), 'bqw-bench-approvals-'));

try {
  const sink = await JsonlSink.open({ dir: join(data, 'audit') });
  const audit = await AuditLog.open({ sink, signer: loadOrCreateSigner({ keysDir: join(data, 'keys') }), gatewayVersion: 'bench', instance: 'bench', maxBatch: 1000 });
  const approvals = await createApprovals({
    audit,
    source: storeApprovalSource(new JsonlAuditStore(join(data, 'audit'))),
    policy: policyView,
    sql: fakeSql,
    publicUrl: 'http://127.0.0.1:8080',
    config: { sweepSeconds: 3600 },
    log: silent,
    statements: fileStatementStore(join(data, 'approvals')),
  });
  // ~1% approval traffic: one request + one grant per 200 ordinary events.
  for (let i = 0; i < N; i += 200) {
    const batch: Promise<unknown>[] = [];
    for (let j = 0; j < 198; j++)
      batch.push(
        audit.append({ event_type: 'mcp_request', mcp_method: 'tools/call', tool_name: 'execute_sql', sql_text: `SELECT * FROM accounts WHERE id = ?`, request_json: JSON.stringify({ i, j }) }),
      );
    await Promise.all(batch);
    const r = await approvals.gate.check(held('eve@bank.example', `DELETE FROM transactions WHERE txn_id = ${i}`));
    await approvals.service.approve(r.approvalId, reviewer('bob@bank.example'), 'bench');
  }
  await approvals.close();
  await audit.close();

  const t0 = process.hrtime.bigint();
  const all: AuditEvent[] = [];
  for await (const { event } of readEvents(join(data, 'audit'))) all.push(event);
  const naive = reduceApprovals(all);
  const naiveMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const t1 = process.hrtime.bigint();
  const only: AuditEvent[] = [];
  for await (const e of storeApprovalSource(new JsonlAuditStore(join(data, 'audit'))).load()) only.push(e);
  const state = reduceApprovals(only);
  const fastMs = Number(process.hrtime.bigint() - t1) / 1e6;
  if (state.byId.size !== naive.byId.size) throw new Error('prefiltered rebuild disagrees with the full read');

  console.log(`approval state rebuild from ${all.length} audit events (${only.length} approval events, ${state.byId.size} requests)`);
  console.log(`  baseline readEvents + fold   ${naiveMs.toFixed(1).padStart(8)} ms`);
  console.log(`  storeApprovalSource + fold   ${fastMs.toFixed(1).padStart(8)} ms   ratio ${(fastMs / naiveMs).toFixed(3)}`);

  // Hot path: the same pending call re-run.
  const s = await setup();
  const sql = "DELETE FROM accounts WHERE account_id = 'A-1'";
  await s.gate.check(held('eve@bank.example', sql));
  const M = 5000;
  const call = held('eve@bank.example', sql);
  for (let i = 0; i < 200; i++) await s.gate.check(call);
  const t2 = process.hrtime.bigint();
  for (let i = 0; i < M; i++) await s.gate.check(call);
  const checkUs = Number(process.hrtime.bigint() - t2) / 1e3 / M;
  const t3 = process.hrtime.bigint();
  for (let i = 0; i < M; i++) createHash('sha256').update(sql).digest('hex');
  const hashUs = Number(process.hrtime.bigint() - t3) / 1e3 / M;
  console.log(`re-run while pending (n=${M}): gate.check ${checkUs.toFixed(1)} µs; baseline sha256 of the SQL ${hashUs.toFixed(2)} µs; ratio ${(checkUs / hashUs).toFixed(1)}`);
  await s.approvals.close();

  // Claims: what the client library and the precondition cost per claim (loopback server: the
  // real service adds its own network and write latency, which this machine cannot measure).
  process.env.METADATA_SERVER_DETECTION = 'none';
  const { FakeGcsServer } = await import('../test/fixtures/gcs-server.js');
  const { gcsClaimStore } = await import('../src/gcp/claims-gcs.js');
  const { fileClaimStore } = await import('../src/approvals/claims.js');
  const gcs = new FakeGcsServer();
  await gcs.start();
  try {
    const by = { instance: 'bench', session_id: null, request_id: null, at: new Date().toISOString() };
    const time = async (label: string, store: { claim(id: string, b: typeof by): Promise<boolean> }, n: number) => {
      const lat: number[] = [];
      for (let i = 0; i < n; i++) {
        const id = `apr-${label.slice(0, 3)}${String(i).padStart(8, '0')}`.replace(/[^a-z0-9-]/g, 'x');
        const t = process.hrtime.bigint();
        if (!(await store.claim(id, by))) throw new Error('first claim lost');
        await store.claim(id, by); // the loser's round trip (412)
        lat.push(Number(process.hrtime.bigint() - t) / 1e6 / 2);
      }
      lat.sort((a, b) => a - b);
      console.log(`  ${label.padEnd(44)} p50 ${quantile(lat, 0.5).toFixed(2)} ms   p99 ${quantile(lat, 0.99).toFixed(2)} ms per claim`);
    };
    console.log('approval claim (create once; winner and loser each timed)');
    await time('file O_EXCL (one host)', fileClaimStore(join(data, 'claims')), 300);
    await time('GCS ifGenerationMatch=0, loopback JSON API', gcsClaimStore({ bucket: 'bench', apiEndpoint: gcs.endpoint, projectId: 'bench' }), 300);
  } finally {
    await gcs.stop();
  }
} finally {
  rmSync(data, { recursive: true, force: true });
}
