// Finds clear sensitive values from the demo bank in anything a client received. Used by the
// bypass suite: a response "leaks" if any leaf value contains an SSN, card number, account
// number, email or date of birth of the dataset, also with separators stripped or reversed.
import { generateBank } from '../../src/demo/dataset.js';

export interface Leak {
  kind: 'ssn' | 'card_number' | 'account_number' | 'email' | 'date_of_birth';
  value: string;
  found: string;
}

const reverse = (s: string) => [...s].reverse().join('');

let needles: Map<string, { kind: Leak['kind']; value: string }> | null = null;
function index() {
  if (needles) return needles;
  const bank = generateBank();
  needles = new Map();
  const add = (kind: Leak['kind'], value: string, forms: string[]) => {
    for (const f of forms) needles!.set(f, { kind, value });
  };
  for (const c of bank.customers) {
    const digits = c.ssn.replace(/\D/g, '');
    add('ssn', c.ssn, [digits, reverse(digits)]);
    add('email', c.email, [c.email.toLowerCase(), reverse(c.email.toLowerCase()), c.email.toLowerCase().replace(/[^a-z0-9]/g, '')]);
    const dob = c.date_of_birth.replace(/\D/g, '');
    add('date_of_birth', c.date_of_birth, [`dob:${dob}`, `dob:${reverse(dob)}`]);
  }
  for (const a of bank.accounts) {
    const s = String(a.account_number);
    add('account_number', s, [s, reverse(s)]);
  }
  for (const t of bank.transactions) add('card_number', t.card_number, [t.card_number, reverse(t.card_number)]);
  return needles;
}

function leaves(v: unknown, out: string[]): void {
  if (v === null || v === undefined) return;
  if (typeof v === 'string') {
    out.push(v);
    // Toolbox puts each row as JSON text inside a text item: look inside it too.
    const t = v.trim();
    if ((t.startsWith('{') || t.startsWith('[')) && t.length < 5_000_000) {
      try {
        leaves(JSON.parse(t), out);
      } catch {
        // plain text
      }
    }
    return;
  }
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
    out.push(String(v));
    return;
  }
  if (Array.isArray(v)) for (const x of v) leaves(x, out);
  else if (typeof v === 'object') for (const x of Object.values(v as object)) leaves(x, out);
}

const DIGIT_LENGTHS = [9, 10, 11, 12, 16];

/** Every dataset value visible in `response`, in any of the forms above. */
export function findLeaks(response: unknown): Leak[] {
  const n = index();
  const found: Leak[] = [];
  const seen = new Set<string>();
  const hit = (key: string, text: string) => {
    const m = n.get(key);
    if (m && !seen.has(key)) {
      seen.add(key);
      found.push({ kind: m.kind, value: m.value, found: text.slice(0, 200) });
    }
  };
  const all: string[] = [];
  leaves(response, all);
  for (const leaf of all) {
    const lower = leaf.toLowerCase();
    // Digit runs with common separators removed, then every window of the lengths we hold.
    for (const run of lower.match(/\d[\d\s.\-/]{7,80}\d/g) ?? []) {
      const digits = run.replace(/\D/g, '');
      if (digits.length > 40) continue;
      for (const len of DIGIT_LENGTHS) for (let i = 0; i + len <= digits.length; i++) hit(digits.slice(i, i + len), leaf);
      if (digits.length === 8) hit(`dob:${digits}`, leaf);
    }
    for (const m of lower.match(/\b\d{4}-\d{2}-\d{2}\b/g) ?? []) hit(`dob:${m.replace(/\D/g, '')}`, leaf);
    for (const m of lower.match(/[a-z0-9._%+-]+@[a-z0-9.-]+/g) ?? []) hit(m, leaf);
    const alnum = lower.replace(/[^a-z0-9]/g, '');
    if (alnum.length >= 10 && alnum.length <= 80 && n.has(alnum)) hit(alnum, leaf);
  }
  return found;
}
