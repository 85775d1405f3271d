// Examiner console on a large audit store: writes N synthetic events (default 1,000,000)
// through the real writer (AuditLog + JsonlSink, hash chain, signed checkpoints), then times
// the index build, an incremental refresh after new events, and the page queries. Baseline,
// measured in the same run: answering one overview by re-reading and parsing every file with
// readEvents (what a console without an index would do per page view).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/audit/log.js';
import { loadOrCreateSigner } from '../src/audit/checkpoint.js';
import { readEvents } from '../src/audit/reader.js';
import { JsonlSink } from '../src/sinks/jsonl.js';
import { AuditIndex } from '../src/console/audit-index.js';
import { JsonlAuditStore } from '../src/audit/store-jsonl.js';
import { columnAccess, listEvents, overview, parseFilter } from '../src/console/queries.js';
import type { AuditEventInput } from '../src/audit/event.js';
import { cyclic } from './lib/samples.js';

const N = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'bqw-console-bench-'));
const auditDir = join(dir, 'audit');
const users = Array.from({ length: 200 }, (_, i) => `user${i}@bank.example`);
const tables = ['customers', 'accounts', 'transactions', 'cards', 'branches'].map((t) => `bank.main.${t}`);
const start = Date.parse('2026-01-01T00:00:00.000Z');
const step = Math.floor((300 * 86_400_000) / N);

function event(i: number): AuditEventInput {
  const table = cyclic(tables, i);
  const deny = i % 37 === 0;
  const mask = !deny && i % 3 === 0;
  return {
    event_type: 'mcp_request',
    event_time: new Date(start + i * step).toISOString(),
    actor_email: cyclic(users, i * 7),
    actor_subject: `sub-${(i * 7) % users.length}`,
    actor_type: i % 11 === 0 ? 'ci' : 'human',
    auth_method: 'oidc',
    session_id: `sess-${Math.floor(i / 20)}`,
    mcp_method: 'tools/call',
    tool_name: 'execute_sql',
    target_table: table,
    target_tables: [table],
    target_columns: [`${table}.id`, `${table}.ssn`],
    statement_types: ['read'],
    statement_kinds: ['select'],
    sql_text: `SELECT id, ssn FROM ${table} WHERE id = ?`,
    decision: deny ? 'deny' : mask ? 'mask' : 'allow',
    rule_ids: deny ? [`deny-${i % 5}`] : ['read'],
    outcome: deny ? 'denied' : 'success',
    masked_columns: mask ? [{ column: 'ssn', source: `${table}.ssn`, classification: 'ssn', method: 'redact', rule_id: 'mask-ssn' }] : [],
    rows_returned: deny ? null : 1 + (i % 50),
    policy_version: 'f'.repeat(64),
    response_json: deny ? null : '{"content":[{"type":"text","text":"[{\\"id\\":1,\\"ssn\\":\\"***-**-****\\"}]"}]}',
  };
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function main(): Promise<void> {
  let clock = start;
  const signer = loadOrCreateSigner({ keysDir: join(dir, 'keys') });
  const log = await AuditLog.open({ sink: await JsonlSink.open({ dir: auditDir }), signer, gatewayVersion: 'bench', instance: 'bench', maxBatch: 4096, now: () => clock });
  let t0 = process.hrtime.bigint();
  const BATCH = 4096;
  for (let i = 0; i < N; i += BATCH) {
    const ps: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(N, i + BATCH); k++) {
      const e = event(k);
      clock = Date.parse(e.event_time!);
      ps.push(log.append(e));
    }
    await Promise.all(ps);
  }
  console.log(`wrote ${N.toLocaleString('en-US')} events through AuditLog + JsonlSink in ${(ms(t0) / 1000).toFixed(1)} s`);

  const ix = new AuditIndex(new JsonlAuditStore(auditDir));
  t0 = process.hrtime.bigint();
  await ix.refresh();
  const build = ms(t0);
  const mem = process.memoryUsage();
  console.log(
    `index build: ${(build / 1000).toFixed(2)} s for ${ix.count.toLocaleString('en-US')} events (${Math.round(ix.count / (build / 1000)).toLocaleString('en-US')} events/s); heap ${Math.round(mem.heapUsed / 2 ** 20)} MB, rss ${Math.round(mem.rss / 2 ** 20)} MB`,
  );

  for (let k = 0; k < 1000; k++) {
    const e = event(N + k);
    clock = Date.parse(e.event_time!);
    await log.append(e);
  }
  t0 = process.hrtime.bigint();
  await ix.refresh();
  const incr = ms(t0);
  console.log(`incremental refresh after 1,000 new events: ${incr.toFixed(1)} ms`);

  const time = (label: string, fn: () => unknown, reps = 5) => {
    fn();
    const t = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) fn();
    const each = ms(t) / reps;
    console.log(`${label.padEnd(46)} ${each.toFixed(1).padStart(8)} ms`);
    return each;
  };
  const ov = time('overview, no filter', () => overview(ix, {}));
  time('overview, one user', () => overview(ix, { actor: users[3] }));
  time('overview, 90-day window + table + decision', () => overview(ix, parseFilter({ from: '2026-03-01', to: '2026-05-30', table: tables[2], decision: 'deny' }).filter));
  time('events list page 1, no filter', () => listEvents(ix, {}, 0, 50));
  time('events list, clear SSN for one user', () => listEvents(ix, { column: `${tables[0]}.ssn`, visibility: 'clear', actor: users[0] }, 0, 50));
  time('classified column access table', () => columnAccess(ix, {}));

  t0 = process.hrtime.bigint();
  let n = 0;
  let denied = 0;
  for await (const { event: e } of readEvents(auditDir)) {
    n++;
    if (e.decision === 'deny') denied++;
  }
  const rescan = ms(t0);
  console.log(`baseline: one overview by re-reading every file (readEvents, ${n.toLocaleString('en-US')} events, ${denied} denials): ${(rescan / 1000).toFixed(2)} s`);
  console.log(`ratio: indexed overview is ${Math.round(rescan / ov).toLocaleString('en-US')}x faster than a re-scan per page view`);
  await log.close();
}

main()
  .finally(() => rmSync(dir, { recursive: true, force: true }))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
