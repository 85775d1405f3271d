// The loaded policy turned into lookup structures: patterns compiled once, per-role answers
// memoised, so a decision costs map lookups and a few regex tests.
import type { Identity } from '../identity/types.js';
import type { CatalogColumn, ColumnRef, SchemaCatalog, StatementAnalysis } from '../sql/types.js';
import type { ApprovalRequirement, ToolShape } from './types.js';
import type { MergedPolicy, Origin } from './load.js';
import type { Dialect } from '../sql/types.js';
import type { RoleDef, UpstreamDef, VisibilityValue } from './schema.js';
import { dialectOf, kindOf, resolveUpstreams, type ResolvedTool } from '../upstreams/resolve.js';
import type { KindName, UpstreamKind } from '../upstreams/types.js';

/** An upstream with its kind and dialect settled (defaults applied). */
export type ResolvedUpstreamDef = UpstreamDef & { dialect: Dialect; kind: KindName };
import { durationSeconds } from './schema.js';
import { anyMatch, columnMatcher, nameMatcher, tableMatcher } from './glob.js';
import { findColumn } from './catalog.js';
import { type DerivedMode, forTransformed, morePermissive, stricter } from './visibility.js';
import type { MaskMethod } from '../masking/types.js';

/** Roles as given, or the empty-string principal for a caller no binding matched: only "*" rules reach it. */
function principals(roles: string[]): string[] {
  return roles.length ? roles : [''];
}

interface Scoped {
  id: string;
  all: boolean;
  roles: Set<string>;
}

function scope(id: string, roles: string[]): Scoped {
  return { id, all: roles.includes('*'), roles: new Set(roles.filter((r) => r !== '*')) };
}

function applies(s: Scoped, principal: string): boolean {
  return s.all || s.roles.has(principal);
}

export interface Verdict {
  allowed: boolean;
  ruleId: string;
  /** The role whose rule decided (null for defaults). */
  role: string | null;
}

export type StatementVerdict =
  | { effect: 'allow'; ruleId: string; role: string | null }
  | { effect: 'approval'; ruleId: string; role: string | null; approval: ApprovalRequirement }
  | { effect: 'deny'; ruleId: string; role: string | null };

export interface Visibility {
  value: VisibilityValue;
  /** Visibility rule that gave the value; null when no rule lists the classification (unlisted = deny). */
  ruleId: string | null;
  role: string | null;
  /**
   * Set when the value is `deny` only because it is a computed value of a classification the
   * role sees masked (rule derived-masked): the role's method for the column itself.
   */
  derivedFrom?: MaskMethod;
}

export interface ClassHit {
  classification: string;
  ruleId: string;
}

export const DEFAULT_DENY = 'default-deny';

export class CompiledPolicy {
  readonly roles = new Map<string, RoleDef>();
  /** Tools by the name clients see, with their upstream (dialect resolved) and the kind's treatment. */
  readonly shapes = new Map<string, { shape: ToolShape; upstream: ResolvedUpstreamDef; kind: UpstreamKind; spec: ResolvedTool['spec'] }>();
  readonly classifications: string[];
  /** Classifications whose computed values are nullified rather than denied (every definition opts in). */
  private readonly derivedNullify: Set<string>;
  readonly origins: Map<string, Origin>;
  readonly defaults: MergedPolicy['defaults'];
  private readonly byGroup = new Map<string, string[]>();
  private readonly byUser = new Map<string, string[]>();
  private readonly methods: (Scoped & { res: RegExp[]; effect: 'allow' | 'deny' })[];
  private readonly tools: (Scoped & { res: RegExp[]; effect: 'allow' | 'deny' })[];
  private readonly tables: (Scoped & { ci: RegExp[]; cs: RegExp[]; isCi: RegExp[]; isCs: RegExp[]; effect: 'allow' | 'deny'; access: 'read' | 'write' | 'any' })[];
  private readonly classRules: { id: string; classification: string; columns: RegExp[]; names: RegExp[]; regex: RegExp[]; tags: RegExp[] }[];
  private readonly visibility: (Scoped & { entries: { re: RegExp; value: VisibilityValue }[] })[];
  private readonly inference: (Scoped & { res: RegExp[]; clauses: Set<string>; effect: 'allow' | 'deny' })[];
  private readonly statements: (Scoped & {
    classes: Set<string>;
    kinds: RegExp[] | null;
    destructive: boolean | undefined;
    effect: 'allow' | 'deny' | 'approval';
    approval: ApprovalRequirement | null;
  })[];
  private readonly trust: (Scoped & { kinds: Set<string> })[];
  private readonly memo = new Map<string, unknown>();

  constructor(m: MergedPolicy) {
    this.origins = m.origins;
    this.defaults = m.defaults;
    for (const r of m.roles) {
      this.roles.set(r.role, r);
      for (const g of r.groups) this.byGroup.set(g, [...(this.byGroup.get(g) ?? []), r.role]);
      for (const u of r.users) {
        const key = u.includes('@') ? u.toLowerCase() : u;
        this.byUser.set(key, [...(this.byUser.get(key) ?? []), r.role]);
      }
    }
    const byId = new Map(m.upstreams.map((u) => [u.id, { ...u, dialect: dialectOf(u), kind: kindOf(u).name }]));
    for (const [tool, r] of resolveUpstreams(m.upstreams).tools) {
      const upstream = byId.get(r.upstreamId)!;
      const shape: ToolShape = { tool, kind: r.spec.kind, sqlArgument: r.spec.sqlArgument, dialect: r.spec.kind === 'sql' ? upstream.dialect : null, upstream: r.upstreamId, upstreamTool: r.name };
      this.shapes.set(tool, { upstream, kind: kindOf(upstream), spec: r.spec, shape });
    }
    this.methods = m.methods.map((r) => ({ ...scope(r.id, r.roles), res: r.methods.map((p) => nameMatcher(p)), effect: r.effect }));
    this.tools = m.tools.map((r) => ({ ...scope(r.id, r.roles), res: r.tools.map((p) => nameMatcher(p)), effect: r.effect }));
    this.tables = m.tables.map((r) => ({
      ...scope(r.id, r.roles),
      ci: r.tables.map((p) => tableMatcher(p, true)),
      cs: r.tables.map((p) => tableMatcher(p, false)),
      // INFORMATION_SCHEMA (JOBS holds other people's SQL) is granted only by patterns that name it.
      isCi: r.tables.filter((p) => /information_schema/i.test(p)).map((p) => tableMatcher(p, true)),
      isCs: r.tables.filter((p) => /information_schema/i.test(p)).map((p) => tableMatcher(p, false)),
      effect: r.effect,
      access: r.access,
    }));
    this.classRules = m.classifications.map((c) => ({
      id: c.id,
      classification: c.classification,
      columns: c.columns.map(columnMatcher),
      names: c.names.map((n) => nameMatcher(n, true)),
      regex: c.regex.map((r) => new RegExp(r, 'i')),
      tags: c.policyTags.map((t) => nameMatcher(t, true)),
    }));
    this.classifications = [...new Set(m.classifications.map((c) => c.classification))].sort();
    // Several definitions may share a classification name: one that keeps the default deny wins.
    this.derivedNullify = new Set(this.classifications.filter((c) => m.classifications.every((d) => d.classification !== c || d.derived === 'nullify')));
    this.visibility = m.visibility.map((v) => ({
      ...scope(v.id, v.roles),
      entries: Object.entries(v.classifications).map(([p, value]) => ({ re: nameMatcher(p), value })),
    }));
    this.inference = m.inference.map((r) => ({ ...scope(r.id, r.roles), res: r.classifications.map((p) => nameMatcher(p)), clauses: new Set(r.clauses), effect: r.effect }));
    const defaultExpiry = durationSeconds(m.defaults.approvalExpiry);
    this.statements = m.statements.map((s) => ({
      ...scope(s.id, s.roles),
      classes: new Set(s.classes),
      kinds: s.kinds ? s.kinds.map((k) => nameMatcher(k, true)) : null,
      destructive: s.destructive,
      effect: s.effect,
      approval: s.approval
        ? { approverRoles: [...s.approval.approvers], required: s.approval.count, expiresInSeconds: s.approval.expiry !== undefined ? durationSeconds(s.approval.expiry) : defaultExpiry, ruleId: s.id }
        : null,
    }));
    this.trust = m.trust.map((t) => ({ ...scope(t.id, t.roles), kinds: new Set(t.opaque) }));
  }

  /** Memoised lookups. Callers check `memo.get` first so the hot path builds no closure. */
  private remember<T>(key: string, v: T): T {
    // Keys are bounded by roles × names seen; cap anyway so hostile input cannot grow memory.
    if (this.memo.size > 50_000) this.memo.clear();
    this.memo.set(key, v);
    return v;
  }

  rolesFor(identity: Identity): string[] {
    const out = new Set<string>();
    for (const g of identity.groups) for (const r of this.byGroup.get(g) ?? []) out.add(r);
    for (const r of this.byUser.get(identity.subject) ?? []) out.add(r);
    if (identity.email) for (const r of this.byUser.get(identity.email.toLowerCase()) ?? []) out.add(r);
    return [...out].sort();
  }

  /** Per role: an explicit deny beats an allow; unmatched falls to the default. Across roles: any allow wins. */
  private union<R extends Scoped & { effect: 'allow' | 'deny' }>(rules: R[], roles: string[], match: (r: R) => boolean, dflt: 'allow' | 'deny', dfltId: string): Verdict {
    let deny: Verdict | null = null;
    for (const p of principals(roles)) {
      let allow: string | null = null;
      let denied: string | null = null;
      for (const r of rules) {
        if (!applies(r, p) || !match(r)) continue;
        if (r.effect === 'deny') {
          denied = r.id;
          break;
        }
        allow ??= r.id;
      }
      if (denied) deny ??= { allowed: false, ruleId: denied, role: p || null };
      else if (allow) return { allowed: true, ruleId: allow, role: p || null };
      else if (dflt === 'allow') return { allowed: true, ruleId: dfltId, role: p || null };
    }
    return deny ?? { allowed: false, ruleId: dfltId, role: null };
  }

  method(roles: string[], method: string): Verdict {
    const key = `m\0${roles.join(',')}\0${method}`;
    return (
      (this.memo.get(key) as Verdict | undefined) ??
      this.remember(
        key,
        this.union(this.methods, roles, (r) => anyMatch(r.res, method), this.defaults.methods, this.defaults.methods === 'deny' ? DEFAULT_DENY : 'default-allow-methods'),
      )
    );
  }

  tool(roles: string[], tool: string): Verdict {
    if (roles.length === 0) return { allowed: false, ruleId: DEFAULT_DENY, role: null };
    const key = `t\0${roles.join(',')}\0${tool}`;
    return (
      (this.memo.get(key) as Verdict | undefined) ??
      this.remember(
        key,
        this.union(this.tools, roles, (r) => anyMatch(r.res, tool), 'deny', DEFAULT_DENY),
      )
    );
  }

  /**
   * BigQuery dataset and table names are case-sensitive, so an allow must match exactly there;
   * a deny matches case-insensitively everywhere (over-blocking is the safe direction).
   */
  table(roles: string[], fq: string, mode: 'read' | 'write', dialect: Dialect, informationSchema = false): Verdict {
    const key = `tb\0${roles.join(',')}\0${fq}\0${mode}\0${dialect}\0${informationSchema ? 1 : 0}`;
    const hit = this.memo.get(key) as Verdict | undefined;
    if (hit) return hit;
    return this.remember(
      key,
      this.union(
        this.tables,
        roles,
        (r) =>
          (r.access === 'any' || r.access === mode) &&
          (r.effect === 'deny' ? anyMatch(r.ci, fq) : informationSchema ? anyMatch(dialect === 'bigquery' ? r.isCs : r.isCi, fq) : anyMatch(dialect === 'bigquery' ? r.cs : r.ci, fq)),
        'deny',
        DEFAULT_DENY,
      ),
    );
  }

  /** Roles (of those held) that may read the table: visibility is combined over these only. */
  readersOf(roles: string[], fq: string, dialect: Dialect): string[] {
    const key = `rd\0${roles.join(',')}\0${fq}\0${dialect}`;
    const is = /(^|\.)information_schema\./i.test(fq);
    return (
      (this.memo.get(key) as string[] | undefined) ??
      this.remember(
        key,
        roles.filter((r) => this.table([r], fq, 'read', dialect, is).allowed),
      )
    );
  }

  /**
   * Within one role the strictest matching rule wins (deny > more approvals > allow); across
   * roles the most permissive (allow > fewer approvals > deny).
   */
  statement(roles: string[], s: Pick<StatementAnalysis, 'class' | 'kind' | 'destructive'>): StatementVerdict {
    let best: StatementVerdict | null = null;
    for (const p of principals(roles)) {
      let v: StatementVerdict | null = null;
      for (const r of this.statements) {
        if (!applies(r, p) || !r.classes.has(s.class)) continue;
        if (r.kinds && !anyMatch(r.kinds, s.kind)) continue;
        if (r.destructive !== undefined && r.destructive !== s.destructive) continue;
        const cand: StatementVerdict = r.effect === 'approval' ? { effect: 'approval', ruleId: r.id, role: p || null, approval: r.approval! } : { effect: r.effect, ruleId: r.id, role: p || null };
        if (!v || severity(cand) > severity(v)) v = cand;
      }
      v ??= { effect: 'deny', ruleId: DEFAULT_DENY, role: p || null };
      if (!best || severity(v) < severity(best)) best = v;
    }
    return best!;
  }

  trusted(roles: string[], kind: string): string | null {
    for (const p of principals(roles)) for (const t of this.trust) if (applies(t, p) && t.kinds.has(kind)) return t.id;
    return null;
  }

  /** One role's view of a classification: the strictest value any matching rule gives. */
  private roleVisibility(role: string, classification: string): Visibility {
    const key = `v\0${role}\0${classification}`;
    const hit = this.memo.get(key) as Visibility | undefined;
    if (hit) return hit;
    return this.remember(key, this.computeRoleVisibility(role, classification));
  }

  private computeRoleVisibility(role: string, classification: string): Visibility {
    {
      let out: Visibility | null = null;
      for (const v of this.visibility) {
        if (!applies(v, role)) continue;
        for (const e of v.entries) {
          if (!e.re.test(classification)) continue;
          if (!out || (stricter(out.value, e.value) === e.value && out.value !== e.value)) out = { value: e.value, ruleId: v.id, role: role || null };
        }
      }
      return out ?? { value: 'deny', ruleId: null, role: role || null };
    }
  }

  derivedMode(classification: string): DerivedMode {
    return this.derivedNullify.has(classification) ? 'nullify' : 'deny';
  }

  /** The subject's view: most permissive over the given roles (callers pass the table's readers). */
  visibilityFor(roles: string[], classification: string, transformed = false): Visibility {
    let best: Visibility | null = null;
    const mode = this.derivedMode(classification);
    for (const p of principals(roles)) {
      let v = this.roleVisibility(p, classification);
      // Judge each role by what it would really get for a computed value (see forTransformed).
      const t = transformed ? forTransformed(v.value, mode) : v.value;
      if (t !== v.value) v = t === 'deny' ? { ...v, value: t, derivedFrom: v.value as MaskMethod } : { ...v, value: t };
      // Among equal denials prefer the one a derived-masked refusal can explain (select the column itself).
      if (!best || (morePermissive(best.value, v.value) === v.value && (best.value !== v.value || (!best.derivedFrom && v.derivedFrom)))) best = v;
    }
    return best!;
  }

  /** True when the roles see every classification in clear: no masking, no detectors. */
  clearedForAll(roles: string[]): boolean {
    if (roles.length === 0) return false;
    const key = `c\0${roles.join(',')}`;
    const hit = this.memo.get(key) as boolean | undefined;
    return (
      hit ??
      this.remember(
        key,
        this.classifications.every((c) => this.visibilityFor(roles, c).value === 'clear'),
      )
    );
  }

  inferenceAllowed(roles: string[], classification: string, clause: string): { allowed: boolean; ruleId: string } {
    const defaultId = this.defaults.inference === 'deny' ? 'inference-guard' : 'inference-default-allow';
    let denyId: string | null = null;
    for (const p of principals(roles)) {
      let allow: string | null = null;
      let deny: string | null = null;
      for (const r of this.inference) {
        if (!applies(r, p) || !r.clauses.has(clause) || !anyMatch(r.res, classification)) continue;
        if (r.effect === 'deny') {
          deny = r.id;
          break;
        }
        allow ??= r.id;
      }
      if (deny) denyId ??= deny;
      else if (allow) return { allowed: true, ruleId: allow };
      else if (this.defaults.inference === 'allow') return { allowed: true, ruleId: defaultId };
    }
    return { allowed: false, ruleId: denyId ?? defaultId };
  }

  /** Classifications of a column key (and of the fields below it, when it is a STRUCT the catalog knows). */
  classify(col: ColumnRef, catalog: SchemaCatalog | null, catalogIsStatic: boolean): ClassHit[] {
    const key = col.path.length ? `${col.table}.${col.column}.${col.path.join('.')}` : `${col.table}.${col.column}`;
    const memoKey = `k\0${key}`;
    if (catalogIsStatic) {
      const hit = this.memo.get(memoKey) as ClassHit[] | undefined;
      if (hit) return hit;
    }
    const hits = new Map<string, string>();
    const node = findColumn(catalog, col.table, col.column, col.path);
    this.classifyNode(key, col.path.at(-1) ?? col.column, node, hits);
    const out = [...hits].map(([classification, ruleId]) => ({ classification, ruleId }));
    return catalogIsStatic ? this.remember(memoKey, out) : out;
  }

  private classifyNode(key: string, name: string, node: CatalogColumn | undefined, hits: Map<string, string>): void {
    const tags = node?.policyTags ?? [];
    for (const c of this.classRules) {
      if (hits.has(c.classification)) continue;
      if (anyMatch(c.columns, key) || anyMatch(c.names, name) || anyMatch(c.regex, name) || tags.some((t) => anyMatch(c.tags, t))) hits.set(c.classification, c.id);
    }
    for (const f of node?.fields ?? []) this.classifyNode(`${key}.${f.name}`, f.name, f, hits);
  }
}

function severity(v: StatementVerdict): number {
  if (v.effect === 'allow') return 0;
  if (v.effect === 'deny') return 1000;
  return v.approval.required;
}
