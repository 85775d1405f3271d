import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MaskingConfigSchema, resolveMaskingOptions, MaskingConfigError } from '../../src/masking/config.js';
import { pseudonymToken } from '../../src/masking/methods.js';
import { UPSTREAM_SHAPES } from '../../src/upstreams/result-shapes.js';

test('defaults: every detector on, redact action, unmapped text withheld', () => {
  const cfg = MaskingConfigSchema.parse({});
  assert.deepEqual(cfg.detectors, { ssn: true, card: true, aba: true, iban: true, email: true, phone: true });
  assert.equal(cfg.detectorAction, 'redact');
  assert.equal(cfg.unmappedText, 'withhold');
  assert.equal(cfg.pseudonym.key, null);
});

test('a key is required: pseudonyms are keyed (fail closed at startup)', () => {
  assert.throws(
    () => resolveMaskingOptions({}, UPSTREAM_SHAPES),
    (e: Error) => e instanceof MaskingConfigError && /key or masking.pseudonym.keyFile is required/.test(e.message),
  );
  assert.throws(() => resolveMaskingOptions({ pseudonym: { key: 'too short' } }, UPSTREAM_SHAPES), /at least 32 bytes/);
  assert.throws(() => resolveMaskingOptions({ pseudonym: { key: 'a'.repeat(40), keyFile: '/x' } }, UPSTREAM_SHAPES), /either key or keyFile/);
  assert.throws(() => resolveMaskingOptions({ detectorAction: 'shout' }, UPSTREAM_SHAPES), /masking config invalid/);
});

test('key file (a mounted Secret Manager secret): base64, hex or raw; same key → same tokens as inline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-mask-'));
  try {
    const raw = randomBytes(32);
    const b64 = join(dir, 'k.b64');
    writeFileSync(b64, raw.toString('base64') + '\n');
    const hex = join(dir, 'k.hex');
    writeFileSync(hex, raw.toString('hex'));
    const a = resolveMaskingOptions({ pseudonym: { keyId: 'sm-v3', keyFile: b64 } }, UPSTREAM_SHAPES);
    const b = resolveMaskingOptions({ pseudonym: { keyFile: hex } }, UPSTREAM_SHAPES);
    const c = resolveMaskingOptions({ pseudonym: { key: raw.toString('base64') } }, UPSTREAM_SHAPES);
    assert.equal(a.key.id, 'sm-v3');
    assert.equal(pseudonymToken(a.key, 'v'), pseudonymToken(b.key, 'v'));
    assert.equal(pseudonymToken(a.key, 'v'), pseudonymToken(c.key, 'v'));
    assert.throws(() => resolveMaskingOptions({ pseudonym: { keyFile: join(dir, 'missing') } }, UPSTREAM_SHAPES), /cannot be read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detector toggles flow through', () => {
  const o = resolveMaskingOptions({ pseudonym: { key: 'k'.repeat(32) }, detectors: { phone: false } }, UPSTREAM_SHAPES);
  assert.equal(o.detectors.phone, false);
  assert.equal(o.detectors.ssn, true);
});
