// Property tests: whatever the upstream sends, masking never throws, never mutates its input,
// and a planted sensitive value in a masked column never comes out in clear text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyMasking, MASKING_FAILED_TEXT } from '../../src/masking/apply.js';
import { col, options, plan } from './helpers.js';

const opts = options();
const P = plan([col(1, 'ssn', 'redact'), col(2, 'email', 'pseudonym')], ['id', 'ssn', 'email', 'note']);

const anyResult = fc.record(
  {
    content: fc.array(
      fc.oneof(
        fc.record({ type: fc.constant('text'), text: fc.oneof(fc.string(), fc.json()) }),
        fc.record({ type: fc.constantFrom('image', 'audio', 'resource', 'resource_link', 'x'), data: fc.string() }),
        fc.anything(),
      ),
      { maxLength: 6 },
    ),
    structuredContent: fc.jsonValue(),
    isError: fc.boolean(),
    _meta: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

test('never throws and never mutates, on arbitrary results', () => {
  fc.assert(
    fc.property(anyResult, (r) => {
      const before = JSON.stringify(r);
      const out = applyMasking(r as Record<string, unknown>, P, opts);
      assert.equal(JSON.stringify(r), before);
      assert.ok(Array.isArray(out.report.notes));
      JSON.stringify(out.result);
    }),
    { numRuns: 300 },
  );
});

test('a planted SSN / e-mail in a masked column never survives, whatever the row shape', () => {
  const ssn = '234-56-7890';
  const email = 'planted.person@bank.example';
  const extra = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
  fc.assert(
    fc.property(extra, fc.constantFrom('toolbox', 'array', 'structured', 'wrapped'), fc.boolean(), (more, shape, upper) => {
      const row: Record<string, unknown> = { ...more, id: 1, [upper ? 'SSN' : 'ssn']: ssn, email };
      const result =
        shape === 'toolbox'
          ? { content: [{ type: 'text', text: JSON.stringify(row) }] }
          : shape === 'array'
            ? { content: [{ type: 'text', text: JSON.stringify([row, row]) }] }
            : shape === 'structured'
              ? { structuredContent: row }
              : { structuredContent: { result: [row] } };
      const text = JSON.stringify(applyMasking(result, P, opts).result);
      assert.ok(!text.includes(ssn), text);
      assert.ok(!text.includes(email), text);
    }),
    { numRuns: 300 },
  );
});

test('absurd nesting is withheld, not crashed on', () => {
  let deep: unknown = '123-45-6789';
  for (let i = 0; i < 20000; i++) deep = [deep];
  const out = applyMasking({ structuredContent: { x: deep } }, P, opts);
  const text = JSON.stringify(out.result);
  assert.ok(!text.includes('123-45-6789'));
  assert.ok(text.includes(MASKING_FAILED_TEXT) || out.report.notes.some((n) => /nested deeper/.test(n)), out.report.notes.join());
});
