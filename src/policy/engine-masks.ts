// Which tables a caller reads through a masking projection, and what each column becomes there.
// Policy decides the method per column (visibility × classification); masking/in-engine.ts says
// how the engine computes it; sql/rewrite.ts places the projections. The result is the SQL that
// is forwarded, plus what the rest of the decision needs to know about it.
import { createHash } from 'node:crypto';
import type { Analysis, CatalogColumn, CatalogTable, Dialect, SchemaCatalog } from '../sql/types.js';
import { makeTableRef } from '../sql/tables.js';
import { rewriteForMasking, quoteIdent, spans, type MaskedTable, type Span } from '../sql/rewrite.js';
import { engineForm, type BigQueryKeyset } from '../masking/in-engine.js';
import type { HandlePlan, HandleTable, MaskMethod } from '../masking/types.js';
import type { CompiledPolicy } from './compiled.js';
import type { EngineColumnMask, EngineMasking, EnginePlanResult } from './types.js';
import { DEFAULT_DENY } from './compiled.js';
import { stricter } from './visibility.js';
import type { VisibilityValue } from './schema.js';

export interface EngineMaskingOptions {
  dialect: Dialect;
  defaultProject: string | null;
  defaultDataset: string | null;
  keyset?: BigQueryKeyset | null;
}

/** How fq names compare: SQLite folds case, BigQuery dataset and table names are case-sensitive. */
function tableKey(dialect: Dialect, fq: string): string {
  return dialect === 'bigquery' ? fq : fq.toLowerCase();
}

/** The engine mask of a source column (struct paths belong to their top-level column). */
export function engineColumn(m: EngineMasking | null | undefined, dialect: Dialect, table: string, column: string, path: string[] = []): EngineColumnMask | undefined {
  if (!m) return undefined;
  const base = `${tableKey(dialect, table)}.${column.toLowerCase()}`;
  // A STRUCT masked field by field: the deepest entry on the path decides.
  for (let i = path.length; i > 0; i--) {
    const key = `${base}.${path.slice(0, i).join('.').toLowerCase()}`;
    // A field the role may not see is NULL in the engine; the query is judged by its rule instead
    // (refused), as a plain column left out of the projection is, not run against that NULL.
    if (m.omitted.has(key)) return undefined;
    const hit = m.columns.get(key);
    if (hit) return hit;
  }
  const whole = m.columns.get(base);
  // A field of a STRUCT rebuilt field by field with no entry on its path is read clear by the engine.
  if (whole?.struct && path.length > 0) return undefined;
  return whole;
}

/** The table's own name: the last part of its fq name. */
function lastPart(fq: string): string {
  return fq.slice(fq.lastIndexOf('.') + 1);
}

/** Tables the statement could reach: what the analyzer resolved, and (SQLite) every name a token spells. */
function candidateTables(analysis: Analysis, catalog: SchemaCatalog, opts: EngineMaskingOptions, toks: Span[]): CatalogTable[] {
  // Keyed by the name as the query resolves it (the catalog may match case-insensitively, while
  // BigQuery table names are case-sensitive: the analyzer's name is the one sites carry).
  const out = new Map<string, CatalogTable>();
  const add = (parts: string[]) => {
    const { ref } = makeTableRef(parts, { dialect: opts.dialect, defaultProject: opts.defaultProject, defaultDataset: opts.defaultDataset });
    const t = catalog.getTable(ref);
    const key = tableKey(opts.dialect, ref.fq);
    if (t && !out.has(key)) out.set(key, { ...t, fq: ref.fq });
  };
  for (const s of analysis.statements) for (const t of s.tablesRead) add(t.fq.split('.'));
  if (opts.dialect === 'sqlite') {
    for (const { t } of toks) {
      if (t.kind === 'word') add([t.text.toLowerCase()]);
      else if (t.kind === 'quoted_ident' || (t.kind === 'string' && t.text.startsWith('"'))) add([(t.text.startsWith('[') ? t.text.slice(1, -1) : t.text.slice(1, -1)).toLowerCase()]);
    }
  }
  return [...out.values()];
}

/** The strictest visibility over a column's classifications (and its STRUCT fields'). */
function columnVisibility(p: CompiledPolicy, readers: string[], fq: string, column: string, catalog: SchemaCatalog, isStatic: boolean) {
  const hits = p.classify({ table: fq, column: column.toLowerCase(), path: [] }, catalog, isStatic);
  let value: VisibilityValue = 'clear';
  let pick: { classification: string; ruleId: string } | null = null;
  for (const h of hits) {
    const v = p.visibilityFor(readers, h.classification);
    if (pick === null || (stricter(value, v.value) === v.value && value !== v.value)) {
      value = v.value;
      pick = { classification: h.classification, ruleId: v.ruleId ?? DEFAULT_DENY };
    }
  }
  return { value, classification: pick?.classification ?? null, ruleId: pick?.ruleId ?? null };
}

/** One table's projection for a set of roles: the same for every request while policy and catalog stay. */
interface TableProjection {
  /** null: nothing to mask, the table is read as it is. */
  select: string | null;
  source: string;
  columns: EngineColumnMask[];
  omitted: string[];
  handleColumns: HandleTable['columns'];
}

// Placeholders for what differs per request inside a cached projection (row-handle prefixes).
const NONCE = '\u0000nonce\u0000';
const TABLE_INDEX = '\u0000table\u0000';
const projections = new WeakMap<CompiledPolicy, Map<string, TableProjection>>();

function tableProjection(p: CompiledPolicy, roles: string[], t: CatalogTable, catalog: SchemaCatalog, catalogIsStatic: boolean, dialect: Dialect, keyset: BigQueryKeyset | null): TableProjection {
  const cacheKey = `${roles.join(',')}\u0000${dialect}\u0000${t.fq}\u0000${keyset?.kmsKeyUri ?? ''}`;
  let cache = projections.get(p);
  if (catalogIsStatic) {
    const hit = cache?.get(cacheKey);
    if (hit) return hit;
  }
  const parts = t.fq.split('.');
  const name = lastPart(t.fq);
  const schema = parts.length >= 2 ? (parts[parts.length - 2] ?? null) : null;
  const q = (c: string) => quoteIdent(c, dialect);
  const source = `${schema ? `${q(schema)}.` : ''}${q(name)}`;
  const readers = p.readersOf(roles, t.fq, dialect);
  const out: TableProjection = { select: null, source, columns: [], omitted: [], handleColumns: [] };
  if (readers.length === 0) {
    // Not readable at all: policy refuses the read by its table rules; should the analyzer
    // ever miss one, the engine still finds an empty table.
    if (dialect === 'sqlite') {
      out.select = t.columns.map((c) => `NULL AS ${q(c.name)}`).join(', ') || 'NULL';
      out.source = `${source} WHERE 0`;
    }
  } else {
    const select: string[] = [];
    let needed = false;
    t.columns.forEach((c, ci) => {
      const v = columnVisibility(p, readers, t.fq, c.name, catalog, catalogIsStatic);
      const key = `${tableKey(dialect, t.fq)}.${c.name.toLowerCase()}`;
      if (v.value === 'clear') {
        select.push(q(c.name));
        return;
      }
      needed = true;
      if (dialect === 'bigquery' && c.fields?.length && !ownClassified(p, t, c)) {
        // A STRUCT whose fields are classified, not the column itself: rebuilt field by field,
        // so the clear fields stay usable (profile.city) and only the classified ones are masked.
        const struct = structMask(p, readers, t, c, [], q(c.name), keyset, out);
        select.push(`${struct} AS ${q(c.name)}`);
        // The whole value is labelled by its strictest field (v covers the fields' classifications).
        const method: MaskMethod = v.value === 'deny' ? 'nullify' : v.value;
        out.columns.push({ key, table: t.fq, column: c.name.toLowerCase(), classification: v.classification ?? 'unclassified', method, ruleId: v.ruleId ?? DEFAULT_DENY, form: 'expr', struct: true });
        return;
      }
      if (v.value === 'deny') {
        out.omitted.push(key);
        return;
      }
      const form = engineForm(dialect, v.value, { ref: q(c.name), type: c.type }, { handle: { nonce: NONCE, table: TABLE_INDEX, column: ci, rowRef: 'rowid' }, keyset });
      out.columns.push({ key, table: t.fq, column: c.name.toLowerCase(), classification: v.classification!, method: v.value, ruleId: v.ruleId!, form: form.kind });
      if (form.kind === 'handle') out.handleColumns.push({ index: ci, column: c.name, method: v.value });
      select.push(form.kind === 'narrow' ? q(c.name) : `${form.sql} AS ${q(c.name)}`);
    });
    // NOT INDEXED: an index on a masked column would hand rows back in the hidden value's order.
    if (needed) {
      out.select = select.join(', ') || 'NULL';
      if (dialect === 'sqlite') out.source = `${source} NOT INDEXED`;
    }
  }
  if (catalogIsStatic) {
    if (!cache) projections.set(p, (cache = new Map()));
    cache.set(cacheKey, out);
  }
  return out;
}

/** Is the STRUCT column classified by itself (its name, key or tags), not only through its fields? */
function ownClassified(p: CompiledPolicy, t: CatalogTable, c: CatalogColumn): boolean {
  const stripped: CatalogTable = { ...t, columns: t.columns.map((x) => (x === c ? { ...x, fields: undefined } : x)) };
  return p.classify({ table: t.fq, column: c.name.toLowerCase(), path: [] }, { getTable: () => stripped }, false).length > 0;
}

/**
 * BigQuery: `IF(col IS NULL, NULL, STRUCT(<field> AS f, …))`, each field masked by its own
 * classifications (recursively; a REPEATED STRUCT through `ARRAY(SELECT AS STRUCT … FROM UNNEST)`).
 * A field the engine cannot mask (no keyset) comes back NULL rather than clear.
 */
function structMask(p: CompiledPolicy, readers: string[], t: CatalogTable, c: CatalogColumn, path: string[], ref: string, keyset: BigQueryKeyset | null, out: TableProjection): string {
  const node = path.reduce<CatalogColumn | undefined>((n, f) => n?.fields?.find((x) => x.name.toLowerCase() === f), c)!;
  const repeated = /^ARRAY/i.test(node.type);
  const elem = repeated ? 'e' : ref;
  const q = (x: string) => quoteIdent(x, 'bigquery');
  const fields = (node.fields ?? []).map((f) => {
    const fpath = [...path, f.name.toLowerCase()];
    const fref = `${elem}.${q(f.name)}`;
    if (f.fields?.length) return `${structMask(p, readers, t, c, fpath, fref, keyset, out)} AS ${q(f.name)}`;
    let value: VisibilityValue = 'clear';
    let pick: { classification: string; ruleId: string } | null = null;
    for (const h of p.classify({ table: t.fq, column: c.name.toLowerCase(), path: fpath }, { getTable: () => t }, false)) {
      const v = p.visibilityFor(readers, h.classification);
      if (pick === null || (stricter(value, v.value) === v.value && value !== v.value)) {
        value = v.value;
        pick = { classification: h.classification, ruleId: v.ruleId ?? DEFAULT_DENY };
      }
    }
    if (value === 'clear') return `${fref} AS ${q(f.name)}`;
    const key = `${tableKey('bigquery', t.fq)}.${[c.name, ...fpath].join('.').toLowerCase()}`;
    const method: MaskMethod = value === 'deny' ? 'nullify' : value;
    let form = engineForm('bigquery', method, { ref: fref, type: f.type }, { keyset });
    if (form.kind !== 'expr') form = engineForm('bigquery', 'nullify', { ref: fref, type: f.type });
    if (value === 'deny') out.omitted.push(key);
    else out.columns.push({ key, table: t.fq, column: c.name.toLowerCase(), classification: pick!.classification, method, ruleId: pick!.ruleId, form: 'expr' });
    return `${(form as { sql: string }).sql} AS ${q(f.name)}`;
  });
  const struct = `STRUCT(${fields.join(', ')})`;
  return repeated ? `ARRAY(SELECT AS STRUCT ${fields.join(', ')} FROM UNNEST(${ref}) AS e WITH OFFSET o ORDER BY o)` : `IF(${ref} IS NULL, NULL, ${struct})`;
}

export function planEngineMasking(p: CompiledPolicy, roles: string[], analysis: Analysis, catalog: SchemaCatalog | null, catalogIsStatic: boolean, opts: EngineMaskingOptions): EnginePlanResult {
  const empty: EngineMasking = { sql: analysis.sql, changed: false, columns: new Map(), omitted: new Set(), tables: [], handles: null };
  // Dialects without a rewriter keep the narrow, analysis-based rules (decide.ts) for every column.
  if (!catalog || !analysis.ok || (opts.dialect !== 'sqlite' && opts.dialect !== 'bigquery')) return { ok: true, masking: empty };
  const dialect = opts.dialect;
  let nonce: string | null = null;
  const handles: HandlePlan = { nonce: '', tables: [] };
  const masked: MaskedTable[] = [];
  const columns = new Map<string, EngineColumnMask>();
  const omitted = new Set<string>();
  const toks = spans(analysis.sql, dialect);
  for (const t of candidateTables(analysis, catalog, opts, toks)) {
    const proj = tableProjection(p, roles, t, catalog, catalogIsStatic, dialect, opts.keyset ?? null);
    if (proj.select === null) continue;
    for (const c of proj.columns) columns.set(c.key, c);
    for (const k of proj.omitted) omitted.add(k);
    let select = proj.select;
    if (proj.handleColumns.length) {
      nonce ??= createHash('sha256').update(`bqwarden-handle\0${analysis.sql}`).digest('hex').slice(0, 10);
      const index = handles.tables.length;
      handles.tables.push({ index, fq: t.fq, source: proj.source.replace(/ NOT INDEXED$/, ''), rowRef: 'rowid', columns: proj.handleColumns });
      select = select.split(NONCE).join(nonce).split(TABLE_INDEX).join(String(index));
    }
    masked.push({ fq: t.fq, name: lastPart(t.fq), select, ...(dialect === 'sqlite' ? { source: proj.source } : {}) });
  }
  handles.nonce = nonce ?? '';
  if (masked.length === 0) return { ok: true, masking: empty };
  const r = rewriteForMasking(analysis, masked, toks);
  if (!r.ok)
    return { ok: false, ruleId: 'mask-rewrite', message: `${r.reason}, so the query is refused rather than run unmasked (rule mask-rewrite). Read masked tables by their plain name in FROM or JOIN.` };
  // Every masked table the analyzer saw read must have been placed; a view over one cannot be.
  const rewritten = new Set(r.tables.map((x) => tableKey(dialect, x)));
  const maskedFq = new Set(masked.map((m) => tableKey(dialect, m.fq)));
  for (const s of analysis.statements) {
    const reads = s.tablesRead.filter((x) => maskedFq.has(tableKey(dialect, x.fq)));
    if (reads.length && s.tablesRead.some((x) => x.view))
      return {
        ok: false,
        ruleId: 'mask-rewrite',
        message: `statement ${s.index + 1} reads a view, and the view reads a table this role sees masked; bqwarden can mask a table only where the query names it (rule mask-rewrite). Read the table directly instead of through the view.`,
      };
    for (const x of reads) {
      const placed = dialect === 'sqlite' ? rewritten.has(tableKey(dialect, x.fq)) : s.tableSites.some((site) => site.fq === x.fq);
      if (!placed)
        return {
          ok: false,
          ruleId: 'mask-rewrite',
          message: `${x.fq} is read in a place bqwarden cannot put its masking projection (a table function argument, a view, CREATE … LIKE) (rule mask-rewrite). Read it in FROM instead.`,
        };
    }
  }
  return { ok: true, masking: { sql: r.sql, changed: r.changed, columns, omitted, tables: r.tables, handles: handles.tables.length ? handles : null } };
}
