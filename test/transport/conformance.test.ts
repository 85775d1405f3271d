// Conformance parity: the official MCP conformance runner's server scenarios, run against the
// fixture server directly and then through the gateway (runner → auth forwarder → gateway →
// fixture). The gateway must pass every scenario the bare server passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { startConformanceServer } from '../fixtures/conformance-server.js';
import { startAuthForwarder, startGateway, testAuth } from './helpers.js';

const require = createRequire(import.meta.url);
const RUNNER = join(require.resolve('@modelcontextprotocol/conformance/package.json'), '..', 'dist', 'index.js');

interface ScenarioResult {
  success: number;
  warning: number;
  failure: number;
  failures: string[];
}

async function runConformance(url: string, outDir: string): Promise<Map<string, ScenarioResult>> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, 'server', '--url', url, '--suite', 'all', '-o', outDir], {
      cwd: outDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    // A non-zero exit only means some check failed; the per-check files are the verdict.
    child.on('exit', () => {
      clearTimeout(timer);
      if (!/SUMMARY/.test(log)) reject(new Error(`conformance runner did not finish:\n${log.slice(-3000)}`));
      else resolve();
    });
  });
  const results = new Map<string, ScenarioResult>();
  for (const dir of readdirSync(outDir)) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(dir);
    if (!m) continue;
    const checks = JSON.parse(readFileSync(join(outDir, dir, 'checks.json'), 'utf8')) as { id: string; status: string; errorMessage?: string }[];
    const r: ScenarioResult = { success: 0, warning: 0, failure: 0, failures: [] };
    for (const c of checks) {
      if (c.status === 'SUCCESS') r.success++;
      else if (c.status === 'WARNING') r.warning++;
      else if (c.status === 'FAILURE') {
        r.failure++;
        r.failures.push(`${c.id}: ${c.errorMessage ?? ''}`);
      }
    }
    results.set(m[1]!, r); // the scenario group is mandatory
  }
  return results;
}

test('gateway passes every conformance scenario the bare server passes', { timeout: 600_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'bqw-conformance-'));
  const upstream = await startConformanceServer();
  const auth = await testAuth();
  let gatewayUrl = '';
  const forwarder = await startAuthForwarder(() => gatewayUrl, await auth.token('conformance-runner'));
  const gateway = await startGateway(upstream.url, {
    auth,
    // The runner's DNS-rebinding scenario sends Origin: http://<its target host>; that one is ours.
    allowedOrigins: [`http://127.0.0.1:${forwarder.port}`, `http://localhost:${forwarder.port}`],
  });
  gatewayUrl = gateway.url;
  t.after(async () => {
    await forwarder.close();
    await gateway.close();
    await upstream.close();
    rmSync(work, { recursive: true, force: true });
  });

  const direct = await runConformance(upstream.url, mkdtempSync(join(work, 'direct-')));
  const viaGateway = await runConformance(forwarder.url, mkdtempSync(join(work, 'gateway-')));

  const rows = [...direct.keys()].sort().map((name) => {
    const d = direct.get(name)!;
    const g = viaGateway.get(name);
    const fmt = (r?: ScenarioResult) => (r ? `${r.failure === 0 ? 'pass' : 'FAIL'} (${r.success}✓ ${r.warning}⚠ ${r.failure}✗)` : 'missing');
    return { scenario: name, direct: fmt(d), gateway: fmt(g) };
  });
  console.log('\nMCP conformance (server scenarios, suite=all): direct vs through gateway');
  console.table(rows);

  assert.ok(direct.size >= 30, `expected the runner to report at least 30 server scenarios, got ${direct.size}`);
  const regressions: string[] = [];
  for (const [name, d] of direct) {
    if (d.failure > 0) continue;
    const g = viaGateway.get(name);
    if (!g) regressions.push(`${name}: not run through the gateway`);
    else if (g.failure > 0) regressions.push(`${name}: ${g.failures.join('; ')}`);
  }
  assert.deepEqual(regressions, [], 'scenarios that pass directly but fail through the gateway');
  // Identical, not merely passing: the same checks succeed and warn on both sides (a gateway
  // that answered JSON where the server streams, say, would turn a success into an info).
  const differing = rows.filter((r) => r.direct !== r.gateway).map((r) => `${r.scenario}: direct ${r.direct}, gateway ${r.gateway}`);
  assert.deepEqual(differing, [], 'scenarios whose checks differ through the gateway');
  // The runner carried a valid token, so nothing may have been refused at the HTTP layer
  // except the runner's deliberate DNS-rebinding probe (Origin: http://evil.example.com).
  const refusals = gateway.interceptor.rec.failures.map((f) => f.code);
  assert.ok(
    refusals.every((c) => c === 'bad_origin'),
    `unexpected refusals: ${refusals.join(', ')}`,
  );
  assert.ok(refusals.includes('bad_origin'), 'the DNS-rebinding probe must be refused by the Origin check');
});
