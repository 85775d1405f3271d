// Turning a parsed table name into a fully qualified TableRef (project.dataset.table), the
// naming the policy engine matches on. Missing parts with no configured default become "?",
// which cannot occur in a real BigQuery/SQLite name, and the table is flagged unknown_table.
import type { AnalyzeOptions, Dialect, TableRef } from './types.js';

const MISSING = '?';

type AnyNode = { type: string; [k: string]: any };

/** Name parts of an entity name (identifier, a.b.c, `a.b`.c …), null if not a plain name. */
/** A dotted name as written: never empty. */
export type NamePath = [string, ...string[]];

export const isNamePath = (parts: string[]): parts is NamePath => parts.length > 0;

/** The last part of a name (a function's or a table's own name). */
export const lastPart = (parts: NamePath): string => parts[parts.length - 1] ?? parts[0];

export function nameParts(node: AnyNode | null | undefined, dialect: Dialect): NamePath | null {
  if (!node) return null;
  if (node.type === 'identifier') return [identName(node, dialect)];
  if (node.type === 'bigquery_quoted_member_expr') return nameParts(node.expr, dialect);
  if (node.type === 'member_expr' && node.property?.type === 'identifier') {
    const left = nameParts(node.object, dialect);
    return left ? [...left, identName(node.property, dialect)] : null;
  }
  return null;
}

/** An identifier's name as written. `a.b` in backquotes parses as a path, not a name: where one
 * name goes (an alias) it is refused (analyze turns the throw into an unsupported flag). */
export function plainName(id: AnyNode): string {
  const name: unknown = id?.name;
  if (typeof name !== 'string') throw new Error(`${id?.type ?? 'nothing'} where one plain name is expected (a backquoted dotted name as an alias?)`);
  return name;
}

/** Identifier as the engine sees it: SQLite and unquoted PostgreSQL names fold to lower case;
 * BigQuery dataset/table names are case-sensitive and keep their case. */
export function identName(id: AnyNode, dialect: Dialect): string {
  const name = plainName(id);
  if (dialect === 'sqlite') return name.toLowerCase();
  if (dialect === 'postgresql' && !String(id.text).startsWith('"')) return name.toLowerCase();
  return name;
}

export interface ResolvedName {
  ref: TableRef;
  /** True when a part had to be filled with "?" because no default was configured. */
  incomplete: boolean;
}

export function makeTableRef(parts: string[], opts: AnalyzeOptions): ResolvedName {
  let informationSchema = false;
  let qualifiers: string[];
  let table: string | undefined;
  const isIdx = parts.findIndex((p) => p.toUpperCase() === 'INFORMATION_SCHEMA');
  if (isIdx >= 0 && isIdx < parts.length - 1) {
    // region-us.INFORMATION_SCHEMA.JOBS, p.region-us.INFORMATION_SCHEMA.JOBS, d.INFORMATION_SCHEMA.TABLES …
    informationSchema = true;
    qualifiers = parts.slice(0, isIdx);
    table = parts.slice(isIdx).join('.');
  } else {
    qualifiers = parts.slice(0, -1);
    table = parts.at(-1);
  }
  // The part right before the table is its dataset; everything before that, joined, its project.
  const datasetPart = qualifiers.pop();
  const project = qualifiers.length > 0 ? qualifiers.join('.') : (opts.defaultProject ?? null);
  const dataset = datasetPart ?? opts.defaultDataset ?? null;
  // No parts at all (never from nameParts): a table named "?" that no rule or catalog entry matches, flagged as incomplete.
  const incomplete = project === null || dataset === null || table === undefined;
  const name = table ?? MISSING;
  const fq = [project ?? MISSING, dataset ?? MISSING, name].join('.');
  return {
    ref: {
      fq,
      project,
      dataset,
      table: name,
      wildcard: opts.dialect === 'bigquery' && name.endsWith('*'),
      informationSchema,
      view: false,
      function: false,
      opaque: false,
      timeTravel: false,
    },
    incomplete,
  };
}

export function mergeTable(list: TableRef[], t: TableRef): void {
  const prev = list.find((x) => x.fq === t.fq && x.function === t.function);
  if (!prev) {
    list.push({ ...t });
    return;
  }
  prev.wildcard ||= t.wildcard;
  prev.informationSchema ||= t.informationSchema;
  prev.view ||= t.view;
  prev.opaque ||= t.opaque;
  prev.timeTravel ||= t.timeTravel;
}
