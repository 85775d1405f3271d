// JSON-RPC error codes are defined once (src/common/errors.ts). Three copies of them once
// existed (transport, pipeline, approval gate, "kept in step" by a comment); this fails when a
// numeric code is written anywhere else in src/, and checks the codes' meanings do not collide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as codes from '../../src/common/errors.js';
import { REPO } from '../helpers/gateway.js';

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

test('no JSON-RPC error code is written outside src/common/errors.ts', () => {
  const offenders: string[] = [];
  for (const f of tsFiles(join(REPO, 'src'))) {
    const rel = relative(REPO, f);
    if (rel === join('src', 'common', 'errors.ts')) continue;
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        // Code, not prose: a comment may name a code ("→ -32600").
        const code = line
          .replace(/\/\/.*$/, '')
          .replace(/^\s*\*.*$/, '')
          .replace(/\/\*.*?\*\//g, '');
        if (/(?<![\w.])-32[0-9]{3}\b/.test(code)) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(offenders, []);
});

test('the gateway codes are in the server-defined range and mean one thing each', () => {
  const own = { ERR_FORBIDDEN: codes.ERR_FORBIDDEN, ERR_AUDIT_UNAVAILABLE: codes.ERR_AUDIT_UNAVAILABLE, ERR_UPSTREAM: codes.ERR_UPSTREAM, SERVER_ERROR: codes.SERVER_ERROR };
  for (const [name, c] of Object.entries(own)) assert.ok(c <= -32000 && c >= -32099, `${name} ${c}`);
  assert.equal(new Set(Object.values(own)).size, Object.keys(own).length, 'no two gateway refusals share a code');
  const e = new codes.GatewayError(codes.ERR_FORBIDDEN, 'denied', { reason: 'policy' });
  assert.equal(e.code, -32003);
  assert.equal(e.name, 'GatewayError');
});
