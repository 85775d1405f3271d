// The error catalog (src/common/errors.ts) is the closed list of the audit's error_code. These
// checks fail `npm test` when a code can reach error_code without a catalog entry (the append
// would then fail and deny the call), when an entry no code uses lingers, and when docs/errors.md
// no longer lists the catalog as it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ERR_FORBIDDEN, ERROR_CATALOG, ERROR_CODES, GatewayError, INTERNAL_ERROR, isErrorCode, type ErrorCode } from '../../src/common/errors.js';
import { AuditEventSchema, FIELD_CHECKS } from '../../src/audit/event.js';
import { HttpRefusal } from '../../src/transport/jsonrpc.js';
import { REPO } from '../helpers/gateway.js';

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

const SOURCES = tsFiles(join(REPO, 'src'))
  .filter((f) => relative(REPO, f) !== join('src', 'common', 'errors.ts'))
  .map((f) => ({ rel: relative(REPO, f), text: readFileSync(f, 'utf8') }));

/** The string members of a union type `name = | 'a' | 'b' …` or a `status: 'a' | 'b'` line, read from source. */
function unionMembers(file: string, anchor: RegExp): string[] {
  const text = readFileSync(join(REPO, file), 'utf8');
  const m = anchor.exec(text);
  assert.ok(m, `${anchor} in ${file}`);
  const rest = text.slice(m.index + m[0].length);
  const body = rest.slice(0, rest.search(/;|\}|\n\s*\n/));
  return [...body.matchAll(/'([a-z_]+)'/g)].map((x) => x[1] as string);
}

/** Template strings that may reach error_code, each with the values its placeholder takes. */
const TEMPLATES: Record<string, () => string[]> = {
  // src/pipeline/stages/approve.ts: the gate's answer for a call that may not run yet.
  'approval_${g.status}': () => unionMembers('src/pipeline/deps.ts', /\|\s*\{ status: /).map((s) => `approval_${s}`),
  // src/approvals/service.ts: a refused approval action.
  'approval_${err.code}': () => unionMembers('src/approvals/service.ts', /export type ApprovalErrorCode =/).map((s) => `approval_${s}`),
  'approval_${code}': () => unionMembers('src/approvals/service.ts', /export type ApprovalErrorCode =/).map((s) => `approval_${s}`),
};

/** Every code the source can hand to error_code (directly, or through a thrower whose code the pipeline audits). */
function inventory(): { found: Map<string, string>; problems: string[] } {
  const found = new Map<string, string>();
  const problems: string[] = [];
  const add = (code: string, where: string) => {
    if (!found.has(code)) found.set(code, where);
  };
  for (const { rel, text } of SOURCES) {
    text.split('\n').forEach((line, i) => {
      const where = `${rel}:${i + 1}`;
      const code = line.replace(/\/\/.*$/, '');
      // error_code: 'x', error_code: cond ? 'x' : null, error_code: `approval_${…}`
      for (const m of code.matchAll(/error_code:\s*([^,}]+)/g)) {
        const expr = m[1] ?? '';
        for (const l of expr.matchAll(/'([^']*)'/g)) add(l[1] ?? '', where);
        for (const t of expr.matchAll(/`([^`]*)`/g)) {
          const expand = TEMPLATES[t[1] ?? ''];
          if (!expand) problems.push(`${where}: error_code from a template string the inventory does not know: ${t[0]}`);
          else for (const v of expand()) add(v, where);
        }
      }
      // Throwers whose code the pipeline audits: GatewayError data.reason, catalog-typed constructors.
      if (!/readonly reason/.test(code)) for (const m of code.matchAll(/\breason: '([a-z_]+)'(?!\s*\|)/g)) if (/GatewayError/.test(text)) add(m[1] ?? '', where);
      for (const m of code.matchAll(/(?:GatewayError\.of|new HttpRefusal|new SignInError|new AuthError)\(\s*'([a-z_]+)'/g)) add(m[1] ?? '', where);
      for (const m of code.matchAll(/new ApprovalError\(\s*'([a-z_]+)'/g)) add(`approval_${m[1]}`, where);
      // HTTP failures reported for audit, and the dry run's disagreement codes.
      if (/onHttpFailure\(|recordFailure\(|dryRunDisagreement/.test(text)) for (const m of code.matchAll(/\bcode: '([a-z_]+)'/g)) add(m[1] ?? '', where);
    });
  }
  for (const { rel, text } of SOURCES) {
    // Across lines: constructors with a catalog code, `const code = … ? 'a' : 'b'` and refuse()'s `code: …`, the dry run's deny(…, 'code').
    for (const m of text.matchAll(/(?:GatewayError\.of|new HttpRefusal|new SignInError|new AuthError|super)\(\s*'([a-z_]+)'/g)) add(m[1] ?? '', rel);
    if (rel.startsWith(join('src', 'pipeline')) || rel.startsWith(join('src', 'transport')))
      for (const m of text.matchAll(/(?:(?:const|let) code\b[^;]*;|\bcode: [^,}]+)/g)) for (const l of m[0].matchAll(/(?<![=!]==\s*)'([a-z_]+)'/g)) add(l[1] ?? '', rel);
    if (rel.startsWith(join('src', 'pipeline'))) for (const m of text.matchAll(/\bdeny\([\s\S]*?\);/g)) for (const l of m[0].matchAll(/'([a-z]+_[a-z_]+)'/g)) add(l[1] ?? '', rel);
  }
  // The identity layer's reasons reach error_code through "Unauthorized (<code>)".
  for (const c of unionMembers('src/identity/types.ts', /export type AuthErrorCode = Extract<\s*ErrorCode,/)) add(c, 'src/identity/types.ts AuthErrorCode');
  for (const c of unionMembers('src/web/sign-in.ts', /readonly code: Extract<ErrorCode,/)) add(c, 'src/web/sign-in.ts SignInError');
  for (const v of Object.values(TEMPLATES)) for (const c of v()) add(c, 'template');
  return { found, problems };
}

test('every code the source can write to error_code is in the catalog (static inventory of src/)', () => {
  const { found, problems } = inventory();
  assert.deepEqual(problems, []);
  // A scan that finds nothing proves nothing: on 2026-12-05 it found 111 distinct codes.
  assert.ok(found.size >= 100, `the inventory found only ${found.size} codes`);
  const missing = [...found].filter(([c]) => !isErrorCode(c)).map(([c, where]) => `${c} (${where})`);
  assert.deepEqual(missing, [], 'add these codes to ERROR_CATALOG in src/common/errors.ts (and docs/errors.md)');
});

test('every live catalog code is used somewhere in src/ (no dead entries); retired ones are never written', () => {
  const all = SOURCES.map((s) => s.text).join('\n');
  const { found } = inventory();
  const unused = ERROR_CODES.filter((c) => {
    const entry = ERROR_CATALOG[c];
    if ('retired' in entry) return false;
    return !found.has(c) && !all.includes(`'${c}'`);
  });
  // Written by the pipeline's own fallbacks, not by a literal at a throw site.
  assert.deepEqual(
    unused.filter((c) => !['unlisted_error_code', 'gateway_error'].includes(c)),
    [],
  );
  const retired = ERROR_CODES.filter((c) => 'retired' in ERROR_CATALOG[c]);
  for (const c of retired) assert.ok(!found.has(c), `${c} is retired but still written at ${found.get(c)}`);
});

test('the catalog: codes are snake_case, JSON-RPC codes in the spec or server range, HTTP statuses real; internal errors are hidden from agents', () => {
  for (const [code, e] of Object.entries(ERROR_CATALOG)) {
    assert.match(code, /^[a-z][a-z_]{1,40}$/, code);
    if (e.rpc !== null) assert.ok((e.rpc <= -32000 && e.rpc >= -32099) || [-32700, -32600, -32601, -32602, -32603].includes(e.rpc), `${code} ${e.rpc}`);
    assert.ok(e.http >= 200 && e.http <= 599, `${code} ${e.http}`);
    assert.ok(e.summary.length > 10, code);
  }
  for (const c of ['internal_error', 'masking_failed', 'unlisted_error_code'] as ErrorCode[]) assert.equal(ERROR_CATALOG[c].agent, false, c);
  // The writer's check takes exactly the catalog's codes; the read side takes any string, so
  // history written before the list was closed still reads (test/audit/older-release.test.ts).
  for (const c of ERROR_CODES) {
    assert.ok(FIELD_CHECKS.error_code(c), c);
    assert.ok(AuditEventSchema.shape.error_code.safeParse(c).success, c);
  }
  assert.equal(FIELD_CHECKS.error_code('not_a_code'), false);
  assert.equal(AuditEventSchema.shape.error_code.safeParse('not_a_code').success, true);
  assert.ok(FIELD_CHECKS.error_code(null));
});

test('the transport maps through the catalog: HTTP refusals take status and JSON-RPC code from it; hidden messages are replaced', () => {
  const r = new HttpRefusal('unknown_session', 'Session not found: …');
  assert.equal(r.httpStatus, 404);
  assert.equal(r.rpcCode, ERROR_CATALOG.unknown_session.rpc);
  assert.equal(r.errorCode, 'unknown_session');
  assert.equal(r.clientMessage, 'Session not found: …');
  const internal = new HttpRefusal('internal_error', 'TypeError: x is undefined at /srv/app.js:12');
  assert.equal(internal.httpStatus, 500);
  assert.doesNotMatch(internal.clientMessage, /TypeError|srv/);
  const g = GatewayError.of('masking_failed', 'mask failed on value 123-45-6789');
  assert.equal(g.code, INTERNAL_ERROR);
  assert.deepEqual(g.forClient(), { code: INTERNAL_ERROR, message: `${ERROR_CATALOG.masking_failed.summary} (masking_failed)`, data: { reason: 'masking_failed' } });
  const visible = GatewayError.of('method_denied', 'MCP method prompts/get is not allowed (rule x)', { rule_id: 'x' });
  assert.deepEqual(visible.forClient(), { code: ERR_FORBIDDEN, message: 'MCP method prompts/get is not allowed (rule x)', data: { rule_id: 'x', reason: 'method_denied' } });
  // An error built from a bare JSON-RPC code (an upstream's, the SDK's) names no catalog code.
  assert.equal(new GatewayError(-32000, 'x').errorCode, 'gateway_error');
});

const RPC_NAMES: Record<number, string> = { [-32700]: 'parse error', [-32600]: 'invalid request', [-32602]: 'invalid params', [-32603]: 'internal error' };

/** The catalog as docs/errors.md lists it. */
function renderTable(): string {
  const rows = ERROR_CODES.map((c) => {
    const e = ERROR_CATALOG[c];
    const rpc = e.rpc === null ? '—' : `${e.rpc}${RPC_NAMES[e.rpc] ? ` (${RPC_NAMES[e.rpc]})` : ''}`;
    return `| \`${c}\` | ${rpc} | ${e.http} | ${e.agent ? 'yes' : 'no'} | ${e.summary}${'retired' in e ? ' (retired: no longer written)' : ''} |`;
  });
  return ['| code | JSON-RPC | HTTP | agent reads the message | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

test('docs/errors.md lists the catalog as it is (BQW_WRITE_DOCS=1 rewrites the table)', () => {
  const file = join(REPO, 'docs', 'errors.md');
  const text = readFileSync(file, 'utf8');
  const start = '<!-- error-catalog:start -->\n';
  const end = '\n<!-- error-catalog:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  assert.ok(a >= 0 && b > a, 'docs/errors.md has the catalog markers');
  const table = renderTable();
  if (process.env.BQW_WRITE_DOCS === '1') writeFileSync(file, text.slice(0, a + start.length) + table + text.slice(b));
  else assert.equal(text.slice(a + start.length, b), table, 'docs/errors.md is out of date: run BQW_WRITE_DOCS=1 npm test -- test/common/error-catalog');
});
