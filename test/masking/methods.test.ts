import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { maskScalar, maskValue, strictest, STRICTNESS, pseudonymToken } from '../../src/masking/methods.js';
import { fpe } from '../../src/masking/fpe.js';
import { decodeKey } from '../../src/masking/keys.js';
import { RawNumber } from '../../src/masking/json.js';
import { MASK_METHODS } from '../../src/masking/types.js';
import { KEY_A, KEY_B } from './helpers.js';

const key = decodeKey('a', KEY_A);
const keyB = decodeKey('b', KEY_B);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

test('BigQuery semantics: LAST_FOUR_CHARACTERS / FIRST_FOUR_CHARACTERS', () => {
  assert.equal(maskScalar('last4', '123-45-6789', key), 'XXXXX6789');
  assert.equal(maskScalar('first4', '4111111111111111', key), '4111XXXXX');
  // <= 4 characters: SHA-256 (BigQuery rule), never the clear value
  assert.equal(maskScalar('last4', '1234', key), sha('1234'));
  assert.equal(maskScalar('first4', 'abc', key), sha('abc'));
  // counted in characters, not UTF-16 units
  assert.equal(maskScalar('last4', 'Zoë😀ab', key), 'XXXXXë😀ab');
});

test('BigQuery semantics: EMAIL_MASK keeps the domain, invalid → SHA-256', () => {
  assert.equal(maskScalar('email_domain', 'cloudysanfrancisco@gmail.com', key), 'XXXXX@gmail.com');
  assert.equal(maskScalar('email_domain', 'not an email', key), sha('not an email'));
  assert.equal(maskScalar('email_domain', 'a@b', key), sha('a@b'));
});

test('DATE_YEAR_MASK for date, datetime, timestamp (shown as YYYY-XX-XX, never a January 1st that reads as data); non-dates → NULL', () => {
  assert.equal(maskScalar('year_only', '1980-03-15', key), '1980-XX-XX');
  assert.equal(maskScalar('year_only', '2076-05-04T10:11:12', key), '2076-XX-XXTXX:XX:XX');
  assert.equal(maskScalar('year_only', '2076-05-04 10:11:12.123 UTC', key), '2076-XX-XX XX:XX:XX UTC');
  assert.equal(maskScalar('year_only', '2076-05-04T10:11:12Z', key), '2076-XX-XXTXX:XX:XXZ');
  // truncation in UTC: 00:30 on Jan 1st at +01:00 is still the previous year in UTC
  assert.equal(maskScalar('year_only', '2024-01-01T00:30:00+01:00', key), '2023-XX-XXTXX:XX:XXZ');
  assert.equal(maskScalar('year_only', '03/15/1980', key), '1980-XX-XX');
  assert.equal(maskScalar('year_only', 'March 1980', key), null);
  assert.equal(maskScalar('year_only', 19800315, key), null);
  // The engine computes with January 1st (so date functions still work); shown, it becomes XX.
  assert.equal(maskScalar('year_only', '1980-01-01', key), '1980-XX-XX');
});

test('redact: one mark for every type, never an empty name, a zero or a 1970 date that reads as data', () => {
  assert.equal(maskScalar('redact', 'Alice', key), 'XXXXX');
  assert.equal(maskScalar('redact', 42, key), 'XXXXX');
  assert.equal(maskScalar('redact', 4.5, key), 'XXXXX');
  assert.equal(maskScalar('redact', true, key), 'XXXXX');
  assert.equal(maskScalar('redact', '1980-03-15', key), 'XXXXX');
  assert.equal(maskScalar('redact', '2020-01-02T03:04:05Z', key), 'XXXXX');
  assert.deepEqual(maskValue('redact', ['a', 'b'], key), []);
  assert.equal(maskValue('redact', null, key), null);
});

test('every method leaves its own output unchanged (the engine masked first; the response masker is the second line)', () => {
  const values = ['123-45-6789', 'jane.doe@bank.example', '1980-03-15', '4111111111111111', 'Alice Smith', '12'];
  for (const m of ['redact', 'last4', 'first4', 'email_domain', 'year_only', 'nullify', 'sha256', 'pseudonym'] as const) {
    for (const v of values) {
      const once = maskValue(m, v, key);
      assert.deepEqual(maskValue(m, once, key), once, `${m}(${m}(${v}))`);
    }
  }
  // What the SQLite engine gives for short values and invalid addresses is already masked too.
  assert.equal(maskScalar('last4', 'XXXXX', key), 'XXXXX');
  assert.equal(maskScalar('email_domain', 'XXXXX', key), 'XXXXX');
  assert.equal(maskScalar('first4', 'XXXXX', key), 'XXXXX');
});

test('BigQuery semantics: ALWAYS_NULL and SHA256', () => {
  assert.equal(maskValue('nullify', 'x', key), null);
  assert.equal(maskValue('nullify', { a: 1 }, key), null);
  assert.equal(maskScalar('sha256', '123-45-6789', key), sha('123-45-6789'));
});

test('NULL stays NULL under every method', () => {
  for (const m of MASK_METHODS) assert.equal(maskValue(m, null, key), null, m);
});

test('masked numbers do not keep a number type that leaks digits', () => {
  for (const m of ['last4', 'first4', 'sha256', 'pseudonym', 'pseudonym_fpe'] as const) {
    const out = maskScalar(m, 123456789012, key);
    assert.equal(typeof out, 'string', m);
    assert.notEqual(out, '123456789012');
  }
  assert.equal(maskScalar('last4', 123456789012, key), 'XXXXX9012');
  assert.equal(maskScalar('last4', new RawNumber('4111111111111111111'), key), 'XXXXX1111');
});

test('pseudonym: deterministic, keyed, joinable across string and number forms', () => {
  const a = maskScalar('pseudonym', '123-45-6789', key);
  assert.match(String(a), /^tok_[a-z2-7]{26}$/);
  assert.equal(maskScalar('pseudonym', '123-45-6789', key), a);
  assert.notEqual(maskScalar('pseudonym', '123-45-6789', keyB), a);
  assert.notEqual(maskScalar('pseudonym', '123-45-6788', key), a);
  assert.equal(maskScalar('pseudonym', 1234567890, key), maskScalar('pseudonym', '1234567890', key));
  assert.equal(pseudonymToken(key, 'x'), pseudonymToken(decodeKey('other-id', KEY_A), 'x'));
});

test('pseudonym_fpe: format preserved, deterministic, keyed', () => {
  const out = fpe(key.fpe, '123-45-6789');
  assert.match(out, /^\d{3}-\d{2}-\d{4}$/);
  assert.notEqual(out, '123-45-6789');
  assert.equal(fpe(key.fpe, '123-45-6789'), out);
  assert.notEqual(fpe(keyB.fpe, '123-45-6789'), out);
  // digits of differently formatted values encrypt alike: joins across formats still work
  assert.equal(fpe(key.fpe, '123456789'), out.replace(/-/g, ''));
  const name = fpe(key.fpe, "Mary-Jane O'Neil");
  assert.match(name, /^[A-Z][a-z]{3}-[A-Z][a-z]{3} [A-Z]'[A-Z][a-z]{3}$/);
  assert.notEqual(name, "Mary-Jane O'Neil");
  // accents and fullwidth digits do not pass through
  assert.doesNotMatch(fpe(key.fpe, 'José'), /é/);
  assert.match(fpe(key.fpe, '１２３'), /^\d{3}$/);
});

test('pseudonym_fpe is a permutation: no collisions over a whole small domain', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10000; i++) seen.add(fpe(key.fpe, String(i).padStart(4, '0')));
  assert.equal(seen.size, 10000);
});

test('structs and arrays are masked leaf by leaf; keys are kept', () => {
  const v = { street: '1 Main St', geo: { zip: '10001' }, phones: ['555-1234', null] };
  assert.deepEqual(maskValue('last4', v, key), { street: 'XXXXXn St', geo: { zip: 'XXXXX0001' }, phones: ['XXXXX1234', null] });
  const input = JSON.parse(JSON.stringify(v));
  maskValue('pseudonym', input, key);
  assert.deepEqual(input, v, 'input not mutated');
});

test('strictness: total order over every method, strictest wins', () => {
  assert.deepEqual([...STRICTNESS].sort(), [...MASK_METHODS].sort());
  assert.equal(strictest(['last4', 'redact', 'pseudonym']), 'redact');
  assert.equal(strictest(['sha256', 'last4']), 'last4');
  assert.equal(strictest(['nullify', 'redact']), 'nullify');
  assert.equal(strictest([]), null);
});

test('keys: too short or unreadable keys are refused', () => {
  assert.throws(() => decodeKey('x', 'short'), /at least 32 bytes/);
  const hex = 'ab'.repeat(32);
  assert.equal(decodeKey('x', hex).token.length, 32);
  assert.notDeepEqual(decodeKey('x', hex).token, decodeKey('x', hex).fpe);
});

test('policy and masker share one strictness order (what policy explains is what the masker applies)', async () => {
  const { stricter } = await import('../../src/policy/visibility.js');
  const { strictest } = await import('../../src/masking/methods.js');
  for (const a of MASK_METHODS) for (const b of MASK_METHODS) assert.equal(stricter(a, b), strictest([a, b]), `${a} vs ${b}`);
  // The order itself: last four reveals more than first four; unkeyed sha256 the most.
  assert.equal(strictest(['last4', 'first4']), 'first4');
  assert.equal(strictest(['sha256', 'last4']), 'last4');
});
