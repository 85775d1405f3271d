// Upstream kinds by name. A new kind is a folder under src/upstreams/ and one line here.
import type { Dialect } from '../sql/types.js';
import { bigqueryManaged } from './bigquery-managed/index.js';
import { toolboxBigquery } from './toolbox-bigquery/index.js';
import { toolboxSql } from './toolbox-sql/index.js';
import { toolboxSqlite } from './toolbox-sqlite/index.js';
import type { KindName, UpstreamKind } from './types.js';

const KINDS: ReadonlyMap<KindName, UpstreamKind> = new Map([toolboxSqlite, toolboxBigquery, bigqueryManaged, toolboxSql].map((k) => [k.name, k]));

export function upstreamKind(name: KindName): UpstreamKind {
  const k = KINDS.get(name);
  if (!k) throw new Error(`unknown upstream kind ${name}`);
  return k;
}

/** The kind an upstream described before kinds existed (dialect only) has. */
export function kindForDialect(dialect: Dialect): KindName {
  return dialect === 'sqlite' ? 'toolbox-sqlite' : dialect === 'bigquery' ? 'toolbox-bigquery' : 'toolbox-sql';
}

export type { KindName, UpstreamKind } from './types.js';
