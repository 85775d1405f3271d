// Soak: the real gateway (own process, demo mode, JSONL audit with fsync) in front of MCP
// Toolbox holds 1,000 concurrent MCP sessions for 10 minutes on loopback while a bounded
// request loop (a fixed call rate, a cap on calls in flight) runs masked SELECTs over them and
// stops by itself at the deadline. The gateway's RSS is sampled every 10 s. Afterwards every
// session is closed, the gateway stopped (audit sealed), and `bqwarden verify --require-sealed`
// runs on the audit directory; the audit events are counted against the calls made.
// Not part of `npm test` or `npm run bench`. Run: node --import tsx bench/soak.ts
// Env: SOAK_SESSIONS (1000), SOAK_MINUTES (10), SOAK_RATE calls/s (25), SOAK_INFLIGHT (32),
// SOAK_RSS_LIMIT_MB (200), SOAK_GATEWAY_NODE_ARGS (e.g. "--max-old-space-size=160": V8 flags
// for the gateway process only). Writes docs/soak.md unless SOAK_NO_WRITE=1 (SOAK_APPEND=1:
// below the run already there).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBankDb } from '../src/demo/dataset.js';
import { startToolbox } from '../src/demo/toolbox.js';
import { mintDevToken } from '../src/identity/dev-issuer.js';
import { McpTarget, type LoadSession } from './lib/mcp-load.js';
import { rssMb, startChild } from './lib/procs.js';
import { cyclic } from './lib/samples.js';

const SESSIONS = Number(process.env.SOAK_SESSIONS ?? 1000);
const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const RATE = Number(process.env.SOAK_RATE ?? 25);
const INFLIGHT = Number(process.env.SOAK_INFLIGHT ?? 32);
const LIMIT_MB = Number(process.env.SOAK_RSS_LIMIT_MB ?? 200);
const SAMPLE_MS = 10_000;
const repo = join(import.meta.dirname, '..');

const work = mkdtempSync(join(tmpdir(), 'bqw-soak-'));
const dataDir = join(work, 'data');
mkdirSync(dataDir, { recursive: true });
await writeBankDb(join(dataDir, 'bank.db'));
const toolbox = await startToolbox({ database: join(dataDir, 'bank.db') });
// As production runs it (compiled dist/, like the Docker image) unless SOAK_TSX=1.
const useDist = process.env.SOAK_TSX !== '1';
if (useDist) execFileSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: 'inherit' });
const gatewayNodeArgs = (process.env.SOAK_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
const gateway = await startChild(join(import.meta.dirname, 'lib', 'gateway-main.mjs'), [dataDir, toolbox.url], {
  env: { ...process.env, BQWARDEN_USE_DIST: useDist ? '1' : '0' },
  nodeArgs: gatewayNodeArgs,
});
const started = new Date();
const loadBefore = loadavg();
const samples: { at: number; rss: number; calls: number; sessions: number }[] = [];
let calls = 0;
let failures = 0;
let sessions: LoadSession[] = [];
const log = (s: string) => process.stdout.write(`[${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);
const rssIdle = rssMb(gateway.pid);
log(`gateway pid ${gateway.pid} (${gateway.runtime}), idle RSS ${rssIdle.toFixed(1)} MB; opening ${SESSIONS} sessions`);

let verifyOut = '';
let verifyOk = false;
let counts: Record<string, number> = {};
let openFailures = 0;
try {
  const token = await mintDevToken({
    dataDir,
    issuer: `${gateway.url}/dev-issuer`,
    audience: `${gateway.url}/mcp`,
    user: 'soak-analyst@bank.example',
    groups: ['analyst'],
    ttlSeconds: Math.ceil((MINUTES + 10) * 60),
  });
  const target = new McpTarget(`${gateway.url}/mcp`, token, INFLIGHT + 8);
  // Sessions are opened a few at a time, as clients would arrive.
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < SESSIONS; i = next++) {
        try {
          sessions.push(await target.session(`soak-${i}`));
        } catch {
          openFailures++;
        }
      }
    }),
  );
  const rssOpen = rssMb(gateway.pid);
  log(`${sessions.length} sessions open (${openFailures} failed), RSS ${rssOpen.toFixed(1)} MB`);

  const deadline = Date.now() + MINUTES * 60_000;
  const sampler = setInterval(() => {
    samples.push({ at: Date.now() - started.getTime(), rss: rssMb(gateway.pid), calls, sessions: sessions.length });
    const s = samples.at(-1)!;
    log(`RSS ${s.rss.toFixed(1)} MB, ${calls} calls, ${failures} failed`);
  }, SAMPLE_MS);
  // The bounded loop: one call every 1/RATE s, never more than INFLIGHT at once, round-robin
  // over the sessions (each sees a call every SESSIONS/RATE s, well inside the idle timeout).
  let inflight = 0;
  let k = 0;
  const interval = 1000 / RATE;
  let due = Date.now();
  const pending = new Set<Promise<void>>();
  while (Date.now() < deadline) {
    if (inflight < INFLIGHT) {
      const s = cyclic(sessions, k++);
      const i = k;
      inflight++;
      const p = s
        .call('execute_sql', { sql: `SELECT customer_id, full_name, ssn, email, city FROM customers WHERE customer_id > ${i % 900} ORDER BY customer_id LIMIT 100` })
        .then((r) => {
          calls++;
          if (!r.ok) failures++;
        })
        .catch(() => {
          calls++;
          failures++;
        })
        .finally(() => {
          inflight--;
          pending.delete(p);
        });
      pending.add(p);
    }
    due += interval;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(pending);
  clearInterval(sampler);
  samples.push({ at: Date.now() - started.getTime(), rss: rssMb(gateway.pid), calls, sessions: sessions.length });
  log(`loop stopped at the deadline: ${calls} calls, ${failures} failed; closing sessions`);
  // One iterator shared by the closers: each session is closed by exactly one of them.
  const toClose = sessions.values();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (const s of toClose) await s.close().catch(() => undefined);
    }),
  );
  const closedSessions = sessions.length;
  sessions = [];
  await new Promise((r) => setTimeout(r, 2000));
  const rssClosed = rssMb(gateway.pid);
  log(`sessions closed, RSS ${rssClosed.toFixed(1)} MB; stopping the gateway`);
  await target.close();
  await gateway.stop();

  // The product's own check, as an examiner would run it.
  try {
    verifyOut = execFileSync(process.execPath, [join(repo, 'bin', 'bqwarden.js'), 'verify', '--dir', join(dataDir, 'audit'), '--require-sealed'], {
      encoding: 'utf8',
      env: { ...process.env, BQWARDEN_DATA: dataDir },
    });
    verifyOk = true;
  } catch (err) {
    verifyOut = String((err as { stdout?: string }).stdout ?? err);
  }
  counts = countEvents(join(dataDir, 'audit'));
  const toolCalls = counts['mcp_request tools/call'] ?? 0;
  const lost = calls - failures - toolCalls;
  const after = samples.filter((s) => s.at >= 60_000);
  const steady = after.length ? after : samples;
  const max = Math.max(...samples.map((s) => s.rss));
  const flatSpread = Math.max(...steady.map((s) => s.rss)) - Math.min(...steady.map((s) => s.rss));
  const summary = [
    `# Soak: ${closedSessions} MCP sessions for ${MINUTES} minutes`,
    '',
    `Generated by \`node --import tsx bench/soak.ts\` on ${started.toISOString()} (commit \`${git(['rev-parse', '--short=12', 'HEAD'])}\`; ${cpus().length} × ${cpus()[0]?.model}; Node ${process.version}; load average before ${loadBefore.map((x) => x.toFixed(1)).join('/')}, after ${loadavg()
      .map((x) => x.toFixed(1))
      .join('/')}).`,
    '',
    `The real gateway (demo mode, JSONL audit with fsync; ${gateway.runtime}${gatewayNodeArgs.length ? `; node ${gatewayNodeArgs.join(' ')}` : ''}) in its own process in front of MCP Toolbox on loopback. ${SESSIONS} sessions opened (${openFailures} failed), held for ${MINUTES} minutes while a bounded loop made ${RATE} calls/s (at most ${INFLIGHT} in flight; a 100-row masked SELECT as the analyst, literals varied) and stopped itself at the deadline.`,
    '',
    '| measure | result | goal |',
    '| --- | ---: | --- |',
    `| gateway RSS idle | ${rssIdle.toFixed(1)} MB | |`,
    `| RSS with ${closedSessions} sessions open | ${rssOpen.toFixed(1)} MB | ≤ ${LIMIT_MB} MB ${rssOpen <= LIMIT_MB ? '✓' : '✗'} |`,
    `| RSS max over the run (sampled every 10 s) | ${max.toFixed(1)} MB | ≤ ${LIMIT_MB} MB ${max <= LIMIT_MB ? '✓' : '✗'} |`,
    `| RSS spread after the first minute (max − min) | ${flatSpread.toFixed(1)} MB | flat |`,
    `| RSS after every session closed | ${rssClosed.toFixed(1)} MB | |`,
    `| calls made / failed | ${calls} / ${failures} | 0 failed ${failures === 0 ? '✓' : '✗'} |`,
    `| tools/call audit events | ${toolCalls} | = successful calls (${calls - failures}) ${lost === 0 ? '✓' : `✗ (${lost} missing)`} |`,
    `| session_start / session_end events | ${counts.session_start ?? 0} / ${counts.session_end ?? 0} | ${closedSessions} each ${(counts.session_start ?? 0) === closedSessions && (counts.session_end ?? 0) === closedSessions ? '✓' : '✗'} |`,
    `| \`bqwarden verify --require-sealed\` | ${verifyOk ? 'passes' : 'FAILS'} | passes (no gaps, no breaks) ${verifyOk ? '✓' : '✗'} |`,
    '',
    'RSS samples (seconds since start → MB):',
    '',
    '```text',
    samples.map((s) => `${(s.at / 1000).toFixed(0).padStart(5)} s  ${s.rss.toFixed(1).padStart(6)} MB  ${String(s.calls).padStart(6)} calls`).join('\n'),
    '```',
    '',
    '`bqwarden verify` output:',
    '',
    '```text',
    verifyOut.trim(),
    '```',
    '',
  ].join('\n');
  process.stdout.write(`\n${summary}`);
  // SOAK_APPEND=1 adds this run below the previous one (e.g. the same soak with other V8 flags).
  if (process.env.SOAK_NO_WRITE !== '1') {
    const file = join(repo, 'docs', 'soak.md');
    writeFileSync(file, process.env.SOAK_APPEND === '1' && existsSync(file) ? `${readFileSync(file, 'utf8').trimEnd()}\n\n${summary.replace(/^# /, '## ')}` : summary);
  }
  process.exitCode = verifyOk && failures === 0 && lost === 0 && max <= LIMIT_MB ? 0 : 1;
} finally {
  await gateway.stop().catch(() => undefined);
  await toolbox.stop();
  rmSync(work, { recursive: true, force: true });
}

function countEvents(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of (readdirSync(dir, { recursive: true }) as string[]).filter((x) => x.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const e = JSON.parse(line) as { event_type?: string; mcp_method?: string };
      const key = e.event_type === 'mcp_request' ? `mcp_request ${e.mcp_method}` : String(e.event_type);
      out[key] = (out[key] ?? 0) + 1;
    }
  }
  return out;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
