// Whole-pipeline cost: the same tools/call through the gateway (identity, analysis, policy,
// masking, audit with fsync) and directly to MCP Toolbox, measured in the same run.
// Reports p50/p99 per path and the ratio, for a masked analyst query and a clear one.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startStack } from '../test/helpers/gateway.js';

const N = Number(process.env.BENCH_N ?? 200);
const WARMUP = 20;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function time(label: string, call: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number; rps: number }> {
  for (let i = 0; i < WARMUP; i++) await call(i);
  const xs: number[] = [];
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await call(i);
    xs.push(performance.now() - t);
  }
  const total = performance.now() - start;
  const r = { p50: pct(xs, 50), p99: pct(xs, 99), rps: (N / total) * 1000 };
  console.log(`${label.padEnd(44)} p50 ${r.p50.toFixed(2).padStart(7)} ms  p99 ${r.p99.toFixed(2).padStart(7)} ms  ${r.rps.toFixed(0).padStart(5)} calls/s`);
  return r;
}

const stack = await startStack();
try {
  const direct = new Client({ name: 'bench-direct', version: '1' });
  await direct.connect(new StreamableHTTPClientTransport(new URL(stack.toolbox.url)));
  const analyst = await stack.client('bench@bank.example', ['analyst']);
  const reader = await stack.client('bench-reader@bank.example', ['pii-reader']);
  const queries = {
    'masked (analyst, 20 rows, 4 cols, 2 masked)': (i: number) => `SELECT customer_id, city, ssn, email FROM customers WHERE customer_id > ${i % 900} ORDER BY customer_id LIMIT 20`,
    'clear (pii-reader, same query)': (i: number) => `SELECT customer_id, city, ssn, email FROM customers WHERE customer_id > ${i % 900} ORDER BY customer_id LIMIT 20`,
  };
  console.log(`tools/call execute_sql, ${N} sequential calls each (after ${WARMUP} warm-up); SQL text varies so the analysis cache does not hide analysis cost`);
  const base = await time('direct to MCP Toolbox (baseline)', (i) => direct.callTool({ name: 'execute_sql', arguments: { sql: queries['masked (analyst, 20 rows, 4 cols, 2 masked)'](i) } }));
  for (const [label, q] of Object.entries(queries)) {
    const client = label.startsWith('masked') ? analyst : reader;
    const r = await time(`through the gateway: ${label}`, (i) => client.callTool({ name: 'execute_sql', arguments: { sql: q(i) } }));
    console.log(`  ratio vs direct: p50 ${(r.p50 / base.p50).toFixed(2)}x, added ${(r.p50 - base.p50).toFixed(2)} ms; throughput ${(r.rps / base.rps).toFixed(2)}x`);
  }
  const same = await time('gateway, identical SQL (analysis cache hit)', () => analyst.callTool({ name: 'execute_sql', arguments: { sql: queries['masked (analyst, 20 rows, 4 cols, 2 masked)'](1) } }));
  console.log(`  ratio vs direct: p50 ${(same.p50 / base.p50).toFixed(2)}x`);
  await direct.close();
} finally {
  await stack.stop();
}
