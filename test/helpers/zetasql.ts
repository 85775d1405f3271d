// Google's ZetaSQL analyzer (the SQL front end BigQuery is built on), as an oracle for the
// BigQuery rewrite: it resolves every name of a rewritten statement the way BigQuery does,
// independently of our parser, and we then check on its resolved tree that every scan of a
// masked table is wrapped by its masking projection and that no hidden column is referenced
// anywhere else. npm @fivetrandevelopers/zetasql ships the local gRPC server (linux-x64); it is
// large (≈ 330 MB), so it is not a project dependency: .ci/run installs it under .tmp/zetasql, and
// tests that need it say they skipped when it is absent.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePort } from '../../src/demo/toolbox.js';
import type { CatalogColumn, CatalogTable } from '../../src/sql/types.js';
import { REPO } from './gateway.js';

export const ZETASQL_DIR = join(REPO, '.tmp', 'zetasql');

type Any = Record<string, any>;

interface ZetaVerdict {
  /** ZetaSQL could not analyse the statement (syntax, types, unknown function): no verdict. */
  analysable: boolean;
  error?: string;
  /** What breaks the masking promise, if anything. */
  violations: string[];
  /** Scans of masked tables found (so a test can tell it checked something). */
  maskedScans: number;
}

export interface ZetaOracle {
  check(sql: string, tables: CatalogTable[], hidden: Map<string, Set<string>>): Promise<ZetaVerdict>;
  stop(): void;
}

function zetaType(type: string, fields?: CatalogColumn[]): Any {
  const t = type.trim().toUpperCase();
  const array = /^ARRAY<(.*)>$/.exec(t);
  if (array) return { typeKind: 'TYPE_ARRAY', arrayType: { elementType: zetaType(array[1]!, fields) } };
  if (fields?.length || t === 'RECORD' || t.startsWith('STRUCT'))
    return { typeKind: 'TYPE_STRUCT', structType: { field: (fields ?? []).map((f) => ({ fieldName: f.name, fieldType: zetaType(f.type, f.fields) })) } };
  const kinds: Record<string, string> = {
    STRING: 'TYPE_STRING',
    INT64: 'TYPE_INT64',
    INTEGER: 'TYPE_INT64',
    FLOAT64: 'TYPE_DOUBLE',
    FLOAT: 'TYPE_DOUBLE',
    NUMERIC: 'TYPE_NUMERIC',
    BIGNUMERIC: 'TYPE_BIGNUMERIC',
    BOOL: 'TYPE_BOOL',
    BOOLEAN: 'TYPE_BOOL',
    DATE: 'TYPE_DATE',
    DATETIME: 'TYPE_DATETIME',
    TIMESTAMP: 'TYPE_TIMESTAMP',
    TIME: 'TYPE_TIME',
    BYTES: 'TYPE_BYTES',
    JSON: 'TYPE_JSON',
    GEOGRAPHY: 'TYPE_GEOGRAPHY',
  };
  return { typeKind: kinds[t] ?? 'TYPE_STRING' };
}

/** Tables under every path BigQuery accepts for them: `p.d.t`, p.d.t and d.t (default project). */
function simpleCatalog(tables: CatalogTable[], lang: unknown): Any {
  const root: Any = { name: 'root', table: [], catalog: [], builtinFunctionOptions: { languageOptions: lang } };
  const sub = (parent: Any, name: string): Any => {
    let c = parent.catalog.find((x: Any) => x.name === name);
    if (!c) parent.catalog.push((c = { name, table: [], catalog: [] }));
    return c;
  };
  tables.forEach((t, i) => {
    const parts = t.fq.split('.');
    const name = parts.at(-1) ?? t.fq;
    const table = (n: string) => ({ name: n, fullName: t.fq, serializationId: i + 1, column: t.columns.map((c) => ({ name: c.name, type: zetaType(c.type, c.fields) })) });
    root.table.push(table(t.fq));
    const [project, dataset] = parts;
    if (parts.length === 3 && project !== undefined && dataset !== undefined) {
      root.table.push(table(parts.slice(1).join('.')));
      sub(sub(root, project), dataset).table.push(table(name));
    }
    const parent = parts.at(-2);
    if (parent !== undefined) sub(root, parent).table.push(table(name));
  });
  return root;
}

const id = (col: Any): string => String(col?.columnId?.low ?? col?.columnId ?? '');

// What bqwarden's masking expressions are made of (masking/in-engine.ts): the mask text, a hash,
// a truncation, a NULL or an empty array. A projection computing a hidden column any other way
// is not ours.
const MASK_FUNCTIONS = /"name":"(?:ZetaSQL:)?(?:sha256|date_trunc|datetime_trunc|timestamp_trunc|deterministic_encrypt|keys\.keyset_chain)"/i;
function looksLikeMask(expr: unknown): boolean {
  const text = JSON.stringify(expr ?? null);
  return text.includes('"stringValue":"XXXXX"') || MASK_FUNCTIONS.test(text) || text === 'null' || /"resolvedLiteralNode".*"value":\{"type".*"value":null/.test(text) || /"isNull":true/.test(text);
}

/** The checks on ZetaSQL's resolved tree (see the module comment). */
function violationsOf(tree: unknown, hidden: Map<string, Set<string>>): { violations: string[]; maskedScans: number } {
  const violations: string[] = [];
  const wrapped = new Set<Any>();
  const hiddenIds = new Map<string, string>(); // column id → table.column
  const owner = new Map<Any, Set<string>>(); // wrapping projection → the hidden ids it may read
  let maskedScans = 0;
  const scanHidden = (scan: Any): Set<string> => {
    const cols = hidden.get(scan.table?.fullName);
    const ids = new Set<string>();
    if (!cols) return ids;
    for (const c of scan.parent?.columnList ?? []) {
      if (cols.has(String(c.name).toLowerCase())) {
        ids.add(id(c));
        hiddenIds.set(id(c), `${scan.table.fullName}.${c.name}`);
      }
    }
    return ids;
  };
  // Pass 1: scans, and the projections that wrap them.
  const find = (n: unknown): void => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) return n.forEach(find);
    const o = n as Any;
    const ps = o.resolvedProjectScanNode;
    const inner = ps?.inputScan?.resolvedTableScanNode;
    if (inner && hidden.has(inner.table?.fullName)) {
      wrapped.add(inner);
      owner.set(ps, scanHidden(inner));
      for (const c of ps.parent?.columnList ?? []) if (hiddenIds.has(id(c))) violations.push(`the projection over ${inner.table.fullName} passes ${hiddenIds.get(id(c))} through unmasked`);
      // It must be the masking projection: one masking expression per hidden column, by name.
      const computed = new Map<string, unknown>((ps.exprList ?? []).map((e: Any) => [String(e.column?.name).toLowerCase(), e.expr]));
      for (const col of hidden.get(inner.table.fullName)!) {
        if (!(inner.parent?.columnList ?? []).some((c: Any) => String(c.name).toLowerCase() === col)) continue;
        if (!computed.has(col) || !looksLikeMask(computed.get(col))) violations.push(`the projection over ${inner.table.fullName} does not mask ${col}`);
      }
    }
    const ts = o.resolvedTableScanNode;
    if (ts && hidden.has(ts.table?.fullName)) {
      maskedScans++;
      scanHidden(ts);
      if (!wrapped.has(ts)) violations.push(`${ts.table.fullName} is read without its masking projection`);
    }
    for (const v of Object.values(o)) find(v);
  };
  find(tree);
  // Pass 2: every reference to a hidden column must be inside its own projection's expressions.
  const refs = (n: unknown, allowed: Set<string>): void => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) return n.forEach((x) => refs(x, allowed));
    const o = n as Any;
    const ps = o.resolvedProjectScanNode;
    if (ps && owner.has(ps)) {
      refs(ps.exprList, new Set([...allowed, ...owner.get(ps)!]));
      refs(ps.parent, allowed);
      return; // its input is the table scan itself
    }
    const ref = o.resolvedColumnRefNode;
    if (ref) {
      const cid = id(ref.column);
      if (hiddenIds.has(cid) && !allowed.has(cid)) violations.push(`${hiddenIds.get(cid)} is referenced outside its masking projection`);
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'resolvedTableScanNode') refs(v, allowed);
  };
  refs(tree, new Set());
  return { violations: [...new Set(violations)], maskedScans };
}

export async function startZetaOracle(): Promise<ZetaOracle | null> {
  const pkgDir = [join(ZETASQL_DIR, 'node_modules', '@fivetrandevelopers', 'zetasql'), join(REPO, 'node_modules', '@fivetrandevelopers', 'zetasql')].find((d) => existsSync(join(d, 'package.json')));
  if (!pkgDir || process.platform !== 'linux') return null;
  const require = createRequire(join(pkgDir, 'package.json'));
  const zs = require(pkgDir) as { runServer(port: number): Promise<void>; terminateServer(): void; ZetaSQLClient: { init(port: number): void; getInstance(): Any } };
  const port = await freePort();
  void zs.runServer(port).catch(() => undefined);
  zs.ZetaSQLClient.init(port);
  const client = zs.ZetaSQLClient.getInstance();
  if (!(await client.testConnection())) {
    zs.terminateServer();
    return null;
  }
  const lang = await client.getLanguageOptions({ maximumFeatures: true, languageVersion: 'VERSION_CURRENT' });
  // The versioned features come with maximumFeatures; the base ones BigQuery has must be named
  // (options.proto): analytic functions, TABLESAMPLE, ROLLUP, NUMERIC, BIGNUMERIC, JSON, GEOGRAPHY.
  lang.enabledLanguageFeatures = [...new Set([...(lang.enabledLanguageFeatures ?? []), 1, 2, 12, 16, 41, 43, 25])];
  const registered = new Map<string, unknown>();
  return {
    async check(sql, tables, hidden) {
      const key = JSON.stringify(tables);
      let catalogId = registered.get(key);
      if (catalogId === undefined) {
        catalogId = (await client.registerCatalog({ simpleCatalog: simpleCatalog(tables, lang) })).registeredId;
        registered.set(key, catalogId);
      }
      // ZetaSQL's catalog has no BigQuery AEAD functions: a keyed pseudonym is checked as a hash of
      // the same argument (what matters here is which columns each expression reads).
      sql = sql.replace(/DETERMINISTIC_ENCRYPT\(KEYS\.KEYSET_CHAIN\('[^']*', FROM_BASE64\('[^']*'\)\), (.*?), 'bqwarden'\)/g, 'SHA256($1)');
      try {
        const tree = await client.analyze({ registeredCatalogId: catalogId, sqlStatement: sql, options: { languageOptions: lang } });
        return { analysable: true, ...violationsOf(tree, hidden) };
      } catch (err) {
        return { analysable: false, error: String((err as Any).details ?? (err as Error).message), violations: [], maskedScans: 0 };
      }
    },
    stop() {
      zs.terminateServer();
    },
  };
}
