// Loading: every refusal names file, line and a hint; the version hash is stable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { compilePolicy, loadPolicy } from '../../src/policy/engine.js';
import { PolicyLoadError } from '../../src/policy/errors.js';
import { at, first } from '../helpers/present.js';

const RULES = join(import.meta.dirname, '..', '..', 'rules');

const BASE = `
upstreams:
  - id: up
    dialect: sqlite
    defaultProject: demo
    defaultDataset: main
    tools:
      execute_sql: { kind: sql, sqlArgument: sql }
roles:
  - id: role-a
    role: analyst
    groups: [analyst]
`;

function refusal(files: Record<string, string>): PolicyLoadError {
  try {
    compilePolicy(Object.entries(files).map(([name, text]) => ({ name, text })));
  } catch (err) {
    assert.ok(err instanceof PolicyLoadError, String(err));
    return err;
  }
  assert.fail('policy was accepted');
}

test('the demo policy loads', async () => {
  const p = await loadPolicy(RULES);
  assert.match(p.version, /^[0-9a-f]{64}$/);
  assert.ok(p.files.includes('catalog/demo.yaml'));
  assert.ok(!p.files.some((f) => f.startsWith('tests/') || f.startsWith('examples/')));
});

test('unknown key: file, line and a did-you-mean hint', () => {
  const e = refusal({ 'a.yaml': `${BASE}rolez: []\n` });
  assert.equal(first(e.problems, 'problem').file, 'a.yaml');
  assert.equal(first(e.problems, 'problem').line, 13);
  assert.match(first(e.problems, 'problem').message, /unknown key rolez/);
  assert.match(first(e.problems, 'problem').hint ?? '', /did you mean roles/);
});

test('bad enum value: a hint with the closest value', () => {
  const e = refusal({
    'a.yaml': `${BASE}visibility:\n  - id: v\n    roles: [analyst]\n    classifications: { pii.ssn: last_4 }\nclassifications:\n  - { id: c, classification: pii.ssn, names: [ssn] }\n`,
  });
  const p = e.problems.find((x) => x.path.includes('classifications'))!;
  assert.equal(p.line, 16);
  assert.match(p.hint ?? '', /did you mean last4/);
});

test('unknown role reference and unknown approver role are refused', () => {
  const e = refusal({
    'a.yaml': `${BASE}statements:\n  - id: s\n    roles: [analysts]\n    classes: [write]\n    effect: approval\n    approval: { approvers: [aprover] }\n`,
  });
  assert.equal(e.problems.length, 2);
  assert.match(first(e.problems, 'problem').message, /unknown role analysts/);
  assert.match(first(e.problems, 'problem').hint ?? '', /did you mean analyst/);
  assert.equal(first(e.problems, 'problem').line, 15);
  assert.match(at(e.problems, 1, 'problem').message, /unknown approver role aprover/);
});

test('duplicate rule ids across files are refused with both locations', () => {
  const e = refusal({ 'a.yaml': BASE, 'b.yaml': `tools:\n  - id: role-a\n    roles: [analyst]\n    tools: [execute_sql]\n    effect: allow\n` });
  assert.equal(first(e.problems, 'problem').file, 'b.yaml');
  assert.equal(first(e.problems, 'problem').line, 2);
  assert.match(first(e.problems, 'problem').message, /already used at a\.yaml:10/);
});

test('tool rules must name described tools; sql tools need sqlArgument', () => {
  const e = refusal({ 'a.yaml': `${BASE}tools:\n  - id: t\n    roles: [analyst]\n    tools: [execute_sq]\n    effect: allow\n` });
  assert.match(first(e.problems, 'problem').message, /tool execute_sq is not described/);
  assert.match(first(e.problems, 'problem').hint ?? '', /did you mean execute_sql/);
  // A tool the upstream's kind does not know must say which argument carries its SQL.
  const f = refusal({ 'a.yaml': BASE.replace('execute_sql: { kind: sql, sqlArgument: sql }', 'run_query: { kind: sql }') });
  assert.match(first(f.problems, 'problem').message, /needs sqlArgument/);
  // A kind's own tool cannot be re-described: the SQL is where the upstream reads it.
  const g = refusal({ 'a.yaml': BASE.replace('{ kind: sql, sqlArgument: sql }', '{ kind: sql, sqlArgument: query }') });
  assert.match(first(g.problems, 'problem').message, /carries its SQL in argument sql, not query/);
});

test('YAML syntax errors and invalid regexes give lines', () => {
  const e = refusal({ 'a.yaml': `${BASE}roles: [\n` });
  assert.equal(first(e.problems, 'problem').file, 'a.yaml');
  assert.ok(first(e.problems, 'problem').line !== null);
  const r = refusal({ 'a.yaml': `${BASE}classifications:\n  - id: c\n    classification: pii.x\n    regex: ['(unclosed']\n` });
  assert.match(first(r.problems, 'problem').message, /invalid regular expression/);
  assert.equal(first(r.problems, 'problem').line, 16);
});

test('unknown classification in visibility, approval without a block, empty classification', () => {
  const e = refusal({
    'a.yaml': `${BASE}classifications:\n  - { id: c1, classification: pii.ssn, names: [ssn] }\n  - { id: c2, classification: pii.x }\nvisibility:\n  - { id: v, roles: [analyst], classifications: { pii.sn: clear } }\nstatements:\n  - { id: s, classes: [write], effect: approval }\n`,
  });
  const msgs = e.problems.map((p) => p.message).join('\n');
  assert.match(msgs, /needs at least one of columns/);
  assert.match(msgs, /effect approval needs an approval block/);
});

test('reference errors are reported after schema errors are fixed (classification typo)', () => {
  const e = refusal({ 'a.yaml': `${BASE}classifications:\n  - { id: c1, classification: pii.ssn, names: [ssn] }\nvisibility:\n  - { id: v, roles: [analyst], classifications: { pii.sn: clear } }\n` });
  assert.match(first(e.problems, 'problem').message, /unknown classification pii\.sn/);
  assert.match(first(e.problems, 'problem').hint ?? '', /did you mean pii\.ssn/);
  assert.equal(first(e.problems, 'problem').line, 16);
});

test('no files at all is a refusal, not an empty allow-nothing policy that looks fine', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-policy-'));
  try {
    await assert.rejects(loadPolicy(dir), /no policy files/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('version: stable for the same files, independent of order, sensitive to names and bytes', () => {
  const a = compilePolicy([
    { name: 'a.yaml', text: BASE },
    { name: 'b.yaml', text: '# x\n' },
  ]).version;
  const b = compilePolicy([
    { name: 'b.yaml', text: '# x\n' },
    { name: 'a.yaml', text: BASE },
  ]).version;
  assert.equal(a, b);
  assert.notEqual(
    compilePolicy([
      { name: 'a.yaml', text: BASE },
      { name: 'b.yaml', text: '# y\n' },
    ]).version,
    a,
  );
  assert.notEqual(
    compilePolicy([
      { name: 'a.yaml', text: BASE },
      { name: 'c.yaml', text: '# x\n' },
    ]).version,
    a,
  );
});

test('version of a copied rules dir equals the original; the catalog is part of it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-policy-'));
  try {
    for (const f of ['upstreams.yaml', 'roles.yaml', 'access.yaml', 'data.yaml']) cpSync(join(RULES, f), join(dir, f));
    mkdirSync(join(dir, 'catalog'));
    cpSync(join(RULES, 'catalog', 'demo.yaml'), join(dir, 'catalog', 'demo.yaml'));
    const orig = await loadPolicy(RULES);
    const copy = await loadPolicy(dir);
    if (orig.files.length === copy.files.length) assert.equal(copy.version, orig.version);
    writeFileSync(join(dir, 'catalog', 'demo.yaml'), '# changed\ntables: []\n');
    assert.notEqual((await loadPolicy(dir)).version, copy.version);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hostile YAML: an alias bomb is refused, __proto__ keys do not pollute or pass', () => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`), 'roles: []'].join('\n');
  const e = refusal({ 'a.yaml': bomb });
  assert.ok(e.problems.length > 0);
  const p = refusal({
    'a.yaml': `${BASE}classifications:\n  - { id: c1, classification: pii.ssn, names: [ssn] }\nvisibility:\n  - id: v\n    roles: [analyst]\n    classifications: { __proto__: clear }\n`,
  });
  assert.ok(p.problems.length > 0);
  assert.equal(({} as Record<string, unknown>).clear, undefined);
});
