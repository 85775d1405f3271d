// The per-request decision for a tool call. Order: who (roles) → which tool → opaque constructs
// → tables → statement classes → columns (denied, inference, copies, masking). The first
// refusal ends the decision; its message names the rule and says what would be allowed.
import type { Analysis, Clause, ColumnRef, OpaqueFlag, SchemaCatalog, StatementAnalysis } from '../sql/types.js';
import { columnKey } from '../sql/types.js';
import type { ColumnMask, DerivedOutput, MaskMethod, MaskPlan } from '../masking/types.js';
import type { ApprovalRequirement, Decision, ToolCallInput } from './types.js';
import { type CompiledPolicy, DEFAULT_DENY, type Visibility } from './compiled.js';
import { isMask, rank, stricter } from './visibility.js';
import type { VisibilityValue } from './schema.js';
import { engineColumn, planEngineMasking, type EngineMaskingOptions } from './engine-masks.js';
import type { EngineColumnMask, EngineMasking } from './types.js';
import { whatYouMayRun } from './tool-brief.js';
import { BqwardenError } from '../common/errors.js';

const PRIVILEGED = new Set(['write', 'ddl', 'dcl', 'data_movement', 'dynamic_sql']);
// Clauses that carry a value somewhere rather than compare it. Every other clause, including
// any the analyzer adds later, is guarded as a predicate: an unknown clause must fail closed.
const VALUE_CLAUSES = new Set<Clause>(['select', 'dml_set', 'insert_values']);
const isPredicate = (c: Clause): boolean => !VALUE_CLAUSES.has(c);

const CLAUSE_TEXT: Record<Clause, string> = {
  select: 'the select list',
  where: 'WHERE',
  join: 'a JOIN condition',
  group_by: 'GROUP BY',
  having: 'HAVING',
  qualify: 'QUALIFY',
  order_by: 'ORDER BY',
  window: 'a window specification (PARTITION BY / ORDER BY)',
  dml_set: 'an UPDATE SET',
  dml_where: 'the WHERE of an UPDATE/DELETE',
  merge_on: 'a MERGE ON condition',
  insert_values: 'INSERT values',
  limit: 'LIMIT/OFFSET',
  set_op: 'INTERSECT/EXCEPT/UNION (set operations compare whole rows)',
  distinct: 'DISTINCT (de-duplication compares values)',
  other: 'an expression outside the select list',
};

const OPAQUE_TEXT: Record<string, string> = {
  parse_error: 'SQL that bqwarden could not parse',
  unknown_statement: 'a statement type bqwarden does not know',
  execute_immediate: 'EXECUTE IMMEDIATE (dynamic SQL)',
  external_query: 'EXTERNAL_QUERY (SQL run in another database)',
  unknown_table_function: 'a table function bqwarden does not know',
  unresolved_column: 'a column bqwarden could not resolve to a table',
  unresolved_star: 'SELECT * over a table the catalog does not know',
  unknown_table: 'a table the catalog does not know',
  unsupported: 'a construct bqwarden does not support yet',
};

/** What to do instead, per construct bqwarden cannot see through. */
const OPAQUE_NEXT: Record<string, string> = {
  parse_error: "Check the statement against the tool's SQL dialect (its description names it) and send it again.",
  unknown_statement: 'Use a plain SELECT (or a statement the tool description lists).',
  execute_immediate: 'Send the statement itself instead of building it dynamically.',
  external_query: 'Query the tables directly instead of through EXTERNAL_QUERY.',
  unknown_table_function: 'Read the tables directly instead of through the table function.',
  unresolved_column: 'Qualify every column with its table (alias.column) and check the names.',
  unresolved_star: 'Name the columns you need instead of *.',
  unknown_table: 'Check the table name; only tables the catalog knows can be read.',
  unsupported: 'Rewrite the query with simpler constructs (plain joins, subqueries).',
};

export function who(roles: string[]): string {
  return roles.length === 1 ? `role ${roles[0]}` : `roles ${roles.join(', ')}`;
}

function deny(ruleIds: string[], message: string, privileged = false): Decision {
  return { action: 'deny', ruleIds: [...new Set(ruleIds)], message, maskPlan: null, approval: null, privileged };
}

export function denyDecision(ruleId: string, message: string): Decision {
  return deny([ruleId], message);
}

class Refusal extends BqwardenError {
  constructor(readonly decision: Decision) {
    super('policy_refusal', decision.message);
  }
}

interface Ctx {
  p: CompiledPolicy;
  roles: string[];
  analysis: Analysis;
  catalog: SchemaCatalog | null;
  catalogIsStatic: boolean;
  ruleIds: Set<string>;
  privileged: boolean;
  /** The caller's reads of masked tables go through masking projections (null: no rewrite). */
  engine: EngineMasking | null;
}

/** A source column the engine only ever sees masked (expression or row handle), for a read. */
function inEngine(ctx: Ctx, s: StatementAnalysis, col: ColumnRef): EngineColumnMask | undefined {
  if (s.class !== 'read') return undefined;
  const m = engineColumn(ctx.engine, ctx.analysis.dialect, col.table, col.column, col.path);
  return m && m.form !== 'narrow' ? m : undefined;
}

function refuse(ctx: Ctx, ruleIds: string[], message: string): never {
  throw new Refusal(deny(ruleIds, message, ctx.privileged));
}

interface Reach {
  classification: string;
  classRuleId: string;
  source: string;
  vis: Visibility;
}

/** Classifications a column reaches and how the subject (roles that may read its table) sees each. */
function reach(ctx: Ctx, col: ColumnRef, transformed = false): Reach[] {
  const hits = ctx.p.classify(col, ctx.catalog, ctx.catalogIsStatic);
  if (hits.length === 0) return [];
  const readers = ctx.p.readersOf(ctx.roles, col.table, ctx.analysis.dialect);
  // Nobody may read the table (cannot happen after the table check): judge by the strictest role.
  const judged = readers.length ? readers : ctx.roles;
  return hits.map((h) => {
    let vis = ctx.p.visibilityFor(judged, h.classification, transformed);
    if (!readers.length) for (const r of ctx.roles) vis = worst(vis, ctx.p.visibilityFor([r], h.classification, transformed));
    return { classification: h.classification, classRuleId: h.ruleId, source: columnKey(col), vis };
  });
}

function worst(a: Visibility, b: Visibility): Visibility {
  return stricter(a.value, b.value) === b.value && a.value !== b.value ? b : a;
}

function visRule(r: Reach): string {
  return r.vis.ruleId ?? DEFAULT_DENY;
}

function deniedText(ctx: Ctx, r: Reach): string {
  return r.vis.ruleId
    ? `${r.source} is classified ${r.classification}; ${who(ctx.roles)} may not see it at all (rule ${r.vis.ruleId})`
    : `${r.source} is classified ${r.classification} and no visibility rule for ${who(ctx.roles)} mentions ${r.classification}, so it is denied (rule ${DEFAULT_DENY})`;
}

/**
 * Analyzer details can quote the SQL (a parser's "Unexpected '123-45-6789'"); decision messages
 * go into audit, which must hold no clear customer data, so literals and long digit runs go.
 */
function scrubDetail(detail: string): string {
  return detail
    .slice(0, 300)
    .replace(/'(?:[^']|'')*'?/g, "'…'")
    .replace(/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+/g, '…@…')
    .replace(/\d[\d\s().\/-]{2,}\d/g, '#')
    .replace(/"([^"]*\d{3,}[^"]*)"/g, '"…"');
}

function checkOpaque(ctx: Ctx, flags: OpaqueFlag[]): void {
  for (const f of flags) {
    const trustId = ctx.p.trusted(ctx.roles, f.kind);
    if (trustId) {
      ctx.ruleIds.add(trustId);
      continue;
    }
    refuse(
      ctx,
      ['opaque-untrusted'],
      `the SQL contains ${OPAQUE_TEXT[f.kind] ?? f.kind} (${f.kind}${f.detail ? `: ${scrubDetail(f.detail)}` : ''}); bqwarden cannot see what it reads or returns, so it is denied unless a role is trusted for ${f.kind} — ${who(ctx.roles)} is not (rule opaque-untrusted). ${OPAQUE_NEXT[f.kind] ?? 'Rewrite the query without it, naming tables and columns directly.'}`,
    );
  }
}

function checkTables(ctx: Ctx, s: StatementAnalysis): void {
  for (const [mode, list] of [
    ['read', s.tablesRead],
    ['write', s.tablesWritten],
  ] as const) {
    for (const t of list) {
      // EXTERNAL_QUERY(…) and unknown table functions are judged by their opaque flag (trust),
      // which says more than "no table rule grants EXTERNAL_QUERY(conn)". Without a flag (an
      // analyzer gap) they fall through to the table rules and are denied by default.
      if (t.opaque && ctx.analysis.opaque.length > 0) continue;
      const v = ctx.p.table(ctx.roles, t.fq, mode, ctx.analysis.dialect, t.informationSchema);
      if (!v.allowed) {
        const why = v.ruleId === DEFAULT_DENY ? 'no table rule grants it' : 'a rule denies it';
        const readable = mode === 'write' && ctx.p.table(ctx.roles, t.fq, 'read', ctx.analysis.dialect, t.informationSchema).allowed;
        refuse(
          ctx,
          [v.ruleId],
          `${who(ctx.roles)} may not ${mode} ${t.fq}: ${why} (rule ${v.ruleId}). ${readable ? `You may read it. ${whatYouMayRun(ctx.p, ctx.roles)}` : `Leave ${t.fq} out of the query, or ask an administrator for a role that may ${mode} it.`}`,
        );
      }
      ctx.ruleIds.add(v.ruleId);
    }
  }
}

function checkStatement(ctx: Ctx, s: Pick<StatementAnalysis, 'class' | 'kind' | 'destructive'>): ApprovalRequirement | null {
  const v = ctx.p.statement(ctx.roles, s);
  const what = `${s.class} statements${s.kind ? ` (${s.kind}${s.destructive ? ', destructive' : ''})` : ''}`;
  if (v.effect === 'deny') {
    const why = v.ruleId === DEFAULT_DENY ? 'no statement rule allows them' : 'a rule blocks them';
    refuse(ctx, [v.ruleId], `${who(ctx.roles)} may not run ${what}: ${why} (rule ${v.ruleId}). ${whatYouMayRun(ctx.p, ctx.roles)}`);
  }
  ctx.ruleIds.add(v.ruleId);
  return v.effect === 'approval' ? v.approval : null;
}

function checkUses(ctx: Ctx, s: StatementAnalysis): void {
  const read = s.class === 'read';
  for (const u of s.uses) {
    // Every clause of a read sees the masked value of such a column: nothing to infer from.
    if (inEngine(ctx, s, u.column)) continue;
    for (const r of reach(ctx, u.column)) {
      if (r.vis.value === 'deny')
        refuse(ctx, [visRule(r)], `${deniedText(ctx, r)}; it may not appear in ${CLAUSE_TEXT[u.clause] ?? u.clause} either. Leave ${r.source.split('.').pop()} out of the query.`);
      if (r.vis.value === 'clear') continue;
      if (isPredicate(u.clause)) {
        // Only roles that may read the table may lend their inference exceptions to it.
        const readers = ctx.p.readersOf(ctx.roles, u.column.table, ctx.analysis.dialect);
        const inf = ctx.p.inferenceAllowed(readers.length ? readers : ctx.roles, r.classification, u.clause);
        if (!inf.allowed)
          refuse(
            ctx,
            [visRule(r), inf.ruleId],
            `${r.source} is classified ${r.classification}; ${who(ctx.roles)} sees it masked (${r.vis.value}) and may not filter, join, group or sort on it in ${CLAUSE_TEXT[u.clause] ?? u.clause}, because results would reveal the hidden values (rule ${visRule(r)}, ${inf.ruleId}). ${narrowWhy(ctx, s)} Express the condition on columns you see in clear (for a write: the row's key), or ask for a role that sees ${r.classification} in clear`,
          );
        ctx.ruleIds.add(inf.ruleId);
      } else if (!read) {
        refuse(
          ctx,
          [visRule(r), 'copy-masked'],
          `${r.source} is classified ${r.classification} and ${who(ctx.roles)} sees it masked (${r.vis.value}); a ${s.class} statement using it in ${CLAUSE_TEXT[u.clause] ?? u.clause} could copy the clear value somewhere readable, so it is denied (rule ${visRule(r)}, copy-masked). Use only columns you see in clear in the statement, or ask for a role that sees ${r.classification} in clear.`,
        );
      }
    }
  }
}

/** Strictest method the subject applies anywhere: used for columns bqwarden cannot trace. */
function strictestOverall(ctx: Ctx): { method: MaskMethod; classifications: { classification: string; method: MaskMethod; ruleId: string }[] } {
  let method: VisibilityValue = 'clear';
  const list: { classification: string; method: MaskMethod; ruleId: string }[] = [];
  for (const c of ctx.p.classifications) {
    const v = ctx.p.visibilityFor(ctx.roles, c);
    if (v.value === 'clear') continue;
    const m: MaskMethod = v.value === 'deny' ? 'nullify' : v.value;
    list.push({ classification: c, method: m, ruleId: v.ruleId ?? DEFAULT_DENY });
    method = stricter(method, m);
  }
  return { method: method === 'clear' ? 'redact' : (method as MaskMethod), classifications: list };
}

const DERIVED_MASKED = 'derived-masked';

/** Why this column is judged by the narrow rules at all (most reads are masked in the engine). */
function narrowWhy(ctx: Ctx, s: StatementAnalysis | null): string {
  if (s && s.class !== 'read') return 'A write works on the real table, so the value cannot be masked inside the database here.';
  if (ctx.analysis.dialect !== 'sqlite' && ctx.analysis.dialect !== 'bigquery')
    return `bqwarden does not mask inside ${ctx.analysis.dialect} queries, so computations on it would see the clear value.`;
  return 'The database cannot compute this masking method itself (e.g. a keyed pseudonym without a configured keyset), so computations on it would see the clear value.';
}

/** Why a computed output column is refused, and what the caller can do instead. */
function derivedText(ctx: Ctx, name: string, r: Reach, col: ColumnRef): string {
  const readers = ctx.p.readersOf(ctx.roles, col.table, ctx.analysis.dialect);
  const judged = readers.length ? readers : ctx.roles;
  // Name only the roles that see it masked: they are the ones a plain column would be masked for.
  const masking = judged.filter((role) => isMask(ctx.p.visibilityFor([role], r.classification).value));
  const named = masking.length ? masking : judged;
  const own = ctx.p.visibilityFor(named, r.classification);
  const method = isMask(own.value) ? own.value : (r.vis.derivedFrom ?? 'masked');
  const sees = named.length === 1 ? `role ${named[0]} sees` : `roles ${named.join(', ')} see`;
  return (
    `${scrubDetail(name)} derives from ${r.source} (${r.classification}), which ${sees} masked (${method}); computed values of masked columns are refused because their errors and NULL patterns can reveal the hidden value (rule ${DERIVED_MASKED}; mask from rule ${visRule(r)}). ` +
    `${narrowWhy(ctx, null)} Compute on columns you see in clear, or ask for a role that sees ${r.classification} in clear`
  );
}

function planOutputs(
  ctx: Ctx,
  s: StatementAnalysis,
  columns: ColumnMask[],
  fallback: Map<string, { classification: string; method: MaskMethod; ruleId: string }>,
  derived: DerivedOutput[],
  clearColumns: { index: number; name: string }[],
): void {
  const cleared = ctx.p.clearedForAll(ctx.roles);
  for (const out of s.output ?? []) {
    if (out.unresolved && !cleared) {
      const trustId = ctx.p.trusted(ctx.roles, 'unresolved_column');
      if (!trustId)
        refuse(
          ctx,
          ['unresolved-output'],
          `output column ${scrubDetail(out.name)} could not be traced to its source columns, and ${who(ctx.roles)} sees some classifications masked, so bqwarden cannot show it is safe to return (rule unresolved-output). Name the columns explicitly (no SELECT * over unknown tables).`,
        );
      const all = strictestOverall(ctx);
      ctx.ruleIds.add(trustId);
      columns.push({ outputIndex: out.index, outputName: out.name, classification: 'unresolved', method: all.method, ruleId: trustId, sources: out.sources.map(columnKey) });
      for (const f of all.classifications) fallback.set(f.classification, f);
      continue;
    }
    let best: { r: Reach; method: MaskMethod; src: ColumnRef } | null = null;
    const sources = new Set<string>();
    const engineSources: EngineColumnMask[] = [];
    let clearHit = false;
    for (const src of out.sources) {
      const em = inEngine(ctx, s, src);
      if (em) {
        engineSources.push(em);
        continue;
      }
      for (const r of reach(ctx, src, !out.direct)) {
        if (r.vis.value === 'deny' && r.vis.derivedFrom) refuse(ctx, [DERIVED_MASKED, visRule(r)], derivedText(ctx, out.name, r, src));
        if (r.vis.value === 'deny') refuse(ctx, [visRule(r)], `${deniedText(ctx, r)}. Remove ${scrubDetail(out.name)} from the select list.`);
        if (!isMask(r.vis.value)) {
          clearHit ||= r.vis.value === 'clear';
          continue;
        }
        if (s.class !== 'read')
          refuse(
            ctx,
            [visRule(r), 'copy-masked'],
            `${r.source} is classified ${r.classification} and ${who(ctx.roles)} sees it masked (${r.vis.value}); a ${s.class} statement would copy the clear value, so it is denied (rule ${visRule(r)}, copy-masked). Copy only columns you see in clear, or ask for a role that sees ${r.classification} in clear.`,
          );
        sources.add(r.source);
        ctx.ruleIds.add(visRule(r));
        const method = r.vis.value;
        fallback.set(r.classification, { classification: r.classification, method, ruleId: visRule(r) });
        if (!best || rank(method) > rank(best.method)) best = { r, method, src };
      }
    }
    if (engineSources.length) {
      for (const em of engineSources) {
        ctx.ruleIds.add(em.ruleId);
        fallback.set(em.classification, { classification: em.classification, method: em.method, ruleId: em.ruleId });
      }
      const [em, ...otherEngine] = engineSources;
      if (!best && out.direct && em && otherEngine.length === 0 && !em.struct) {
        // Already masked by the engine; the response masker applies the same method again as a
        // second line (every method is idempotent on its own output).
        columns.push({ outputIndex: out.index, outputName: out.name, classification: em.classification, method: em.method, ruleId: em.ruleId, sources: [em.key], engine: true });
        continue;
      }
      if (!best) {
        derived.push({ outputIndex: out.index, outputName: out.name, from: engineSources.map((em) => ({ source: em.key, classification: em.classification, method: em.method })) });
        continue;
      }
    }
    if (!best) {
      if (clearHit && out.direct) clearColumns.push({ index: out.index, name: out.name });
      continue;
    }
    // reach() already judged computed values (deny, or nullify where a classification opts in);
    // anything else here would be an engine bug, so refuse rather than mask with a revealing method.
    if (!out.direct && best.method !== 'nullify') refuse(ctx, [DERIVED_MASKED, visRule(best.r)], derivedText(ctx, out.name, best.r, best.src));
    const method: MaskMethod = best.method;
    columns.push({ outputIndex: out.index, outputName: out.name, classification: best.r.classification, method, ruleId: visRule(best.r), sources: [...sources].sort() });
  }
}

/**
 * A script whose statements need different approvals needs all of them at once: the most
 * approvals, the shortest expiry, from people who could approve every statement.
 */
function combineApprovals(ctx: Ctx, list: ApprovalRequirement[]): ApprovalRequirement | null {
  const [first] = list;
  if (!first) return null;
  const strictest = list.reduce((a, b) => (b.required > a.required ? b : a));
  const approvers = list.reduce<string[]>((acc, r) => acc.filter((x) => r.approverRoles.includes(x)), [...first.approverRoles]);
  if (approvers.length === 0)
    refuse(
      ctx,
      [...new Set(list.map((r) => r.ruleId)), 'approval-conflict'],
      `the statements in this script need approvals from different roles (${[...new Set(list.map((r) => r.approverRoles.join('/')))].join(' vs ')}) (rule approval-conflict). Send them as separate calls.`,
    );
  return { approverRoles: approvers, required: strictest.required, expiresInSeconds: Math.min(...list.map((r) => r.expiresInSeconds)), ruleId: strictest.ruleId };
}

export function decideSql(
  p: CompiledPolicy,
  input: ToolCallInput & { roles: string[] },
  toolRuleId: string,
  sqlArgument: string,
  staticCatalog: SchemaCatalog | null,
  upstream: Omit<EngineMaskingOptions, 'dialect'> | null = null,
): Decision {
  const analysis = input.analysis!;
  const ctx: Ctx = {
    p,
    roles: input.roles,
    analysis,
    catalog: input.catalog ?? staticCatalog,
    catalogIsStatic: !input.catalog || input.catalog === staticCatalog,
    ruleIds: new Set([toolRuleId]),
    privileged: analysis.statements.some((s) => PRIVILEGED.has(s.class)),
    engine: null,
  };
  try {
    const sent = input.args[sqlArgument];
    if (typeof sent === 'string' && sent !== analysis.sql)
      refuse(
        ctx,
        ['analysis-mismatch'],
        `the analysis handed to policy is not of the SQL in argument ${sqlArgument}; denied (rule analysis-mismatch). Send the call again; if it keeps failing, report it to the gateway's operators.`,
      );
    // Tables first: "you may not read X" is more useful than "X is unknown to the catalog".
    for (const s of analysis.statements) checkTables(ctx, s);
    checkOpaque(ctx, [...analysis.opaque, ...analysis.statements.flatMap((s) => s.opaque)]);
    if (upstream && ctx.catalog && !ctx.p.clearedForAll(ctx.roles)) {
      // Mask where the data is read: the engine computes masked values, so no clause can see a
      // clear one. What the engine cannot mask keeps the narrow rules below.
      const planned = input.rewrite !== undefined ? input.rewrite : planEngineMasking(ctx.p, ctx.roles, analysis, ctx.catalog, ctx.catalogIsStatic, { ...upstream, dialect: analysis.dialect });
      if (planned) {
        if (!planned.ok) refuse(ctx, [planned.ruleId], planned.message);
        ctx.engine = planned.masking.changed ? planned.masking : null;
      }
    }
    const approvals: ApprovalRequirement[] = [];
    const columns: ColumnMask[] = [];
    const derived: DerivedOutput[] = [];
    const clearColumns: { index: number; name: string }[] = [];
    const fallback = new Map<string, { classification: string; method: MaskMethod; ruleId: string }>();
    if (!analysis.ok || analysis.statements.length === 0) {
      // Only reachable when parse_error is trusted: judge as an unknown statement, mask everything.
      if (analysis.ok && analysis.statements.length === 0) refuse(ctx, ['empty-sql'], 'the SQL holds no statement (rule empty-sql). Send one SQL statement.');
      if (!ctx.p.trusted(ctx.roles, 'parse_error')) refuse(ctx, ['opaque-untrusted'], `the SQL could not be parsed, so it is denied (rule opaque-untrusted). ${OPAQUE_NEXT.parse_error}`);
      const a = checkStatement(ctx, { class: 'unknown', kind: 'unknown', destructive: true });
      if (a) approvals.push(a);
      for (const f of strictestOverall(ctx).classifications) fallback.set(f.classification, f);
    }
    let results = 0;
    for (const s of analysis.statements) {
      const a = checkStatement(ctx, s);
      if (a) approvals.push(a);
      checkUses(ctx, s);
      const before = columns.length;
      planOutputs(ctx, s, columns, fallback, derived, clearColumns);
      if (s.output) results++;
      if (results > 1 && (columns.length > 0 || before > 0))
        refuse(
          ctx,
          ['multi-result'],
          'the script returns more than one result set and some columns must be masked; bqwarden cannot tell which result the response carries (rule multi-result). Send one query per call.',
        );
    }
    const cleared = ctx.p.clearedForAll(ctx.roles);
    const plan: MaskPlan = { columns, fallback: [...fallback.values()], detectors: !cleared, ...(derived.length ? { derived } : {}), ...(clearColumns.length && !cleared ? { clearColumns } : {}) };
    const engine = ctx.engine;
    const approval = combineApprovals(ctx, approvals);
    for (const a of approvals) ctx.ruleIds.add(a.ruleId);
    const tables = [...new Set(analysis.statements.flatMap((s) => [...s.tablesWritten, ...s.tablesRead].map((t) => t.fq)))];
    const on = tables.length ? ` on ${tables.join(', ')}` : '';
    const masked = [
      ...columns.map((c) => `${scrubDetail(c.outputName)} (${c.classification} → ${c.method}${c.engine ? ' in the engine' : ''}, rule ${c.ruleId})`),
      ...derived.map((d) => `${scrubDetail(d.outputName)} (computed from masked ${[...new Set(d.from.map((f) => f.source.split('.').pop()))].join(', ')})`),
    ].join('; ');
    const withEngine = <T extends Decision>(d: T): T => (engine ? { ...d, engine } : d);
    // Masked columns the engine read for this statement, wherever the query used them.
    const engineUsed = new Map<string, EngineColumnMask>();
    for (const s of analysis.statements)
      for (const c of [...s.uses.map((u) => u.column), ...(s.output ?? []).flatMap((o) => o.sources)]) {
        const em = inEngine(ctx, s, c);
        if (em) engineUsed.set(em.key, em);
      }
    // Columns the result already names (masked outputs) are not listed twice.
    const shown = new Set(columns.flatMap((c) => c.sources));
    const usedElsewhere = [...engineUsed.values()].filter((m) => !shown.has(m.key));
    const inEngineText = usedElsewhere.length
      ? `; masked in the engine before the query runs: ${usedElsewhere.map((m) => `${m.column} (${m.classification} → ${m.method}, rule ${m.ruleId})`).join(', ')}`
      : '';
    for (const m of engineUsed.values()) ctx.ruleIds.add(m.ruleId);
    if (approval) {
      return withEngine({
        action: 'approval_required',
        ruleIds: [...ctx.ruleIds],
        message: `${who(ctx.roles)} may run this ${[...new Set(analysis.statements.map((s) => s.class))].join('/')} statement${on} only after ${approval.required} approval${approval.required > 1 ? 's' : ''} by ${approval.approverRoles.join(' or ')} within ${Math.round(approval.expiresInSeconds / 60)} minutes (rule ${approval.ruleId})${masked ? `; result masked: ${masked}` : ''}${inEngineText}`,
        maskPlan: plan,
        approval,
        privileged: ctx.privileged,
      });
    }
    if (columns.length || derived.length || engineUsed.size) {
      return withEngine({
        action: 'mask',
        ruleIds: [...ctx.ruleIds],
        message: `allowed for ${who(ctx.roles)}${on} with masking${masked ? `: ${masked}` : ''}${inEngineText}`,
        maskPlan: plan,
        approval: null,
        privileged: ctx.privileged,
      });
    }
    return withEngine({
      action: 'allow',
      ruleIds: [...ctx.ruleIds],
      message: `allowed for ${who(ctx.roles)}${on}${cleared ? ' (cleared for every classification)' : '; no classified column reaches the result'}`,
      maskPlan: plan,
      approval: null,
      privileged: ctx.privileged,
    });
  } catch (err) {
    if (err instanceof Refusal) return err.decision;
    throw err;
  }
}
