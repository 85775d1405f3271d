// What bqwarden knows about one kind of upstream MCP server: the tools it serves, which of
// their arguments carry SQL, what a call says about where that SQL runs (project, dataset,
// location, dry run), and how the gateway reads table schemas through the upstream itself.
// Policy and the pipeline consult a kind; nothing else hard-codes an upstream's tool names.
import type { CatalogTable, Dialect, TableRef } from '../sql/types.js';

export const KIND_NAMES = ['toolbox-sqlite', 'toolbox-bigquery', 'bigquery-managed', 'toolbox-sql'] as const;
export type KindName = (typeof KIND_NAMES)[number];

/** How the gateway treats one upstream tool. */
export interface ToolSpec {
  /** sql: runs the SQL in `sqlArgument`; metadata: names and schemas only, never rows; other: anything else. */
  kind: 'sql' | 'metadata' | 'other';
  /** The argument that carries the SQL (kind sql). */
  sqlArgument?: string;
  /**
   * Denied whatever the tool rules grant, with the reason: the tool reads data and answers with
   * values bqwarden cannot map to source columns, so it cannot mask them.
   */
  denied?: string;
  /** The table a metadata tool describes, from its arguments (checked against the table rules). */
  describes?: (args: Record<string, unknown>, defaults: UpstreamDefaults) => { project: string | null; dataset: string | null; table: string } | null;
  description?: string;
}

export interface UpstreamDefaults {
  defaultProject: string | null;
  defaultDataset: string | null;
}

/** Where one call's SQL runs, as the upstream will read it. */
export interface CallTarget {
  /** Unqualified names resolve against these. */
  project: string | null;
  dataset: string | null;
  location: string | null;
  /** A dry run: the engine plans the statement and reads no rows. */
  dryRun: boolean;
}

export type CallTargetResult = { ok: true; target: CallTarget } | { ok: false; message: string };

export type CallTool = (name: string, args: Record<string, unknown>) => Promise<{ content: { type: string; text?: string }[] }>;
export type TableKey = Pick<TableRef, 'fq' | 'project' | 'dataset' | 'table'>;

/** Reads table schemas through the upstream's own metadata tool. */
export interface CatalogSource {
  /** The tables found (absent = unknown, which the analyzer flags and policy refuses). */
  fetch(callTool: CallTool, tables: TableKey[]): Promise<CatalogTable[]>;
}

export interface UpstreamKind {
  name: KindName;
  /** Dialects the kind's engine speaks; the first is the default. */
  dialects: readonly [Dialect, ...Dialect[]];
  /** The tools the kind serves, by their upstream names. Empty: every tool is described in policy. */
  tools: Readonly<Record<string, ToolSpec>>;
  /** Where the call's SQL runs: the call's own project/dataset/location/dry run, else the upstream's defaults. */
  target(tool: string, args: Record<string, unknown>, defaults: UpstreamDefaults): CallTargetResult;
  catalog: CatalogSource | null;
  /** The argument in which a call names the project its SQL runs in (told to agents in tools/list). */
  projectArgument?: string;
  /**
   * Arguments the gateway adds before forwarding, so the upstream runs the statement where it
   * was analysed (the managed endpoint without projectId would pick a project of its own).
   */
  pin?(tool: string, args: Record<string, unknown>, target: CallTarget): Record<string, unknown> | null;
}
