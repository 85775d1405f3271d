// What the pipeline needs from the modules it orchestrates, stated as narrow interfaces so
// the pipeline reads as a sequence of stages and each module can be tested on its own.
import type { AuditEventInput } from '../audit/event.js';
import type { Analysis, AnalyzeOptions, Dialect, SchemaCatalog, TableRef } from '../sql/types.js';
import type { Decision } from '../policy/types.js';
import type { Policy } from '../policy/engine.js';
import type { HandlePlan, MaskPlan, MaskReport } from '../masking/types.js';
import type { Metrics } from '../ops/metrics.js';
import type { Logger } from '../ops/logger.js';
import type { RequestContext } from './types.js';

/** The part of the loaded policy the pipeline uses (a snapshot per request). */
export type PolicyView = Pick<
  Policy,
  'version' | 'rolesFor' | 'methodAllowed' | 'visibleTools' | 'toolShape' | 'callOptions' | 'analyzeOptions' | 'rewrite' | 'decide' | 'keepLiterals' | 'auditPlan'
> &
  Partial<Pick<Policy, 'toolBrief' | 'dryRunFor' | 'byteBudget'>>;

/** BigQuery's dry run of a statement (src/gcp/dry-run.ts), cached per project and text. */
interface DryRunView {
  run(req: { sql: string; defaultProject: string | null; defaultDataset: string | null }): Promise<{ statementType: string; tables: string[]; totalBytesProcessed: number; cached: boolean }>;
}

interface SqlView {
  analyze(sql: string, opts: AnalyzeOptions): Analysis;
  redactLiterals(sql: string, dialect: Dialect): string;
}

export interface CatalogView {
  /** Loads what the async catalog sources know about these tables (cached) into a sync catalog. */
  forTables(tables: TableRef[]): Promise<SchemaCatalog>;
  /** The catalog as known now (stable object while nothing new is learned). */
  current(): SchemaCatalog;
}

export interface HeldCall {
  ctx: RequestContext;
  roles: string[];
  tool: string;
  args: Record<string, unknown>;
  sql: string;
  analysis: Analysis;
  decision: Decision;
  justification: string | null;
  /** The call's params._meta (client hints such as bqwarden/wait_for_approval); absent/null when none. */
  meta?: Record<string, unknown> | null;
}

export type GateResult =
  | {
      status: 'approved';
      approvalId: string;
      requester: string;
      approvers: string[];
      required: number;
      /** Each approver's reason, for the executed call's answer. */
      votes?: { by: string; reason: string | null }[];
    }
  /** used: claimed through another instance; executed / rejected: a re-run of a statement that already ran or was turned down (nothing runs). */
  | { status: 'pending' | 'rejected' | 'expired' | 'used' | 'executed'; approvalId: string; result: Record<string, unknown>; message: string };

export interface ApprovalGate {
  /** Either an approval that this exact call may consume, or the tool result telling the agent what is pending. */
  check(call: HeldCall): Promise<GateResult>;
  /** Records that the approved call ran (consumes the approval); rowsAffected when the upstream reported it. */
  executed(call: HeldCall, approvalId: string, outcome: 'success' | 'failure', rowsAffected?: number | null): Promise<void>;
}

/** The write path: the upstream (and identity) that runs approved statements only. */
export interface WriterUpstream {
  /** Recorded as the event's upstream, so examiners see which identity ran the statement. */
  name: string;
  forward(params: Record<string, unknown> | undefined, signal: AbortSignal): Promise<Record<string, unknown>>;
}

export interface PipelineDeps {
  /** isReady: false while events cannot be made durable (every call then needs a write-ahead intent). */
  audit: { append(input: AuditEventInput): Promise<unknown>; isReady?(): boolean };
  /** Snapshot of the current policy: a request keeps the one it started with across reloads. */
  policy(): PolicyView;
  sql: SqlView;
  catalog: CatalogView;
  mask(result: Record<string, unknown>, plan: MaskPlan): { result: Record<string, unknown>; report: MaskReport };
  /** Replaces row handles (masked values the engine could not compute) using `run` for the lookups. */
  resolveHandles(result: Record<string, unknown>, plan: HandlePlan, run: (sql: string) => Promise<string[]>): Promise<{ result: Record<string, unknown> }>;
  /** Detectors only, for results that are not tool results (resources, prompts, completions). */
  scrub(result: Record<string, unknown>): { result: Record<string, unknown>; report: MaskReport };
  approvals: ApprovalGate | null;
  /** When set, approved statements go here and never through the read upstream. */
  writer?: WriterUpstream | null;
  metrics: Metrics;
  log: Logger;
  upstreamName: string;
  /** Several upstreams behind the gateway: each call's event names the policy upstream that served its tool. */
  upstreamPerTool?: boolean;
  maxPayloadBytes: number;
  /** Per-identity tools/call budget; absent = unlimited. */
  rateLimiter?: import('./rate-limit.js').RateLimiter;
  /** Tool-definition pinning (src/pins); absent = off. */
  pins?: ToolPinsView | null;
  /** BigQuery dry runs for upstreams whose policy asks for them (upstreams[].dryRun). */
  dryRun?: DryRunView | null;
}

/** What pinning says about one tool's current upstream definition. */
export type PinVerdict =
  | { status: 'pinned'; sha256: string }
  | { status: 'changed'; sha256: string; pinned: string; changed: string[]; approvalId: string | null; message: string }
  | { status: 'unlisted'; message: string };

export interface ToolPinsView {
  /** Checks (and pins on first sight) every tool of an upstream tools/list result. */
  onList(tools: Record<string, unknown>[], ctx: RequestContext, roles: string[]): Promise<Map<string, PinVerdict>>;
  /** Checks the called tool against its pin, listing the upstream's tools when the last view is stale. */
  onCall(tool: string, ctx: RequestContext, roles: string[], listTools: () => Promise<Record<string, unknown>[]>): Promise<PinVerdict>;
}
