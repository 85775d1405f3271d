// The README's quick start, as a new user runs it: `npm start`, then the Claude Desktop /
// mcp-remote snippet it prints, pasted unchanged and run from a clean folder. mcp-remote finds
// the demo authorization server from the gateway's 401, registers, opens the sign-in page (here
// headless Chromium visits the URL it prints), and proxies MCP over stdio — and keeps working
// after the access token expired (a 5-second TTL via BQWARDEN_CONFIG instead of an hour).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { decodeJwt } from 'jose';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { REPO, rowsOf } from '../helpers/gateway.js';
import { chromiumMissing, demoSignIn, launchChromium } from '../helpers/browser.js';
import { freePort } from '../../src/demo/toolbox.js';
import { at } from '../helpers/present.js';

const TTL = 5;

/** Resolves with the process's stdout once `until` matches it (or rejects when it exits first). */
function waitForOutput(child: ChildProcess, stream: 'stdout' | 'stderr', until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      if (until.test(text)) {
        child[stream]!.off('data', onData);
        resolve(text);
      }
    };
    child[stream]!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code} before printing ${until}:\n${text}`)));
  });
}

test('quick start: npm start, then the printed mcp-remote snippet signs in through the browser and survives token expiry', { timeout: 420_000 }, async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bqw-quickstart-'));
  const clean = mkdtempSync(join(tmpdir(), 'bqw-clean-'));
  const config = join(dir, 'short-tokens.yaml');
  writeFileSync(config, `identity:\n  clockToleranceSeconds: 0\n  devIssuer:\n    accessTokenTtlSeconds: ${TTL}\n`);
  const port = await freePort();
  const demo = spawn('npm', ['start'], {
    cwd: REPO,
    env: { ...process.env, PORT: String(port), BQWARDEN_DATA: join(dir, 'data'), BQWARDEN_CONFIG: config },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const stopDemo = () => {
    try {
      process.kill(-demo.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  t.after(() => {
    stopDemo();
    rmSync(clean, { recursive: true, force: true });
  });

  const welcome = await waitForOutput(demo, 'stdout', /Ctrl-C stops/);
  const snippet = JSON.parse(/\{\n[\s\S]*?\n\}/.exec(welcome)![0]) as { mcpServers: Record<string, { command: string; args: string[]; env?: Record<string, string> }> };
  const server = snippet.mcpServers.bqwarden;
  assert.deepEqual(server, { command: 'npx', args: ['-y', 'mcp-remote', `http://127.0.0.1:${port}/mcp`] }, 'nothing to paste: no header, no token');

  // What Claude Desktop does with the snippet: spawn it and speak MCP over its stdio.
  const transport = new StdioClientTransport({
    command: server.command,
    args: server.args,
    cwd: clean,
    env: { ...(process.env as Record<string, string>), ...server.env, MCP_REMOTE_CONFIG_DIR: join(clean, '.mcp-auth'), BROWSER: 'true', DISPLAY: '' },
    stderr: 'pipe',
  });
  let log = '';
  transport.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const client = new Client({ name: 'claude-desktop-stand-in', version: '1.0.0' });
  const connected = client.connect(transport);
  t.after(() => client.close().catch(() => undefined));

  // mcp-remote prints the sign-in URL (and tries to open a browser); a person opens it.
  for (let i = 0; i < 1200 && !/Please authorize this client by visiting:\s*\n(\S+)/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
  const url = /Please authorize this client by visiting:\s*\n(\S+)/.exec(log)?.[1];
  assert.ok(url, `mcp-remote printed no sign-in URL:\n${log}`);
  assert.ok(url.startsWith(`http://127.0.0.1:${port}/dev-issuer/auth?`), url);
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(url);
  await demoSignIn(page, 'alice@bank.example', ['analyst']);
  await page.waitForURL(/^http:\/\/localhost:\d+\/oauth\/callback/).catch((e) => {
    throw new Error(`${(e as Error).message}\npage: ${page.url()}\nmcp-remote:\n${log}`);
  });
  await connected;

  const sql = 'SELECT ssn FROM customers ORDER BY customer_id LIMIT 1';
  const accessToken = () => {
    const files = readdirSync(join(clean, '.mcp-auth'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('_tokens.json'));
    assert.equal(files.length, 1, `one token file: ${files}`);
    return (JSON.parse(readFileSync(join(clean, '.mcp-auth', files[0]!), 'utf8')) as { access_token: string }).access_token;
  };
  const first = rowsOf(await client.callTool({ name: 'execute_sql', arguments: { sql } }));
  assert.match(String(at(first, 0, 'masked row').ssn), /^X+\d{4}$/, 'alice (analyst) sees the SSN masked');
  const before = accessToken();
  assert.equal(decodeJwt(before).sub, 'alice@bank.example');

  // Past the access token's lifetime: mcp-remote refreshes by itself, nothing to re-enter.
  await new Promise((r) => setTimeout(r, (TTL + 2) * 1000));
  const second = rowsOf(await client.callTool({ name: 'execute_sql', arguments: { sql } }));
  assert.match(String(at(second, 0, 'masked row').ssn), /^X+\d{4}$/);
  assert.notEqual(accessToken(), before, 'mcp-remote refreshed its access token');
  assert.doesNotMatch(log, /Please authorize this client by visiting:[\s\S]*Please authorize this client by visiting:/, 'no second sign-in');
});
