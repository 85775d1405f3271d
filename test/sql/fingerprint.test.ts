import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyze } from '../../src/sql/analyze.js';
import { redactLiterals, fingerprint } from '../../src/sql/fingerprint.js';
import { tokenize } from '../../src/sql/lexer.js';

const SSN = '123-45-6789';

test('redactLiterals removes every literal form, even in SQL that does not parse', () => {
  const attacks = [
    `SELECT * FROM c WHERE ssn = '${SSN}'`,
    `SELECT * FROM c WHERE ssn = "${SSN}"`,
    `SELECT * FROM c WHERE ssn = r'${SSN}'`,
    `SELECT * FROM c WHERE ssn = b"${SSN}"`,
    `SELECT * FROM c WHERE ssn = '''${SSN}'''`,
    `SELECT * FROM c WHERE ssn = """${SSN}"""`,
    `SELECT * FROM c WHERE ssn = 'it\\'s ${SSN}'`,
    `SELECT * FROM c WHERE ssn = '${SSN}`, // unterminated
    `SELEC garbage '${SSN}' (((`,
    `SELECT 1 -- ${SSN}\nFROM c`,
    `SELECT 1 /* ${SSN} */ FROM c`,
    `SELECT 1 # ${SSN}\nFROM c`,
  ];
  for (const sql of attacks) {
    const r = redactLiterals(sql, 'bigquery');
    assert.ok(!r.includes('6789'), `${sql} -> ${r}`);
  }
  assert.ok(!redactLiterals(`SELECT 1 FROM c WHERE ssn = 123456789`, 'bigquery').includes('123456789'));
  assert.ok(!redactLiterals(`SELECT 1 FROM c WHERE x = X'313233'`, 'sqlite').includes('313233'));
  assert.ok(!redactLiterals(`SELECT 1 FROM c WHERE x = 'a''${SSN}'`, 'sqlite').includes('6789'));
  // SQLite turns an unknown "identifier" into a string: treat it as a literal.
  assert.ok(!redactLiterals(`SELECT 1 FROM c WHERE ssn = "${SSN}"`, 'sqlite').includes('6789'));
});

test('redactLiterals keeps the statement shape', () => {
  assert.equal(redactLiterals(`SELECT name FROM c WHERE ssn = '${SSN}' AND n > 5`, 'bigquery'), 'SELECT name FROM c WHERE ssn = ? AND n > ?');
  assert.equal(redactLiterals('SELECT `p.d.t`.a FROM `p.d.t`', 'bigquery'), 'SELECT `p.d.t`.a FROM `p.d.t`');
});

test('fingerprint normalises literals, case, whitespace, comments and IN lists', () => {
  const a = fingerprint(`select name from c where ssn = '1' and id in (1,2,3) -- hi`, 'bigquery');
  const b = fingerprint(`SELECT   name\nFROM c /* x */ WHERE ssn = "2" AND id IN (4)`, 'bigquery');
  assert.equal(a, b);
  assert.equal(a, 'SELECT name FROM c WHERE ssn = ? AND id IN (?)');
  assert.notEqual(fingerprint('SELECT a FROM c', 'bigquery'), fingerprint('SELECT b FROM c', 'bigquery'));
  assert.equal(fingerprint('SELECT -1;', 'bigquery'), fingerprint('select 7', 'bigquery'));
});

test('analysis carries sha256 of the exact text and per-statement fingerprints', () => {
  const a = analyze("SELECT 1; DELETE FROM t WHERE x = 'secret'", { dialect: 'bigquery', defaultProject: 'p', defaultDataset: 'd' });
  assert.equal(a.sha256.length, 64);
  const [select, del] = a.statements;
  assert.ok(select && del, 'two statements analysed');
  assert.equal(del.fingerprint, 'DELETE FROM t WHERE x = ?');
  assert.notEqual(select.sha256, del.sha256);
});

test('parse errors do not echo literals', () => {
  const a = analyze(`SELECT '${SSN}' '${SSN}' FROM`, { dialect: 'bigquery' });
  assert.equal(a.ok, false);
  assert.ok(!JSON.stringify(a.opaque).includes('6789'), JSON.stringify(a.opaque));
});

test('tokenize round-trips any input', () => {
  for (const s of ["SELECT 'a", 'x"y', '`a', '/* open', "r'''x", '@@x', '[a b]', '\u00e9t\u00e9 = 1']) {
    for (const d of ['bigquery', 'sqlite', 'postgresql'] as const)
      assert.equal(
        tokenize(s, d)
          .map((t) => t.text)
          .join(''),
        s,
      );
  }
});

test('fingerprint reads as SQL: operators whole (>=, <>, ||), calls without a space (SUM(x)), lists and subqueries spaced', () => {
  assert.equal(
    fingerprint("select SUM(amount), COUNT(*) from t where a >= 1 and b<=2 and c <> 3 and d != 4 and s || 'x' = 'y' and id in (1, 2) and not exists (select 1)", 'bigquery'),
    'SELECT SUM(amount), COUNT(*) FROM t WHERE a >= ? AND b <= ? AND c <> ? AND d != ? AND s || ? = ? AND id IN (?) AND NOT EXISTS (SELECT ?)',
  );
  // Whitespace never splits a fingerprint: `SUM (x)` and `SUM(x)` are one statement shape.
  assert.equal(fingerprint('SELECT SUM (x) FROM t', 'bigquery'), fingerprint('SELECT SUM(x) FROM t', 'bigquery'));
  // BigQuery pipe syntax: `|>` is one operator.
  assert.equal(fingerprint("FROM t\n|> where a = 'x'\n|> SELECT a", 'bigquery'), 'FROM t |> WHERE a = ? |> SELECT a');
});
