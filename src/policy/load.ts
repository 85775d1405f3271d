// Reads rules/*.yaml (+ rules/catalog/*.yaml), validates them and reports every problem with
// file, line and a hint. Files are merged: list sections concatenate, rule ids are unique
// across the whole policy, and cross references (roles, tools, classifications) must resolve.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import type { PolicyProblem } from './errors.js';
import { PolicyFileSchema, DefaultsSchema, POLICY_SECTIONS, type PolicyFile, type PolicySection } from './schema.js';
import { CatalogFileSchema, type CatalogFile } from './catalog.js';
import { resolveUpstreams } from '../upstreams/resolve.js';
import { closest, nameMatcher } from './glob.js';

export interface SourceFile {
  /** Path relative to the policy dir, with forward slashes (it goes into the hash). */
  name: string;
  text: string;
}

export interface Origin {
  file: string;
  line: number | null;
}

export type MergedPolicy = Omit<PolicyFile, 'defaults' | 'format' | 'description'> & {
  defaults: z.infer<typeof DefaultsSchema>;
  /** Where each rule (by id) was written, for explanations and error messages. */
  origins: Map<string, Origin>;
};

function isYaml(name: string): boolean {
  return name.endsWith('.yaml') || name.endsWith('.yml');
}

async function yamlFilesIn(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries) {
    // Hidden names are editor droppings and ConfigMap internals (..data), not policy.
    if (!isYaml(e.name) || e.name.startsWith('.')) continue;
    if (e.isFile()) out.push(e.name);
    // Kubernetes ConfigMap volumes present every file as a symlink into ..data/.
    else if (e.isSymbolicLink()) {
      try {
        if ((await stat(join(dir, e.name))).isFile()) out.push(e.name);
      } catch {
        // dangling link (e.g. an editor lock file): not policy
      }
    }
  }
  return out.sort();
}

/** The files a policy is made of: rules/*.yaml and rules/catalog/*.yaml (tests/ and examples/ are not policy). */
export async function readPolicySources(dir: string): Promise<{ policy: SourceFile[]; catalog: SourceFile[] }> {
  const top = await yamlFilesIn(dir);
  const cat = await yamlFilesIn(join(dir, 'catalog'));
  const policy = await Promise.all(top.map(async (n) => ({ name: n, text: await readFile(join(dir, n), 'utf8') })));
  const catalog = await Promise.all(cat.map(async (n) => ({ name: `catalog/${n}`, text: await readFile(join(dir, 'catalog', n), 'utf8') })));
  return { policy, catalog };
}

/** Stable version: same names and contents give the same hash, regardless of read order. */
export function policyVersion(files: SourceFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    h.update(`${f.name}\0${Buffer.byteLength(f.text)}\0`);
    h.update(f.text);
  }
  return h.digest('hex');
}

interface ParsedDoc {
  file: string;
  doc: Document;
  lines: LineCounter;
}

function lineOf(pd: ParsedDoc, path: (string | number)[], keyOnly = false): number | null {
  // Walk down as far as the path exists, so a missing key reports its parent's line.
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    const node = sub.length === 0 ? pd.doc.contents : pd.doc.getIn(sub, true);
    let range: [number, number, number] | undefined | null = (node as { range?: [number, number, number] } | null)?.range;
    if (keyOnly && n === path.length && sub.length > 0) {
      const parent = sub.length === 1 ? pd.doc.contents : pd.doc.getIn(sub.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === sub[sub.length - 1]);
        const k = pair?.key as { range?: [number, number, number] } | undefined;
        if (k?.range) range = k.range;
      }
    }
    if (range) return pd.lines.linePos(range[0]).line;
  }
  return null;
}

function pathText(path: (string | number | symbol)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

const TOP_KEYS = Object.keys(PolicyFileSchema.shape);

function hintFor(issue: z.core.$ZodIssue, value: unknown): string | null {
  if (issue.code === 'unrecognized_keys') {
    const known = issue.path.length === 0 ? TOP_KEYS : [];
    const guesses = issue.keys.map((k) => closest(k, known)).filter(Boolean);
    if (guesses.length) return `did you mean ${guesses.join(', ')}?`;
    return 'remove the key or check its spelling against docs/policy.md';
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    const vals = (issue.values as unknown[]).map(String);
    const guess = typeof value === 'string' ? closest(value, vals) : null;
    return guess ? `did you mean ${guess}?` : `one of: ${vals.join(', ')}`;
  }
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  return null;
}

function valueAt(obj: unknown, path: PropertyKey[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

export function parsePolicyFiles(files: SourceFile[]): { merged: MergedPolicy; problems: PolicyProblem[]; docs: Map<object, { pd: ParsedDoc; path: (string | number)[] }> } {
  const problems: PolicyProblem[] = [];
  const where = new Map<object, { pd: ParsedDoc; path: (string | number)[] }>();
  const merged: MergedPolicy = {
    defaults: DefaultsSchema.parse({}),
    ...(Object.fromEntries(POLICY_SECTIONS.map((k) => [k, []])) as unknown as { [K in PolicySection]: PolicyFile[K] }),
    origins: new Map(),
  };
  const defaultsFrom = new Map<string, string>();
  for (const f of files) {
    const read = readYaml(f, problems);
    if (!read) continue;
    const { pd, raw } = read;
    const res = PolicyFileSchema.safeParse(raw);
    if (!res.success) {
      for (const issue of res.error.issues) {
        const path = issue.path as (string | number)[];
        const keyPath = issue.code === 'unrecognized_keys' ? [...path, ...issue.keys.slice(0, 1)] : path;
        problems.push({
          file: f.name,
          line: lineOf(pd, keyPath, issue.code === 'unrecognized_keys'),
          path: pathText(keyPath),
          message: issue.code === 'unrecognized_keys' ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message,
          hint: hintFor(issue, valueAt(raw, path)),
        });
      }
      continue;
    }
    const data = res.data;
    if (data.defaults) {
      for (const [k, v] of Object.entries(data.defaults)) {
        if (v === undefined) continue;
        const prev = defaultsFrom.get(k);
        if (prev) {
          problems.push({ file: f.name, line: lineOf(pd, ['defaults', k], true), path: `defaults.${k}`, message: `defaults.${k} is also set in ${prev}`, hint: 'set each default in one file only' });
          continue;
        }
        defaultsFrom.set(k, f.name);
        (merged.defaults as Record<string, unknown>)[k] = v;
      }
    }
    for (const key of POLICY_SECTIONS) {
      const list = data[key] as { id: string }[];
      list.forEach((item, i) => {
        const path = [key, i];
        where.set(item, { pd, path });
        const prev = merged.origins.get(item.id);
        const line = lineOf(pd, [...path, 'id']);
        if (prev) {
          problems.push({
            file: f.name,
            line,
            path: `${key}[${i}].id`,
            message: `rule id ${item.id} is already used at ${prev.file}:${prev.line ?? '?'}`,
            hint: 'every rule needs its own id: audit events name rules by id',
          });
          return;
        }
        merged.origins.set(item.id, { file: f.name, line });
        (merged[key] as unknown[]).push(item);
      });
    }
  }
  return { merged, problems, docs: where };
}

/** Cross references: names used in rules must exist, patterns must compile. */
export function checkReferences(merged: MergedPolicy, where: Map<object, { pd: ParsedDoc; path: (string | number)[] }>): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const at = (item: object, sub: (string | number)[], message: string, hint: string | null, keyOnly = false) => {
    const w = where.get(item);
    problems.push({ file: w?.pd.file ?? '?', line: w ? lineOf(w.pd, [...w.path, ...sub], keyOnly) : null, path: w ? pathText([...w.path, ...sub]) : '', message, hint });
  };
  const roles = new Set<string>();
  for (const r of merged.roles) {
    if (roles.has(r.role)) at(r, ['role'], `role ${r.role} is defined twice`, 'merge the two definitions (groups and users are lists)');
    roles.add(r.role);
  }
  const checkRoles = (item: object & { roles: string[] }, key = 'roles') => {
    item.roles.forEach((name, i) => {
      if (name === '*' || roles.has(name)) return;
      const guess = closest(name, roles);
      at(item, [key, i], `unknown role ${name}`, guess ? `did you mean ${guess}?` : 'define it under roles: (role: …) or use "*" for every caller');
    });
  };
  // Tools by the name clients see (namespaced where two upstreams share one), with the kind's checks.
  const resolved = resolveUpstreams(merged.upstreams);
  for (const p of resolved.problems) at(p.upstream, p.tool ? ['tools', p.tool] : ['kind'], p.message, p.hint, p.tool !== null);
  const tools = resolved.tools;
  for (const r of [...merged.methods, ...merged.tables, ...merged.inference, ...merged.trust]) checkRoles(r);
  for (const r of merged.tools) {
    checkRoles(r);
    r.tools.forEach((t, i) => {
      if (t.includes('*') || tools.has(t)) return;
      const guess = closest(t, tools.keys());
      at(
        r,
        ['tools', i],
        `tool ${t} is not described under upstreams[].tools`,
        guess ? `did you mean ${guess}?` : 'describe it under an upstream first (a name two upstreams share is <upstream>__<tool>)',
      );
    });
  }
  const classes = new Set(merged.classifications.map((c) => c.classification));
  const checkClass = (item: object, path: (string | number)[], pattern: string, keyOnly: boolean) => {
    if (pattern.includes('*')) {
      const re = nameMatcher(pattern);
      if (![...classes].some((c) => re.test(c)) && pattern !== '*')
        at(item, path, `pattern ${pattern} matches no classification`, `known classifications: ${[...classes].join(', ') || '(none)'}`, keyOnly);
      return;
    }
    if (classes.has(pattern)) return;
    const guess = closest(pattern, classes);
    at(item, path, `unknown classification ${pattern}`, guess ? `did you mean ${guess}?` : 'define it under classifications:', keyOnly);
  };
  for (const v of merged.visibility) {
    checkRoles(v);
    for (const k of Object.keys(v.classifications)) checkClass(v, ['classifications', k], k, true);
  }
  for (const r of merged.inference) r.classifications.forEach((c, i) => checkClass(r, ['classifications', i], c, false));
  for (const c of merged.classifications) {
    c.regex.forEach((src, i) => {
      try {
        new RegExp(src, 'i');
      } catch (err) {
        at(c, ['regex', i], `invalid regular expression: ${(err as Error).message}`, 'JavaScript RegExp syntax, matched case-insensitively against the column name');
      }
    });
  }
  for (const s of merged.statements) {
    checkRoles(s);
    s.approval?.approvers.forEach((name, i) => {
      if (roles.has(name)) return;
      const guess = closest(name, roles);
      at(s, ['approval', 'approvers', i], `unknown approver role ${name}`, guess ? `did you mean ${guess}?` : 'approvers must be roles defined under roles:');
    });
  }
  return problems;
}

/** Parses one YAML file (duplicate keys refused, alias expansion capped); problems carry file and line. */
function readYaml(f: SourceFile, problems: PolicyProblem[]): { pd: ParsedDoc; raw: unknown } | null {
  const lines = new LineCounter();
  const doc = parseDocument(f.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const pd: ParsedDoc = { file: f.name, doc, lines };
  if (doc.errors.length) {
    for (const e of doc.errors)
      problems.push({
        file: f.name,
        line: e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line,
        path: '',
        message: `YAML: ${e.message.split('\n')[0]}`,
        hint: e.code === 'DUPLICATE_KEY' ? 'a key appears twice in the same mapping' : 'check indentation and quoting',
      });
    return null;
  }
  try {
    // Alias expansion is capped: a "billion laughs" file must be refused, not expanded.
    return { pd, raw: doc.toJS({ maxAliasCount: 100 }) ?? {} };
  } catch (err) {
    problems.push({ file: f.name, line: null, path: '', message: `YAML: ${(err as Error).message}`, hint: 'avoid deeply nested aliases (&anchor / *alias)' });
    return null;
  }
}

export function parseCatalogFiles(files: SourceFile[]): { catalog: CatalogFile['tables']; problems: PolicyProblem[] } {
  const problems: PolicyProblem[] = [];
  const tables: CatalogFile['tables'] = [];
  for (const f of files) {
    const read = readYaml(f, problems);
    if (!read) continue;
    const { pd, raw } = read;
    const res = CatalogFileSchema.safeParse(raw);
    if (!res.success) {
      for (const issue of res.error.issues)
        problems.push({
          file: f.name,
          line: lineOf(pd, issue.path as (string | number)[]),
          path: pathText(issue.path),
          message: issue.message,
          hint: 'catalog files list tables: [{ fq, columns: [{ name, type, policyTags? }] }]',
        });
      continue;
    }
    tables.push(...res.data.tables);
  }
  return { catalog: tables, problems };
}
