// Bytes passed through untouched: a result the pipeline returns unchanged reaches the client
// exactly as the upstream wrote it (no re-serialisation), and never in a way that lets the
// client see something the pipeline did not (duplicate keys, in-place changes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMisbehavingUpstream } from '../fixtures/upstream-misbehaving.js';
import { rawPost, rawSession, startGateway } from './helpers.js';
import { rawResultOf } from '../../src/transport/upstream.js';
import type { McpInterceptor } from '../../src/pipeline/types.js';
import { first } from '../helpers/present.js';

async function gatewayOver(answer: (id: unknown) => string, onRequest?: Partial<McpInterceptor>) {
  const up = await startMisbehavingUpstream('scripted', { answer });
  const gw = await startGateway(up.url, { upstream: { url: up.url, headers: async () => ({}), timeoutMs: 5000 }, interceptorOverrides: onRequest });
  const token = await gw.auth.token('bytes');
  const sid = await rawSession(gw.url, token, '2025-11-25');
  const call = (id: number) => rawPost(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 't', arguments: {} } }, { authorization: `Bearer ${token}`, 'mcp-session-id': sid });
  return {
    call,
    gw,
    async close() {
      await gw.close();
      await up.close();
    },
  };
}

test('an unchanged result is relayed byte for byte (JSON.stringify would have rewritten 1.50 and \\/)', async () => {
  const result = '{"content":[{"type":"text","text":"a\\/b"}],"amount":1.50,"big":12345678901234567890}';
  const g = await gatewayOver((id) => `{"jsonrpc":"2.0","id":${id},"result":${result}}`);
  try {
    const r = await g.call(7);
    assert.equal(r.text, `{"jsonrpc":"2.0","id":7,"result":${result}}`);
  } finally {
    await g.close();
  }
  // The other common framing (the TypeScript SDK writes result first).
  const g2 = await gatewayOver((id) => `{"result":${result},"jsonrpc":"2.0","id":${id}}\n`);
  try {
    assert.equal((await g2.call('x' as never)).text, `{"jsonrpc":"2.0","id":"x","result":${result}}`);
  } finally {
    await g2.close();
  }
});

test('a changed result is serialised from what the pipeline returned', async () => {
  const g = await gatewayOver((id) => `{"jsonrpc":"2.0","id":${id},"result":{"content":[],"amount":1.50}}`, {
    onRequest: async (_c, _m, params, forward) => ({ ...(await forward(params)), masked: true }),
  });
  try {
    assert.equal((await g.call(1)).text, '{"jsonrpc":"2.0","id":1,"result":{"content":[],"amount":1.5,"masked":true}}');
  } finally {
    await g.close();
  }
});

test('attack: a duplicate "result" key (spelled with a \\u escape) cannot make the client see another value than the pipeline saw', async () => {
  // JSON.parse keeps the last duplicate; a first-wins client parser would keep the first.
  const g = await gatewayOver((id) => `{"jsonrpc":"2.0","id":${id},"result":{"ssn":"XXX-XX-1234"},"r\\u0065sult":{"ssn":"123-45-6789"}}`);
  try {
    const r = await g.call(3);
    const seen = g.gw.interceptor.rec.requests.at(-1);
    assert.ok(seen);
    assert.equal(r.text, '{"jsonrpc":"2.0","id":3,"result":{"ssn":"123-45-6789"}}', 'exactly the value the pipeline saw, one key');
  } finally {
    await g.close();
  }
  for (const body of [
    (id: unknown) => `{"jsonrpc":"2.0","id":${id},"result":{"a":1},"result" :{"a":2}}`,
    (id: unknown) => `{"jsonrpc":"2.0","id":${id},"result":{"a":1},"id":${id}}`,
    (id: unknown) => `{"result":{"a":1},"result":{"a":2},"jsonrpc":"2.0","id":${id}}`,
  ]) {
    const h = await gatewayOver(body);
    try {
      const r = await h.call(4);
      const parsed = JSON.parse(r.text);
      assert.equal(Object.keys(parsed).length, 3, r.text);
      assert.equal((r.text.match(/"result"/g) ?? []).length, 1, `one result key only: ${r.text}`);
    } finally {
      await h.close();
    }
  }
});

test('attack: a pipeline that changes the forwarded result in place fails closed (it is frozen), never relaying the original bytes', async () => {
  const g = await gatewayOver((id) => `{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"123-45-6789"}]}}`, {
    onRequest: async (_c, _m, params, forward) => {
      const r = await forward(params);
      first(r.content as { text: string }[], 'forwarded content item').text = 'XXX-XX-6789';
      return r;
    },
  });
  try {
    const r = await g.call(5);
    assert.doesNotMatch(r.text, /123-45-6789/);
    assert.equal(r.json.error.code, -32603);
  } finally {
    await g.close();
  }
});

test('rawResultOf accepts only spans in which no framing key can hide', () => {
  const t = (s: string) => rawResultOf(`{"jsonrpc":"2.0","id":1,"result":${s}}`, [33, 33 + s.length]);
  assert.equal(t('{"a":[1,2]}'), '{"a":[1,2]}');
  assert.equal(t('{"a":"\\u0041"}'), null);
  assert.equal(t('{"id":1}'), null);
  assert.equal(t('{"x":{"result":1}}'), null);
  assert.equal(t('{"text":"{\\"id\\":1}"}'), '{"text":"{\\"id\\":1}"}', 'escaped quotes inside strings are not keys');
});
