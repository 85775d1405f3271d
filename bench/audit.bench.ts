// Audit write path and verification.
//  - appends/s with group commit (default maxBatch) vs one write+fdatasync per event
//    (maxBatch 1), same 64 concurrent callers, same JSONL sink on the same disk; the ratio is
//    what group commit buys.
//  - p50/p99 latency of one append (call to durable) under that load.
//  - verify throughput (events/s) over the chain just written, against a baseline that only
//    reads and JSON-parses the same lines.
//  - building an event: the field-table check the writer uses now vs the zod re-parse it used
//    before (both rebuilt here, same inputs), and the Pub/Sub payload from the cached canonical
//    text vs a second JSON.stringify.
//  - group commit window (audit.commitWindowMs) 0 / 0.5 / 2 ms at 8 concurrent callers.
//  - write-ahead cost: one durable append per call (plain read) vs intent + outcome (write).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/audit/log.js';
import { loadOrCreateSigner, loadPublicKeysFromDir } from '../src/audit/checkpoint.js';
import { JsonlSink } from '../src/sinks/jsonl.js';
import { verifyDir } from '../src/audit/verify.js';
import { readEvents } from '../src/audit/reader.js';
import { randomUUID } from 'node:crypto';
import { AUDIT_SCHEMA_VERSION, AuditEventSchema, EVENT_FIELDS, ZERO_HASH, emptyEvent, invalidField, type AuditEvent, type AuditEventInput } from '../src/audit/event.js';
import { sealEvent } from '../src/audit/hash.js';
import { cyclic, quantile } from './lib/samples.js';

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

async function run(label: string, maxBatch: number, n: number, o: { callers?: number; commitWindowMs?: number; perCall?: number } = {}) {
  const data = mkdtempSync(join(tmpdir(), 'bqw-bench-audit-'));
  const signer = loadOrCreateSigner({ keysDir: join(data, 'keys') });
  const sink = await JsonlSink.open({ dir: join(data, 'audit') });
  const log = await AuditLog.open({ sink, signer, gatewayVersion: 'bench', instance: 'bench', maxBatch, checkpointEvery: { events: 1000, ms: 60_000 }, commitWindowMs: o.commitWindowMs });
  const lat: number[] = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: o.callers ?? CALLERS }, async () => {
      while (next < n) {
        const i = next++;
        const s = process.hrtime.bigint();
        // perCall 2 = a write: its intent, then its outcome, each durable before the next step.
        for (let k = 0; k < (o.perCall ?? 1); k++) await log.append(input(i));
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await log.close();
  lat.sort((a, b) => a - b);
  const q = (p: number) => quantile(lat, p);
  const rate = n / secs;
  console.log(`  ${label.padEnd(40)} ${rate.toFixed(0).padStart(8)} calls/s   p50 ${q(0.5).toFixed(2)} ms   p99 ${q(0.99).toFixed(2)} ms`);
  return { rate, data, p50: q(0.5), p99: q(0.99) };
}

console.log(`append (${CALLERS} concurrent callers, JSONL sink, fdatasync per group)`);
const base = await run('baseline: one fsync per event (maxBatch 1)', 1, Math.max(200, Math.floor(N / 8)));
rmSync(base.data, { recursive: true, force: true });
const group = await run('group commit (maxBatch 512)', 512, N);
console.log(`  ratio group/baseline: ${(group.rate / base.rate).toFixed(1)}x`);
// For docs/benchmarks.md (bench/index.ts).
if (process.env.BENCH_RESULTS_DIR) {
  writeFileSync(join(process.env.BENCH_RESULTS_DIR, 'audit.json'), JSON.stringify({ eventsPerSec: group.rate, callers: CALLERS, baselineEventsPerSec: base.rate }));
}

// Verification over a larger chain written with group commit.
const VN = Number(process.env.BENCH_VERIFY_N ?? 50_000);
const big = await run(`(writing ${VN} events to verify)`, 512, VN);
const audit = join(big.data, 'audit');
let t = process.hrtime.bigint();
let lines = 0;
for await (const _ of readEvents(audit, {}, { validate: false })) lines++;
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

// --- building the event (CPU only) ------------------------------------------------------------
function buildWithZod(i: AuditEventInput): AuditEvent {
  // What AuditLog.build did before: spread over the empty event, then a full zod parse (a copy).
  const candidate = {
    ...emptyEvent(),
    gateway_version: 'bench',
    gateway_instance: 'bench',
    ...i,
    event_id: randomUUID(),
    event_time: new Date().toISOString(),
    schema_version: AUDIT_SCHEMA_VERSION,
    chain_id: 'c',
    seq: 0,
    prev_hash: ZERO_HASH,
    hash: ZERO_HASH,
    signature: null,
    signing_key_id: null,
  };
  const r = AuditEventSchema.safeParse(candidate);
  if (!r.success) throw new Error('invalid');
  return r.data;
}
function buildWithTable(i: AuditEventInput): AuditEvent {
  // What it does now: one object, defined fields copied, a check per field.
  const e = emptyEvent() as Record<string, unknown>;
  e.gateway_version = 'bench';
  e.gateway_instance = 'bench';
  const src = i as Record<string, unknown>;
  for (const k of EVENT_FIELDS) if (src[k] !== undefined) e[k] = src[k];
  Object.assign(e, {
    event_id: randomUUID(),
    event_time: new Date().toISOString(),
    schema_version: AUDIT_SCHEMA_VERSION,
    chain_id: 'c',
    seq: 0,
    prev_hash: ZERO_HASH,
    hash: ZERO_HASH,
    signature: null,
    signing_key_id: null,
  });
  if (invalidField(e)) throw new Error('invalid');
  return e as AuditEvent;
}
function perEvent(label: string, fn: (k: number) => void, n = 20_000): number {
  for (let k = 0; k < 2000; k++) fn(k); // warm up
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) fn(k);
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  console.log(`  ${label.padEnd(58)} ${us.toFixed(2).padStart(7)} µs/event`);
  return us;
}
console.log('building one event (CPU, same inputs)');
const inputs = Array.from({ length: 2000 }, (_, k) => input(k));
const zod = perEvent('before: spread + zod safeParse (copy)', (k) => buildWithZod(cyclic(inputs, k)));
const table = perEvent('now: one object + field-table check', (k) => buildWithTable(cyclic(inputs, k)));
console.log(`  ratio before/now: ${(zod / table).toFixed(1)}x`);
const sealed = Array.from({ length: 2000 }, (_, k) => {
  const e = buildWithTable(input(k));
  sealEvent(e);
  return e;
});
const { canonicalLine, rememberCanonical } = await import('../src/audit/canonical-cache.js');
for (const e of sealed) rememberCanonical(e, sealEvent(e));
const twice = perEvent('Pub/Sub payload before: JSON.stringify again', (k) => JSON.stringify(cyclic(sealed, k)));
const once = perEvent('Pub/Sub payload now: the canonical text kept from hashing', (k) => canonicalLine(cyclic(sealed, k)));
console.log(`  ratio before/now: ${(twice / once).toFixed(0)}x`);

// --- group commit window ----------------------------------------------------------------------
console.log('group commit window (8 concurrent callers, JSONL, fdatasync per group)');
for (const w of [0, 0.5, 2]) {
  const r = await run(`commitWindowMs ${w}`, 512, Math.max(400, Math.floor(N / 4)), { callers: 8, commitWindowMs: w });
  rmSync(r.data, { recursive: true, force: true });
}

// --- write-ahead cost -------------------------------------------------------------------------
console.log('write-ahead: one caller, sequential calls (the latency a single agent sees)');
const readCall = await run('plain read: one durable event', 512, 300, { callers: 1 });
const writeCall = await run('write: intent, then outcome (two)', 512, 300, { callers: 1, perCall: 2 });
// One caller: the mean time per call is 1/rate (p50 of a few hundred fsyncs is noisy on a shared disk).
console.log(
  `  mean audit time per call: read ${(1000 / readCall.rate).toFixed(2)} ms, write ${(1000 / writeCall.rate).toFixed(2)} ms: the intent adds ${(1000 / writeCall.rate - 1000 / readCall.rate).toFixed(2)} ms (${(readCall.rate / writeCall.rate).toFixed(1)}x)`,
);
rmSync(readCall.data, { recursive: true, force: true });
rmSync(writeCall.data, { recursive: true, force: true });
