// docs/gcp.md step 7 ("First tools/call, from the shell") run as written, against the demo
// stack instead of Cloud Run: only the first line (where URL and TOKEN come from terraform and
// gcloud) is replaced. The MCP handshake and the tools/call must work exactly as printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO, startStack } from '../helpers/gateway.js';
import { first } from '../helpers/present.js';

function step7(): string {
  const doc = readFileSync(join(REPO, 'docs', 'gcp.md'), 'utf8');
  const section = doc.slice(doc.indexOf('**7. First `tools/call`'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'docs/gcp.md has the step 7 shell block');
  return block;
}

test('docs/gcp.md step 7: the curl handshake and tools/call work as printed', async (t) => {
  if (spawnSync('curl', ['--version']).status !== 0) {
    t.skip('no curl on PATH');
    return;
  }
  const lines = step7().split('\n');
  assert.match(first(lines, 'first line of step 7'), /^URL=\$\(terraform output -raw mcp_url\) TOKEN=\$\(gcloud auth print-identity-token\)$/);
  const stack = await startStack({ demoUpstreams: true });
  const dir = mkdtempSync(join(tmpdir(), 'bqw-runbook-'));
  t.after(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = await stack.token('alice@bank.example', ['analyst']);
  const script = [`URL=${stack.mcpUrl} TOKEN=${token}`, ...lines.slice(1)].join('\n');
  // Async: the gateway runs in this process, so a blocking child would starve it.
  const { stdout } = await promisify(execFile)('bash', ['-c', script], { cwd: dir, env: { ...process.env, PROJECT: 'demo' }, encoding: 'utf8', timeout: 120_000 });
  const events = messagesIn(stdout) as { id?: number; result?: { content?: { text: string }[]; isError?: boolean; protocolVersion?: string } }[];
  assert.equal(events.find((e) => e.id === 1)?.result?.protocolVersion, '2025-06-18');
  const call = events.find((e) => e.id === 2);
  assert.ok(call?.result, `tools/call answered: ${stdout}`);
  // In the demo the BigQuery-qualified table is unknown, so policy refuses it, naming why.
  assert.match(call.result.content?.[0]?.text ?? '', /demo\.bank_analytics\.customers|not allowed|denied/i);
});

/**
 * The JSON-RPC messages in curl's output. A server may answer each POST with plain JSON or an
 * SSE stream (the spec lets it choose; the gateway mirrors its upstream), and curl prints the
 * bodies back to back: SSE `data:` lines, or JSON objects with nothing between them.
 */
function messagesIn(stdout: string): unknown[] {
  const out: unknown[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('data: ')) {
      out.push(JSON.parse(line.slice(6)));
      continue;
    }
    if (line.startsWith('event:')) continue;
    let depth = 0;
    let start = -1;
    let inString = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') {
        if (depth++ === 0) start = i;
      } else if (c === '}' && --depth === 0) out.push(JSON.parse(line.slice(start, i + 1)));
    }
  }
  return out;
}
