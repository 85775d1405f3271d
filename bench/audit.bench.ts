// Audit write path and verification.
//  - appends/s with group commit (default maxBatch) vs one write+fdatasync per event
//    (maxBatch 1), same 64 concurrent callers, same JSONL sink on the same disk; the ratio is
//    what group commit buys.
//  - p50/p99 latency of one append (call to durable) under that load.
//  - verify throughput (events/s) over the chain just written, against a baseline that only
//    reads and JSON-parses the same lines.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/audit/log.js';
import { loadOrCreateSigner, loadPublicKeysFromDir } from '../src/audit/checkpoint.js';
import { JsonlSink } from '../src/sinks/jsonl.js';
import { verifyDir } from '../src/audit/verify.js';
import { readLines } from '../src/audit/reader.js';
import type { AuditEventInput } from '../src/audit/event.js';

const N = Number(process.env.BENCH_N ?? 4000);
const CALLERS = Number(process.env.BENCH_CALLERS ?? 64);

function input(i: number): AuditEventInput {
  return {
    event_type: 'mcp_request',
    session_id: `s-${i % 50}`,
    request_id: String(i),
    actor_email: 'analyst@bank.example',
    actor_subject: 'sub-1',
    actor_type: 'human',
    auth_method: 'oidc',
    mcp_method: 'tools/call',
    tool_name: 'execute_sql',
    sql_text: 'SELECT name, ssn, email FROM customers WHERE branch = ? LIMIT ?',
    decision: 'mask',
    rule_ids: ['pii-ssn', 'pii-email'],
    masked_columns: [
      { column: 'ssn', source: 'main.customers.ssn', classification: 'ssn', method: 'last4', rule_id: 'pii-ssn' },
      { column: 'email', source: 'main.customers.email', classification: 'email', method: 'email_domain', rule_id: 'pii-email' },
    ],
    rows_returned: 10,
    response_json: JSON.stringify({ content: Array.from({ length: 10 }, (_, r) => ({ type: 'text', text: `{"name":"Customer ${r}","ssn":"XXX-XX-${1000 + r}","email":"XXXXX@bank.example"}` })) }),
  };
}

async function run(label: string, maxBatch: number, n: number) {
  const data = mkdtempSync(join(tmpdir(), 'bqw-bench-audit-'));
  const signer = loadOrCreateSigner({ keysDir: join(data, 'keys') });
  const sink = await JsonlSink.open({ dir: join(data, 'audit') });
  const log = await AuditLog.open({ sink, signer, gatewayVersion: 'bench', instance: 'bench', maxBatch, checkpointEvery: { events: 1000, ms: 60_000 } });
  const lat: number[] = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < n) {
        const i = next++;
        const s = process.hrtime.bigint();
        await log.append(input(i));
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await log.close();
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const rate = n / secs;
  console.log(`  ${label.padEnd(40)} ${rate.toFixed(0).padStart(8)} appends/s   p50 ${q(0.5).toFixed(2)} ms   p99 ${q(0.99).toFixed(2)} ms`);
  return { rate, data };
}

console.log(`append (${CALLERS} concurrent callers, JSONL sink, fdatasync per group)`);
const base = await run('baseline: one fsync per event (maxBatch 1)', 1, Math.max(200, Math.floor(N / 8)));
rmSync(base.data, { recursive: true, force: true });
const group = await run('group commit (maxBatch 512)', 512, N);
console.log(`  ratio group/baseline: ${(group.rate / base.rate).toFixed(1)}x`);

// Verification over a larger chain written with group commit.
const VN = Number(process.env.BENCH_VERIFY_N ?? 50_000);
const big = await run(`(writing ${VN} events to verify)`, 512, VN);
const audit = join(big.data, 'audit');
let t = process.hrtime.bigint();
let lines = 0;
for await (const l of readLines(audit)) {
  JSON.parse(l.text);
  lines++;
}
const parseRate = lines / (Number(process.hrtime.bigint() - t) / 1e9);
t = process.hrtime.bigint();
const report = await verifyDir(audit, { publicKeys: loadPublicKeysFromDir(join(big.data, 'keys')), requireSealed: true });
const verifyRate = report.events / (Number(process.hrtime.bigint() - t) / 1e9);
if (!report.ok) throw new Error('bench chain failed verification');
console.log(`verify (${report.events} events)`);
console.log(`  baseline: read + JSON.parse              ${parseRate.toFixed(0).padStart(8)} lines/s`);
console.log(`  verifyDir (schema, canonical, SHA-256, links, signatures) ${verifyRate.toFixed(0)} events/s  (${(parseRate / verifyRate).toFixed(1)}x the parse-only cost)`);
rmSync(big.data, { recursive: true, force: true });
rmSync(group.data, { recursive: true, force: true });
