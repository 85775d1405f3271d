// Derives the BigQuery table schema and the Pub/Sub topic schema from the ONE audit event
// schema (src/audit/event.ts) so the three can never drift: `npm run schema` writes them into
// terraform/modules/bqwarden/generated/ and a test fails when the checked-in files are stale.
//
// We walk zod's own JSON Schema export rather than zod internals: it is a public, stable API
// and already resolves nullable/optional/enum into plain JSON Schema shapes.
import { z } from 'zod';
import { AuditEventSchema } from '../audit/event.js';
import { FIELD_DESCRIPTIONS } from './field-descriptions.js';

export interface BigQueryField {
  name: string;
  type: 'STRING' | 'INT64' | 'BOOL' | 'FLOAT64' | 'TIMESTAMP' | 'RECORD';
  mode: 'REQUIRED' | 'NULLABLE' | 'REPEATED';
  description?: string;
  fields?: BigQueryField[];
}

type Json = Record<string, unknown>;

// The event schema's timestamp regex; a string field with exactly this pattern is a TIMESTAMP.
const TIMESTAMP_PATTERN = String.raw`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`;

/** Columns a Pub/Sub BigQuery subscription adds with write_metadata = true. */
const METADATA_COLUMNS: BigQueryField[] = [
  { name: 'subscription_name', type: 'STRING', mode: 'NULLABLE' },
  { name: 'message_id', type: 'STRING', mode: 'NULLABLE' },
  { name: 'publish_time', type: 'TIMESTAMP', mode: 'NULLABLE' },
  { name: 'data', type: 'STRING', mode: 'NULLABLE' },
  { name: 'attributes', type: 'STRING', mode: 'NULLABLE' },
];
export const METADATA_COLUMN_NAMES = METADATA_COLUMNS.map((c) => c.name);

interface Scalar {
  kind: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array';
  nullable: boolean;
  timestamp: boolean;
  node: Json;
}

/** Reduce one JSON Schema property to its base kind, nullability and whether it is a timestamp. */
function classify(node: Json, path: string): Scalar {
  let nullable = false;
  let base: Json = node;
  if (Array.isArray(node.anyOf) || Array.isArray(node.oneOf)) {
    const alts = ((node.anyOf ?? node.oneOf) as Json[]).filter((a) => {
      if (a.type === 'null') {
        nullable = true;
        return false;
      }
      return true;
    });
    const [only, ...more] = alts;
    if (!only || more.length) throw new Error(`audit schema: ${path} is a union the BigQuery schema cannot express`);
    base = only;
  }
  let type = base.type;
  if (Array.isArray(type)) {
    const rest = type.filter((t) => t !== 'null');
    nullable = nullable || rest.length !== type.length;
    if (rest.length !== 1) throw new Error(`audit schema: ${path} has mixed types ${JSON.stringify(type)}`);
    type = rest[0];
  }
  if (type === undefined && Array.isArray(base.enum)) type = 'string';
  if (!['string', 'integer', 'number', 'boolean', 'object', 'array'].includes(type as string)) {
    throw new Error(`audit schema: ${path} has unsupported type ${JSON.stringify(type)}`);
  }
  return {
    kind: type as Scalar['kind'],
    nullable,
    timestamp: type === 'string' && base.pattern === TIMESTAMP_PATTERN,
    node: base,
  };
}

function objectFields(node: Json, path: string): BigQueryField[] {
  const props = node.properties as Record<string, Json> | undefined;
  if (!props) throw new Error(`audit schema: ${path} is an object without properties`);
  const required = new Set((node.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, prop]) => toField(name, prop, required.has(name), `${path}.${name}`));
}

function toField(name: string, prop: Json, required: boolean, path: string): BigQueryField {
  const c = classify(prop, path);
  const description = FIELD_DESCRIPTIONS[name];
  const withDesc = (f: BigQueryField): BigQueryField => (description ? { ...f, description } : f);
  if (c.kind === 'array') {
    if (c.nullable) throw new Error(`audit schema: ${path} is a nullable array; BigQuery REPEATED cannot be NULL`);
    const items = classify(c.node.items as Json, `${path}[]`);
    if (items.nullable || items.kind === 'array') throw new Error(`audit schema: ${path} items must be non-null scalars or objects`);
    if (items.kind === 'object') {
      return withDesc({ name, type: 'RECORD', mode: 'REPEATED', fields: objectFields(items.node, `${path}[]`) });
    }
    return withDesc({ name, type: scalarType(items), mode: 'REPEATED' });
  }
  const mode = c.nullable || !required ? 'NULLABLE' : 'REQUIRED';
  if (c.kind === 'object') return withDesc({ name, type: 'RECORD', mode, fields: objectFields(c.node, path) });
  return withDesc({ name, type: scalarType(c), mode });
}

function scalarType(c: Scalar): BigQueryField['type'] {
  if (c.timestamp) return 'TIMESTAMP';
  switch (c.kind) {
    case 'string':
      return 'STRING';
    case 'integer':
      return 'INT64';
    case 'number':
      return 'FLOAT64';
    case 'boolean':
      return 'BOOL';
    default:
      throw new Error(`unreachable: ${c.kind}`);
  }
}

/** JSON Schema of the audit event as zod emits it (output side: what the writer produces). */
function auditJsonSchema(schema: z.ZodType = AuditEventSchema): Json {
  return z.toJSONSchema(schema, { io: 'output', unrepresentable: 'throw' }) as Json;
}

/** The event columns only (no subscription metadata). */
export function eventTableFields(schema: z.ZodType = AuditEventSchema): BigQueryField[] {
  return objectFields(auditJsonSchema(schema), 'AuditEvent');
}

/** Full audit table schema: event columns then the write_metadata columns. */
export function auditTableSchema(schema: z.ZodType = AuditEventSchema): BigQueryField[] {
  const fields = eventTableFields(schema);
  const clash = fields.find((f) => METADATA_COLUMN_NAMES.includes(f.name));
  if (clash) throw new Error(`audit schema: field ${clash.name} collides with a Pub/Sub metadata column`);
  const meta = METADATA_COLUMNS.map((c) => ({ ...c, description: FIELD_DESCRIPTIONS[c.name] }));
  return [...fields, ...meta];
}

const PROTO_TYPES: Record<Exclude<BigQueryField['type'], 'RECORD'>, string> = {
  STRING: 'string',
  // Timestamps travel as the event's ISO-8601 strings; the BigQuery subscription (use_table_schema)
  // parses a JSON string into a TIMESTAMP column, and the hash is computed over the string.
  TIMESTAMP: 'string',
  INT64: 'int64',
  BOOL: 'bool',
  FLOAT64: 'double',
};

function pascal(name: string): string {
  return name.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());
}

function protoMessage(name: string, fields: BigQueryField[], indent: string): string[] {
  const lines = [`${indent}message ${name} {`];
  let n = 1;
  for (const f of fields) {
    if (f.type === 'RECORD') {
      const nested = pascal(f.name.replace(/s$/, ''));
      lines.push(...protoMessage(nested, f.fields ?? [], indent + '  '));
      lines.push(`${indent}  ${f.mode === 'REPEATED' ? 'repeated ' : 'optional '}${nested} ${f.name} = ${n++};`);
      continue;
    }
    const label = f.mode === 'REPEATED' ? 'repeated ' : 'optional ';
    lines.push(`${indent}  ${label}${PROTO_TYPES[f.type]} ${f.name} = ${n++};`);
  }
  lines.push(`${indent}}`);
  return lines;
}

/**
 * Pub/Sub topic schema (PROTOCOL_BUFFER, JSON encoding). One top-level message with nested
 * types, as Pub/Sub requires. Every singular field is `optional` so JSON `null` is accepted
 * (proto3 JSON maps null to "unset"); the published bytes are the event's own JSON, which the
 * BigQuery subscription then maps onto the table schema.
 */
export function auditTopicProto(schema: z.ZodType = AuditEventSchema): string {
  return [
    '// GENERATED by `npm run schema` from src/audit/event.ts. Do not edit.',
    'syntax = "proto3";',
    '',
    'package bqwarden.audit.v1;',
    '',
    ...protoMessage('AuditEvent', eventTableFields(schema), ''),
    '',
  ].join('\n');
}

/** BigQuery schema JSON as `bq` and terraform's google_bigquery_table.schema expect. */
export function auditTableSchemaJson(schema: z.ZodType = AuditEventSchema): string {
  return JSON.stringify(auditTableSchema(schema), null, 2) + '\n';
}
