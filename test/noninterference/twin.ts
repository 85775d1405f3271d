// Twin banks for the non-interference test: the same bank with everything a role may NOT see
// changed, and everything it may see kept. The same query run as that role on the real bank and
// on its twin must give the same response; any difference is a leak of something hidden.
//
//   analyst / ci view:  ssn keeps its last four characters; email its domain; date of birth its
//                       year; card numbers their last four; names, phones, street addresses and
//                       ZIP codes are replaced outright; account numbers are re-drawn (keyed
//                       pseudonyms: only the equality pattern is visible, and it is kept).
//   staff view:         as above, but SSNs are pseudonyms too: re-drawn whole (last four included).
//
// NULLs are visible under every method, so a few NULLs are planted in both banks alike.
import { generateBank, prng, type Bank } from '../../src/demo/dataset.js';

export type TwinView = 'analyst' | 'staff';

/**
 * The first `customers` customers of the demo bank (with their accounts and transactions: the
 * same values the attacks guess), and NULLs in a few masked columns (the same rows in every
 * twin). Smaller than the demo so thousands of generated joins stay fast.
 */
export function baseBank(customers = 150): Bank {
  const full = generateBank();
  const bank: Bank = { customers: full.customers.slice(0, customers), accounts: [], transactions: [] };
  const ids = new Set(bank.customers.map((c) => c.customer_id));
  bank.accounts = full.accounts.filter((a) => ids.has(a.customer_id));
  const accts = new Set(bank.accounts.map((a) => a.account_id));
  bank.transactions = full.transactions.filter((t) => accts.has(t.account_id));
  for (const c of bank.customers) {
    if (c.customer_id % 17 === 0) (c as { email: string | null }).email = null;
    if (c.customer_id % 23 === 0) (c as { phone: string | null }).phone = null;
    if (c.customer_id % 29 === 0) (c as { date_of_birth: string | null }).date_of_birth = null;
  }
  return bank;
}

export function twinBank(base: Bank, view: TwinView, seed = 4242): Bank {
  const rnd = prng(seed + (view === 'staff' ? 1 : 0));
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  const letters = (n: number) => Array.from({ length: n }, () => String.fromCharCode(97 + int(0, 25))).join('');
  const digits = (n: number) => Array.from({ length: n }, () => String(int(0, 9))).join('');
  const differentDigits = (old: string) => {
    let d: string;
    do d = digits(old.length);
    while (d === old);
    return d;
  };

  const usedSsn = new Set<string>();
  const ssnFor = (old: string): string => {
    let s: string;
    do {
      if (view === 'analyst') s = `${pad(int(1, 899), 3)}-${pad(int(1, 99), 2)}-${old.slice(-4)}`;
      else s = `${pad(int(1, 899), 3)}-${pad(int(1, 99), 2)}-${pad(int(1, 9999), 4)}`;
    } while (s === old || usedSsn.has(s));
    usedSsn.add(s);
    return s;
  };

  const customers = base.customers.map((c) => {
    const email = c.email === null ? null : `${letters(int(3, 14))}.${letters(int(2, 9))}@${c.email.split('@')[1]}`;
    const year = c.date_of_birth?.slice(0, 4);
    let dob: string | null = null;
    if (c.date_of_birth !== null) {
      do dob = `${year}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}`;
      while (dob === c.date_of_birth);
    }
    return {
      ...c,
      full_name: `${letters(int(3, 9))} ${letters(int(3, 12))}`,
      ssn: ssnFor(c.ssn),
      email: email as string,
      phone: (c.phone === null ? null : `(${int(200, 989)}) ${int(200, 989)}-${digits(4)}`) as string,
      date_of_birth: dob as string,
      street_address: `${int(1, 99999)} ${letters(int(3, 10))} ${['St', 'Ave', 'Rd', 'Way'][int(0, 3)]}`,
      zip: differentDigits(c.zip),
    };
  });

  // Keyed pseudonyms show equality only: a bijection onto fresh numbers keeps that and changes
  // everything else (order, digits, length class).
  const usedAcct = new Set<number>();
  const accountFor = new Map<number, number>();
  for (const a of base.accounts) {
    if (accountFor.has(a.account_number)) continue;
    let n: number;
    do n = int(1_000_000_000, 999_999_999_999);
    while (n === a.account_number || usedAcct.has(n));
    usedAcct.add(n);
    accountFor.set(a.account_number, n);
  }
  const accounts = base.accounts.map((a) => ({ ...a, account_number: accountFor.get(a.account_number)! }));

  // Card numbers show their last four only: every digit before them is re-drawn, row by row.
  const transactions = base.transactions.map((t) => ({ ...t, card_number: differentDigits(t.card_number.slice(0, -4)) + t.card_number.slice(-4) }));

  return { customers, accounts, transactions };
}

/** Indexes on masked columns, in every bank alike: rows must not follow a hidden value's order. */
export const HIDDEN_ORDER_INDEXES = [
  'CREATE INDEX ni_customers_ssn ON customers(ssn)',
  'CREATE INDEX ni_customers_email ON customers(email)',
  'CREATE INDEX ni_customers_name ON customers(full_name, customer_id)',
  'CREATE INDEX ni_accounts_number ON accounts(account_number)',
  'CREATE INDEX ni_transactions_card ON transactions(card_number)',
].join(';\n');
