// What tools/list tells a caller about a tool, for the roles it holds: the SQL dialect, what it
// will see masked (and that masking happens in the database), what runs directly, what waits for
// an approver and what is refused; and MCP annotations that match (a read-only analyst is not
// told the tool is destructive). Computed from the same compiled rules the decisions use.
import type { CompiledPolicy } from './compiled.js';
import type { StatementClass } from '../sql/types.js';
import type { MaskMethod } from '../masking/types.js';

export interface ToolBrief {
  /** Appended to the upstream's description. */
  description: string;
  annotations: { readOnlyHint: boolean; destructiveHint: boolean; idempotentHint?: boolean };
}

const METHOD_TEXT: Record<MaskMethod, string> = {
  redact: 'hidden',
  nullify: 'always NULL',
  last4: 'last 4 characters only',
  first4: 'first 4 characters only',
  email_domain: 'e-mail domain only',
  year_only: 'year only',
  sha256: 'SHA-256 hash',
  pseudonym: 'keyed token (equal values, equal tokens)',
  pseudonym_fpe: 'format-preserving pseudonym',
};

const DIALECT_TEXT: Record<string, string> = { bigquery: 'BigQuery GoogleSQL', sqlite: 'SQLite', postgresql: 'PostgreSQL' };

/** Statement shapes a caller may send, probed against the statement rules (label, class, kind, destructive). */
const PROBES: { label: string; class: StatementClass; kind: string; destructive: boolean }[] = [
  { label: 'SELECT', class: 'read', kind: 'select', destructive: false },
  { label: 'INSERT', class: 'write', kind: 'insert', destructive: false },
  { label: 'UPDATE', class: 'write', kind: 'update', destructive: true },
  { label: 'DELETE', class: 'write', kind: 'delete', destructive: true },
  { label: 'MERGE', class: 'write', kind: 'merge', destructive: true },
  { label: 'TRUNCATE', class: 'write', kind: 'truncate', destructive: true },
  { label: 'CREATE', class: 'ddl', kind: 'create_table', destructive: false },
  { label: 'DROP / ALTER / CREATE OR REPLACE', class: 'ddl', kind: 'drop_table', destructive: true },
  { label: 'GRANT / REVOKE', class: 'dcl', kind: 'grant', destructive: false },
  { label: 'EXPORT / LOAD / COPY', class: 'data_movement', kind: 'export_data', destructive: false },
  { label: 'EXECUTE IMMEDIATE', class: 'dynamic_sql', kind: 'execute_immediate', destructive: false },
  { label: 'CALL', class: 'call', kind: 'call', destructive: false },
  { label: 'scripts (DECLARE, IF, LOOP …)', class: 'scripting', kind: 'declare', destructive: false },
  { label: 'transactions', class: 'transaction', kind: 'begin', destructive: false },
];

function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** What these roles may send, by statement shape: directly, after approval (with the requirement), refused. */
function statementOptions(c: CompiledPolicy, roles: string[]): { direct: string[]; approval: Map<string, string[]>; refused: string[]; writes: boolean } {
  const direct: string[] = [];
  const approval = new Map<string, string[]>();
  const refused: string[] = [];
  let writes = false;
  for (const p of PROBES) {
    const v = c.statement(roles, p);
    if (v.effect === 'allow') direct.push(p.label);
    else if (v.effect === 'deny') refused.push(p.label);
    else {
      const key = `${v.approval.required} approval${v.approval.required > 1 ? 's' : ''} from ${v.approval.approverRoles.join(' or ')}`;
      approval.set(key, [...(approval.get(key) ?? []), p.label]);
    }
    if (p.class !== 'read' && v.effect !== 'deny') writes = true;
  }
  return { direct, approval, refused, writes };
}

/** "You may run SELECT directly; INSERT … after 1 approval from approver." — the alternative a refusal offers. */
export function whatYouMayRun(c: CompiledPolicy, roles: string[]): string {
  const o = statementOptions(c, roles);
  const parts = [...(o.direct.length ? [`${list(o.direct)} directly`] : []), ...[...o.approval].map(([k, v]) => `${list(v)} after ${k}`)];
  return parts.length ? `You may run ${parts.join('; ')}.` : 'Your roles may run no statement through this tool; ask an administrator for a role that may.';
}

export function toolBrief(c: CompiledPolicy, roles: string[], tool: string): ToolBrief | null {
  const s = c.shapes.get(tool);
  if (!s || !c.tool(roles, tool).allowed) return null;
  const who = roles.length === 1 ? `role ${roles[0]}` : `roles ${roles.join(', ')}`;
  if (s.shape.kind !== 'sql') {
    return {
      description: `bqwarden (for your ${who}): a ${s.shape.kind} tool — it returns names and structure, no rows; every call is audited.`,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    };
  }
  const dialect = s.upstream.dialect;
  const where = [s.upstream.defaultProject, s.upstream.defaultDataset].filter(Boolean).join('.');
  const parts: string[] = [
    `bqwarden (for your ${who}): write ${DIALECT_TEXT[dialect] ?? dialect} SQL${
      s.kind.projectArgument
        ? `; unqualified table names resolve in the project you pass as ${s.kind.projectArgument}${where ? `, else ${where}` : ''}`
        : where
          ? `; unqualified table names resolve to ${where}`
          : ''
    }.`,
  ];

  const masked: string[] = [];
  const hidden: string[] = [];
  for (const cls of c.classifications) {
    const v = c.visibilityFor(roles, cls).value;
    if (v === 'clear') continue;
    if (v === 'deny') hidden.push(cls);
    else masked.push(`${cls} → ${METHOD_TEXT[v as MaskMethod] ?? v}`);
  }
  if (masked.length)
    parts.push(
      `You see these classified columns masked: ${masked.join('; ')}. Masking happens in the database before your query runs, so WHERE, JOIN, GROUP BY and aggregates see the masked values too; _meta["bqwarden/masking"] on each result lists what was masked. Do not report masked values as real data.`,
    );
  else parts.push('You see every classified column in clear; each result is still audited.');
  if (hidden.length) parts.push(`Columns classified ${list(hidden)} are refused to you altogether: leave them out of your queries.`);

  const { direct, approval, refused, writes } = statementOptions(c, roles);
  if (direct.length) parts.push(`Runs directly: ${list(direct)}.`);
  if (approval.size)
    parts.push(
      `Held for approval by another person (the call answers with a pending request id; once approved, re-run the identical call and it runs once): ${[...approval].map(([k, v]) => `${list(v)} (${k})`).join('; ')}.`,
    );
  if (refused.length) parts.push(`Refused: ${list(refused)}.`);
  return { description: parts.join(' '), annotations: { readOnlyHint: !writes, destructiveHint: writes, idempotentHint: !writes } };
}
