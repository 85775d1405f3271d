// What a pinned tool definition is: the four fields an MCP client shows its model or acts on
// (name, description, input schema, annotations), as canonical JSON (keys sorted, no
// whitespace), and its sha256. Anything else the upstream sends (title, icons, _meta,
// outputSchema) is not part of the pin: it is not what tool poisoning changes.
import { createHash } from 'node:crypto';

export interface ToolDefinition {
  name: string;
  description: string | null;
  inputSchema: unknown;
  annotations: unknown;
}

const PINNED_FIELDS = ['name', 'description', 'inputSchema', 'annotations'] as const;

/** Keys sorted at every depth; undefined members dropped as JSON.stringify drops them. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sorted(v);
    }
    return out;
  }
  return value;
}

export function definitionOf(tool: Record<string, unknown>): ToolDefinition {
  return {
    name: String(tool.name),
    description: typeof tool.description === 'string' ? tool.description : null,
    inputSchema: tool.inputSchema ?? null,
    annotations: tool.annotations ?? null,
  };
}

/** The canonical text (what is hashed, and what an approver reviews). */
export function canonicalDefinition(def: ToolDefinition): string {
  return JSON.stringify(sorted({ name: def.name, description: def.description, inputSchema: def.inputSchema, annotations: def.annotations }));
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Which pinned fields differ between two canonical texts (for messages and the approver). */
export function changedFields(before: string | null, after: string): string[] {
  if (before === null) return [...PINNED_FIELDS];
  let a: Record<string, unknown>, b: Record<string, unknown>;
  try {
    a = JSON.parse(before) as Record<string, unknown>;
    b = JSON.parse(after) as Record<string, unknown>;
  } catch {
    return [...PINNED_FIELDS];
  }
  return PINNED_FIELDS.filter((f) => JSON.stringify(a[f] ?? null) !== JSON.stringify(b[f] ?? null));
}
