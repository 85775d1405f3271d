// The policy file format. Every file under rules/ (top level, *.yaml) follows this schema;
// files are merged, so a bank can keep roles, classifications and statement rules apart.
// Objects are strict: an unknown key is almost always a typo, and a typo in a firewall rule
// must not silently widen or narrow access.
import { z } from 'zod';
import { MASK_METHODS } from '../masking/types.js';
import { KIND_NAMES } from '../upstreams/types.js';
import { UpstreamCredentialConfigSchema } from '../identity/config.js';

const STATEMENT_CLASSES = ['read', 'write', 'ddl', 'dcl', 'data_movement', 'dynamic_sql', 'call', 'scripting', 'transaction', 'unknown'] as const;

const OPAQUE_KINDS = [
  'parse_error',
  'unknown_statement',
  'execute_immediate',
  'external_query',
  'unknown_table_function',
  'unresolved_column',
  'unresolved_star',
  'unknown_table',
  'unsupported',
] as const;

/** Clauses in which using a column reveals something about its value without returning it. */
const PREDICATE_CLAUSES = [
  'where',
  'join',
  'group_by',
  'having',
  'qualify',
  'order_by',
  'window',
  'dml_where',
  'merge_on',
  'limit', // LIMIT (SELECT length(ssn) …) turns a row count into an oracle
  'set_op', // SELECT ssn … INTERSECT SELECT 'guess': the row count says whether the guess exists
  'distinct', // SELECT DISTINCT / count(DISTINCT …) over a column plus a guess: same oracle
  'other',
] as const;

const ruleId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'rule ids are letters, digits and . _ : - (no spaces)');
const roleName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'role names are letters, digits and . _ -');
/** Role names, or "*" for every caller (including one that holds no role). */
const roleRefs = z.array(z.string().min(1)).min(1).default(['*']);
const patterns = z.array(z.string().min(1)).min(1);
const effect = z.enum(['allow', 'deny']);
/** Seconds, or a number with s/m/h/d. */
const duration = z.union([z.number().int().positive(), z.string().regex(/^\d+[smhd]$/, 'use e.g. 900s, 15m, 1h, 2d')]);

export const DefaultsSchema = z
  .object({
    /** MCP methods no rule mentions. */
    methods: effect.default('deny'),
    /** Predicates on masked columns when no inference rule matches. */
    inference: effect.default('deny'),
    /** Approval expiry when a statement rule does not give one. */
    approvalExpiry: duration.default('1h'),
  })
  .strict();

const ToolShapeSchema = z
  .object({
    /** sql | metadata | other; defaults to what the upstream's kind says of the tool. */
    kind: z.enum(['sql', 'metadata', 'other']).optional(),
    /** Argument holding the SQL (kind sql only); defaults to the kind's. */
    sqlArgument: z.string().min(1).optional(),
    description: z.string().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.kind !== undefined && t.kind !== 'sql' && t.sqlArgument) ctx.addIssue({ code: 'custom', message: `sqlArgument only applies to kind sql, not ${t.kind}`, path: ['sqlArgument'] });
  });

const UpstreamSchema = z
  .object({
    id: ruleId,
    description: z.string().optional(),
    /**
     * What the upstream is (src/upstreams/<kind>): which tools it serves, which argument carries
     * the SQL, what a call says about where it runs. Default: from the dialect (sqlite →
     * toolbox-sqlite, bigquery → toolbox-bigquery, postgresql → toolbox-sql).
     */
    kind: z.enum(KIND_NAMES).optional(),
    /** Default: the kind's engine dialect. */
    dialect: z.enum(['bigquery', 'sqlite', 'postgresql']).optional(),
    /**
     * The upstream's MCP endpoint. The transport connects here; the gateway config's
     * upstream.url stands in for the first upstream that names none (the demo, single-upstream setups).
     */
    url: z.string().url().optional(),
    /** The gateway's credential for this upstream (default: identity.upstreamCredential). */
    credential: UpstreamCredentialConfigSchema.unwrap().optional(),
    defaultProject: z.string().min(1).nullable().default(null),
    defaultDataset: z.string().min(1).nullable().default(null),
    tools: z.record(z.string().min(1), ToolShapeSchema),
    /**
     * BigQuery: dry-run every statement not seen before (with the gateway's identity) as a second
     * opinion on its type and tables, and to check its bytes against the role's budget
     * (roles[].maxBytesProcessed). docs/guardrails.md.
     */
    dryRun: z.boolean().optional(),
    /**
     * BigQuery: a Cloud KMS-wrapped Tink keyset (DETERMINISTIC_AEAD_AES_SIV_CMAC_256) with which
     * the engine computes keyed pseudonyms itself. The wrapped keyset is not a key: it is useless
     * without decrypt rights on the KMS key. Without it, pseudonymised columns keep the narrow rule.
     */
    pseudonymKeyset: z
      .object({
        kmsKeyUri: z.string().regex(/^gcp-kms:\/\/projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/, 'gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K'),
        wrappedKeyset: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64 of the wrapped keyset'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((u, ctx) => {
    if (!u.kind && !u.dialect) ctx.addIssue({ code: 'custom', message: 'an upstream needs its kind (toolbox-sqlite, toolbox-bigquery, bigquery-managed, toolbox-sql) or a dialect', path: ['kind'] });
  });

const RoleSchema = z
  .object({
    id: ruleId,
    role: roleName,
    description: z.string().optional(),
    /** IdP groups that grant the role (exact match). */
    groups: z.array(z.string().min(1)).default([]),
    /** Emails (case-insensitive) or subjects (exact) that hold the role. */
    users: z.array(z.string().min(1)).default([]),
    /** Non-MCP surfaces: console, approve, reports, replay … */
    capabilities: z.array(z.string().regex(/^[a-z][a-z0-9_.-]*$/, 'capabilities are lower-case words')).default([]),
    /** Audit may keep SQL literals for this role (only when every held role says so). */
    keepLiterals: z.boolean().default(false),
    /** Cost guard: most bytes one statement may process (BigQuery dry run) for this role; absent = no limit. */
    maxBytesProcessed: z.number().int().positive().optional(),
  })
  .strict();

const MethodRuleSchema = z.object({ id: ruleId, description: z.string().optional(), roles: roleRefs, methods: patterns, effect }).strict();

const ToolRuleSchema = z.object({ id: ruleId, description: z.string().optional(), roles: roleRefs, tools: patterns, effect }).strict();

const TableRuleSchema = z
  .object({
    id: ruleId,
    description: z.string().optional(),
    roles: roleRefs,
    tables: patterns,
    effect,
    /** Whether the rule covers tables read, written, or both. */
    access: z.enum(['read', 'write', 'any']).default('any'),
  })
  .strict();

const ClassificationSchema = z
  .object({
    id: ruleId,
    classification: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/, 'classifications are dotted lower-case names like pii.ssn'),
    description: z.string().optional(),
    /** Column keys (project.dataset.table.column[.field]); matched against the end of the key. */
    columns: z.array(z.string().min(1)).default([]),
    /** Column or struct-field names (globs, case-insensitive). */
    names: z.array(z.string().min(1)).default([]),
    /** Regular expressions over the column or field name (case-insensitive). */
    regex: z.array(z.string().min(1)).default([]),
    /** BigQuery policy tags from the catalog: resource names or display names (globs). */
    policyTags: z.array(z.string().min(1)).default([]),
    /**
     * What a computed value of this classification (upper(ssn), CASE WHEN ssn = … END, count(ssn))
     * gets for a role that sees it masked: `deny` refuses the query (rule derived-masked);
     * `nullify` returns NULL instead and re-opens the error channel (CASE WHEN ssn = '…' THEN
     * json('x') END fails only on a match), so it is for low-sensitivity classifications only.
     */
    derived: z.enum(['deny', 'nullify']).default('deny'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.columns.length + c.names.length + c.regex.length + c.policyTags.length === 0)
      ctx.addIssue({ code: 'custom', message: 'a classification needs at least one of columns, names, regex, policyTags' });
  });

const VISIBILITY_VALUES = ['clear', 'deny', ...MASK_METHODS] as const;
export type VisibilityValue = (typeof VISIBILITY_VALUES)[number];

const VisibilityRuleSchema = z
  .object({
    id: ruleId,
    description: z.string().optional(),
    roles: roleRefs,
    /** Classification (or glob such as pii.*) → clear | deny | a masking method. */
    classifications: z
      .record(z.string().regex(/^[a-z*][a-z0-9_.*]*$/, 'a classification name or glob such as pii.ssn, pii.* or *'), z.enum(VISIBILITY_VALUES))
      .refine((r) => Object.keys(r).length > 0, 'list at least one classification'),
  })
  .strict();

const InferenceRuleSchema = z
  .object({
    id: ruleId,
    description: z.string().optional(),
    roles: roleRefs,
    classifications: patterns,
    clauses: z
      .array(z.enum(PREDICATE_CLAUSES))
      .min(1)
      .default([...PREDICATE_CLAUSES]),
    effect,
  })
  .strict();

const ApprovalSchema = z
  .object({
    approvers: z.array(z.string().min(1)).min(1),
    count: z.number().int().min(1).max(10).default(1),
    expiry: duration.optional(),
  })
  .strict();

const StatementRuleSchema = z
  .object({
    id: ruleId,
    description: z.string().optional(),
    roles: roleRefs,
    classes: z.array(z.enum(STATEMENT_CLASSES)).min(1),
    /** Parser statement kinds (globs: drop_*, truncate*); absent = any kind. */
    kinds: z.array(z.string().min(1)).optional(),
    /** true: only destructive statements (DROP, TRUNCATE, CREATE OR REPLACE); false: only non-destructive. */
    destructive: z.boolean().optional(),
    effect: z.enum(['allow', 'deny', 'approval']),
    approval: ApprovalSchema.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.effect === 'approval' && !s.approval) ctx.addIssue({ code: 'custom', message: 'effect approval needs an approval block (approvers, count, expiry)', path: ['approval'] });
    if (s.effect !== 'approval' && s.approval) ctx.addIssue({ code: 'custom', message: `approval only applies to effect approval, not ${s.effect}`, path: ['approval'] });
  });

const TrustRuleSchema = z
  .object({
    id: ruleId,
    description: z.string().optional(),
    roles: roleRefs,
    /** Opaque constructs these roles may run without the analyzer seeing through them. */
    opaque: z.array(z.enum(OPAQUE_KINDS)).min(1),
  })
  .strict();

export const PolicyFileSchema = z
  .object({
    /** Format version of the file; only 1 exists. */
    format: z.literal(1).default(1),
    description: z.string().optional(),
    defaults: DefaultsSchema.partial().optional(),
    upstreams: z.array(UpstreamSchema).default([]),
    roles: z.array(RoleSchema).default([]),
    methods: z.array(MethodRuleSchema).default([]),
    tools: z.array(ToolRuleSchema).default([]),
    tables: z.array(TableRuleSchema).default([]),
    classifications: z.array(ClassificationSchema).default([]),
    visibility: z.array(VisibilityRuleSchema).default([]),
    inference: z.array(InferenceRuleSchema).default([]),
    statements: z.array(StatementRuleSchema).default([]),
    trust: z.array(TrustRuleSchema).default([]),
  })
  .strict();

export type PolicyFile = z.infer<typeof PolicyFileSchema>;

/** The list sections of a policy file (files concatenate them; every item has a rule id), read off the schema itself. */
export type PolicySection = Exclude<keyof PolicyFile, 'format' | 'description' | 'defaults'>;
export const POLICY_SECTIONS = Object.keys(PolicyFileSchema.shape).filter((k) => !['format', 'description', 'defaults'].includes(k)) as PolicySection[];
export type UpstreamDef = z.infer<typeof UpstreamSchema>;
export type RoleDef = z.infer<typeof RoleSchema>;

export function durationSeconds(d: number | string): number {
  if (typeof d === 'number') return d;
  const n = Number(d.slice(0, -1));
  const unit = d.slice(-1);
  return n * (unit === 's' ? 1 : unit === 'm' ? 60 : unit === 'h' ? 3600 : 86400);
}
