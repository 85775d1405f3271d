// Per-statement analysis: class, destructiveness, tables read/written, output lineage and
// column uses. Statements nested in scripts (BEGIN…END, IF, LOOP, procedures) are flattened
// into the list after their container so policy sees a DELETE hidden inside an IF.
import type { Program } from 'sql-parser-cst';
import type { AnalyzeOptions, OutputColumn, StatementAnalysis, StatementClass } from './types.js';
import { Collector, Deps, type Relation, type Scope } from './scope.js';
import { addTableExpr, queryRelation, readTable, useExpr, walkExpr, withCtes, type Walk } from './query.js';
import { identName, nameParts } from './tables.js';
import { fingerprint } from './fingerprint.js';
import { sha256Hex as sha256 } from '../common/digest.js';

type AnyNode = { type: string; [k: string]: any };

const SCRIPTING = new Set([
  'declare_stmt',
  'set_stmt',
  'assignment_stmt',
  'if_stmt',
  'loop_stmt',
  'while_stmt',
  'while_loop_stmt',
  'repeat_stmt',
  'for_stmt',
  'for_loop_stmt',
  'foreach_stmt',
  'block_stmt',
  'case_stmt',
  'labeled_stmt',
  'break_stmt',
  'continue_stmt',
  'return_stmt',
  'return_next_stmt',
  'return_query_stmt',
  'raise_stmt',
  'assert_stmt',
  'null_stmt',
  'declare_alias_stmt',
  'set_parameter_stmt',
  'reset_parameter_stmt',
  'show_parameter_stmt',
  'set_time_zone_parameter_stmt',
]);
const TRANSACTION = new Set(['start_transaction_stmt', 'commit_transaction_stmt', 'rollback_transaction_stmt', 'savepoint_stmt', 'release_savepoint_stmt']);
const DCL = new Set([
  'grant_privilege_stmt',
  'revoke_privilege_stmt',
  'grant_role_stmt',
  'revoke_role_stmt',
  'create_row_access_policy_stmt',
  'drop_row_access_policy_stmt',
  'create_policy_stmt',
  'alter_policy_stmt',
  'drop_policy_stmt',
  'create_role_stmt',
  'alter_role_stmt',
  'drop_role_stmt',
  'set_role_stmt',
  'reset_role_stmt',
  'alter_default_privileges_stmt',
]);

function classOf(type: string): StatementClass {
  if (type === 'select_stmt' || type === 'compound_select_stmt' || type === 'pipe_stmt' || type === 'explain_stmt') return 'read';
  if (['insert_stmt', 'update_stmt', 'delete_stmt', 'merge_stmt', 'truncate_stmt'].includes(type)) return 'write';
  if (DCL.has(type)) return 'dcl';
  if (type === 'export_data_stmt' || type === 'load_data_stmt') return 'data_movement';
  if (type === 'execute_immediate_stmt' || type === 'execute_stmt' || type === 'prepare_stmt' || type === 'deallocate_stmt' || type === 'do_stmt') return 'dynamic_sql';
  if (type === 'call_stmt') return 'call';
  if (SCRIPTING.has(type)) return 'scripting';
  if (TRANSACTION.has(type)) return 'transaction';
  if (/^(create|drop|alter|rename|comment|refresh|reindex|analyze|vacuum|attach|detach)_/.test(type) || type === 'vacuum_stmt' || type === 'analyze_stmt' || type === 'reindex_stmt') return 'ddl';
  return 'unknown';
}

function hasKw(n: AnyNode, ...names: string[]): boolean {
  const want = new Set(names);
  let hit = false;
  const visit = (x: any, depth: number): void => {
    if (hit || !x || typeof x !== 'object' || depth > 3) return;
    if (Array.isArray(x)) return x.forEach((y) => visit(y, depth));
    if (x.type === 'keyword' && want.has(String(x.name).toUpperCase())) hit = true;
    for (const [k, v] of Object.entries(x)) if (k.endsWith('Kw') || k === 'kind' || k === 'orAction' || k === 'modifiers' || k === 'clauses') visit(v, depth + 1);
  };
  visit(n, 0);
  return hit;
}

function toOutput(rel: Relation): OutputColumn[] {
  return rel.cols.map((cl, index) => ({ index, name: cl.name, sources: cl.sources, direct: cl.direct, unresolved: cl.unresolved, ...(cl.nameRange ? { nameRange: cl.nameRange } : {}) }));
}

/** Every query nested anywhere in `n` (but not in nested scripts): tables read, uses in 'other'. */
function genericReads(n: any, w: Walk, clause: 'other' | 'select' = 'other'): void {
  if (!n || typeof n !== 'object') return;
  if (Array.isArray(n)) return n.forEach((x) => genericReads(x, w, clause));
  if (n.type === 'program') return;
  if (n.type === 'select_stmt' || n.type === 'compound_select_stmt' || n.type === 'pipe_stmt') {
    const rel = queryRelation(n, null, w.ctes, w.c, true);
    for (const cl of rel.cols) for (const s of cl.sources) w.c.use(s, clause);
    return;
  }
  for (const k of Object.keys(n)) if (k !== 'range' && k !== 'leading' && k !== 'trailing') genericReads(n[k], w, clause);
}

function nestedPrograms(n: any, out: AnyNode[]): void {
  if (!n || typeof n !== 'object') return;
  if (Array.isArray(n)) return n.forEach((x) => nestedPrograms(x, out));
  if (n.type === 'program') {
    out.push(n);
    return;
  }
  for (const k of Object.keys(n)) if (k !== 'range') nestedPrograms(n[k], out);
}

function targetOf(n: AnyNode | undefined, w: Walk, s: Scope): void {
  if (!n) return;
  const aliasNode = n.type === 'alias' ? n : undefined;
  const inner = aliasNode ? aliasNode.expr : n;
  const parts = nameParts(inner, w.c.opts.dialect);
  if (!parts) {
    w.c.flag('unsupported', `write target of kind ${inner?.type}`);
    return;
  }
  const { ref, rel } = readTable(parts, w, true);
  const names = aliasNode ? [identName(aliasNode.alias, w.c.opts.dialect)] : [ref.table, parts.join('.')];
  s.entries.push({ names: names.map((x) => x.toLowerCase()), rel });
}

function fromInto(n: AnyNode | undefined, w: Walk, s: Scope): void {
  if (n) addTableExpr(n, s, w);
}

function returning(stmt: AnyNode, w: Walk): OutputColumn[] | null {
  const r = (stmt.clauses ?? []).find((x: AnyNode) => x.type === 'returning_clause');
  if (!r) return null;
  const rel = queryRelation({ type: 'select_stmt', clauses: [{ type: 'select_clause', modifiers: [], columns: r.columns }] }, w.scope, w.ctes, w.c, true);
  return toOutput(rel);
}

function dml(stmt: AnyNode, w0: Walk): OutputColumn[] | null {
  const c = w0.c;
  const clauses: AnyNode[] = stmt.clauses ?? [];
  const s: Scope = { entries: [], parent: null, using: [] };
  let w: Walk = { ...w0, scope: s };
  // Targets and FROM/USING sources first: SET and WHERE may name any of them.
  const first = new Set(['with_clause', 'insert_clause', 'update_clause', 'delete_clause', 'merge_clause', 'from_clause', 'using_clause']);
  const ordered = [...clauses.filter((x) => first.has(x.type)), ...clauses.filter((x) => !first.has(x.type))];
  for (const cl of ordered) {
    switch (cl.type) {
      case 'with_clause':
        w = { ...w, ctes: withCtes(cl, w) };
        break;
      case 'insert_clause':
        targetOf(cl.table, w, s);
        for (const id of cl.columns?.expr?.items ?? []) {
          const d = new Deps();
          walkExpr(id, w, d);
          for (const src of d.sources) c.use(src, 'insert_values');
        }
        break;
      case 'update_clause':
      case 'delete_clause':
        for (const t of cl.tables?.items ?? []) targetOf(t, w, s);
        break;
      case 'merge_clause':
        targetOf(cl.target, w, s);
        fromInto(cl.source, w, s);
        useExpr(cl.condition, w, 'merge_on');
        break;
      case 'from_clause':
      case 'using_clause':
        fromInto(cl.expr ?? cl.tables, w, s);
        break;
      case 'set_clause':
        for (const a of cl.assignments?.items ?? []) {
          useExpr(a.column, w, 'dml_set');
          useExpr(a.expr, w, 'dml_set');
        }
        break;
      case 'where_clause':
        useExpr(cl.expr, w, 'dml_where');
        break;
      case 'select_stmt':
      case 'compound_select_stmt': {
        const rel = queryRelation(cl, null, w.ctes, c, true);
        for (const col of rel.cols) for (const src of col.sources) c.use(src, 'select');
        break;
      }
      case 'values_clause':
      case 'default_values':
        useExpr(cl, { ...w, scope: null }, 'insert_values');
        break;
      case 'merge_when_clause': {
        useExpr(cl.condition, w, 'merge_on');
        const a = cl.action;
        if (a?.type === 'merge_action_update')
          for (const x of a.set?.assignments?.items ?? []) {
            useExpr(x.column, w, 'dml_set');
            useExpr(x.expr, w, 'dml_set');
          }
        else if (a?.type === 'merge_action_insert') {
          for (const x of a.clauses ?? []) useExpr(x, w, 'insert_values');
        }
        break;
      }
      case 'upsert_clause':
        useExpr(cl, w, 'dml_set');
        break;
      case 'returning_clause':
      case 'order_by_clause':
      case 'limit_clause':
        if (cl.type !== 'returning_clause') useExpr(cl, w, cl.type === 'limit_clause' ? 'limit' : 'order_by');
        break;
      default:
        genericReads(cl, w);
    }
  }
  return returning(stmt, w);
}

function ddl(stmt: AnyNode, w: Walk): void {
  const c = w.c;
  const write = (n: AnyNode | undefined) => {
    const parts = nameParts(n, c.opts.dialect);
    if (parts) readTable(parts, w, true);
  };
  switch (stmt.type) {
    case 'create_table_stmt':
    case 'create_view_stmt':
      write(stmt.name);
      for (const cl of stmt.clauses ?? []) {
        if (cl.type === 'as_clause') genericReads(cl.expr, w, 'select');
        else if (cl.type === 'create_table_clone_clause' || cl.type === 'create_table_copy_clause' || cl.type === 'create_table_like_clause') {
          const parts = nameParts(cl.table ?? cl.name, c.opts.dialect);
          if (parts) readTable(parts, w);
        } else genericReads(cl, w);
      }
      return;
    case 'drop_table_stmt':
    case 'drop_view_stmt':
    case 'truncate_stmt':
      for (const t of (stmt.tables ?? stmt.views)?.items ?? []) write(t);
      return;
    case 'alter_table_stmt':
    case 'alter_view_stmt':
      write(stmt.table ?? stmt.name);
      genericReads(stmt.actions, w);
      return;
    case 'create_row_access_policy_stmt':
    case 'drop_row_access_policy_stmt': {
      write(stmt.table);
      const parts = nameParts(stmt.table, c.opts.dialect);
      if (parts) {
        const s: Scope = { entries: [], parent: null, using: [] };
        targetOf(stmt.table, w, s);
        for (const cl of stmt.clauses ?? []) if (cl.type === 'row_access_policy_filter_clause') useExpr(cl.expr, { ...w, scope: s }, 'other');
      }
      return;
    }
    case 'grant_privilege_stmt':
    case 'revoke_privilege_stmt':
      for (const t of stmt.resource?.tables?.items ?? []) write(t);
      return;
    case 'load_data_stmt':
      write(stmt.table);
      return;
    case 'create_index_stmt':
      write(stmt.table);
      return;
    default:
      genericReads(stmt, w);
  }
}

const DESTRUCTIVE_TYPES = new Set(['delete_stmt', 'update_stmt', 'merge_stmt', 'truncate_stmt', 'attach_database_stmt', 'detach_database_stmt']);

function isDestructive(stmt: AnyNode, cls: StatementClass, text: string): boolean {
  const t = stmt.type;
  if (DESTRUCTIVE_TYPES.has(t)) return true;
  if (/^(drop|alter|rename)_/.test(t)) return true;
  if (/^create_/.test(t) && (hasKw(stmt, 'REPLACE') || /^\s*CREATE\s+OR\s+REPLACE\b/i.test(text))) return true;
  if (t === 'insert_stmt' && (hasKw(stmt, 'REPLACE') || /^\s*(INSERT\s+OR\s+REPLACE|REPLACE)\b/i.test(text))) return true;
  if (t === 'load_data_stmt' && /\bOVERWRITE\b/i.test(text.slice(0, 200))) return true;
  if (t === 'vacuum_stmt' && /\bINTO\b/i.test(text)) return true;
  if (cls === 'dcl' && /^(revoke|drop)_/.test(t)) return true;
  return false;
}

/** Statement kinds whose queries can be scoped by a WITH list placed at `queryAt`. */
const WITH_SCOPED = new Set(['select_stmt', 'compound_select_stmt', 'insert_stmt', 'update_stmt', 'delete_stmt', 'values_clause']);

function queryAt(stmt: AnyNode): number | null {
  if (WITH_SCOPED.has(stmt.type)) return stmt.range?.[0] ?? null;
  if (stmt.type === 'explain_stmt') return stmt.statement ? queryAt(stmt.statement) : null;
  if (stmt.type === 'create_table_stmt' || stmt.type === 'create_view_stmt') {
    const as = (stmt.clauses ?? []).find((x: AnyNode) => x.type === 'as_clause');
    return as?.expr ? queryAt(as.expr) : null;
  }
  return null;
}

function stmtText(sql: string, n: AnyNode): string {
  return n.range ? sql.slice(n.range[0], n.range[1]) : sql;
}

export function analyzeProgram(program: Program, opts: AnalyzeOptions, sql: string, flags: { literalNames: boolean } = { literalNames: false }): StatementAnalysis[] {
  const out: StatementAnalysis[] = [];
  const variables = new Set<string>();
  collectVariables(program, variables, opts);
  const visit = (p: AnyNode) => {
    for (const stmt of p.statements ?? []) {
      if (!stmt || stmt.type === 'empty') continue;
      out.push(analyzeStatement(stmt, opts, sql, out.length, variables, flags));
      const nested: AnyNode[] = [];
      nestedPrograms(stmt, nested);
      for (const np of nested) visit(np);
    }
  };
  visit(program as unknown as AnyNode);
  return out;
}

function collectVariables(n: any, vars: Set<string>, opts: AnalyzeOptions): void {
  if (!n || typeof n !== 'object') return;
  if (Array.isArray(n)) return n.forEach((x) => collectVariables(x, vars, opts));
  if (n.type === 'declare_stmt') for (const id of n.names?.items ?? []) if (id.type === 'identifier') vars.add(identName(id, opts.dialect).toLowerCase());
  if (n.type === 'function_param' || n.type === 'procedure_param') if (n.name?.type === 'identifier') vars.add(identName(n.name, opts.dialect).toLowerCase());
  if ((n.type === 'for_stmt' || n.type === 'for_loop_stmt') && n.left?.type === 'identifier') vars.add(identName(n.left, opts.dialect).toLowerCase());
  for (const k of Object.keys(n)) if (k !== 'range') collectVariables(n[k], vars, opts);
}

function analyzeStatement(stmt: AnyNode, opts: AnalyzeOptions, sql: string, index: number, variables: Set<string>, flags: { literalNames: boolean }): StatementAnalysis {
  const c = new Collector(opts, sql, index);
  for (const v of variables) c.variables.add(v);
  const text = stmtText(sql, stmt);
  const w: Walk = { scope: null, ctes: new Map(), c };
  let cls = classOf(stmt.type);
  let output: OutputColumn[] | null = null;
  switch (stmt.type) {
    case 'select_stmt':
    case 'compound_select_stmt':
    case 'pipe_stmt':
      output = toOutput(queryRelation(stmt, null, new Map(), c, true));
      break;
    case 'insert_stmt':
    case 'update_stmt':
    case 'delete_stmt':
    case 'merge_stmt':
      output = dml(stmt, w);
      break;
    case 'truncate_stmt':
      ddl(stmt, w);
      break;
    case 'execute_immediate_stmt':
    case 'execute_stmt':
    case 'prepare_stmt':
      c.flag('execute_immediate', 'dynamic SQL: the statement text is only known at run time');
      genericReads(stmt, w);
      break;
    case 'call_stmt':
      c.flag('unsupported', 'CALL runs a procedure body the analyzer cannot see');
      genericReads(stmt, w);
      break;
    case 'export_data_stmt':
      genericReads(stmt, w, 'select');
      break;
    case 'explain_stmt':
      genericReads(stmt, w);
      break;
    default:
      if (cls === 'ddl' || cls === 'dcl' || cls === 'data_movement') ddl(stmt, w);
      else if (cls === 'scripting' || cls === 'transaction') genericReads(stmt, w);
      else {
        c.flag('unknown_statement', `statement of kind ${stmt.type} is not recognised`);
        genericReads(stmt, w);
      }
  }
  if (stmt.type === 'create_table_stmt' && (stmt.clauses ?? []).some((x: AnyNode) => x.type === 'create_table_clone_clause' || x.type === 'create_table_copy_clause')) cls = 'data_movement';
  if (stmt.type === 'vacuum_stmt' && /\bINTO\b/i.test(text)) cls = 'data_movement';
  if (stmt.type === 'attach_database_stmt') cls = 'data_movement';
  flags.literalNames ||= c.literalNames;
  return {
    index,
    range: stmt.range ? [stmt.range[0], stmt.range[1]] : null,
    queryAt: queryAt(stmt),
    tableSites: c.sites,
    kind: stmt.type.replace(/_stmt$/, ''),
    class: cls,
    destructive: isDestructive(stmt, cls, text),
    text,
    sha256: sha256(text),
    fingerprint: fingerprint(text, opts.dialect),
    tablesRead: c.tablesRead,
    tablesWritten: c.tablesWritten,
    output,
    uses: c.finishUses(),
    opaque: c.opaque,
  };
}
