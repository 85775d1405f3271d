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

import { ATTACKS, ORACLES, ONE_SSN } from './attacks.js';

const BANK = generateBank();

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
  assert.ok(
    leaks.some((l) => l.kind === 'ssn' && l.value === ONE_SSN),
    `expected the clear SSN in the pii-reader's result: ${JSON.stringify(result)}`,
  );
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
  const result = await reader.callTool({
    name: 'execute_sql',
    arguments: {
      sql: 'SELECT c.customer_id, c.ssn, c.email, c.date_of_birth, a.account_number FROM customers c JOIN accounts a ON a.customer_id = c.customer_id WHERE c.customer_id <= 3 ORDER BY a.account_id',
    },
  });
  assert.notEqual(result.isError, true, JSON.stringify(result));
  const rows = rowsOf(result);
  assert.ok(rows.length >= 3);
  for (const r of rows) {
    const c = bank.customers.find((x) => x.customer_id === r.customer_id)!;
    assert.equal(r.ssn, c.ssn);
    assert.equal(r.email, c.email);
    assert.equal(r.date_of_birth, c.date_of_birth);
    assert.ok(
      bank.accounts.some((a) => a.customer_id === c.customer_id && a.account_number === r.account_number),
      `account number ${r.account_number} is the clear one`,
    );
  }
});
