// The real gateway (src/server/app.ts, demo mode: dev issuer, JSONL audit with fsync, the
// repository's rules) in its own process, so a benchmark's load generator never shares its
// event loop. Usage: node bench/lib/gateway-main.mjs <dataDir> <upstreamUrl>
// Prints one JSON line {"url", "pid", "runtime"} when listening; SIGTERM closes it cleanly.
import { join } from 'node:path';
import { compiled, load, repo } from './load-app.mjs';

const [dataDir, upstreamUrl] = process.argv.slice(2);
if (!dataDir || !upstreamUrl) throw new Error('usage: gateway-main.mjs <dataDir> <upstreamUrl>');
const { startGateway } = await load('server/app');
const { loadGatewayConfig } = await load('server/config');
const { createLogger } = await load('ops/logger');
const gateway = await startGateway(
  loadGatewayConfig({
    env: {},
    overrides: {
      mode: 'demo',
      dataDir,
      server: { host: '127.0.0.1', port: 0, drainTimeoutMs: 2000 },
      upstream: { url: upstreamUrl, name: 'toolbox-sqlite', timeoutMs: 60_000 },
      rules: { dir: join(repo, 'rules'), catalogDir: join(repo, 'rules', 'catalog') },
      identity: { devIssuer: { enabled: true } },
      // Load generators call far faster than an agent; the per-identity budget would refuse them.
      pipeline: { callsPerMinute: 0 },
      transport: { maxSessionsPerIdentity: 100_000 },
    },
  }),
  { log: createLogger(process.env.BQWARDEN_BENCH_LOG ?? 'silent') },
);
process.stdout.write(`${JSON.stringify({ url: gateway.url, pid: process.pid, runtime: compiled ? 'compiled (dist/)' : 'tsx (src/)' })}\n`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await gateway.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
// Benchmarks profile a warmed-up gateway: the first SIGUSR2 starts the CPU profiler, the second
// writes the profile to $BQWARDEN_BENCH_PROFILE and prints {"profile": path} on stdout.
if (process.env.BQWARDEN_BENCH_PROFILE) {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', async () => {
    if (!running) {
      running = true;
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      process.stdout.write(`${JSON.stringify({ profiling: true })}\n`);
      return;
    }
    running = false;
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(process.env.BQWARDEN_BENCH_PROFILE, JSON.stringify(profile));
    process.stdout.write(`${JSON.stringify({ profile: process.env.BQWARDEN_BENCH_PROFILE })}\n`);
  });
}
process.on('SIGINT', () => void stop());
