// The data path, measured side by side in one run: MCP Toolbox directly, a bare Node
// pass-through proxy in front of it (the floor for any Node hop), and the whole gateway
// (identity, analysis, policy, masking, fsync'd audit) — each in its own process, driven by
// the same lean raw-HTTP load generator. Workloads: the 100-row masked SELECT as the analyst,
// a 10,000-row SELECT, sequential and 8/32 concurrent sessions; a varied-literal and a
// distinct-query workload; gateway memory idle, with 1,000 sessions, after a call on each, and
// after they closed. Then SQL analysis in process: analyses/s cold, fingerprint-cached and
// text-cached (masking cells/s and audit events/s come from masking.bench.ts and audit.bench.ts).
// Results go to $BENCH_RESULTS_DIR/gateway.json (bench/index.ts renders docs/benchmarks.md).
// BENCH_SCALE=0.3 shortens every run; BENCH_CPU_PROF=<dir> profiles the gateway and transport
// processes over the whole run; BENCH_ONLY=<workload> runs one workload (no memory, no stages).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBankDb } from '../src/demo/dataset.js';
import { startToolbox } from '../src/demo/toolbox.js';
import { mintDevToken } from '../src/identity/dev-issuer.js';
import { analyze, analyzeCached } from '../src/sql/index.js';
import { McpTarget, drive, driveRaw, stats, type LoadSession, type RawRun, type RunStats } from './lib/mcp-load.js';
import { messagesOf } from '../test/security/helpers.js';
import { rssMb, rssSampler, startChild, type Child } from './lib/procs.js';
import { summarize } from './lib/cpuprofile.js';
import { cyclic, nth } from './lib/samples.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
/** Ends the HTTP part early (BENCH_ONLY: one workload, e.g. for a CPU profile). */
class Done extends Error {}
const n = (x: number) => Math.max(4, Math.round(x * SCALE));
const here = import.meta.dirname;

// ---------- workloads ----------
const TOOL = 'execute_sql';
const SELECT_100 = 'SELECT customer_id, full_name, ssn, email, city FROM customers ORDER BY customer_id LIMIT 100';
const SELECT_10K = 'SELECT c.customer_id, c.full_name, c.email, c.city, a.account_type, a.balance FROM customers c CROSS JOIN accounts a LIMIT 10000';
let literal = 0;
/** Same shape, a new literal on every call (the text cache misses, a fingerprint cache hits). */
const variedLiteral = () => {
  const i = literal++;
  return `SELECT customer_id, full_name, ssn, email, city FROM customers WHERE customer_id > ${i % 900} OR customer_id = ${-1 - i} ORDER BY customer_id LIMIT 100`;
};
const COLS = ['customer_id', 'full_name', 'ssn', 'email', 'phone', 'city', 'state', 'zip'];
const ORDER = ['customer_id', 'city', 'zip', 'created_at'];
const OPS = ['>', '>=', '<>'];
let shape = 0;
/** A different statement shape on every call (every cache misses: the cost of a new query). */
const distinctQuery = () => {
  const i = shape++;
  const mask = (i % 255) + 1;
  const cols = COLS.filter((_, k) => mask & (1 << k));
  const order = ORDER[Math.floor(i / 255) % ORDER.length];
  const op = OPS[Math.floor(i / (255 * ORDER.length)) % OPS.length];
  return `SELECT ${cols.join(', ')} FROM customers WHERE customer_id ${op} ${i % 500} ORDER BY ${order} LIMIT 100`;
};

// ---------- stack ----------
// The gateway runs as production runs it (the Docker image: compiled dist/, no tsx), unless
// BENCH_TSX=1 asks for the sources through tsx (what `npm start` in a clone does).
const useDist = process.env.BENCH_TSX !== '1';
if (useDist) execFileSync('npm', ['run', '--silent', 'build'], { cwd: join(here, '..'), stdio: 'inherit' });
const childEnv = { ...process.env, BQWARDEN_USE_DIST: useDist ? '1' : '0' };
const work = mkdtempSync(join(tmpdir(), 'bqw-bench-gw-'));
const dataDir = join(work, 'data');
mkdirSync(dataDir, { recursive: true });
await writeBankDb(join(dataDir, 'bank.db'));
const toolbox = await startToolbox({ database: join(dataDir, 'bank.db') });
const children: Child[] = [];
const cpuProf = process.env.BENCH_CPU_PROF;
const results: Record<string, unknown> = { scale: SCALE };
try {
  const proxy = await startChild(join(here, 'lib', 'proxy-main.mjs'), [toolbox.url]);
  children.push(proxy);
  const bareToken = 'transport-bench-token';
  const transport = await startChild(join(here, 'lib', 'transport-main.mjs'), [toolbox.url, bareToken], {
    env: childEnv,
    nodeArgs: cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(cpuProf, 'transport')}`] : [],
  });
  children.push(transport);
  const gateway = await startChild(join(here, 'lib', 'gateway-main.mjs'), [dataDir, toolbox.url], {
    env: childEnv,
    nodeArgs: cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(cpuProf, 'gateway')}`] : [],
  });
  children.push(gateway);
  results.runtime = gateway.runtime;
  console.log(`gateway and transport run ${gateway.runtime}`);
  const token = await mintDevToken({ dataDir, issuer: `${gateway.url}/dev-issuer`, audience: `${gateway.url}/mcp`, user: 'bench-analyst@bank.example', groups: ['analyst'], ttlSeconds: 4 * 3600 });
  const targets = {
    direct: new McpTarget(toolbox.url, null),
    proxy: new McpTarget(proxy.url, null),
    transport: new McpTarget(transport.url, bareToken),
    gateway: new McpTarget(`${gateway.url}/mcp`, token),
  };
  type Path = keyof typeof targets;
  const sessions = async (p: Path, k: number) => Promise.all(Array.from({ length: k }, () => targets[p].session()));
  const rss = rssSampler(gateway.pid);
  results.rssIdleMb = rssMb(gateway.pid);

  // Memory first, on the fresh process: 1,000 open sessions (each holds an upstream session
  // too), one call on each, all closed. (After the 10,000-row runs the heap has grown for them.)
  const only = process.env.BENCH_ONLY;
  const K = only ? 0 : Math.round(1000 * Math.min(1, SCALE));
  const opened: LoadSession[] = [];
  const gw = targets.gateway;
  await parallel(K, 32, async () => void opened.push(await gw.session('mem')));
  await settle();
  results.sessions = K;
  results.rssSessionsMb = rssMb(gateway.pid);
  await parallel(K, 32, async (i) => void (await nth(opened, i).call(TOOL, { sql: SELECT_100 })));
  await settle();
  results.rssAfterCallsMb = rssMb(gateway.pid);
  await parallel(K, 32, async (i) => nth(opened, i).close());
  await settle();
  results.rssAfterCloseMb = rssMb(gateway.pid);
  rss.reset();
  if (K)
    console.log(
      `gateway RSS: idle ${(results.rssIdleMb as number).toFixed(0)} MB, ${K} sessions ${(results.rssSessionsMb as number).toFixed(0)} MB, after one call each ${(results.rssAfterCallsMb as number).toFixed(0)} MB, after closing ${(results.rssAfterCloseMb as number).toFixed(0)} MB`,
    );

  // Correctness first: the analyst gets masked data through the gateway and clear data directly.
  const SSN = /\b\d{3}-\d{2}-\d{4}\b/;
  const check = async (s: LoadSession, sql: string, expectClear: boolean) => {
    const r = await s.call(TOOL, { sql }, true);
    const msg = messagesOf(r.text).find((m) => 'result' in m || 'error' in m);
    if (!r.ok || !msg?.result || msg.result.isError) throw new Error(`bench query failed: ${r.text.slice(0, 400)}`);
    if (expectClear !== SSN.test(r.text) && sql.includes('ssn')) throw new Error(`expected ${expectClear ? 'clear' : 'masked'} SSNs: ${r.text.slice(0, 300)}`);
    return r.bytes;
  };
  const d1 = nth(await sessions('direct', 1), 0);
  const g1 = nth(await sessions('gateway', 1), 0);
  results.bytes100 = { direct: await check(d1, SELECT_100, true), gateway: await check(g1, SELECT_100, false) };
  results.bytes10k = { direct: await check(d1, SELECT_10K, true), gateway: await check(g1, SELECT_10K, false) };
  await check(g1, variedLiteral(), false);
  await check(g1, distinctQuery(), false);

  type Row = { workload: string; mode: string; path: Path; stats: RunStats };
  const rows: Row[] = [];
  // The paths take turns in rounds (rotating who goes first), so a burst of load from other
  // work on the shared machine falls on all of them alike instead of on whichever ran then.
  const ROUNDS = 6;
  const run = async (workload: string, sql: () => string, paths: Path[], modes: [string, number, number][]) => {
    if (only && !`${workload} ${modes.map((m) => m[0]).join(' ')}`.includes(only)) return;
    for (const [mode, conc, calls] of modes) {
      const ss = new Map<Path, LoadSession[]>();
      const acc = new Map<Path, RawRun>();
      for (const path of paths) {
        ss.set(path, await sessions(path, conc));
        await drive(ss.get(path)!, Math.min(calls, conc * 3), TOOL, () => ({ sql: sql() })); // warm-up
        acc.set(path, { ms: [], wallMs: 0, failures: 0 });
      }
      const per = Math.max(conc, Math.ceil(calls / ROUNDS));
      for (let done = 0, round = 0; done < calls; done += per, round++) {
        const k = Math.min(per, calls - done);
        for (let j = 0; j < paths.length; j++) {
          const path = cyclic(paths, j + round);
          const r = await driveRaw(ss.get(path)!, k, TOOL, () => ({ sql: sql() }));
          const a = acc.get(path)!;
          a.ms.push(...r.ms);
          a.wallMs += r.wallMs;
          a.failures += r.failures;
        }
      }
      for (const path of paths) {
        await Promise.all(ss.get(path)!.map((s) => s.close().catch(() => undefined)));
        const a = acc.get(path)!;
        const st = stats(a.ms, a.wallMs, a.failures);
        rows.push({ workload, mode, path, stats: st });
        console.log(
          `${workload.padEnd(26)} ${mode.padEnd(14)} ${path.padEnd(9)} p50 ${st.p50.toFixed(2).padStart(8)} ms  p99 ${st.p99.toFixed(2).padStart(8)} ms  ${st.rate.toFixed(0).padStart(6)} calls/s${st.failures ? `  FAILURES ${st.failures}` : ''}`,
        );
      }
    }
  };
  const all: Path[] = ['direct', 'proxy', 'transport', 'gateway'];
  await run('100-row masked SELECT', () => SELECT_100, all, [
    ['sequential', 1, n(300)],
    ['8 concurrent', 8, n(800)],
    ['32 concurrent', 32, n(1280)],
  ]);
  await run('10,000-row SELECT', () => SELECT_10K, all, [
    ['sequential', 1, n(12)],
    ['8 concurrent', 8, n(16)],
    ['32 concurrent', 32, n(32)],
  ]);
  await run(
    'varied literals',
    variedLiteral,
    ['direct', 'gateway'],
    [
      ['sequential', 1, n(200)],
      ['8 concurrent', 8, n(400)],
    ],
  );
  await run(
    'distinct queries',
    distinctQuery,
    ['direct', 'gateway'],
    [
      ['sequential', 1, n(200)],
      ['8 concurrent', 8, n(400)],
    ],
  );
  results.rows = rows;
  results.rssPeakUnderLoadMb = rss.peak();
  console.log(`gateway RSS peak during the runs: ${(results.rssPeakUnderLoadMb as number).toFixed(0)} MB`);

  // Where the gateway's CPU goes: a second gateway (own data directory, same Toolbox) under a
  // CPU profile for the 100-row masked SELECT at 8 sessions; each sample is charged to the
  // module that asked for the work (bench/lib/cpuprofile.ts). Profiled apart so the timings
  // above carry no profiler overhead.
  if (!only) {
    const data2 = join(work, 'data-profiled');
    mkdirSync(data2, { recursive: true });
    const file = join(work, 'gateway.cpuprofile');
    const profiled = await startChild(join(here, 'lib', 'gateway-main.mjs'), [data2, toolbox.url], { env: { ...childEnv, BQWARDEN_BENCH_PROFILE: file } });
    const token2 = await mintDevToken({
      dataDir: data2,
      issuer: `${profiled.url}/dev-issuer`,
      audience: `${profiled.url}/mcp`,
      user: 'bench-analyst@bank.example',
      groups: ['analyst'],
      ttlSeconds: 3600,
    });
    const target = new McpTarget(`${profiled.url}/mcp`, token2);
    const ss = await Promise.all(Array.from({ length: 8 }, () => target.session()));
    await drive(ss, n(200), TOOL, () => ({ sql: SELECT_100 })); // warm-up, not profiled
    await profiled.signal('SIGUSR2', (m) => m.profiling === true);
    const calls = n(1200);
    await drive(ss, calls, TOOL, () => ({ sql: SELECT_100 }));
    await profiled.signal('SIGUSR2', (m) => typeof m.profile === 'string');
    await target.close();
    await profiled.stop();
    // BENCH_CPU_PROFILE_OUT=<file> keeps the profile (open it in Chrome DevTools, Performance tab).
    if (process.env.BENCH_CPU_PROFILE_OUT) copyFileSync(file, process.env.BENCH_CPU_PROFILE_OUT);
    const prof = summarize(file);
    results.cpu = { calls, sessions: 8, busyMs: prof.busyMs, wallMs: prof.totalMs, rows: prof.rows };
    console.log(`gateway CPU per call (profiled, ${calls} calls): ${(prof.busyMs / calls).toFixed(2)} ms`);
    for (const r of prof.rows.slice(0, 12)) console.log(`  ${(r.share * 100).toFixed(1).padStart(5)}%  ${(r.ms / calls).toFixed(3)} ms/call  ${r.part}`);
  }

  if (only) {
    for (const t of Object.values(targets)) await t.close();
    throw new Done();
  }
  rss.stop();
  for (const t of Object.values(targets)) await t.close();
} catch (err) {
  if (!(err instanceof Done)) throw err;
} finally {
  for (const c of children.reverse()) await c.stop().catch(() => undefined);
  await toolbox.stop();
  rmSync(work, { recursive: true, force: true });
}

// ---------- stages, in this process (one core) ----------
if (!process.env.BENCH_ONLY) {
  const opts = { dialect: 'sqlite' as const };
  const timeIt = (f: (i: number) => void, iterations: number) => {
    for (let i = 0; i < Math.min(200, iterations); i++) f(i); // JIT warm-up
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) f(i);
    return (iterations / (performance.now() - t0)) * 1000;
  };
  shape = 10_000;
  const distinct = Array.from({ length: n(2000) }, () => distinctQuery());
  const cold = timeIt((i) => analyze(cyclic(distinct, i), opts), distinct.length);
  const hot = distinct.slice(0, 500);
  for (const q of hot) analyzeCached(q, opts);
  const textCached = timeIt((i) => analyzeCached(cyclic(hot, i), opts), n(100_000));
  // Literals differ on every call: analyzeCached answers from its template (fingerprint) cache.
  literal = 1_000_000;
  const fingerprint = timeIt(() => analyzeCached(variedLiteral(), opts), n(2000));
  results.analysis = { cold, fingerprint, textCached };
  console.log(`analysis: cold ${cold.toFixed(0)}/s, literals varied ${fingerprint.toFixed(0)}/s, text-cached ${textCached.toFixed(0)}/s (one core)`);
}
if (process.env.BENCH_RESULTS_DIR) writeFileSync(join(process.env.BENCH_RESULTS_DIR, 'gateway.json'), JSON.stringify(results, null, 2));

async function parallel(count: number, width: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      for (let i = next++; i < count; i = next++) await f(i);
    }),
  );
}

/** Lets the gateway finish background work (audit flushes, upstream DELETEs) before RSS is read. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1500));
}
