// Bypass suite (issue 5): the analyst role tries to get masked values out through the real
// demo stack (official MCP SDK client → gateway → MCP Toolbox → SQLite). Denied or masked
// both count as safe; any clear SSN, card number, account number, email or date of birth
// from the dataset in any response fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startStack, rowsOf, type TestStack } from '../helpers/gateway.js';
import { findLeaks } from '../helpers/leaks.js';
import { generateBank } from '../../src/demo/dataset.js';

const ONE_SSN = generateBank().customers[0].ssn;

export const ATTACKS: [string, string][] = [
  ['plain column', 'SELECT ssn FROM customers LIMIT 5'],
  ['alias', 'SELECT ssn AS x FROM customers LIMIT 5'],
  ['quoted alias with innocent name', 'SELECT c.ssn AS "city" FROM customers c LIMIT 5'],
  ['alias swap', 'SELECT full_name AS ssn, ssn AS full_name FROM customers LIMIT 5'],
  ['upper()', 'SELECT upper(ssn) FROM customers LIMIT 5'],
  ['lower(email)', 'SELECT lower(email) FROM customers LIMIT 5'],
  ['concatenation', "SELECT 'x' || ssn || 'y' FROM customers LIMIT 5"],
  ['concat empty', "SELECT ssn || '' AS v FROM customers LIMIT 5"],
  ['substr pieces concatenated', 'SELECT substr(ssn,1,3) || substr(ssn,5,2) || substr(ssn,8,4) FROM customers LIMIT 5'],
  ['substr pieces as columns', 'SELECT substr(ssn,1,3) a, substr(ssn,5,2) b, substr(ssn,8,4) c FROM customers LIMIT 5'],
  ['replace separators', "SELECT replace(ssn,'-','') FROM customers LIMIT 5"],
  ['replace with spaces', "SELECT replace(ssn,'-',' ') FROM customers LIMIT 5"],
  ['CASE passthrough', 'SELECT CASE WHEN 1=1 THEN ssn END AS v FROM customers LIMIT 5'],
  ['CASE oracle', "SELECT customer_id, CASE WHEN ssn LIKE '0%' THEN 'a' ELSE 'b' END AS v FROM customers LIMIT 5"],
  ['cast text', 'SELECT CAST(ssn AS TEXT) FROM customers LIMIT 5'],
  ['cast account number', 'SELECT CAST(account_number AS TEXT) AS n FROM accounts LIMIT 5'],
  ['arithmetic +0', 'SELECT account_number + 0 AS n FROM accounts LIMIT 5'],
  ['arithmetic *1', 'SELECT account_number * 1 AS n FROM accounts LIMIT 5'],
  ['arithmetic -1', 'SELECT account_number - 1 AS n FROM accounts LIMIT 5'],
  ['arithmetic /1.0', 'SELECT account_number / 1.0 AS n FROM accounts LIMIT 5'],
  ['hex()', 'SELECT hex(ssn) FROM customers LIMIT 5'],
  ['correlated scalar subquery', 'SELECT (SELECT ssn FROM customers c2 WHERE c2.customer_id = c.customer_id) AS v FROM customers c LIMIT 5'],
  ['derived table', 'SELECT x FROM (SELECT ssn AS x FROM customers) LIMIT 5'],
  ['CTE star', 'WITH t AS (SELECT ssn FROM customers) SELECT * FROM t LIMIT 5'],
  ['CTE column list', 'WITH t(a) AS (SELECT ssn FROM customers) SELECT a FROM t LIMIT 5'],
  ['UNION into innocent column', 'SELECT full_name FROM customers UNION SELECT ssn FROM customers LIMIT 20'],
  ['UNION ALL email', 'SELECT city FROM customers UNION ALL SELECT email FROM customers LIMIT 2000'],
  ['json_object', "SELECT json_object('s', ssn) AS j FROM customers LIMIT 5"],
  ['json_array', 'SELECT json_array(ssn, email) AS j FROM customers LIMIT 5'],
  ['json_group_array', 'SELECT json_group_array(ssn) AS j FROM customers'],
  ['group_concat', 'SELECT group_concat(ssn) AS g FROM customers'],
  ['group_concat email', "SELECT group_concat(email, ';') AS g FROM customers"],
  ['min/max', 'SELECT min(ssn), max(ssn) FROM customers'],
  ['max card', 'SELECT max(card_number) AS m FROM transactions'],
  ['SELECT *', 'SELECT * FROM customers LIMIT 5'],
  ['t.*', 'SELECT c.* FROM customers c LIMIT 5'],
  ['join USING star', 'SELECT * FROM customers JOIN accounts USING (customer_id) LIMIT 5'],
  ['WHERE equality oracle', `SELECT customer_id FROM customers WHERE ssn = '${ONE_SSN}'`],
  ['WHERE LIKE oracle', "SELECT customer_id FROM customers WHERE ssn LIKE '00%'"],
  ['ORDER BY oracle', 'SELECT customer_id FROM customers ORDER BY ssn LIMIT 5'],
  ['GROUP BY', 'SELECT count(*) AS n FROM customers GROUP BY ssn LIMIT 5'],
  ['HAVING', "SELECT customer_id FROM customers GROUP BY customer_id HAVING max(ssn) > '5' LIMIT 5"],
  ['JOIN ON masked', 'SELECT a.customer_id FROM accounts a JOIN customers c ON c.ssn = a.routing_number LIMIT 5'],
  ['window ORDER BY', 'SELECT row_number() OVER (ORDER BY ssn) AS r, customer_id FROM customers LIMIT 5'],
  ['unicode()', 'SELECT unicode(ssn) AS u FROM customers LIMIT 5'],
  ['printf', "SELECT printf('%s', ssn) AS p FROM customers LIMIT 5"],
  ['trim', "SELECT trim(' ' || ssn || ' ') AS t FROM customers LIMIT 5"],
  ['coalesce', 'SELECT coalesce(NULL, ssn) AS v FROM customers LIMIT 5'],
  ['ifnull', "SELECT ifnull(ssn, 'x') AS v FROM customers LIMIT 5"],
  ['nullif', "SELECT nullif(ssn, 'x') AS v FROM customers LIMIT 5"],
  ['iif', 'SELECT iif(1, ssn, 0) AS v FROM customers LIMIT 5'],
  ['date of birth', 'SELECT date_of_birth FROM customers LIMIT 5'],
  ['strftime dob', "SELECT strftime('%Y%m%d', date_of_birth) AS d FROM customers LIMIT 5"],
  ['date() dob', 'SELECT date(date_of_birth) AS d FROM customers LIMIT 5'],
  ['email', 'SELECT email FROM customers LIMIT 5'],
  ['email local part', "SELECT substr(email, 1, instr(email, '@') - 1) AS u FROM customers LIMIT 5"],
  ['card number', 'SELECT card_number FROM transactions LIMIT 5'],
  ['card halves', 'SELECT substr(card_number,1,8) AS a, substr(card_number,9,8) AS b FROM transactions LIMIT 5'],
  ['account number', 'SELECT account_number FROM accounts LIMIT 5'],
  ['multi-statement', 'SELECT ssn FROM customers LIMIT 1; SELECT 1'],
  ['scalar subquery aggregate', 'SELECT (SELECT group_concat(ssn) FROM customers) AS x'],
  ['nested star', 'SELECT * FROM (SELECT * FROM customers) t LIMIT 5'],
  ['derived t.*', 'SELECT t.* FROM (SELECT ssn, email FROM customers) t LIMIT 5'],
  ['quote()', 'SELECT quote(ssn) AS q FROM customers LIMIT 5'],
  ['ltrim', "SELECT ltrim(ssn, '0') AS v FROM customers LIMIT 5"],
  ['offset', 'SELECT ssn FROM customers LIMIT 1 OFFSET 5'],
  ['quoted identifiers', 'SELECT "ssn" FROM "customers" LIMIT 5'],
  ['upper-case identifiers', 'SELECT SSN FROM CUSTOMERS LIMIT 5'],
  ['schema-qualified column', 'SELECT main.customers.ssn FROM main.customers LIMIT 5'],
  ['IN subquery oracle', "SELECT customer_id FROM customers WHERE customer_id IN (SELECT customer_id FROM customers WHERE ssn > '5') LIMIT 5"],
  ['EXISTS oracle', `SELECT EXISTS (SELECT 1 FROM customers WHERE ssn = '${ONE_SSN}') AS e`],
  ['comment noise', 'SELECT /* hi */ ssn /* there */ FROM customers -- x\n LIMIT 5'],
  ['recursive CTE char walk', "WITH RECURSIVE r(n, c) AS (SELECT 1, substr((SELECT ssn FROM customers LIMIT 1), 1, 1) UNION ALL SELECT n + 1, substr((SELECT ssn FROM customers LIMIT 1), n + 1, 1) FROM r WHERE n < 11) SELECT group_concat(c, '') AS s FROM r"],
  ['join select list', 'SELECT c.ssn, a.account_number FROM customers c JOIN accounts a ON a.customer_id = c.customer_id LIMIT 5'],
  ['boolean from masked', 'SELECT ssn IS NULL AS b, email FROM customers LIMIT 5'],
  ['CTE shadowing real table', "WITH accounts AS (SELECT ssn AS account_number FROM customers) SELECT account_number FROM accounts LIMIT 5"],
  ['INSERT (read-only role)', "INSERT INTO customers (customer_id, full_name, ssn) VALUES (99999, 'x', '000-00-0000')"],
  ['CTAS exfiltration', 'CREATE TABLE leak AS SELECT ssn FROM customers'],
  ['ATTACH', "ATTACH DATABASE '/tmp/x.db' AS x"],
  ['PRAGMA', 'PRAGMA table_info(customers)'],
  ['sqlite_master', 'SELECT sql FROM sqlite_master'],
  ['value oracle via LIMIT expression', "SELECT customer_id FROM customers LIMIT (SELECT length(ssn) FROM customers LIMIT 1)"],
  ['VALUES smuggle', 'SELECT * FROM (SELECT ssn FROM customers UNION ALL VALUES (1)) LIMIT 5'],
  ['email via json_extract', "SELECT json_extract(json_object('e', email), '$.e') AS e FROM customers LIMIT 5"],
];

const BANK = generateBank();
const REAL_ACCOUNT = String(BANK.accounts[0].account_number);
const FAKE_SSN = '899-99-9999';
const FAKE_ACCOUNT = '1000000001';

/**
 * One-bit oracles: the leak detector cannot see a yes/no answer, so each oracle runs twice —
 * with a value that exists and with one that does not — and the two responses must be
 * indistinguishable (both denied, or identical results).
 */
export const ORACLES: [string, (guess: string) => string, string, string][] = [
  ['INTERSECT count', (g) => `SELECT count(*) AS n FROM (SELECT ssn FROM customers INTERSECT SELECT '${g}')`, ONE_SSN, FAKE_SSN],
  ['EXCEPT count', (g) => `SELECT count(*) AS n FROM (SELECT '${g}' EXCEPT SELECT ssn FROM customers)`, ONE_SSN, FAKE_SSN],
  ['UNION count', (g) => `SELECT count(*) AS n FROM (SELECT ssn FROM customers UNION SELECT '${g}')`, ONE_SSN, FAKE_SSN],
  ['DISTINCT over UNION ALL', (g) => `SELECT count(*) AS n FROM (SELECT DISTINCT x FROM (SELECT ssn AS x FROM customers UNION ALL SELECT '${g}'))`, ONE_SSN, FAKE_SSN],
  ['count(DISTINCT)', (g) => `SELECT count(DISTINCT x) AS n FROM (SELECT ssn AS x FROM customers UNION ALL SELECT '${g}')`, ONE_SSN, FAKE_SSN],
  ['NATURAL JOIN', (g) => `SELECT count(*) AS n FROM customers NATURAL JOIN (SELECT '${g}' AS ssn)`, ONE_SSN, FAKE_SSN],
  ['CASE flag', (g) => `SELECT customer_id, CASE WHEN ssn = '${g}' THEN 1 END AS h FROM customers ORDER BY customer_id LIMIT 3`, ONE_SSN, FAKE_SSN],
  ['CASE error channel', (g) => `SELECT CASE WHEN ssn = '${g}' THEN json('x') END AS h FROM customers LIMIT 3`, ONE_SSN, FAKE_SSN],
  ['WHERE equality', (g) => `SELECT count(*) AS n FROM customers WHERE ssn = '${g}'`, ONE_SSN, FAKE_SSN],
  ['EXISTS', (g) => `SELECT EXISTS (SELECT 1 FROM customers WHERE ssn = '${g}') AS e`, ONE_SSN, FAKE_SSN],
  ['IN list', (g) => `SELECT count(*) AS n FROM customers WHERE ssn IN ('${g}', '000-00-0000')`, ONE_SSN, FAKE_SSN],
  ['scalar subquery in select', (g) => `SELECT (SELECT count(*) FROM customers c2 WHERE c2.ssn = '${g}') AS n`, ONE_SSN, FAKE_SSN],
  ['join to a guessed account number', (g) => `SELECT count(*) AS n FROM accounts a JOIN (SELECT ${g} AS g) x ON x.g = a.account_number`, REAL_ACCOUNT, FAKE_ACCOUNT],
  ['GROUP BY comparison', (g) => `SELECT count(*) AS n FROM accounts GROUP BY account_number = ${g}`, REAL_ACCOUNT, FAKE_ACCOUNT],
  ['email domain guess via LIKE', (g) => `SELECT count(*) AS n FROM customers WHERE email LIKE '${g}'`, BANK.customers[0].email, 'nobody@nowhere.example'],
  ['bare column beside max()', (g) => `SELECT customer_id, max(ssn = '${g}') AS m FROM customers`, ONE_SSN, FAKE_SSN],
];

let stack: TestStack;
let analyst: Client;

before(async () => {
  stack = await startStack();
  analyst = await stack.client('mallory@bank.example', ['analyst']);
});
after(async () => {
  await stack?.stop();
});

test(`the bypass suite has at least 60 attacks (${ATTACKS.length})`, () => {
  assert.ok(ATTACKS.length >= 60);
});

test('the leak detector itself finds clear values (so the suite can fail)', async () => {
  const reader = await stack.client('pat@bank.example', ['pii-reader']);
  const result = await reader.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT ssn, email FROM customers WHERE customer_id = 1' } });
  const leaks = findLeaks(result);
  assert.ok(leaks.some((l) => l.kind === 'ssn' && l.value === ONE_SSN), `expected the clear SSN in the pii-reader's result: ${JSON.stringify(result)}`);
});

for (const [name, sql] of ATTACKS) {
  test(`analyst bypass attempt: ${name}`, async () => {
    let response: unknown;
    try {
      response = await analyst.callTool({ name: 'execute_sql', arguments: { sql } });
    } catch (err) {
      response = { error: (err as Error).message };
    }
    const leaks = findLeaks(response);
    assert.deepEqual(leaks, [], `leaked ${leaks.map((l) => `${l.kind} ${l.value}`).join(', ')} via ${sql}\n${JSON.stringify(response).slice(0, 500)}`);
  });
}

test(`the oracle suite has its cases (${ORACLES.length})`, () => {
  assert.ok(ORACLES.length >= 15);
});

for (const [name, sqlFor, real, fake] of ORACLES) {
  test(`analyst oracle attempt: ${name}`, async () => {
    const ask = async (g: string) => {
      try {
        const r = await analyst.callTool({ name: 'execute_sql', arguments: { sql: sqlFor(g) } });
        return JSON.stringify(r).split(g).join('<guess>');
      } catch (err) {
        return `error: ${(err as Error).message.split(g).join('<guess>')}`;
      }
    };
    const [a, b] = [await ask(real), await ask(fake)];
    assert.equal(a, b, `the response tells a real value from a guess via ${name}:\n real: ${a.slice(0, 300)}\n fake: ${b.slice(0, 300)}`);
  });
}

test('pii-reader sees clear, correct values', async () => {
  const bank = BANK;
  const reader = await stack.client('pat@bank.example', ['pii-reader']);
  const result = await reader.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT c.customer_id, c.ssn, c.email, c.date_of_birth, a.account_number FROM customers c JOIN accounts a ON a.customer_id = c.customer_id WHERE c.customer_id <= 3 ORDER BY a.account_id' } });
  assert.notEqual(result.isError, true, JSON.stringify(result));
  const rows = rowsOf(result);
  assert.ok(rows.length >= 3);
  for (const r of rows) {
    const c = bank.customers.find((x) => x.customer_id === r.customer_id)!;
    assert.equal(r.ssn, c.ssn);
    assert.equal(r.email, c.email);
    assert.equal(r.date_of_birth, c.date_of_birth);
    assert.ok(bank.accounts.some((a) => a.customer_id === c.customer_id && a.account_number === r.account_number), `account number ${r.account_number} is the clear one`);
  }
});
