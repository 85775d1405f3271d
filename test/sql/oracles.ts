// Inference oracles: queries whose *row count or order* reveals a hidden value even though the
// value itself is never returned. Each must report the compared column as a use, so that the
// policy's inference guard sees it. Same format as cases.ts (u: uses that must be present,
// nu: uses that must be absent).
import type { Case } from './cases.js';

const GUESS = "'123-45-6789'";

export const oracleCases: Case[] = [
  // ── set operations compare whole rows ──
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM (SELECT ssn FROM customers INTERSECT SELECT ${GUESS})`, o: ['n='], u: ['set_op:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM (SELECT ssn FROM customers EXCEPT SELECT ${GUESS})`, u: ['set_op:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM (SELECT ${GUESS} EXCEPT SELECT ssn FROM customers)`, u: ['set_op:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM (SELECT ssn FROM customers UNION SELECT ${GUESS})`, u: ['set_op:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM (SELECT customer_id, ssn FROM customers INTERSECT SELECT 1, ${GUESS})`, u: ['set_op:customers.ssn', 'set_op:customers.customer_id'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM (SELECT ssn FROM customers INTERSECT SELECT ssn FROM customers WHERE customer_id = 1)`, u: ['set_op:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM (SELECT CASE WHEN ssn LIKE '1%' THEN 1 END AS f FROM customers INTERSECT SELECT 1)`, u: ['set_op:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM customers WHERE customer_id IN (SELECT customer_id FROM customers INTERSECT SELECT customer_id FROM customers)`, u: ['set_op:customers.customer_id'] },
  // UNION ALL keeps every row: nothing is compared.
  { d: 'sqlite', sql: `SELECT ssn FROM customers UNION ALL SELECT ${GUESS}`, nu: ['set_op:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT ssn FROM customers UNION SELECT name FROM customers`, u: ['set_op:customers.ssn', 'set_op:customers.name'] },
  // A recursive CTE whose UNION de-duplicates stops when a hidden value repeats.
  { d: 'sqlite', sql: `WITH RECURSIVE r(s) AS (SELECT ssn FROM customers UNION SELECT s FROM r) SELECT count(*) AS n FROM r`, u: ['set_op:customers.ssn'] },
  { sql: `SELECT COUNT(*) n FROM (SELECT ssn FROM customers INTERSECT DISTINCT SELECT "123-45-6789")`, u: ['set_op:customers.ssn'] },
  { sql: `SELECT COUNT(*) n FROM (SELECT ssn FROM customers EXCEPT DISTINCT SELECT "123-45-6789")`, u: ['set_op:customers.ssn'] },
  { sql: 'SELECT name FROM customers UNION DISTINCT SELECT CAST(balance AS STRING) FROM accounts', u: ['set_op:customers.name', 'set_op:accounts.balance'] },
  { sql: `SELECT COUNT(*) n FROM (SELECT AS VALUE ssn FROM customers INTERSECT DISTINCT SELECT "123-45-6789")`, u: ['set_op:customers.ssn'] },
  { sql: 'SELECT ssn FROM customers UNION ALL SELECT email FROM customers', nu: ['set_op:customers.ssn', 'set_op:customers.email'] },
  // ── de-duplication ──
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM (SELECT DISTINCT x FROM (SELECT ssn AS x FROM customers UNION ALL SELECT ${GUESS}))`, u: ['distinct:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM (SELECT DISTINCT substr(ssn, 1, 1) FROM customers)', u: ['distinct:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT count(DISTINCT x) AS n FROM (SELECT ssn AS x FROM customers UNION ALL SELECT ${GUESS})`, u: ['distinct:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT count(DISTINCT customer_id || ssn) AS n FROM customers', u: ['distinct:customers.ssn', 'distinct:customers.customer_id'] },
  { d: 'sqlite', sql: 'SELECT total(DISTINCT length(ssn)) AS n FROM customers', u: ['distinct:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT group_concat(DISTINCT ssn) AS g FROM customers', u: ['distinct:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT count(ssn) AS n FROM customers', o: ['n=customers.ssn'], nu: ['distinct:customers.ssn'] },
  { sql: 'SELECT DISTINCT ssn FROM customers', o: ['ssn=customers.ssn'], u: ['distinct:customers.ssn'] },
  { sql: 'SELECT APPROX_COUNT_DISTINCT(ssn) n FROM customers', o: ['n=customers.ssn'], u: ['distinct:customers.ssn'] },
  { sql: 'SELECT ARRAY_AGG(DISTINCT ssn) a FROM customers', u: ['distinct:customers.ssn'] },
  { sql: 'SELECT COUNT(DISTINCT ssn) OVER () n FROM customers', u: ['distinct:customers.ssn'] },
  // ── aggregate ORDER BY / HAVING MAX / FILTER pick or order rows by the hidden value ──
  { d: 'sqlite', sql: 'SELECT group_concat(customer_id ORDER BY ssn) AS g FROM customers', u: ['order_by:customers.ssn'], nu: ['order_by:customers.customer_id'] },
  { d: 'sqlite', sql: `SELECT count(*) FILTER (WHERE ssn = ${GUESS}) AS n FROM customers`, u: ['where:customers.ssn'] },
  { sql: 'SELECT STRING_AGG(name, "," ORDER BY ssn) s FROM customers', u: ['order_by:customers.ssn'] },
  { sql: 'SELECT ARRAY_AGG(customer_id ORDER BY ssn LIMIT 1) a FROM customers', u: ['order_by:customers.ssn'] },
  { sql: 'SELECT ANY_VALUE(customer_id HAVING MAX ssn) a FROM customers', u: ['order_by:customers.ssn'] },
  { sql: 'SELECT ARRAY(SELECT customer_id FROM customers ORDER BY ssn) a', u: ['order_by:customers.ssn'] },
  // SQLite's bare columns: with one min()/max(), the other columns come from that row.
  { d: 'sqlite', sql: 'SELECT customer_id, max(ssn) AS m FROM customers', u: ['order_by:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT name, min(ssn) AS m FROM customers WHERE customer_id IN (1, 2)', u: ['order_by:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT max(ssn) AS m FROM customers HAVING customer_id = 5', u: ['order_by:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT *, max(ssn) AS m FROM customers', u: ['order_by:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT max(ssn) AS m FROM customers', o: ['m=customers.ssn'], nu: ['order_by:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT name, max(ssn) AS m FROM customers GROUP BY name', nu: ['order_by:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT upper(name), count(*) AS k, max(ssn) AS m FROM customers GROUP BY name', nu: ['order_by:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT max(ssn, email) AS m, name FROM customers', nu: ['order_by:customers.ssn'] },
  // ── joins that compare ──
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM customers NATURAL JOIN (SELECT ${GUESS} AS ssn)`, u: ['join:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM customers JOIN (SELECT ${GUESS} AS ssn) USING (ssn)`, u: ['join:customers.ssn'] },
  {
    d: 'sqlite',
    sql: 'SELECT name, balance FROM customers NATURAL JOIN accounts',
    o: ['name=customers.name', 'balance=accounts.balance'],
    u: ['join:customers.customer_id', 'join:accounts.customer_id'],
    nu: ['join:customers.ssn'],
  },
  {
    d: 'sqlite',
    sql: 'SELECT * FROM customers NATURAL JOIN accounts',
    o: [
      'customer_id=accounts.customer_id|customers.customer_id',
      'name=customers.name',
      'ssn=customers.ssn',
      'email=customers.email',
      'dob=customers.dob',
      'account_id=accounts.account_id',
      'balance=accounts.balance',
    ],
  },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM customers NATURAL JOIN scratch', f: ['unknown_table', 'unresolved_column'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM customers c JOIN (VALUES (${GUESS})) v ON v.column1 = c.ssn`, u: ['join:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT column1 FROM (VALUES (1), (2)) ORDER BY 1', o: ['column1='] },
  // Forcing an index fixes the row order by columns nobody names: fail closed.
  { d: 'sqlite', sql: 'SELECT customer_id FROM customers INDEXED BY customers_ssn', f: ['unsupported'] },
  { d: 'sqlite', sql: 'SELECT customer_id FROM customers NOT INDEXED', o: ['customer_id=customers.customer_id'] },
  // Keys vs expressions: a join/group key that is the column itself stays join/group_by only;
  // anything else (a literal side, a range, an expression, a UNION ALL with a guess) is also
  // `other`, which policy exceptions for keyed pseudonyms do not cover.
  { d: 'sqlite', sql: 'SELECT a.account_id FROM accounts a JOIN accounts b ON a.balance = b.balance', u: ['join:accounts.balance'], nu: ['other:accounts.balance'] },
  {
    d: 'sqlite',
    sql: 'SELECT a.account_id FROM accounts a JOIN accounts b ON a.customer_id = b.customer_id AND a.balance < b.balance',
    u: ['join:accounts.customer_id', 'other:accounts.balance'],
    nu: ['other:accounts.customer_id'],
  },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM accounts a JOIN (SELECT 1234567890 AS g) x ON x.g = a.balance', u: ['join:accounts.balance', 'other:accounts.balance'] },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM accounts a JOIN accounts b ON a.balance = b.balance + 1', u: ['other:accounts.balance'] },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM accounts a JOIN (SELECT 5 AS balance) USING (balance)', u: ['join:accounts.balance', 'other:accounts.balance'] },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM accounts a JOIN accounts b USING (balance)', u: ['join:accounts.balance'], nu: ['other:accounts.balance'] },
  { d: 'sqlite', sql: 'SELECT balance, count(*) AS n FROM accounts GROUP BY balance', u: ['group_by:accounts.balance'], nu: ['other:accounts.balance'] },
  { d: 'sqlite', sql: 'SELECT balance, count(*) AS n FROM accounts GROUP BY 1', nu: ['other:accounts.balance'] },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM accounts GROUP BY balance > 5000', u: ['group_by:accounts.balance', 'other:accounts.balance'] },
  { d: 'sqlite', sql: 'SELECT balance > 5000 AS big, count(*) AS n FROM accounts GROUP BY 1', u: ['other:accounts.balance'] },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM (SELECT x FROM (SELECT balance AS x FROM accounts UNION ALL SELECT 5) GROUP BY x)', u: ['group_by:accounts.balance', 'other:accounts.balance'] },
  // ── already covered: kept here so they stay covered ──
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM (SELECT ssn FROM customers GROUP BY ssn)', u: ['group_by:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM (SELECT row_number() OVER (PARTITION BY ssn) AS r FROM customers) WHERE r = 1', u: ['window:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM customers WHERE ${GUESS} IN (SELECT ssn FROM customers)`, u: ['where:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT ${GUESS} IN (SELECT ssn FROM customers) AS hit`, o: ['hit=customers.ssn'] },
  // SQLite has no = ANY; the parser reads ANY(…) as a function call, whose value still derives from ssn.
  { d: 'sqlite', sql: `SELECT ${GUESS} = ANY (SELECT ssn FROM customers) AS hit`, o: ['hit=customers.ssn'] },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM customers WHERE ${GUESS} = ANY (SELECT ssn FROM customers)`, u: ['where:customers.ssn'] },
  { d: 'sqlite', sql: "SELECT count(*) AS n FROM customers c WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.customer_id = c.customer_id AND c.ssn > '5')", u: ['where:customers.ssn'] },
  { d: 'sqlite', sql: "SELECT count(*) AS n FROM (SELECT CASE WHEN ssn LIKE '1%' THEN 1 END AS flag FROM customers) WHERE flag = 1", u: ['where:customers.ssn'] },
  { d: 'sqlite', sql: "SELECT flag, count(*) AS n FROM (SELECT CASE WHEN ssn LIKE '1%' THEN 1 ELSE 0 END AS flag FROM customers) GROUP BY flag", u: ['group_by:customers.ssn'] },
  { d: 'sqlite', sql: "WITH t AS (SELECT substr(ssn, 1, 1) AS d FROM customers) SELECT count(*) AS n FROM t WHERE d = '1'", u: ['where:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM (SELECT ssn AS x FROM customers) t JOIN accounts a ON a.balance = length(t.x)', u: ['join:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT customer_id FROM customers LIMIT 1 OFFSET (SELECT unicode(ssn) FROM customers LIMIT 1)', u: ['limit:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT name FROM customers GROUP BY name HAVING count(DISTINCT ssn) > 1', u: ['having:customers.ssn', 'distinct:customers.ssn'] },
  {
    d: 'sqlite',
    sql: 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT unicode(ssn) FROM customers LIMIT 1)) SELECT count(*) AS n FROM r',
    u: ['where:customers.ssn'],
  },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM customers c, json_each(json_array(c.ssn)) j WHERE j.value = ${GUESS}`, u: ['other:customers.ssn', 'where:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT count(*) AS n FROM customers WHERE customer_id IN (SELECT customer_id FROM customers ORDER BY ssn LIMIT 1)', u: ['order_by:customers.ssn'] },
  { sql: 'SELECT customer_id FROM customers QUALIFY ssn = "1"', u: ['qualify:customers.ssn'] },
  { sql: 'SELECT COUNT(*) n FROM customers c, UNNEST([c.ssn]) x WHERE x = "123-45-6789"', u: ['where:customers.ssn'] },
  { sql: 'SELECT COUNTIF(ssn = "123-45-6789") n, LOGICAL_OR(ssn = "1") b FROM customers', o: ['n=customers.ssn', 'b=customers.ssn'] },
  // ── values computed in inner select lists: evaluated when the block is materialised, even if
  // no outer column reads them (an error on a guessed value fails the whole query) ──
  {
    d: 'sqlite',
    sql: `SELECT customer_id FROM (SELECT customer_id, CASE WHEN ssn = ${GUESS} THEN json('x') END AS h FROM customers GROUP BY customer_id)`,
    o: ['customer_id=customers.customer_id'],
    u: ['other:customers.ssn'],
    nu: ['other:customers.customer_id'],
  },
  {
    d: 'sqlite',
    sql: `WITH t AS MATERIALIZED (SELECT customer_id, CASE WHEN ssn = ${GUESS} THEN json('x') END AS h FROM customers) SELECT customer_id FROM t`,
    u: ['other:customers.ssn'],
    nu: ['other:customers.customer_id'],
  },
  { d: 'sqlite', sql: `WITH t AS (SELECT customer_id, 1 / (ssn <> ${GUESS}) AS h FROM customers) SELECT count(*) AS n FROM t`, u: ['other:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT customer_id FROM (SELECT customer_id, CASE WHEN ssn = ${GUESS} THEN json('x') END AS h FROM customers UNION ALL SELECT 0, 0)`, u: ['other:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT customer_id FROM (SELECT 0 AS customer_id, 0 AS h UNION ALL SELECT customer_id, CAST(x'ff' AS INTEGER) + length(email) FROM customers)`, u: ['other:customers.email'] },
  {
    d: 'sqlite',
    sql: `SELECT count(*) AS n FROM accounts WHERE account_id IN (SELECT CASE WHEN ssn = ${GUESS} THEN json('x') ELSE customer_id END FROM customers)`,
    u: ['other:customers.ssn', 'where:customers.ssn'],
  },
  { d: 'sqlite', sql: `SELECT count(*) AS n FROM accounts WHERE EXISTS (SELECT CASE WHEN ssn = ${GUESS} THEN json('x') END FROM customers)`, u: ['other:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT account_id, (SELECT max(CASE WHEN ssn = ${GUESS} THEN json('x') END) FROM customers) AS h FROM accounts`, u: ['other:customers.ssn'] },
  { d: 'sqlite', sql: `SELECT a.account_id FROM accounts a JOIN (SELECT customer_id, upper(email) AS e FROM customers) c USING (customer_id)`, u: ['other:customers.email'] },
  { d: 'sqlite', sql: `SELECT x FROM (SELECT customer_id AS x FROM customers WHERE customer_id IN (SELECT column1 FROM (VALUES (1), (2))))`, nu: ['other:customers.customer_id'] },
  { d: 'sqlite', sql: `SELECT customer_id FROM customers c WHERE customer_id IN (SELECT column1 FROM (VALUES (length(c.ssn))))`, u: ['other:customers.ssn'] },
  { sql: 'SELECT customer_id FROM (SELECT * REPLACE (UPPER(ssn) AS ssn) FROM customers)', u: ['other:customers.ssn'], nu: ['other:customers.customer_id', 'other:customers.name'] },
  { sql: 'SELECT customer_id FROM (SELECT customer_id, phones[OFFSET(3)].number AS p FROM customers)', u: ['other:customers.phones.number'] },
  { sql: `SELECT customer_id FROM (SELECT customer_id, IF(ssn = ${GUESS}, ERROR('x'), 1) AS h FROM customers)`, u: ['other:customers.ssn'] },
  { sql: 'SELECT account_id FROM (SELECT * FROM accounts) PIVOT (SUM(balance) AS s FOR opened IN (DATE "2024-01-01" AS d1))', u: ['other:accounts.balance', 'other:accounts.opened'] },
  // Passing a column through unchanged evaluates nothing: not a use (how masked columns reach the output).
  { d: 'sqlite', sql: 'SELECT ssn FROM (SELECT ssn FROM customers)', o: ['ssn=customers.ssn'], nu: ['other:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT x FROM (SELECT c.ssn AS x FROM customers c) t', nu: ['other:customers.ssn'] },
  { d: 'sqlite', sql: 'WITH t AS (SELECT * FROM customers) SELECT ssn FROM (SELECT * FROM t)', nu: ['other:customers.ssn'] },
  { d: 'sqlite', sql: 'WITH t AS (SELECT customer_id, ssn FROM customers) SELECT ssn, (SELECT ssn FROM t LIMIT 1) AS s2 FROM t', nu: ['other:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT n FROM (SELECT count(*) AS n FROM customers)', o: ['n='], nu: ['other:customers.ssn'] },
  { sql: 'SELECT city FROM (SELECT address.city AS city FROM customers)', o: ['city=customers.address.city'], nu: ['other:customers.address.city', 'other:customers.address'] },
  // The statement's own select list (and its set-operation branches) are outputs, judged by policy as such.
  { d: 'sqlite', sql: 'SELECT upper(ssn) AS u FROM customers', o: ['u=customers.ssn'], nu: ['other:customers.ssn'] },
  { d: 'sqlite', sql: "SELECT upper(ssn) AS u FROM customers UNION ALL SELECT 'x'", nu: ['other:customers.ssn'] },
  { d: 'sqlite', sql: 'SELECT * FROM (SELECT lower(email) AS e FROM customers) ORDER BY 1', nu: ['other:customers.ssn'], u: ['other:customers.email'] },
  { d: 'sqlite', sql: "VALUES (1, 'a')", nu: ['other:customers.ssn'] },
];
