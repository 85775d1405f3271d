// The synthetic bank the demo and the end-to-end tests run against. Generated from a fixed
// seed, so every machine gets the same rows and tests can know which clear values must
// never leak (the bypass suite searches responses for them).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import initSqlJs from 'sql.js';

const DEMO_SEED = 20261122;

interface Customer {
  customer_id: number;
  full_name: string;
  ssn: string;
  email: string;
  phone: string;
  date_of_birth: string;
  street_address: string;
  city: string;
  state: string;
  zip: string;
  created_at: string;
}
interface Account {
  account_id: number;
  customer_id: number;
  account_number: number;
  routing_number: string;
  account_type: string;
  balance: number;
  opened_at: string;
  status: string;
}
interface Transaction {
  txn_id: number;
  account_id: number;
  amount: number;
  currency: string;
  merchant: string;
  card_number: string;
  posted_at: string;
  description: string;
}
export interface Bank {
  customers: Customer[];
  accounts: Account[];
  transactions: Transaction[];
}

// mulberry32: tiny, fast and good enough for reproducible synthetic data (not for secrets).
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = [
  'James',
  'Mary',
  'Robert',
  'Patricia',
  'John',
  'Jennifer',
  'Michael',
  'Linda',
  'David',
  'Elizabeth',
  'William',
  'Barbara',
  'Richard',
  'Susan',
  'Joseph',
  'Jessica',
  'Thomas',
  'Sarah',
  'Carlos',
  'Karen',
  'Daniel',
  'Lisa',
  'Wei',
  'Nancy',
  'Aisha',
  'Priya',
  'Mateo',
  'Sofia',
  'Omar',
  'Chloe',
  'Hiroshi',
  'Fatima',
];
const LAST = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Jones',
  'Garcia',
  'Miller',
  'Davis',
  'Rodriguez',
  'Martinez',
  'Hernandez',
  'Lopez',
  'Gonzalez',
  'Wilson',
  'Anderson',
  'Thomas',
  'Taylor',
  'Moore',
  'Jackson',
  'Martin',
  'Lee',
  'Perez',
  'Thompson',
  'White',
  'Nguyen',
  'Patel',
  'Kim',
  'Okafor',
  'Schmidt',
  'Rossi',
];
const STREETS = ['Main St', 'Oak Ave', 'Maple Dr', 'Cedar Ln', 'Park Blvd', 'Elm St', 'Washington Ave', 'Lake Rd', 'Hill St', 'River Rd', 'Pine Ct', 'Sunset Blvd'];
const CITIES: [string, string, string][] = [
  ['Charlotte', 'NC', '282'],
  ['Columbus', 'OH', '432'],
  ['Austin', 'TX', '787'],
  ['Denver', 'CO', '802'],
  ['Phoenix', 'AZ', '850'],
  ['Atlanta', 'GA', '303'],
  ['Boston', 'MA', '021'],
  ['Seattle', 'WA', '981'],
  ['Chicago', 'IL', '606'],
  ['Miami', 'FL', '331'],
  ['Portland', 'OR', '972'],
  ['Richmond', 'VA', '232'],
];
const AREA = ['704', '614', '512', '303', '602', '404', '617', '206', '312', '305', '503', '804'];
const DOMAINS = ['example.com', 'mail.example.org', 'inbox.example.net', 'bankmail.example'];
const MERCHANTS = [
  'Acme Grocery',
  'Blue Bottle Coffee',
  'City Transit',
  'Northwind Books',
  'Contoso Fuel',
  'Fabrikam Pharmacy',
  'Globex Electronics',
  'Initech Software',
  'Umbrella Insurance',
  'Hooli Cloud',
];
// Real ABA prefixes 01–12 (Federal Reserve districts) and 21–32 (thrifts).
const ABA_PREFIX = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12', '21', '22', '26', '31', '32'];

function luhnCheckDigit(payload: string): number {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

function abaValid(r: string): boolean {
  if (!/^\d{9}$/.test(r)) return false;
  // Weights 3, 7, 1 repeating: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) is a multiple of 10.
  let sum = 0;
  for (const [i, ch] of [...r].entries()) sum += Number(ch) * (i % 3 === 0 ? 3 : i % 3 === 1 ? 7 : 1);
  return sum % 10 === 0;
}

export function generateBank(seed = DEMO_SEED, customers = 1000): Bank {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => {
    const x = xs[Math.floor(rnd() * xs.length)];
    if (x === undefined) throw new Error('demo data: picked from an empty list');
    return x;
  };
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  const date = (y0: number, y1: number) => `${int(y0, y1)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}`;
  const ts = (y0: number, y1: number) => `${date(y0, y1)}T${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}Z`;

  const usedSsn = new Set<string>();
  const out: Bank = { customers: [], accounts: [], transactions: [] };
  for (let id = 1; id <= customers; id++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    let ssn: string;
    do {
      // SSA rules: area 001–899 except 666, group 01–99, serial 0001–9999.
      let area = int(1, 899);
      if (area === 666) area = 667;
      ssn = `${pad(area, 3)}-${pad(int(1, 99), 2)}-${pad(int(1, 9999), 4)}`;
    } while (usedSsn.has(ssn));
    usedSsn.add(ssn);
    const [city, state, zip3] = pick(CITIES);
    out.customers.push({
      customer_id: id,
      full_name: `${first} ${last}`,
      ssn,
      email: `${first.toLowerCase()}.${last.toLowerCase()}${id}@${pick(DOMAINS)}`,
      phone: `(${pick(AREA)}) ${int(200, 989)}-${pad(int(0, 9999), 4)}`,
      date_of_birth: date(1940, 2004),
      street_address: `${int(10, 9999)} ${pick(STREETS)}`,
      city,
      state,
      zip: `${zip3}${pad(int(0, 99), 2)}`,
      created_at: ts(2015, 2025),
    });
  }

  let accountId = 1;
  const usedAcct = new Set<number>();
  for (const c of out.customers) {
    const n = int(1, 2);
    for (let k = 0; k < n; k++) {
      let number: number;
      do number = int(1_000_000_000, 999_999_999_999);
      while (usedAcct.has(number));
      usedAcct.add(number);
      const head = pick(ABA_PREFIX) + pad(int(0, 999_999), 6);
      let routing = '';
      for (let check = 0; check <= 9; check++) if (abaValid(head + check)) routing = head + check;
      out.accounts.push({
        account_id: accountId++,
        customer_id: c.customer_id,
        account_number: number,
        routing_number: routing,
        account_type: pick(['checking', 'savings', 'money_market', 'credit']),
        balance: Math.round(rnd() * 250_000_00) / 100,
        opened_at: date(2010, 2025),
        status: rnd() < 0.9 ? 'open' : pick(['frozen', 'closed']),
      });
    }
  }

  let txnId = 1;
  for (const a of out.accounts) {
    const prefix = rnd() < 0.6 ? '4' + pad(int(0, 99999), 5) : String(int(51, 55)) + pad(int(0, 9999), 4);
    const payload = prefix + pad(int(0, 999_999_999), 9);
    const card = payload + luhnCheckDigit(payload);
    const n = int(1, 4);
    for (let k = 0; k < n; k++) {
      const merchant = pick(MERCHANTS);
      out.transactions.push({
        txn_id: txnId++,
        account_id: a.account_id,
        amount: Math.round((rnd() * 900 + 1) * 100) / 100,
        currency: 'USD',
        merchant,
        card_number: card,
        posted_at: ts(2024, 2026),
        description: `POS purchase at ${merchant}`,
      });
    }
  }
  return out;
}

const SCHEMA = `
CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, full_name TEXT NOT NULL, ssn TEXT NOT NULL, email TEXT,
  phone TEXT, date_of_birth TEXT, street_address TEXT, city TEXT, state TEXT, zip TEXT, created_at TEXT);
CREATE TABLE accounts (account_id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(customer_id),
  account_number INTEGER NOT NULL, routing_number TEXT NOT NULL, account_type TEXT, balance REAL, opened_at TEXT, status TEXT);
CREATE TABLE transactions (txn_id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts(account_id),
  amount REAL, currency TEXT, merchant TEXT, card_number TEXT, posted_at TEXT, description TEXT);
CREATE INDEX accounts_customer ON accounts(customer_id);
CREATE INDEX transactions_account ON transactions(account_id);
`;

/** The bank as an in-memory SQLite database (sql.js); `extraSql` runs after the rows are in. */
export async function bankDatabase(bank: Bank = generateBank(), extraSql = ''): Promise<import('sql.js').Database> {
  const require = createRequire(import.meta.url);
  const SQL = await initSqlJs({ locateFile: (f: string) => require.resolve(`sql.js/dist/${f}`) });
  const db = new SQL.Database();
  db.run(SCHEMA);
  const insert = (table: string, rows: object[]) => {
    const [first] = rows;
    if (!first) return;
    const cols = Object.keys(first);
    const stmt = db.prepare(`INSERT INTO ${table} (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})`);
    for (const r of rows) stmt.run(cols.map((c) => (r as Record<string, string | number>)[c] ?? null));
    stmt.free();
  };
  db.run('BEGIN');
  insert('customers', bank.customers);
  insert('accounts', bank.accounts);
  insert('transactions', bank.transactions);
  db.run('COMMIT');
  if (extraSql) db.run(extraSql);
  return db;
}

/** Writes the bank to a SQLite file (atomically: a half-written DB never appears). */
export async function writeBankDb(file: string, bank: Bank = generateBank(), extraSql = ''): Promise<void> {
  const db = await bankDatabase(bank, extraSql);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, Buffer.from(db.export()));
  renameSync(tmp, file);
  db.close();
}
