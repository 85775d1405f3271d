// Policy's upstreams joined with their kinds: every tool a client can call, under the name the
// client sees, with how the gateway treats it. Tool names two upstreams share are namespaced
// (<upstream>__<tool>) for both, so no name silently means one of them.
import type { Dialect } from '../sql/types.js';
import { kindForDialect, upstreamKind } from './registry.js';
import type { KindName, ToolSpec, UpstreamKind } from './types.js';

/** The part of policy's upstream definition the kinds read. */
export interface UpstreamInput {
  id: string;
  kind?: KindName;
  dialect?: Dialect;
  defaultProject: string | null;
  defaultDataset: string | null;
  tools: Record<string, { kind?: ToolSpec['kind']; sqlArgument?: string; description?: string }>;
}

export interface ResolvedTool {
  /** The name clients see and tool rules match. */
  publicName: string;
  upstreamId: string;
  /** The name the upstream serves it under. */
  name: string;
  spec: Omit<ToolSpec, 'sqlArgument'> & { sqlArgument: string | null };
}

export interface ResolveProblem {
  upstream: UpstreamInput;
  tool: string | null;
  message: string;
  hint: string;
}

const NAMESPACE_SEPARATOR = '__';

/** Tool names keep to what MCP clients accept (letters, digits, _ and -). */
function namespaced(upstreamId: string, tool: string): string {
  return `${upstreamId.replace(/[^A-Za-z0-9_-]/g, '_')}${NAMESPACE_SEPARATOR}${tool}`;
}

export function kindOf(u: Pick<UpstreamInput, 'kind' | 'dialect'>): UpstreamKind {
  return upstreamKind(u.kind ?? kindForDialect(u.dialect ?? 'bigquery'));
}

export function dialectOf(u: Pick<UpstreamInput, 'kind' | 'dialect'>): Dialect {
  return u.dialect ?? kindOf(u).dialects[0];
}

export function resolveUpstreams(upstreams: UpstreamInput[]): { tools: Map<string, ResolvedTool>; problems: ResolveProblem[] } {
  const problems: ResolveProblem[] = [];
  const count = new Map<string, number>();
  for (const u of upstreams) for (const t of Object.keys(u.tools)) count.set(t, (count.get(t) ?? 0) + 1);
  const tools = new Map<string, ResolvedTool>();
  const ids = new Set<string>();
  for (const u of upstreams) {
    if (ids.has(u.id)) problems.push({ upstream: u, tool: null, message: `upstream ${u.id} is defined twice`, hint: 'give each upstream its own id' });
    ids.add(u.id);
    const kind = kindOf(u);
    const dialect = dialectOf(u);
    if (!kind.dialects.includes(dialect))
      problems.push({
        upstream: u,
        tool: null,
        message: `upstream ${u.id}: kind ${kind.name} speaks ${kind.dialects.join(', ')}, not ${dialect}`,
        hint: `drop dialect or use one of ${kind.dialects.join(', ')}`,
      });
    for (const [name, given] of Object.entries(u.tools)) {
      const known = kind.tools[name];
      const k = given.kind ?? known?.kind;
      const sqlArgument = given.sqlArgument ?? (k === 'sql' ? (known?.sqlArgument ?? null) : null);
      if (!k) {
        problems.push({
          upstream: u,
          tool: name,
          message: `tool ${name} is not a tool kind ${kind.name} knows`,
          hint: `describe it (kind: sql with sqlArgument, metadata or other) or use one of ${Object.keys(kind.tools).join(', ') || '(none: describe every tool)'}`,
        });
        continue;
      }
      if (known && given.kind && given.kind !== known.kind)
        problems.push({ upstream: u, tool: name, message: `tool ${name} of kind ${kind.name} is a ${known.kind} tool, not ${given.kind}`, hint: `drop kind: ${given.kind}` });
      if (known?.sqlArgument && given.sqlArgument && given.sqlArgument !== known.sqlArgument)
        problems.push({
          upstream: u,
          tool: name,
          message: `tool ${name} of kind ${kind.name} carries its SQL in argument ${known.sqlArgument}, not ${given.sqlArgument}`,
          hint: `drop sqlArgument or write ${known.sqlArgument}`,
        });
      if (k === 'sql' && !sqlArgument)
        problems.push({ upstream: u, tool: name, message: 'a sql tool needs sqlArgument (the argument that carries the SQL)', hint: 'name the argument that carries the SQL' });
      const publicName = (count.get(name) ?? 0) > 1 ? namespaced(u.id, name) : name;
      if (tools.has(publicName)) problems.push({ upstream: u, tool: name, message: `tool name ${publicName} is used twice`, hint: 'rename an upstream id so namespaced tool names differ' });
      tools.set(publicName, {
        publicName,
        upstreamId: u.id,
        name,
        spec: { ...(known ?? {}), kind: k, sqlArgument, ...(given.description ? { description: given.description } : {}) },
      });
    }
  }
  return { tools, problems };
}
