// Turning a parsed table name into a fully qualified TableRef (project.dataset.table), the
// naming the policy engine matches on. Missing parts with no configured default become "?",
// which cannot occur in a real BigQuery/SQLite name, and the table is flagged unknown_table.
import type { AnalyzeOptions, Dialect, TableRef } from './types.js';

export const MISSING = '?';

type AnyNode = { type: string; [k: string]: any };

/** Name parts of an entity name (identifier, a.b.c, `a.b`.c …), null if not a plain name. */
export function nameParts(node: AnyNode | null | undefined, dialect: Dialect): string[] | null {
  if (!node) return null;
  if (node.type === 'identifier') return [identName(node, dialect)];
  if (node.type === 'bigquery_quoted_member_expr') return nameParts(node.expr, dialect);
  if (node.type === 'member_expr' && node.property?.type === 'identifier') {
    const left = nameParts(node.object, dialect);
    return left ? [...left, identName(node.property, dialect)] : null;
  }
  return null;
}

/** Identifier as the engine sees it: SQLite and unquoted PostgreSQL names fold to lower case;
 * BigQuery dataset/table names are case-sensitive and keep their case. */
export function identName(id: AnyNode, dialect: Dialect): string {
  const name: string = id.name;
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
  const defProject = opts.defaultProject ?? null;
  const defDataset = opts.defaultDataset ?? null;
  let project: string | null;
  let dataset: string | null;
  let table: string;
  let informationSchema = false;
  const isIdx = parts.findIndex((p) => p.toUpperCase() === 'INFORMATION_SCHEMA');
  if (isIdx >= 0 && isIdx < parts.length - 1) {
    // region-us.INFORMATION_SCHEMA.JOBS, p.region-us.INFORMATION_SCHEMA.JOBS, d.INFORMATION_SCHEMA.TABLES …
    informationSchema = true;
    const before = parts.slice(0, isIdx);
    table = parts.slice(isIdx).join('.');
    if (before.length >= 2) [project, dataset] = [before.slice(0, -1).join('.'), before[before.length - 1]];
    else if (before.length === 1) [project, dataset] = [defProject, before[0]];
    else [project, dataset] = [defProject, defDataset];
  } else if (parts.length >= 3) {
    project = parts.slice(0, parts.length - 2).join('.');
    dataset = parts[parts.length - 2];
    table = parts[parts.length - 1];
  } else if (parts.length === 2) {
    project = defProject;
    dataset = parts[0];
    table = parts[1];
  } else {
    project = defProject;
    dataset = defDataset;
    table = parts[0];
  }
  const incomplete = project === null || dataset === null;
  const fq = [project ?? MISSING, dataset ?? MISSING, table].join('.');
  return {
    ref: {
      fq,
      project,
      dataset,
      table,
      wildcard: opts.dialect === 'bigquery' && table.endsWith('*'),
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
