// Red team, examiner console: the integrity panel must trust what `verify` trusts — keys pinned
// in config and the key the gateway signs with — never a key file someone dropped into keys/.
// Attack: with write access to the data directory, rewrite an event in the middle of a sealed
// chain, re-hash everything after it, re-sign the checkpoints with a key of one's own and put its
// public half beside the gateway's as keys/rotated.pub.pem. Restarted on that directory, the
// gateway's console must call the chain broken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../helpers/gateway.js';
import { signerFromPrivateKey } from '../../src/audit/checkpoint.js';
import { sealEvent } from '../../src/audit/hash.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { chainFiles, readLinesOf, writeLinesOf } from '../audit/helpers.js';

async function integrity(url: string, token: string): Promise<string> {
  const page = await (await fetch(`${url}/console/integrity?run=1`, { headers: { authorization: `Bearer ${token}` } })).text();
  const verdict = /<p id="verdict">([\s\S]*?)<\/p>/.exec(page)?.[1];
  assert.ok(verdict, `the integrity page shows a verdict: ${page.slice(0, 300)}`);
  return verdict;
}

test('console integrity: a middle rewrite re-signed with a key dropped into keys/ is BROKEN, not intact', { timeout: 240_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bqw-console-trust-'));
  try {
    let stack = await startStack({ dataDir });
    const ana = await stack.client('ana@bank.example', ['analyst']);
    for (let i = 1; i <= 4; i++) await ana.callTool({ name: 'execute_sql', arguments: { sql: `SELECT customer_id FROM customers WHERE customer_id = ${i}` } });
    const examiner = await stack.token('erin@bank.example', ['examiner']);
    assert.match(await integrity(stack.url, examiner), /Chain intact/, 'control: the untouched chain');
    await stack.stop(); // sealed: gateway_stop + a signed checkpoint after every event

    const [file] = chainFiles(join(dataDir, 'audit'));
    const evil = signerFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
    let prev: string | null = null;
    let edited = false;
    let resigned = 0;
    const lines = readLinesOf(file!).map((line) => {
      const e = JSON.parse(line) as AuditEvent;
      if (!edited && e.event_type === 'mcp_request' && e.mcp_method === 'tools/call') {
        e.actor_email = 'someone-else@bank.example';
        edited = true;
      } else if (!edited) {
        prev = e.hash;
        return line;
      }
      if (prev !== null) e.prev_hash = prev;
      if (e.event_type === 'checkpoint') {
        e.signature = evil.sign(e.chain_id, e.seq, e.prev_hash) as string;
        e.signing_key_id = evil.keyId;
        resigned++;
      }
      const text = sealEvent(e);
      prev = e.hash;
      return text;
    });
    assert.ok(edited && resigned > 0, 'the attack rewrote an event and re-signed the checkpoints after it');
    writeLinesOf(file!, lines);
    writeFileSync(join(dataDir, 'keys', 'rotated.pub.pem'), evil.publicKeyPem);

    stack = await startStack({ dataDir });
    try {
      const verdict = await integrity(stack.url, await stack.token('erin@bank.example', ['examiner']));
      assert.match(verdict, /Chain BROKEN/, `the dropped-in key vouched for the forgery: ${verdict}`);
    } finally {
      await stack.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('console integrity: a cut tail is BROKEN — the panel compares the chain with the exported anchors', { timeout: 240_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bqw-console-anchors-'));
  try {
    let stack = await startStack({ dataDir });
    const ana = await stack.client('ana@bank.example', ['analyst']);
    for (let i = 1; i <= 4; i++) await ana.callTool({ name: 'execute_sql', arguments: { sql: `SELECT customer_id FROM customers WHERE customer_id = ${i}` } });
    await stack.stop(); // sealed and anchored last

    // Attack: the last calls and the seal are cut away; the gateway restarts on what is left.
    const [file] = chainFiles(join(dataDir, 'audit'));
    const lines = readLinesOf(file!);
    writeLinesOf(file!, lines.slice(0, lines.length - 4));

    stack = await startStack({ dataDir });
    try {
      const verdict = await integrity(stack.url, await stack.token('erin@bank.example', ['examiner']));
      assert.match(verdict, /Chain BROKEN/, `the cut tail went unnoticed: ${verdict}`);
    } finally {
      await stack.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
