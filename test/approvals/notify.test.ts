// Approver notifications: Slack-compatible body, retries with backoff against a server that
// fails first, never on the data path, and an audited notification_failed when all attempts fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { held, reviewer, setup } from './helpers.js';
import { at } from '../helpers/present.js';

const DELETE = "DELETE FROM accounts WHERE account_id = 'A-3003'";

async function hook(handler: (n: number, body: string, req: IncomingMessage) => { status: number; delayMs?: number }) {
  const bodies: string[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      n++;
      bodies.push(body);
      const { status, delayMs } = handler(n, body, req);
      setTimeout(() => res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'nope'), delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/secret-part`;
  return { url, bodies, attempts: () => n, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function until(cond: () => boolean) {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

test('webhook retried with backoff until it succeeds; Slack-shaped body with id, requester, summary, link', async () => {
  const h = await hook((n) => ({ status: n <= 2 ? 503 : 200 }));
  const { gate, audit, approvals } = await setup({ config: { webhook: { url: h.url, retries: 4, initialBackoffMs: 5, maxBackoffMs: 20 } } });
  const r = await gate.check(held('eve@bank.example', DELETE, { justification: '<@channel> urgent' }));
  await until(() => h.attempts() >= 3);
  await approvals.notifier.idle();
  await approvals.close();
  await h.close();
  assert.equal(h.attempts(), 3);
  const body = JSON.parse(at(h.bodies, 2, 'third webhook body')) as { text: string; blocks: { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: { url: string }[] }[] };
  assert.match(body.text, new RegExp(r.approvalId));
  assert.match(body.text, /eve@bank\.example/);
  assert.match(body.text, /DELETE on main\.accounts/);
  assert.match(body.text, new RegExp(`http://127\\.0\\.0\\.1:8080/approvals/ui/${r.approvalId}`));
  assert.ok(Array.isArray(body.blocks));
  const all = JSON.stringify(body.blocks);
  assert.ok(!all.includes('A-3003'), 'no literals in chat');
  assert.ok(!all.includes('<@channel>'), 'mrkdwn control characters escaped');
  assert.ok(all.includes('&lt;@channel&gt;'));
  assert.equal(audit.ofType('notification_failed').length, 0);
});

test('a webhook that never answers well is audited as notification_failed, and the URL secret is not in it', async () => {
  const h = await hook(() => ({ status: 500 }));
  const { gate, audit, approvals, service } = await setup({ config: { webhook: { url: h.url, retries: 2, initialBackoffMs: 5, maxBackoffMs: 10 } } });
  const r = await gate.check(held('eve@bank.example', DELETE));
  await until(() => audit.ofType('notification_failed').length > 0);
  assert.equal(h.attempts(), 3);
  const [f] = audit.ofType('notification_failed');
  assert.ok(f, 'notification_failed audited');
  assert.equal(f.approval_id, r.approvalId);
  assert.equal(f.outcome, 'failure');
  assert.match(f.error_message!, /after 3 attempts: webhook answered HTTP 500/);
  assert.ok(!JSON.stringify(f).includes('secret-part'));
  // The request is unaffected: it can still be approved.
  await service.approve(r.approvalId, reviewer('bob@bank.example'), 'ok');
  await approvals.close();
  await h.close();
});

test('notification never blocks the held call', async () => {
  let release!: () => void;
  const gateOpen = new Promise<void>((r) => (release = r));
  const h = await hook(() => ({ status: 200, delayMs: 0 }));
  const { gate, approvals } = await setup({
    config: { webhook: { url: h.url, retries: 0, timeoutMs: 60_000 } },
    extra: {
      // A webhook that hangs until the test lets it go.
      fetch: (async (...args: Parameters<typeof fetch>) => {
        await gateOpen;
        return fetch(...args);
      }) as typeof fetch,
    },
  });
  const r = await gate.check(held('eve@bank.example', DELETE));
  assert.equal(r.status, 'pending', 'answered while the webhook is still hanging');
  assert.equal(h.attempts(), 0);
  release();
  await until(() => h.attempts() === 1);
  await approvals.close();
  await h.close();
});
