// Everyday analyst questions (issue 11): what a new analyst asks an agent about the demo bank,
// with the SQL an agent writes for it, run as role analyst through the real stack. Masking must
// not get in the way of ordinary analytics: the suite reports how many are answered and fails
// under 95 %. An answer is a successful result with at least one row.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startStack, rowsOf, type TestStack } from '../helpers/gateway.js';
import { findLeaks } from '../helpers/leaks.js';

const QUESTIONS: [string, string][] = [
  ['How many customers do we have?', 'SELECT COUNT(*) AS customers FROM customers'],
  ['Customers per state, biggest first', 'SELECT state, COUNT(*) AS customers FROM customers GROUP BY state ORDER BY customers DESC'],
  ['Customers per city in Texas', "SELECT city, COUNT(*) AS n FROM customers WHERE state = 'TX' GROUP BY city"],
  ['How many customers were born in each decade?', "SELECT (CAST(strftime('%Y', date_of_birth) AS INTEGER) / 10) * 10 AS decade, COUNT(*) AS customers FROM customers GROUP BY decade ORDER BY decade"],
  ['Average customer age', "SELECT ROUND(AVG(CAST(strftime('%Y', 'now') AS INTEGER) - CAST(strftime('%Y', date_of_birth) AS INTEGER)), 1) AS avg_age FROM customers"],
  ['Customers born before 1960', "SELECT COUNT(*) AS n FROM customers WHERE date_of_birth < '1960-01-01'"],
  ['Which e-mail domains do customers use?', "SELECT substr(email, instr(email, '@') + 1) AS domain, COUNT(*) AS customers FROM customers GROUP BY domain ORDER BY customers DESC"],
  ['How many customers have no phone number on file?', 'SELECT COUNT(*) AS missing_phone FROM customers WHERE phone IS NULL'],
  ['How many customers have an e-mail address?', 'SELECT COUNT(email) AS with_email, COUNT(*) - COUNT(email) AS without_email FROM customers'],
  ['Number of accounts by type', 'SELECT account_type, COUNT(*) AS accounts FROM accounts GROUP BY account_type'],
  ['Total balance by account type', 'SELECT account_type, ROUND(SUM(balance), 2) AS total_balance FROM accounts GROUP BY account_type ORDER BY total_balance DESC'],
  ['Average balance of open accounts', "SELECT ROUND(AVG(balance), 2) AS avg_balance FROM accounts WHERE status = 'open'"],
  ['Accounts that are frozen or closed', "SELECT status, COUNT(*) AS n FROM accounts WHERE status IN ('frozen', 'closed') GROUP BY status"],
  ['Accounts opened per year', "SELECT strftime('%Y', opened_at) AS year, COUNT(*) AS opened FROM accounts GROUP BY year ORDER BY year"],
  ['Top 10 balances with the account number', 'SELECT account_number, balance FROM accounts ORDER BY balance DESC LIMIT 10'],
  ['Customers with more than one account', 'SELECT customer_id, COUNT(*) AS accounts FROM accounts GROUP BY customer_id HAVING COUNT(*) > 1 LIMIT 20'],
  [
    'Customer names and total balances',
    'SELECT c.customer_id, c.full_name, ROUND(SUM(a.balance), 2) AS total FROM customers c JOIN accounts a ON a.customer_id = c.customer_id GROUP BY c.customer_id, c.full_name ORDER BY total DESC LIMIT 10',
  ],
  ['Total balance per state', 'SELECT c.state, ROUND(SUM(a.balance), 2) AS total FROM customers c JOIN accounts a ON a.customer_id = c.customer_id GROUP BY c.state ORDER BY total DESC'],
  ['Routing numbers in use', 'SELECT routing_number, COUNT(*) AS accounts FROM accounts GROUP BY routing_number ORDER BY accounts DESC LIMIT 10'],
  ['Transactions per merchant', 'SELECT merchant, COUNT(*) AS txns, ROUND(SUM(amount), 2) AS spend FROM transactions GROUP BY merchant ORDER BY spend DESC'],
  ['Monthly transaction volume', "SELECT strftime('%Y-%m', posted_at) AS month, COUNT(*) AS txns, ROUND(SUM(amount), 2) AS volume FROM transactions GROUP BY month ORDER BY month"],
  ['Largest transactions', 'SELECT txn_id, merchant, amount, posted_at FROM transactions ORDER BY amount DESC LIMIT 10'],
  ['Average transaction amount by merchant', 'SELECT merchant, ROUND(AVG(amount), 2) AS avg_amount FROM transactions GROUP BY merchant'],
  ['How many distinct cards were used?', 'SELECT COUNT(DISTINCT card_number) AS cards FROM transactions'],
  ['Spend by the last four digits of the card', 'SELECT substr(card_number, -4) AS card_last4, ROUND(SUM(amount), 2) AS spend FROM transactions GROUP BY card_last4 ORDER BY spend DESC LIMIT 10'],
  ['Card numbers of the latest transactions', 'SELECT txn_id, card_number, amount FROM transactions ORDER BY posted_at DESC LIMIT 10'],
  [
    'Spend per customer',
    'SELECT a.customer_id, ROUND(SUM(t.amount), 2) AS spend FROM transactions t JOIN accounts a ON a.account_id = t.account_id GROUP BY a.customer_id ORDER BY spend DESC LIMIT 10',
  ],
  [
    'Spend per state',
    'SELECT c.state, ROUND(SUM(t.amount), 2) AS spend FROM transactions t JOIN accounts a ON a.account_id = t.account_id JOIN customers c ON c.customer_id = a.customer_id GROUP BY c.state ORDER BY spend DESC',
  ],
  [
    'Customers who never transacted',
    'SELECT COUNT(*) AS n FROM customers c WHERE NOT EXISTS (SELECT 1 FROM accounts a JOIN transactions t ON t.account_id = a.account_id WHERE a.customer_id = c.customer_id)',
  ],
  ['Transactions over $500 by account type', 'SELECT a.account_type, COUNT(*) AS big FROM transactions t JOIN accounts a ON a.account_id = t.account_id WHERE t.amount > 500 GROUP BY a.account_type'],
  ['Last four of each customer SSN with their city', 'SELECT customer_id, ssn, city FROM customers LIMIT 10'],
  ['Customer contact list (masked is fine)', 'SELECT customer_id, full_name, email, phone FROM customers LIMIT 10'],
  ['Customers by ZIP prefix', 'SELECT substr(zip, 1, 3) AS zip3, COUNT(*) AS n FROM customers GROUP BY zip3'],
  ['New customers per year', "SELECT strftime('%Y', created_at) AS year, COUNT(*) AS new_customers FROM customers GROUP BY year ORDER BY year"],
  [
    'Running total of monthly volume',
    "SELECT month, volume, SUM(volume) OVER (ORDER BY month) AS running FROM (SELECT strftime('%Y-%m', posted_at) AS month, SUM(amount) AS volume FROM transactions GROUP BY month) ORDER BY month",
  ],
  ['Rank merchants by spend', 'SELECT merchant, spend, RANK() OVER (ORDER BY spend DESC) AS rnk FROM (SELECT merchant, SUM(amount) AS spend FROM transactions GROUP BY merchant)'],
  [
    'Top account per customer by balance',
    'SELECT customer_id, account_id, balance FROM (SELECT customer_id, account_id, balance, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY balance DESC) AS r FROM accounts) WHERE r = 1 LIMIT 10',
  ],
  ['Share of savings accounts', "SELECT ROUND(100.0 * SUM(CASE WHEN account_type = 'savings' THEN 1 ELSE 0 END) / COUNT(*), 1) AS pct_savings FROM accounts"],
  [
    'Customers and account counts via a CTE',
    'WITH counts AS (SELECT customer_id, COUNT(*) AS n FROM accounts GROUP BY customer_id) SELECT n AS accounts, COUNT(*) AS customers FROM counts GROUP BY n',
  ],
  ['Which states have customers with savings accounts?', "SELECT DISTINCT c.state FROM customers c JOIN accounts a ON a.customer_id = c.customer_id WHERE a.account_type = 'savings' ORDER BY c.state"],
  [
    'Accounts per customer for customers born in the 1980s',
    "SELECT COUNT(a.account_id) AS accounts FROM customers c JOIN accounts a ON a.customer_id = c.customer_id WHERE strftime('%Y', c.date_of_birth) BETWEEN '1980' AND '1989'",
  ],
  ['Customers grouped by id and name', 'SELECT customer_id, full_name, COUNT(*) AS n FROM customers GROUP BY customer_id, full_name LIMIT 10'],
  ['Accounts with their customer e-mail domain', "SELECT a.account_id, substr(c.email, instr(c.email, '@') + 1) AS domain FROM accounts a JOIN customers c ON c.customer_id = a.customer_id LIMIT 10"],
  ['Median-ish balance (middle row)', 'SELECT balance FROM accounts ORDER BY balance LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM accounts)'],
  ['Currency mix', 'SELECT currency, COUNT(*) AS n FROM transactions GROUP BY currency'],
  ['Busiest day of the week', "SELECT strftime('%w', posted_at) AS weekday, COUNT(*) AS txns FROM transactions GROUP BY weekday ORDER BY txns DESC"],
  ['Customers whose SSN ends in a given four digits', "SELECT COUNT(*) AS n FROM customers WHERE ssn LIKE '%1234'"],
  [
    'Balance buckets',
    "SELECT CASE WHEN balance < 1000 THEN '<1k' WHEN balance < 10000 THEN '1k-10k' WHEN balance < 100000 THEN '10k-100k' ELSE '100k+' END AS bucket, COUNT(*) AS n FROM accounts GROUP BY bucket",
  ],
];

let stack: TestStack;
let analyst: Client;

before(async () => {
  stack = await startStack();
  analyst = await stack.client('ana@bank.example', ['analyst']);
});
after(async () => {
  await stack?.stop();
});

test(`everyday analyst questions (${QUESTIONS.length}) are answered, at least 95 %, with nothing clear leaking`, async () => {
  assert.ok(QUESTIONS.length >= 40);
  const refused: string[] = [];
  for (const [question, sql] of QUESTIONS) {
    let r: unknown;
    try {
      r = await analyst.callTool({ name: 'execute_sql', arguments: { sql } });
    } catch (err) {
      r = { isError: true, content: [{ type: 'text', text: (err as Error).message }] };
    }
    const res = r as { isError?: boolean; content?: { text?: string }[] };
    assert.deepEqual(findLeaks(r), [], `${question}: clear values in the answer`);
    if (res.isError || rowsOf(r).length === 0)
      refused.push(
        `${question}: ${(res.content ?? [])
          .map((c) => c.text)
          .join(' ')
          .slice(0, 300)}`,
      );
    // Policy shows routing numbers in clear: a detector must not redact them behind its back.
    if (question === 'Routing numbers in use') for (const row of rowsOf(r)) assert.match(String(row.routing_number), /^\d{8,9}$/, `routing number shown as policy says: ${JSON.stringify(row)}`);
  }
  const answered = QUESTIONS.length - refused.length;
  console.log(`# everyday analyst questions: ${answered}/${QUESTIONS.length} answered (${((100 * answered) / QUESTIONS.length).toFixed(1)} %)`);
  for (const r of refused) console.log(`#   not answered: ${r}`);
  assert.ok(answered / QUESTIONS.length >= 0.95, `only ${answered} of ${QUESTIONS.length} answered:\n${refused.join('\n')}`);
});
