// Non-interference, the test of record for masking (issue 11). The real stack runs three times —
// official MCP SDK client → gateway → MCP Toolbox → SQLite — on the real bank and on two twins
// that agree with it on everything a role may see and differ in everything it may not
// (twin.ts). Every query is sent as a masked role to the real bank and to that role's twin; the
// two responses must be identical once pseudonym tokens are numbered by first appearance (keyed
// tokens of different values are different by design; their equality pattern must not be).
// Any difference is a leak of something hidden, and fails the suite naming the query.
//
// Queries: the bypass suite's attacks and oracles, the engine attack corpus (attacks.ts), and
// queries fast-check generates from a grammar over the demo schema (grammar.ts). Counts come
// from BQWARDEN_NI_QUERIES (default 5,000 generated) and the seed from BQWARDEN_NI_SEED.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startStack, type TestStack } from '../helpers/gateway.js';
import { writeBankDb, type Bank } from '../../src/demo/dataset.js';
import { ATTACKS, ORACLES } from '../e2e/attacks.js';
import { ENGINE_ATTACKS } from './attacks.js';
import { baseBank, twinBank, HIDDEN_ORDER_INDEXES, type TwinView } from './twin.js';
import { CI_QUERY, QUERY, generate } from './grammar.js';

const GENERATED = Number(process.env.BQWARDEN_NI_QUERIES ?? 5000);
const SEED = Number(process.env.BQWARDEN_NI_SEED ?? 20261205);
const CONCURRENCY = 8;

type Role = 'analyst' | 'engineer' | 'ci';
const VIEW: Record<Role, TwinView> = { analyst: 'analyst', engineer: 'staff', ci: 'analyst' };

const stacks = new Map<string, TestStack>();
const clients = new Map<string, Client>();

async function stackFor(name: string, bank: Bank): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), `bqwarden-ni-${name}-`));
  await writeBankDb(join(dataDir, 'bank.db'), bank, HIDDEN_ORDER_INDEXES);
  // The per-identity call budget would refuse calls on one stack and not the other: off here.
  return startStack({ dataDir, config: { pipeline: { callsPerMinute: 0 } } });
}

before(async () => {
  const base = baseBank();
  const [real, twinA, twinS] = await Promise.all([stackFor('real', base), stackFor('twin-analyst', twinBank(base, 'analyst')), stackFor('twin-staff', twinBank(base, 'staff'))]);
  stacks.set('real', real).set('analyst', twinA).set('staff', twinS);
  for (const role of ['analyst', 'engineer', 'ci', 'pii-reader'] as const) {
    clients.set(`real/${role}`, await real.client(`${role}@bank.example`, [role]));
    const twin = role === 'pii-reader' ? twinA : stacks.get(VIEW[role as Role])!;
    clients.set(`twin/${role}`, await twin.client(`${role}@bank.example`, [role]));
  }
});

after(async () => {
  for (const s of stacks.values()) await s.stop();
});

/** The response as a client sees it, with what may legitimately differ between two runs made equal. */
function normalise(response: unknown): string {
  const tokens = new Map<string, string>();
  return JSON.stringify(response)
    .replace(/tok_[a-z2-7]{26}/g, (t) => {
      if (!tokens.has(t)) tokens.set(t, `tok#${tokens.size}`);
      return tokens.get(t)!;
    })
    .replace(/https?:\/\/127\.0\.0\.1:\d+/g, 'http://gateway')
    .replace(/\bapr-[0-9a-z-]+/g, 'apr-#');
}

/** A transport hiccup on the loaded test machine ("fetch failed") is no answer: try again. */
async function call(client: Client, sql: string): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.callTool({ name: 'execute_sql', arguments: { sql } });
    } catch (err) {
      const message = (err as Error).message;
      if (attempt < 2 && /fetch failed|ECONNRESET|socket hang up/.test(message)) continue;
      return { error: message };
    }
  }
}

interface Outcome {
  role: string;
  sql: string;
  same: boolean;
  kind: 'rows' | 'empty' | 'tool-error' | 'error';
  real: string;
  twin: string;
}

async function compare(role: string, sql: string): Promise<Outcome> {
  const [r, t] = await Promise.all([call(clients.get(`real/${role}`)!, sql), call(clients.get(`twin/${role}`)!, sql)]);
  const real = normalise(r);
  const twin = normalise(t);
  const res = r as { error?: string; isError?: boolean; content?: { text?: string }[] };
  const kind = res.error ? 'error' : res.isError ? 'tool-error' : (res.content ?? []).some((c) => c.text?.startsWith('{')) ? 'rows' : 'empty';
  return { role, sql, same: real === twin, kind, real, twin };
}

async function runAll(jobs: [string, string][]): Promise<Outcome[]> {
  const out: Outcome[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < jobs.length) {
        const i = next++;
        const [role, sql] = jobs[i]!; // i < jobs.length: checked by the while, nothing awaited in between
        out[i] = await compare(role, sql);
      }
    }),
  );
  return out;
}

function report(label: string, outcomes: Outcome[]): string {
  const by = (k: Outcome['kind']) => outcomes.filter((o) => o.kind === k).length;
  return `${label}: ${outcomes.length} runs (${by('rows')} with rows, ${by('empty')} empty, ${by('tool-error')} refused or failed as tool errors, ${by('error')} protocol errors), ${outcomes.filter((o) => !o.same).length} differences`;
}

function assertSame(outcomes: Outcome[]): void {
  const diffs = outcomes.filter((o) => !o.same);
  assert.equal(
    diffs.length,
    0,
    `${diffs.length} queries answered differently on the real bank and on its twin (a leak of hidden data):\n` +
      diffs
        .slice(0, 8)
        .map((d) => `  [${d.role}] ${d.sql}\n    real: ${d.real.slice(0, 400)}\n    twin: ${d.twin.slice(0, 400)}`)
        .join('\n'),
  );
}

const MASKED: Role[] = ['analyst', 'engineer', 'ci'];
const ATTACK_SQL: string[] = [...ATTACKS.map(([, s]) => s), ...ENGINE_ATTACKS.map(([, s]) => s), ...ORACLES.flatMap(([, q, real, fake]) => [q(real), q(fake)])];

test('the oracle can fail: a role that sees clear values tells the real bank from its twin', async () => {
  const outcomes = await runAll(ATTACK_SQL.map((s) => ['pii-reader', s] as [string, string]));
  const differ = outcomes.filter((o) => !o.same).length;
  console.log(`# sanity: pii-reader sees ${differ} of ${outcomes.length} attack queries differ between the real bank and the twin`);
  assert.ok(differ >= outcomes.length / 3, `only ${differ} of ${outcomes.length} differ for a cleared role: the twin does not differ enough to catch leaks`);
});

test(`every attack (${ATTACK_SQL.length}) answers the same on the real bank and its twin, for analyst, engineer and ci`, async () => {
  const outcomes = await runAll(MASKED.flatMap((role) => ATTACK_SQL.map((s) => [role, s] as [string, string])));
  console.log(`# ${report('non-interference, attacks', outcomes)}`);
  assertSame(outcomes);
});

test(`${GENERATED} generated queries answer the same on the real bank and its twin (seed ${SEED})`, async () => {
  // Analysts and engineers get the whole schema; ci only reads transactions.
  const general = generate(QUERY, Math.round(GENERATED * 0.85), SEED);
  const ci = generate(CI_QUERY, GENERATED - general.length, SEED + 1);
  const jobs: [string, string][] = [...general.map((s, i) => [i % 3 === 2 ? 'engineer' : 'analyst', s] as [string, string]), ...ci.map((s) => ['ci', s] as [string, string])];
  const outcomes = await runAll(jobs);
  console.log(`# ${report(`non-interference, ${jobs.length} generated queries`, outcomes)}`);
  assertSame(outcomes);
  // A grammar that only produced errors would prove nothing.
  const answered = outcomes.filter((o) => o.kind === 'rows' || o.kind === 'empty').length;
  assert.ok(answered >= jobs.length * 0.4, `only ${answered} of ${jobs.length} generated queries ran: the grammar needs fixing`);
});
