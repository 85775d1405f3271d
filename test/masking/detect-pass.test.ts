// The detectors' memo (detect-pass.ts) reuses one verdict for a repeated (column, value) pair.
// Its key must tell every pair apart: a column name and a value both come from the query (an
// agent picks aliases and can build strings with NUL), so a key that only joins them with a
// separator lets one cell's clean verdict stand for another cell that holds a number the
// column name marks as sensitive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMasking } from '../../src/masking/apply.js';
import { DetectorPass } from '../../src/masking/detect-pass.js';
import { options, plan, rowsOf, toolbox } from './helpers.js';

const opts = options();
// 123456789 is a valid SSN only when context says so: here the column name `…SSN`.
const DECOY = { key: 'note', value: 'customerSSN\u0000123456789' };
const TARGET = { key: 'note\u0000customerSSN', value: '123456789' };

test('attack: a (column, value) pair that joins to the same text as an earlier one is still scanned', () => {
  const pass = new DetectorPass(opts, true);
  // The decoy has no SSN hint (the word is glued to another, and NUL is not a word boundary).
  assert.equal(pass.string(DECOY.value, DECOY.key), DECOY.value);
  assert.equal(pass.string(TARGET.value, TARGET.key), '[REDACTED:ssn]');
  assert.deepEqual(pass.report(), [{ detector: 'ssn', count: 1 }]);
});

test('attack: the same pair inside one result: the second column is still redacted', () => {
  const { result, report } = applyMasking(toolbox([{ [DECOY.key]: DECOY.value, [TARGET.key]: TARGET.value }]), plan([], null), opts);
  const [row] = rowsOf(result);
  assert.ok(row);
  assert.equal(row[TARGET.key], '[REDACTED:ssn]');
  assert.equal(row[DECOY.key], DECOY.value);
  assert.deepEqual(report.detectorHits, [{ detector: 'ssn', count: 1 }]);
});

test('the memo still counts a repeated value once per occurrence', () => {
  const pass = new DetectorPass(opts, true);
  for (let i = 0; i < 3; i++) assert.equal(pass.string('123456789', 'ssn'), '[REDACTED:ssn]');
  assert.equal(pass.string('123456789', null), '123456789');
  assert.deepEqual(pass.report(), [{ detector: 'ssn', count: 3 }]);
});
