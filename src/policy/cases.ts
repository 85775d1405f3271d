// Policy test cases (rules/tests/*.yaml): an input (who, which tool, which SQL or MCP method)
// and what policy must answer. Used by `bqwarden policy test`, `policy explain` and npm test.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { Analysis, AnalyzeOptions } from '../sql/types.js';
import type { Identity } from '../identity/types.js';
import type { Decision } from './types.js';
import type { Policy } from './engine.js';
import { MASK_METHODS } from '../masking/types.js';

const ExpectSchema = z
  .object({
    action: z.enum(['allow', 'mask', 'deny', 'approval_required']),
    /** Rule ids that must all appear among the decision's rule ids. */
    rules: z.array(z.string()).optional(),
    /** Output column → method. Columns not listed must not be masked; {} = nothing masked. */
    masked: z.record(z.string(), z.enum(MASK_METHODS)).optional(),
    message: z.string().optional(),
    approval: z
      .object({ approvers: z.array(z.string()).optional(), count: z.number().int().optional(), expiresInSeconds: z.number().int().optional() })
      .strict()
      .optional(),
    privileged: z.boolean().optional(),
    roles: z.array(z.string()).optional(),
    /** tools/list: exactly the tools the caller sees. */
    tools: z.array(z.string()).optional(),
    /** Source column (name, table.column or fq) → method the engine masks it with; {} = the SQL is not rewritten. */
    inEngine: z.record(z.string(), z.enum(MASK_METHODS)).optional(),
    /** Output columns computed from masked values (returned as computed, not masked again). */
    derived: z.array(z.string()).optional(),
  })
  .strict();

const CaseSchema = z
  .object({
    name: z.string().min(1),
    user: z.string().default('someone@bank.example'),
    subject: z.string().optional(),
    groups: z.array(z.string()).default([]),
    tool: z.string().default('execute_sql'),
    sql: z.string().optional(),
    args: z.record(z.string(), z.unknown()).optional(),
    /** An MCP method instead of a tool call (tools/list checks visible tools). */
    method: z.string().optional(),
    /** A non-MCP capability (console, approve …) instead of a tool call. */
    capability: z.string().optional(),
    expect: ExpectSchema,
  })
  .strict();

const CaseFileSchema = z.object({ description: z.string().optional(), cases: z.array(CaseSchema).min(1) }).strict();

export type PolicyCase = z.infer<typeof CaseSchema> & { file: string; line: number | null };
export type Analyzer = (sql: string, opts: AnalyzeOptions) => Analysis;

export async function loadCases(dir: string): Promise<PolicyCase[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: PolicyCase[] = [];
  for (const name of names) {
    const text = await readFile(join(dir, name), 'utf8');
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines });
    const [syntax] = doc.errors;
    if (syntax) throw new Error(`${name}:${lines.linePos(syntax.pos[0]).line}: ${syntax.message.split('\n', 1).join('')}`);
    const res = CaseFileSchema.safeParse(doc.toJS());
    if (!res.success) {
      const i = res.error.issues[0];
      if (!i) throw new Error(`${name}: ${res.error.message}`);
      const node = doc.getIn(i.path as (string | number)[], true) as { range?: [number, number, number] } | undefined;
      throw new Error(`${name}${node?.range ? `:${lines.linePos(node.range[0]).line}` : ''}: ${i.path.join('.')}: ${i.message}`);
    }
    res.data.cases.forEach((c, idx) => {
      const node = doc.getIn(['cases', idx], true) as { range?: [number, number, number] } | undefined;
      out.push({ ...c, file: name, line: node?.range ? lines.linePos(node.range[0]).line : null });
    });
  }
  return out;
}

function caseIdentity(c: Pick<PolicyCase, 'user' | 'subject' | 'groups'>): Identity {
  return { subject: c.subject ?? c.user, email: c.user, issuer: 'bqwarden-policy-test', groups: c.groups, roles: [], actorType: 'human', authMethod: 'dev', expiresAt: null, name: null };
}

export interface CaseOutcome {
  roles: string[];
  decision: Decision;
  visibleTools?: string[];
  analysis: Analysis | null;
}

/** Evaluates one case's input the way the gateway would. */
export function evaluateCase(policy: Policy, c: Omit<PolicyCase, 'expect' | 'file' | 'line' | 'name'>, analyze: Analyzer | null): CaseOutcome {
  const identity = caseIdentity(c);
  const roles = policy.rolesFor(identity);
  const simple = (allowed: boolean, ruleId: string, message: string): Decision => ({
    action: allowed ? 'allow' : 'deny',
    ruleIds: [ruleId],
    message,
    maskPlan: null,
    approval: null,
    privileged: false,
  });
  if (c.capability) {
    const ok = policy.can(roles, c.capability);
    return { roles, analysis: null, decision: simple(ok, ok ? 'capability' : 'default-deny', `${roles.join(', ') || 'no role'} ${ok ? 'has' : 'lacks'} capability ${c.capability}`) };
  }
  if (c.method) {
    const m = policy.methodAllowed(roles, c.method);
    const out: CaseOutcome = { roles, analysis: null, decision: simple(m.allowed, m.ruleId, m.message) };
    if (c.method === 'tools/list') out.visibleTools = policy.visibleTools(roles, policy.summary().tools);
    return out;
  }
  const shape = policy.toolShape(c.tool);
  const args: Record<string, unknown> = { ...(c.args ?? {}) };
  if (shape?.sqlArgument && c.sql !== undefined) args[shape.sqlArgument] = c.sql;
  let analysis: Analysis | null = null;
  const sql = shape?.sqlArgument ? args[shape.sqlArgument] : undefined;
  const opts = policy.analyzeOptions(c.tool, args);
  if (typeof sql === 'string' && opts) {
    if (!analyze) throw new Error('the SQL analyzer (src/sql/analyze.ts) is not available');
    analysis = analyze(sql, opts);
  }
  return { roles, analysis, decision: policy.decide({ identity, roles, tool: c.tool, args, analysis }) };
}

/** Differences between what a case expects and what policy answered; [] when it passes. */
export function checkCase(c: PolicyCase, o: CaseOutcome): string[] {
  const e = c.expect;
  const d = o.decision;
  const fails: string[] = [];
  if (d.action !== e.action) fails.push(`action: expected ${e.action}, got ${d.action}`);
  for (const r of e.rules ?? []) if (!d.ruleIds.includes(r)) fails.push(`rules: expected ${r} among [${d.ruleIds.join(', ')}]`);
  if (e.message && !d.message.toLowerCase().includes(e.message.toLowerCase())) fails.push(`message: expected to contain "${e.message}"`);
  if (e.masked) {
    const got = new Map((d.maskPlan?.columns ?? []).map((m) => [m.outputName, m.method]));
    for (const [colName, method] of Object.entries(e.masked)) if (got.get(colName) !== method) fails.push(`masked: expected ${colName} → ${method}, got ${got.get(colName) ?? 'not masked'}`);
    for (const [colName, method] of got) if (!(colName in e.masked)) fails.push(`masked: ${colName} → ${method} not expected`);
  }
  if (e.inEngine) {
    const engine = [...(d.engine?.columns.values() ?? [])];
    if (Object.keys(e.inEngine).length === 0 && d.engine) fails.push('inEngine: expected the SQL to run unchanged, but it was rewritten');
    for (const [name, method] of Object.entries(e.inEngine)) {
      const m = engine.find((x) => x.key === name || x.key.endsWith(`.${name}`));
      if (!m) fails.push(`inEngine: expected ${name} masked in the engine, but it is not`);
      else if (m.method !== method) fails.push(`inEngine: expected ${name} → ${method}, got ${m.method}`);
    }
  }
  if (e.derived) {
    const got = (d.maskPlan?.derived ?? []).map((x) => x.outputName).sort();
    if (got.join('\u0000') !== [...e.derived].sort().join('\u0000')) fails.push(`derived: expected [${e.derived}], got [${got}]`);
  }
  if (e.approval) {
    if (!d.approval) fails.push('approval: expected an approval requirement, got none');
    else {
      if (e.approval.count !== undefined && d.approval.required !== e.approval.count) fails.push(`approval.count: expected ${e.approval.count}, got ${d.approval.required}`);
      if (e.approval.approvers && [...e.approval.approvers].sort().join() !== [...d.approval.approverRoles].sort().join())
        fails.push(`approval.approvers: expected [${e.approval.approvers}], got [${d.approval.approverRoles}]`);
      if (e.approval.expiresInSeconds !== undefined && d.approval.expiresInSeconds !== e.approval.expiresInSeconds)
        fails.push(`approval.expiresInSeconds: expected ${e.approval.expiresInSeconds}, got ${d.approval.expiresInSeconds}`);
    }
  }
  if (e.privileged !== undefined && d.privileged !== e.privileged) fails.push(`privileged: expected ${e.privileged}, got ${d.privileged}`);
  if (e.roles && [...e.roles].sort().join() !== o.roles.join()) fails.push(`roles: expected [${e.roles}], got [${o.roles}]`);
  if (e.tools && [...e.tools].sort().join() !== [...(o.visibleTools ?? [])].sort().join()) fails.push(`tools: expected [${e.tools}], got [${o.visibleTools ?? []}]`);
  return fails;
}

/** The real analyzer, loaded lazily so the policy engine itself does not depend on it. */
export async function loadAnalyzer(): Promise<Analyzer | null> {
  try {
    const mod = (await import('../sql/analyze.js')) as { analyze?: Analyzer };
    return typeof mod.analyze === 'function' ? mod.analyze : null;
  } catch {
    return null;
  }
}
