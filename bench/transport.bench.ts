// tools/call round trip through the gateway (pass-through interceptor, test authenticator)
// versus straight to the same upstream fixture, measured in the same run: latency p50/p99 with
// one caller, and throughput with several concurrent callers on separate sessions. The ratio is
// what the gateway's hop costs (auth, checks, the second MCP session, SSE framing, relay).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startConformanceServer } from '../test/fixtures/conformance-server.js';
import { startGateway } from '../test/transport/helpers.js';

const N = Number(process.env.BENCH_N ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

async function connect(url: string, token?: string): Promise<Client> {
  const c = new Client({ name: 'bench', version: '1' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(url), token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : undefined),
  );
  return c;
}

const call = (c: Client) => c.callTool({ name: 'test_simple_text', arguments: {} });

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function latency(c: Client): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(100, N); i++) await call(c);
  const ms: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    await call(c);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { p50: pct(ms, 50), p99: pct(ms, 99) };
}

async function throughput(clients: Client[]): Promise<number> {
  const perClient = Math.ceil((N * 2) / clients.length);
  const t0 = process.hrtime.bigint();
  await Promise.all(clients.map(async (c) => {
    for (let i = 0; i < perClient; i++) await call(c);
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return (perClient * clients.length) / s;
}

const upstream = await startConformanceServer();
const gw = await startGateway(upstream.url);
const token = await gw.auth.token('bench');
try {
  const direct = await connect(upstream.url);
  const via = await connect(gw.url, token);
  console.log(`tools/call test_simple_text, n=${N} sequential, ${CONCURRENCY} concurrent sessions for throughput`);
  const d = await latency(direct);
  const g = await latency(via);
  console.log(`  latency direct   p50 ${d.p50.toFixed(2)} ms  p99 ${d.p99.toFixed(2)} ms`);
  console.log(`  latency gateway  p50 ${g.p50.toFixed(2)} ms  p99 ${g.p99.toFixed(2)} ms`);
  console.log(`  ratio gateway/direct  p50 ${(g.p50 / d.p50).toFixed(2)}x  p99 ${(g.p99 / d.p99).toFixed(2)}x  (added p50 ${(g.p50 - d.p50).toFixed(2)} ms)`);
  const dc = await Promise.all(Array.from({ length: CONCURRENCY }, () => connect(upstream.url)));
  const gc = await Promise.all(Array.from({ length: CONCURRENCY }, () => connect(gw.url, token)));
  const dt = await throughput(dc);
  const gt = await throughput(gc);
  console.log(`  throughput direct  ${dt.toFixed(0)} calls/s`);
  console.log(`  throughput gateway ${gt.toFixed(0)} calls/s`);
  console.log(`  ratio gateway/direct throughput ${(gt / dt).toFixed(2)}x`);
  for (const c of [direct, via, ...dc, ...gc]) await c.close();
} finally {
  await gw.close();
  await upstream.close();
}
