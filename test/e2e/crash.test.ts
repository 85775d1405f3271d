// Crash safety (issue 2): SIGKILL the whole demo (gateway + Toolbox) under load, restart it on
// the same data directory, and check that every acknowledged response has its audit event,
// `verify` passes and the chain continues.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/gateway.js';
import { freePort } from '../../src/demo/toolbox.js';
import { mintDevToken } from '../../src/identity/dev-issuer.js';
import { readEvents } from '../../src/audit/reader.js';

const run = promisify(execFile);

async function startDemo(dataDir: string, port: number): Promise<ChildProcess> {
  // Own process group, so the kill below takes Toolbox down with the gateway, as a crash would.
  const child = spawn(process.execPath, [join(REPO, 'bin/bqwarden.js'), 'demo'], {
    cwd: REPO,
    env: { ...process.env, BQWARDEN_DATA: dataDir, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`demo exited early:\n${out}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return child;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`demo not ready:\n${out}`);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

async function session(base: string, token: string): Promise<{ call: (id: number, sql: string) => Promise<boolean> }> {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` };
  const init = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'crash-test', version: '1' } } }),
  });
  assert.equal(init.status, 200, await init.clone().text());
  await init.text();
  const sid = init.headers.get('mcp-session-id')!;
  const h = { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
  await fetch(`${base}/mcp`, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  return {
    async call(id, sql) {
      const res = await fetch(`${base}/mcp`, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_sql', arguments: { sql } } }) });
      const text = await res.text();
      // Acknowledged = the client received a JSON-RPC result for this id.
      return res.status === 200 && text.includes('"result"') && text.includes(`"id":${id}`);
    },
  };
}

test('SIGKILL under load loses no acknowledged audit event; verify passes; the chain continues', { timeout: 240_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bqwarden-crash-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const mint = () => mintDevToken({ dataDir, issuer: `${base}/dev-issuer`, audience: `${base}/mcp`, user: 'loadgen@bank.example', groups: ['analyst'] });
  let child = await startDemo(dataDir, port);
  try {
    const s = await session(base, await mint());
    const acked: number[] = [];
    let id = 1;
    let stop = false;
    const workers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const n = id++;
        try {
          if (await s.call(n, `SELECT customer_id, city FROM customers WHERE customer_id = ${n % 1000}`)) acked.push(n);
        } catch {
          // connection died with the kill: not acknowledged
        }
      }
    });
    while (acked.length < 60) await new Promise((r) => setTimeout(r, 20));
    killGroup(child, 'SIGKILL');
    stop = true;
    await Promise.all(workers);
    assert.ok(acked.length >= 60);

    child = await startDemo(dataDir, port);
    const s2 = await session(base, await mint());
    assert.equal(await s2.call(100000, 'SELECT 1 AS one'), true);
    killGroup(child, 'SIGTERM');
    await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));

    const seen = new Set<string>();
    const chains = new Map<string, number[]>();
    for await (const { event } of readEvents(join(dataDir, 'audit'))) {
      if (event.event_type === 'mcp_request' && event.tool_name === 'execute_sql') seen.add(String(event.request_id));
      chains.set(event.chain_id, [...(chains.get(event.chain_id) ?? []), event.seq]);
    }
    const missing = acked.filter((n) => !seen.has(String(n)));
    assert.deepEqual(missing, [], 'every acknowledged response has its audit event');
    assert.ok(seen.has('100000'), 'the restarted gateway audits too');
    assert.equal(chains.size, 1, 'one chain, continued across the restart');
    const seqs = [...chains.values()][0]!.sort((a, b) => a - b);
    seqs.forEach((s, i) => assert.equal(s, i, 'contiguous sequence numbers'));
    const verify = await run(process.execPath, [join(REPO, 'bin/bqwarden.js'), 'verify', '--dir', join(dataDir, 'audit')], { env: { ...process.env, BQWARDEN_DATA: dataDir } }).catch((e) => e);
    assert.equal(verify.code ?? 0, 0, `${verify.stdout}\n${verify.stderr}`);
  } finally {
    killGroup(child, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
