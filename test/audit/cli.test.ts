// `bqwarden verify`, `replay` and `audit public-key|seal` as an examiner runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { chainFiles, openLog, readLinesOf, request, tempData, writeChain, writeLinesOf } from './helpers.js';

function cli(args: string[], data: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(args, { env: { BQWARDEN_DATA: data } });
}

test('verify: OK exits 0; a break exits 1 naming file:line; --json; missing dir exits 2', { timeout: 60_000 }, async () => {
  const { t, file } = await writeChain(6);
  try {
    const ok = await cli(['verify'], t.data);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^audit chain verification: OK/);
    const lines = readLinesOf(file);
    lines.splice(2, 1);
    writeLinesOf(file, lines);
    const bad = await cli(['verify', '--dir', t.audit], t.data);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, new RegExp(`BREAK\\s+seq_gap .* at ${file}:3`));
    const json = await cli(['verify', '--json'], t.data);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).breaks[0].kind, 'seq_gap');
    const missing = await cli(['verify', '--dir', join(t.data, 'nope')], t.data);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
  } finally {
    t.cleanup();
  }
});

test('replay prints the session; public-key prints PEM + fingerprint and never the private key; seal closes a crashed chain', { timeout: 60_000 }, async () => {
  const t = tempData();
  try {
    const a = await openLog(t.audit, t.keys);
    for (let i = 0; i < 4; i++) await a.log.append(request(i));
    await a.sink.close(); // crash: never sealed
    const unsealed = await cli(['verify', '--require-sealed'], t.data);
    assert.equal(unsealed.code, 1);
    const sealed = await cli(['audit', 'seal'], t.data);
    assert.equal(sealed.code, 0, sealed.stderr);
    assert.equal((await cli(['verify', '--require-sealed'], t.data)).code, 0);
    const replay = await cli(['replay', 'sess-1'], t.data);
    assert.equal(replay.code, 0);
    assert.match(replay.stdout, /session sess-1: 1 event\(s\)/);
    const json = JSON.parse((await cli(['replay', 'sess-0', '--json'], t.data)).stdout);
    assert.equal(json.events.length, 2);
    assert.equal((await cli(['replay', 'nobody'], t.data)).code, 1);
    const pk = await cli(['audit', 'public-key'], t.data);
    assert.equal(pk.code, 0);
    assert.match(pk.stdout, /-----BEGIN PUBLIC KEY-----[\s\S]+fingerprint: ed25519:[0-9a-f]{16}/);
    assert.doesNotMatch(pk.stdout + pk.stderr, /PRIVATE/);
    assert.equal(pk.stdout.split('fingerprint')[0]!.trim(), readFileSync(join(t.keys, 'audit-signing.pub.pem'), 'utf8').trim());
    assert.equal(chainFiles(t.audit).length, 2);
  } finally {
    t.cleanup();
  }
});
