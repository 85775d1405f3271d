// A deployment whose public URL is not its bind address: browsers reach
// https://gateway.bank.test:<port> through a TLS reverse proxy, the gateway listens on
// 127.0.0.1:<other port> (server.publicUrl, trustProxy). Headless Chromium resolves the name with
// --host-resolver-rules and trusts the test's own certificate by its key hash; Origin, Referer
// and cookies are the browser's own. Secure, __Host- cookies, the demo authorization server at
// the public issuer, sign-in, an approval, the console, sign-out — and a cross-site form that
// tries to approve is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startStack } from '../helpers/gateway.js';
import { chromiumMissing, demoSignIn, launchChromium } from '../helpers/browser.js';
import { freePort } from '../../src/demo/toolbox.js';

const HOST = 'gateway.bank.test';
const EVIL = 'evil.test';

function selfSignedCert(dir: string): { key: Buffer; cert: Buffer; spki: string } {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${HOST}`,
      '-addext',
      `subjectAltName=DNS:${HOST}`,
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(join(dir, 'cert.pem'));
  const spkiDer = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return { key: readFileSync(join(dir, 'key.pem')), cert, spki: createHash('sha256').update(spkiDer).digest('base64') };
}

/** TLS termination in front of the gateway, as a load balancer does: Host kept, X-Forwarded-* added. */
function reverseProxy(tls: { key: Buffer; cert: Buffer }, target: number): Server {
  return createHttpsServer(tls, (req, res) => {
    const headers = { ...req.headers, 'x-forwarded-proto': 'https', 'x-forwarded-for': req.socket.remoteAddress ?? '127.0.0.1' };
    const up = httpRequest({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
}

test('public URL behind a TLS proxy: sign-in, approval, console and sign-out in Chromium; a cross-site form is refused', { timeout: 300_000 }, async (t) => {
  const missing = chromiumMissing() ?? (existsSync('/usr/bin/openssl') ? null : 'openssl not installed (apt-get install -y openssl)');
  if (missing) {
    t.skip(missing);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bqw-public-'));
  const tls = selfSignedCert(dir);
  const proxyPort = await freePort();
  const publicUrl = `https://${HOST}:${proxyPort}`;
  const stack = await startStack({ config: { server: { publicUrl, trustProxy: true } } });
  const proxy = reverseProxy(tls, stack.gateway.port);
  await new Promise<void>((r) => proxy.listen(proxyPort, '127.0.0.1', r));
  const evilPort = await freePort();
  let evilPage = '';
  const evil = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(evilPage));
  await new Promise<void>((r) => evil.listen(evilPort, '127.0.0.1', r));
  const browser = await launchChromium([`--host-resolver-rules=MAP ${HOST} 127.0.0.1, MAP ${EVIL} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${tls.spki}`]);
  t.after(async () => {
    await browser.close();
    await new Promise((r) => proxy.close(r));
    await new Promise((r) => evil.close(r));
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(stack.url, publicUrl);
  assert.notEqual(stack.gateway.port, proxyPort, 'the bind address is not the public one');

  // An engineer's DELETE is held (the MCP client talks to the bind address with a token for the public resource).
  const eve = new Client({ name: 'eve', version: '1.0.0' });
  await eve.connect(
    new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${stack.gateway.port}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${await stack.token('eve@bank.example', ['engineer'])}` } },
    }),
  );
  t.after(() => eve.close());
  const held = (await eve.callTool({ name: 'execute_sql', arguments: { sql: 'DELETE FROM transactions WHERE txn_id = 21', justification: 'CHG-21' } })) as {
    content: { text: string }[];
    isError?: boolean;
  };
  assert.equal(held.isError, true);
  const id = /apr-[a-z0-9]+/.exec(held.content.map((c) => c.text).join(' '))![0];

  // The approver signs in at the public URL and approves.
  const bob = await (await browser.newContext()).newPage();
  const posts: { url: string; origin: string | undefined }[] = [];
  bob.context().on('request', (r) => {
    if (r.method() === 'POST') posts.push({ url: r.url(), origin: r.headers().origin });
  });
  await bob.goto(`${publicUrl}/approvals/ui/${id}`);
  assert.equal(new URL(bob.url()).origin, publicUrl, 'the sign-in page is served at the public issuer');
  await demoSignIn(bob, 'bob@bank.example', ['approver']);
  await bob.waitForSelector('#sql');
  assert.equal(bob.url(), `${publicUrl}/approvals/ui/${id}`, 'back where sign-in started');
  const cookies = await bob.context().cookies(publicUrl);
  const session = cookies.find((c) => c.name === '__Host-bqw_session');
  assert.ok(session, `session cookie with the __Host- prefix: ${cookies.map((c) => c.name)}`);
  assert.equal(session.secure, true);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  assert.equal(session.path, '/');
  assert.ok(cookies.find((c) => c.name === '__Host-bqw_csrf')?.secure);

  // Attack: another site's page auto-submits an approval to the gateway (the attacker cannot know the CSRF token).
  evilPage = `<!doctype html><form id="f" method="post" action="${publicUrl}/approvals/ui/${id}/approve"><input name="reason" value="pwned"><input name="csrf" value="guess"><input name="sql_sha256" value="${'0'.repeat(64)}"></form><script>document.getElementById('f').submit()</script>`;
  const attacked = await bob.context().newPage();
  const response = attacked.waitForResponse((r) => r.url() === `${publicUrl}/approvals/ui/${id}/approve`);
  await attacked.goto(`http://${EVIL}:${evilPort}/`);
  const refused = await response;
  assert.ok(refused.status() === 401 || refused.status() === 403, `cross-site post answered ${refused.status()}`);
  assert.equal(posts.find((p) => p.url.endsWith('/approve'))?.origin, `http://${EVIL}:${evilPort}`, 'the browser named the attacker as Origin');
  await attacked.close();

  await bob.fill('#approve-reason', 'verified via the public URL');
  await bob.click('#approve');
  await bob.waitForSelector('.flash.ok');
  const approve = posts.filter((p) => p.url === `${publicUrl}/approvals/ui/${id}/approve`).at(-1);
  assert.equal(approve?.origin, publicUrl, 'the genuine form post carries the public origin');
  const ran = (await eve.callTool({ name: 'execute_sql', arguments: { sql: 'DELETE FROM transactions WHERE txn_id = 21', justification: 'CHG-21' } })) as { isError?: boolean };
  assert.notEqual(ran.isError, true, 'the approved statement runs (and only the genuine approval counted)');

  // An examiner opens the console at the public URL and signs out.
  const erin = await (await browser.newContext()).newPage();
  await erin.goto(`${publicUrl}/console`);
  await demoSignIn(erin, 'erin@bank.example', ['examiner']);
  await erin.waitForSelector('text=Who saw classified columns');
  await erin.click('header button[type=submit]');
  await erin.waitForSelector('#logout-yes');
  await erin.click('#logout-yes');
  await erin.waitForSelector('text=You are signed out');
  assert.equal(new URL(erin.url()).origin, publicUrl);
});
