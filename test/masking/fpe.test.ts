import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ff1 } from '../../src/masking/fpe.js';

const K = Buffer.from('2B7E151628AED2A6ABF7158809CF4F3C', 'hex');
const digits = (s: string) => [...s].map((c) => parseInt(c, 36));
const text = (x: number[]) => x.map((d) => d.toString(36)).join('');

test('FF1 matches NIST SP 800-38G sample 1 (AES-128, radix 10, empty tweak)', () => {
  assert.equal(text(ff1(K, 10, digits('0123456789'))), '2433477484');
});

test('FF1 matches NIST sample 2 (tweak 39383736353433323130)', () => {
  assert.equal(text(ff1(K, 10, digits('0123456789'), Buffer.from('39383736353433323130', 'hex'))), '6124200773');
});

test('FF1 matches NIST sample 3 (radix 36, tweak 3737373770717273373737)', () => {
  assert.equal(text(ff1(K, 36, digits('0123456789abcdefghi'), Buffer.from('3737373770717273373737', 'hex'))), 'a9tv40mll9kdu509eum');
});
