// The Policy the pipeline calls per request: synchronous, pure lookups over a snapshot.
import type { Identity } from '../identity/types.js';
import type { Analysis, AnalyzeOptions, Dialect, SchemaCatalog } from '../sql/types.js';
import { toolBrief, type ToolBrief } from './tool-brief.js';
import type { ColumnMask, MaskPlan } from '../masking/types.js';
import type { Decision, ToolCallInput, ToolShape } from './types.js';
import { planEngineMasking, type EngineMaskingOptions } from './engine-masks.js';
import type { EnginePlanResult } from './types.js';
import type { CallTarget, KindName } from '../upstreams/types.js';
import type { UpstreamCredentialConfig } from '../identity/config.js';
import { CompiledPolicy, DEFAULT_DENY } from './compiled.js';
import { decideSql, denyDecision, who } from './decide.js';
import { StaticCatalog } from './catalog.js';
import type { Origin } from './load.js';
import { checkReferences, parseCatalogFiles, parsePolicyFiles, policyVersion, readPolicySources, type SourceFile } from './load.js';
import { PolicyLoadError } from './errors.js';

type CallOptions =
  | { ok: true; options: AnalyzeOptions; target: CallTarget /** Arguments to add before forwarding (UpstreamKind.pin). */; pinned: Record<string, unknown> | null }
  | { ok: false; ruleId: string; message: string };

export interface UpstreamSummary {
  id: string;
  kind: KindName;
  dialect: Dialect;
  defaultProject: string | null;
  defaultDataset: string | null;
  /** The endpoint and the gateway's credential for it, when policy names them (rules/upstreams.yaml). */
  url: string | null;
  credential: UpstreamCredentialConfig | null;
  /** Names clients see. */
  tools: string[];
}

interface ToolRoutes {
  route(publicName: string): { upstream: string; name: string } | null;
  publicName(upstream: string, name: string): string | null;
}

export interface Policy {
  /** sha256 over the loaded files (names + contents); goes into every audit event. */
  readonly version: string;
  /** The files the version covers, relative to the policy dir. */
  readonly files: string[];
  rolesFor(identity: Identity): string[];
  methodAllowed(roles: string[], method: string): { allowed: boolean; ruleId: string; message: string };
  visibleTools(roles: string[], toolNames: string[]): string[];
  toolShape(tool: string): ToolShape | null;
  /**
   * How to analyse a SQL tool's statement for this call: the upstream's dialect, and the project,
   * dataset, location and dry run the call itself names (the managed endpoint's projectId),
   * else the upstream's defaults. Null for a tool that carries no SQL; a refusal for arguments
   * the upstream would read differently from us.
   */
  callOptions(tool: string, args: Record<string, unknown>): CallOptions | null;
  /** callOptions for a call without target arguments (tests, `policy explain`); null when refused. */
  analyzeOptions(tool: string, args?: Record<string, unknown>): AnalyzeOptions | null;
  decide(input: ToolCallInput & { roles: string[] }): Decision;
  /**
   * Plans masking in the engine for a SQL tool call: the SQL with a masking projection in front
   * of every read of a table the roles see masked. Null when there is nothing to plan (not a SQL
   * tool, no analysis, roles cleared for everything). decide() applies the plan, or refuses it.
   */
  rewrite(input: ToolCallInput & { roles: string[] }): EnginePlanResult | null;
  keepLiterals(roles: string[]): boolean;
  /** Where a BigQuery dry run resolves a SQL tool's statements, when its upstream asks for one (upstreams[].dryRun). */
  dryRunFor(tool: string, args?: Record<string, unknown>): { defaultProject: string | null; defaultDataset: string | null } | null;
  /**
   * Most bytes one statement may process for these roles: the largest budget among them, and
   * no limit when one of them has none (roles grant; a budget limits only the role that sets it).
   */
  byteBudget(roles: string[]): number | null;
  /**
   * How the audit copy of a result is masked, whatever the caller may see: every output column
   * reached by any classified source is pseudonymised (direct) or nulled (derived), so a
   * cleared role's clear result never lands at rest in clear. Tokens are keyed, so examiners can
   * still follow one value across events.
   */
  auditPlan(analysis: Analysis | null, catalog?: SchemaCatalog | null): MaskPlan;
  /** Non-MCP surfaces (console, approve, reports, replay …): does any held role have the capability? */
  can(roles: string[], capability: string): boolean;
  /** Where a rule is written (file, line), for explanations. */
  ruleOrigin(ruleId: string): Origin | null;
  /** Summary for `policy check`. */
  summary(): { roles: string[]; tools: string[]; classifications: string[]; rules: number };
  /** What tools/list tells these roles about a tool (dialect, masking, approvals) and honest annotations; null if not theirs. */
  toolBrief(roles: string[], tool: string): ToolBrief | null;
  /** The upstreams policy describes: dialect, default project/dataset, tools (policy explain --upstream). */
  upstreams(): UpstreamSummary[];
  /** Tool routing for the transport: which upstream serves a tool clients call by name, and back. */
  toolRoutes(): ToolRoutes;
}

class LoadedPolicy implements Policy {
  readonly files: string[];
  constructor(
    readonly version: string,
    files: SourceFile[],
    private readonly c: CompiledPolicy,
    private readonly catalog: StaticCatalog | null,
  ) {
    this.files = files.map((f) => f.name).sort();
  }

  rolesFor(identity: Identity): string[] {
    return this.c.rolesFor(identity);
  }

  methodAllowed(roles: string[], method: string) {
    const v = this.c.method(roles, method);
    const subject = roles.length ? who(roles) : 'a caller with no role';
    const message = v.allowed
      ? `${subject} may call ${method} (rule ${v.ruleId})`
      : v.ruleId === DEFAULT_DENY
        ? `MCP method ${method} is not allowed for ${subject}: no method rule lists it and the default is deny (rule ${DEFAULT_DENY})`
        : `MCP method ${method} is denied for ${subject} (rule ${v.ruleId})`;
    const next = v.allowed
      ? ''
      : this.c.method(roles, 'tools/call').allowed
        ? ' This gateway serves tools: call tools/list, then tools/call.'
        : ' Ask an administrator for a role that may use this gateway.';
    return { allowed: v.allowed, ruleId: v.ruleId, message: `${message}${next}` };
  }

  visibleTools(roles: string[], toolNames: string[]): string[] {
    return toolNames.filter((t) => {
      const s = this.c.shapes.get(t);
      return s !== undefined && !s.spec.denied && this.c.tool(roles, t).allowed;
    });
  }

  toolShape(tool: string): ToolShape | null {
    const s = this.c.shapes.get(tool);
    return s ? { ...s.shape } : null;
  }

  callOptions(tool: string, args: Record<string, unknown>): CallOptions | null {
    const s = this.c.shapes.get(tool);
    if (!s || s.shape.kind !== 'sql') return null;
    const t = s.kind.target(s.shape.upstreamTool, args, s.upstream);
    if (!t.ok) return { ok: false, ruleId: 'tool-arguments', message: t.message };
    return {
      ok: true,
      target: t.target,
      pinned: s.kind.pin?.(s.shape.upstreamTool, args, t.target) ?? null,
      options: {
        dialect: s.upstream.dialect,
        defaultProject: t.target.project,
        defaultDataset: t.target.dataset,
        ...(this.catalog ? { catalog: this.catalog } : {}),
      },
    };
  }

  analyzeOptions(tool: string, args: Record<string, unknown> = {}): AnalyzeOptions | null {
    const o = this.callOptions(tool, args);
    return o?.ok ? o.options : null;
  }

  decide(input: ToolCallInput & { roles: string[] }): Decision {
    try {
      return this.decideUnsafe(input);
    } catch (err) {
      // A bug here must never become an allow.
      return denyDecision(
        'policy-error',
        `policy evaluation failed, so the call is denied: ${(err as Error).message} (rule policy-error). Report this to the gateway's operators; retrying will not help.`,
      );
    }
  }

  private decideUnsafe(input: ToolCallInput & { roles: string[] }): Decision {
    const { roles, tool } = input;
    if (roles.length === 0) {
      const id = input.identity.email ?? input.identity.subject;
      return denyDecision(
        'no-role',
        `${id} holds no role: no role binding matches the user or the groups [${input.identity.groups.join(', ')}] (rule no-role). Ask an administrator to bind a role to you or to one of your groups.`,
      );
    }
    const s = this.c.shapes.get(tool);
    if (!s)
      return denyDecision(
        'unknown-tool',
        `tool ${tool} is not described in policy (upstreams[].tools), so bqwarden cannot tell whether its arguments carry SQL; it stays denied until described (rule unknown-tool). Use a tool that tools/list shows you.`,
      );
    if (s.spec.denied)
      return denyDecision('upstream-tool-denied', `tool ${tool} is denied whatever the rules grant: ${s.spec.denied} (rule upstream-tool-denied). Use execute_sql with the SQL you want to run.`);
    const tv = this.c.tool(roles, tool);
    if (!tv.allowed) {
      const why = tv.ruleId === DEFAULT_DENY ? 'no tool rule grants it' : 'a rule denies it';
      const mine = this.visibleTools(roles, [...this.c.shapes.keys()]);
      return denyDecision(
        tv.ruleId,
        `${who(roles)} may not use tool ${tool}: ${why} (rule ${tv.ruleId}). ${mine.length ? `Tools you may use: ${mine.join(', ')}.` : 'Your roles may use no tool; ask an administrator for a role that may.'}`,
      );
    }
    if (s.shape.kind !== 'sql') {
      if (s.spec.describes) {
        // A schema says what a table holds: the table rules decide who may read it. The name must
        // resolve to exactly project.dataset.table, else no table rule could be said to apply.
        const described = s.spec.describes(input.args, s.upstream);
        const parts = described ? [described.project, described.dataset, described.table] : [];
        if (parts.length !== 3 || !parts.every((p) => typeof p === 'string' && /^[A-Za-z0-9_-]+$/.test(p)))
          return denyDecision(
            'tool-arguments',
            `${tool} must name one table as project, dataset and table (plain names, no dots or quotes), so the table rules can decide who may see its schema; refused (rule tool-arguments).`,
          );
        const fq = parts.join('.');
        const v = this.c.table(roles, fq, 'read', s.upstream.dialect);
        if (!v.allowed) return denyDecision(v.ruleId, `${who(roles)} may not read table ${fq}, so ${tool} may not describe it (rule ${v.ruleId}).`);
      }
      const cleared = this.c.clearedForAll(roles);
      return {
        action: 'allow',
        ruleIds: [tv.ruleId],
        message: `${who(roles)} may use ${s.shape.kind} tool ${tool} (rule ${tv.ruleId})`,
        maskPlan: cleared ? null : { columns: [], fallback: [], detectors: true },
        approval: null,
        privileged: false,
      };
    }
    if (!input.analysis)
      return denyDecision(
        'no-analysis',
        `tool ${tool} runs SQL but no analysis of it reached policy, so it is denied (rule no-analysis). Send the call again; if it keeps failing, report it to the gateway's operators.`,
      );
    const masking = this.upstreamMasking(tool, input.args);
    if (!masking.ok) return denyDecision(masking.ruleId, masking.message);
    return decideSql(this.c, input, tv.ruleId, s.shape.sqlArgument!, this.catalog, masking.options);
  }

  rewrite(input: ToolCallInput & { roles: string[] }): EnginePlanResult | null {
    const s = this.c.shapes.get(input.tool);
    const catalog = input.catalog ?? this.catalog;
    if (!s || s.shape.kind !== 'sql' || !input.analysis || !catalog || input.roles.length === 0 || this.c.clearedForAll(input.roles)) return null;
    const masking = this.upstreamMasking(input.tool, input.args);
    if (!masking.ok) return { ok: false, ruleId: masking.ruleId, message: masking.message };
    try {
      return planEngineMasking(this.c, input.roles, input.analysis, catalog, !input.catalog || input.catalog === this.catalog, { ...masking.options, dialect: input.analysis.dialect });
    } catch (err) {
      // A bug in the planner must never run the SQL unmasked.
      return {
        ok: false,
        ruleId: 'policy-error',
        message: `masking could not be planned, so the call is denied: ${(err as Error).message} (rule policy-error). Report this to the gateway's operators; retrying will not help.`,
      };
    }
  }

  /** The engine-masking names resolve where the call's SQL runs (its own project first), as the analysis did. */
  private upstreamMasking(tool: string, args: Record<string, unknown>): { ok: true; options: Omit<EngineMaskingOptions, 'dialect'> } | { ok: false; ruleId: string; message: string } {
    const s = this.c.shapes.get(tool)!;
    const o = this.callOptions(tool, args);
    if (o && !o.ok) return o;
    const u = s.upstream;
    const keyset = u.pseudonymKeyset ? { kmsKeyUri: u.pseudonymKeyset.kmsKeyUri, wrappedKeysetBase64: u.pseudonymKeyset.wrappedKeyset } : null;
    return {
      ok: true,
      options: { defaultProject: o ? (o.options.defaultProject ?? null) : (u.defaultProject ?? null), defaultDataset: o ? (o.options.defaultDataset ?? null) : (u.defaultDataset ?? null), keyset },
    };
  }

  dryRunFor(tool: string, args: Record<string, unknown> = {}): { defaultProject: string | null; defaultDataset: string | null } | null {
    const s = this.c.shapes.get(tool);
    if (!s || s.shape.kind !== 'sql' || s.upstream.dialect !== 'bigquery' || s.upstream.dryRun !== true) return null;
    // Where the call runs (the managed endpoint's projectId), as the analysis resolved it.
    const o = this.callOptions(tool, args);
    if (o?.ok) return { defaultProject: o.options.defaultProject ?? null, defaultDataset: o.options.defaultDataset ?? null };
    return { defaultProject: s.upstream.defaultProject, defaultDataset: s.upstream.defaultDataset };
  }

  byteBudget(roles: string[]): number | null {
    if (roles.length === 0) return 0;
    let most = 0;
    for (const r of roles) {
      const b = this.c.roles.get(r)?.maxBytesProcessed;
      if (b === undefined) return null;
      most = Math.max(most, b);
    }
    return most;
  }

  keepLiterals(roles: string[]): boolean {
    // Literals can be customer data (WHERE ssn = '…'): keep them only if every held role agrees.
    return roles.length > 0 && roles.every((r) => this.c.roles.get(r)?.keepLiterals === true);
  }

  auditPlan(analysis: Analysis | null, catalog?: SchemaCatalog | null): MaskPlan {
    const columns: ColumnMask[] = [];
    const fallback = new Map<string, { classification: string; method: 'pseudonym'; ruleId: string }>();
    const cat = catalog ?? this.catalog;
    const isStatic = !catalog || catalog === this.catalog;
    for (const s of analysis?.statements ?? []) {
      for (const out of s.output ?? []) {
        const hits = out.sources.flatMap((src) => this.c.classify(src, cat, isStatic).map((h) => ({ ...h, source: `${src.table}.${src.column}${src.path.length ? '.' + src.path.join('.') : ''}` })));
        for (const h of hits) fallback.set(h.classification, { classification: h.classification, method: 'pseudonym', ruleId: h.ruleId });
        if (hits.length === 0 && !out.unresolved) continue;
        const first = hits[0];
        columns.push({
          outputIndex: out.index,
          outputName: out.name,
          classification: first?.classification ?? 'unresolved',
          method: out.direct && first ? 'pseudonym' : 'nullify',
          ruleId: first?.ruleId ?? 'audit-at-rest',
          sources: [...new Set(hits.map((h) => h.source))].sort(),
        });
      }
    }
    // Unparsed SQL or no analysis: nothing maps, so every classification's fallback applies.
    if (!analysis || !analysis.ok) for (const c of this.c.classifications) fallback.set(c, { classification: c, method: 'pseudonym', ruleId: 'audit-at-rest' });
    return { columns, fallback: [...fallback.values()], detectors: true };
  }

  can(roles: string[], capability: string): boolean {
    return roles.some((r) => this.c.roles.get(r)?.capabilities.includes(capability) === true);
  }

  ruleOrigin(ruleId: string): Origin | null {
    return this.c.origins.get(ruleId) ?? null;
  }

  summary() {
    return { roles: [...this.c.roles.keys()].sort(), tools: [...this.c.shapes.keys()].sort(), classifications: this.c.classifications, rules: this.c.origins.size };
  }

  toolBrief(roles: string[], tool: string): ToolBrief | null {
    return toolBrief(this.c, roles, tool);
  }

  upstreams(): UpstreamSummary[] {
    const byId = new Map<string, UpstreamSummary>();
    for (const [tool, s] of this.c.shapes) {
      const u = s.upstream;
      const sum = byId.get(u.id) ?? {
        id: u.id,
        kind: u.kind,
        dialect: u.dialect,
        defaultProject: u.defaultProject ?? null,
        defaultDataset: u.defaultDataset ?? null,
        url: u.url ?? null,
        credential: u.credential ?? null,
        tools: [],
      };
      sum.tools.push(tool);
      byId.set(u.id, sum);
    }
    return [...byId.values()];
  }

  private routes: ToolRoutes | null = null;
  toolRoutes(): ToolRoutes {
    if (this.routes) return this.routes;
    const back = new Map<string, string>();
    for (const [tool, s] of this.c.shapes) back.set(`${s.shape.upstream}\u0000${s.shape.upstreamTool}`, tool);
    this.routes = {
      route: (name) => {
        const s = this.c.shapes.get(name);
        return s ? { upstream: s.shape.upstream, name: s.shape.upstreamTool } : null;
      },
      publicName: (upstream, name) => back.get(`${upstream}\u0000${name}`) ?? null,
    };
    return this.routes;
  }
}

/** Builds a Policy from file contents (names relative to the policy dir). Throws PolicyLoadError. */
export function compilePolicy(policyFiles: SourceFile[], catalogFiles: SourceFile[] = []): Policy {
  if (policyFiles.length === 0) throw new PolicyLoadError([{ file: '(policy dir)', line: null, path: '', message: 'no policy files (*.yaml) found', hint: 'point --dir at the rules/ directory' }]);
  const { merged, problems, docs } = parsePolicyFiles(policyFiles);
  const cat = parseCatalogFiles(catalogFiles);
  problems.push(...cat.problems);
  if (problems.length === 0) problems.push(...checkReferences(merged, docs));
  if (problems.length) throw new PolicyLoadError(problems);
  const all = [...policyFiles, ...catalogFiles];
  return new LoadedPolicy(policyVersion(all), all, new CompiledPolicy(merged), cat.catalog.length ? new StaticCatalog(cat.catalog) : null);
}

export async function loadPolicy(dir: string): Promise<Policy> {
  let sources;
  try {
    sources = await readPolicySources(dir);
  } catch (err) {
    throw new PolicyLoadError([{ file: dir, line: null, path: '', message: `cannot read policy directory: ${(err as Error).message}`, hint: 'check the path and permissions' }]);
  }
  return compilePolicy(sources.policy, sources.catalog);
}
