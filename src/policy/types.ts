// Decisions policy hands to the pipeline. Every decision explains itself: the rule ids that
// matched and a message a person and an agent can act on.
import type { Identity } from '../identity/types.js';
import type { Analysis, Dialect, SchemaCatalog } from '../sql/types.js';
import type { EngineForm } from '../masking/in-engine.js';
import type { HandlePlan, MaskMethod, MaskPlan } from '../masking/types.js';

export interface EngineColumnMask {
  /** `fq.column` */
  key: string;
  table: string;
  column: string;
  classification: string;
  method: MaskMethod;
  ruleId: string;
  /** expr: computed in the engine; handle: a row handle the gateway resolves; narrow: clear in the engine (policy narrows its use). */
  form: EngineForm['kind'];
  /** A STRUCT rebuilt field by field: its value as a whole is computed from masked fields. */
  struct?: boolean;
}

export interface EngineMasking {
  /** The SQL to forward: the caller's SQL with masking projections in place. */
  sql: string;
  changed: boolean;
  /** Every column of a rewritten table that the engine sees masked (or omits, for deny). */
  columns: Map<string, EngineColumnMask>;
  /** Columns omitted from the projection because the caller may not see them at all. */
  omitted: Set<string>;
  /** Tables rewritten (fq). */
  tables: string[];
  handles: HandlePlan | null;
}

export type EnginePlanResult = { ok: true; masking: EngineMasking } | { ok: false; ruleId: string; message: string };

type Action = 'allow' | 'mask' | 'deny' | 'approval_required';

export interface ApprovalRequirement {
  approverRoles: string[];
  required: number;
  expiresInSeconds: number;
  ruleId: string;
}

export interface Decision {
  action: Action;
  ruleIds: string[];
  message: string;
  maskPlan: MaskPlan | null;
  approval: ApprovalRequirement | null;
  /** Writes, DDL, DCL, data movement, dynamic SQL: flagged in audit for privileged-use review. */
  privileged: boolean;
  /** Present when the SQL was rewritten to mask in the engine: forward `engine.sql`, not the caller's text. */
  engine?: EngineMasking;
}

/** How policy understands an upstream tool's arguments. */
export interface ToolShape {
  tool: string;
  /** Argument holding SQL, when the tool runs SQL. */
  sqlArgument: string | null;
  dialect: Dialect | null;
  /** Free-form category for non-SQL tools (metadata, …). */
  kind: 'sql' | 'metadata' | 'other';
  /** The policy upstream (upstreams[].id) that serves the tool. */
  upstream: string;
  /** The tool's name at that upstream (differs from `tool` when namespaced). */
  upstreamTool: string;
}

export interface ToolCallInput {
  identity: Identity;
  tool: string;
  args: Record<string, unknown>;
  analysis: Analysis | null;
  /** The catalog the analysis used: policy reads BigQuery policy tags from it (falls back to the static rules/catalog). */
  catalog?: SchemaCatalog | null;
  /**
   * The masking rewrite already planned for this call (Policy.rewrite); decide applies it after
   * the table checks. Absent: decide plans it itself.
   */
  rewrite?: EnginePlanResult | null;
}
