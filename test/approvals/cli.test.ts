// `bqwarden approvals …` against a real HTTP server running the approvals API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { testWeb } from '../helpers/web.js';
import Fastify from 'fastify';
import { Command } from 'commander';
import { decodeJwt } from 'jose';
import { registerWith } from '../../src/cli/approvals.js';
import { AuthError, type Identity } from '../../src/identity/types.js';
import { held, identity, setup } from './helpers.js';

const DELETE = "DELETE FROM accounts WHERE account_id = 'A-5005'";

async function authenticate(headers: IncomingHttpHeaders): Promise<Identity> {
  const token = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
  if (token === 'tok-bob') return identity('bob@bank.example');
  if (token === 'tok-eve') return identity('eve@bank.example');
  // The minted demo token: this test only checks that the CLI minted one for the right user.
  if (token?.startsWith('ey')) return identity(String(decodeJwt(token).sub));
  throw new AuthError('bad_signature', 'token signature does not verify');
}

async function cli(url: string, args: string[], env: NodeJS.ProcessEnv = {}, answers: string[] | null = null) {
  let out = '';
  let err = '';
  const asked: string[] = [];
  const program = new Command('bqwarden').exitOverride();
  registerWith(program, {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    env,
    fetch,
    // answers === null: no terminal (a script, CI); otherwise a person answering in turn.
    interactive: answers !== null,
    ask: async (q) => {
      asked.push(q);
      return answers?.shift() ?? '';
    },
  });
  const before = process.exitCode;
  process.exitCode = undefined;
  await program.parseAsync(['node', 'bqwarden', 'approvals', '--url', url, ...args]);
  const code = process.exitCode ?? 0;
  process.exitCode = before;
  return { out, err, code, asked };
}

test('list, show, approve and reject through the CLI; errors are explained and exit non-zero', async (t) => {
  const s = await setup();
  const app = Fastify();
  await s.approvals.routes(app, { authenticate, web: testWeb(authenticate, s.audit) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  t.after(() => app.close());

  const r = await s.gate.check(held('eve@bank.example', DELETE, { justification: 'CHG-7' }));
  const other = await s.gate.check(held('eve@bank.example', 'DELETE FROM transactions'));

  const list = await cli(url, ['--token', 'tok-bob', 'list']);
  assert.equal(list.code, 0);
  assert.match(
    list.out,
    new RegExp(`${r.approvalId}\\s+pending\\s+0/1\\s+eve@bank\\.example\\s+DELETE main\\.accounts\\s+requested 2026-03-02T10:00:00\\.000Z \\(\\d+ (s|min|h|days?)( \\d+ min)? ago\\)`),
  );
  assert.match(list.out, /sql: DELETE FROM accounts WHERE account_id = \?\n\s+justification: CHG-7/, 'SQL in its audit form (literals redacted) and the justification');
  assert.ok(!list.out.includes('A-5005'), 'no literal in the list');

  const show = await cli(url, ['show', r.approvalId], { BQWARDEN_TOKEN: 'tok-bob' });
  assert.equal(show.code, 0);
  assert.ok(show.out.includes(DELETE), 'exact statement shown to the approver');
  assert.match(show.out, /Justification\s+CHG-7/);

  assert.match(show.out, new RegExp(`You may approve:\\n  .*approvals --url ${url.replace(/[.]/g, '\\.')} approve ${r.approvalId}$`, 'm'));

  // Without a terminal nothing is decided unless the script says --yes (and gives a reason).
  const blind = await cli(url, ['--token', 'tok-bob', 'approve', r.approvalId, '--reason', 'looks fine']);
  assert.equal(blind.code, 1);
  assert.match(blind.err, /needs a confirmation: run it at a terminal to be asked, or pass --yes/);
  const noReason = await cli(url, ['--token', 'tok-bob', 'approve', r.approvalId, '--yes']);
  assert.equal(noReason.code, 1);
  assert.match(noReason.err, /--reason is required with --yes/);
  // At a terminal: asked for a reason, then to confirm; anything but yes decides nothing.
  const declined = await cli(url, ['--token', 'tok-bob', 'approve', r.approvalId], {}, ['looks fine', 'no']);
  assert.equal(declined.code, 1);
  assert.match(declined.err, /not approved: nothing was decided/);
  assert.equal(declined.asked.length, 2);
  assert.match(declined.asked[1]!, new RegExp(`Approve ${r.approvalId} \\(DELETE on main\\.accounts, sha256 [0-9a-f]{12}…\\)\\? Type yes to confirm`));
  assert.equal(s.service.get(r.approvalId)!.approvals.length, 0, 'declining decided nothing');

  const self = await cli(url, ['--token', 'tok-eve', 'approve', r.approvalId, '--reason', 'mine', '--yes']);
  assert.equal(self.code, 1);
  assert.match(self.err, /separation of duties.*HTTP 403 self_approval/);

  const none = await cli(url, ['list']);
  assert.equal(none.code, 1);
  assert.match(none.err, /no credentials/);

  const ok = await cli(url, ['--token', 'tok-bob', 'approve', r.approvalId], {}, ['confirmed with ops', 'yes']);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^approved: apr-\S+\s+approved\s+1\/1/);
  assert.equal(s.service.get(r.approvalId)!.approvals[0]?.reason, 'confirmed with ops');

  const json = await cli(url, ['--token', 'tok-bob', '--json', 'reject', other.approvalId, '--reason', 'not today', '--yes']);
  assert.equal(json.code, 0);
  assert.equal(JSON.parse(json.out).approval.status, 'rejected');

  const unreachable = await cli('http://127.0.0.1:9', ['--token', 'tok-bob', 'list']);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.err, /cannot reach the gateway/);
});

test('demo: --user/--groups mints a dev token for that user', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'bqw-cli-'));
  const prev = process.env.BQWARDEN_DATA;
  process.env.BQWARDEN_DATA = data;
  t.after(() => {
    if (prev === undefined) delete process.env.BQWARDEN_DATA;
    else process.env.BQWARDEN_DATA = prev;
    rmSync(data, { recursive: true, force: true });
  });
  const s = await setup();
  const app = Fastify();
  await s.approvals.routes(app, { authenticate, web: testWeb(authenticate, s.audit) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const r = await s.gate.check(held('eve@bank.example', DELETE));
  const res = await cli(url, ['--user', 'bob@bank.example', '--groups', 'approver', 'approve', r.approvalId, '--reason', 'ok', '--yes']);
  assert.equal(res.code, 0, res.err);
  assert.equal(s.service.get(r.approvalId)!.approvals[0]?.actor.display, 'bob@bank.example');
});
