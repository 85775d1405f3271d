// Deterministic JSON for hashing: object keys sorted by UTF-16 code units (as RFC 8785 / JCS
// sorts them), no whitespace, strings and integers exactly as JSON.stringify writes them.
// Audit events only hold strings, integers, booleans, null, arrays and plain objects, and for
// that domain this is byte-identical to JCS; anything outside it (non-finite or fractional
// numbers, undefined, bigint, functions) is refused instead of silently changing the hash.
import { AuditEventSchema, SCHEMA_V1, type AuditEvent } from './event.js';
import { BqwardenError } from '../common/errors.js';

export class CanonicalError extends BqwardenError {
  constructor(message: string) {
    super('canonical_invalid', message);
    this.name = 'CanonicalError';
  }
}

export function canonicalize(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) throw new CanonicalError(`canonical JSON holds only safe integers, got ${value}`);
      return String(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map(canonicalize).join(',') + ']';
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new CanonicalError('canonical JSON holds only plain objects');
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = '{';
      for (const [i, k] of keys.entries()) {
        const v = obj[k];
        if (v === undefined) throw new CanonicalError(`key ${k} is undefined`);
        out += (i ? ',' : '') + JSON.stringify(k) + ':' + canonicalize(v);
      }
      return out + '}';
    }
    default:
      throw new CanonicalError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

interface Layout {
  keys: string[];
  /** Per key, its `"key":` member prefix. */
  members: { key: string; prefix: string }[];
  hashIndex: number;
}

function layout(exclude: string[]): Layout {
  const all = Object.keys(AuditEventSchema.shape)
    .filter((k) => !exclude.includes(k))
    .sort();
  const keys = all.filter((k) => k !== 'hash');
  return { keys, members: keys.map((key) => ({ key, prefix: JSON.stringify(key) + ':' })), hashIndex: all.indexOf('hash') };
}

const CURRENT = layout([]);
// Fields added after schema version 1 are not part of a version-1 event's canonical form.
const ADDED_IN_V2 = ['intent_id', 'sql_executed', 'sql_executed_sha256'] as const;
const V1 = layout([...ADDED_IN_V2]);
// A version-1 event that carries one of them anyway is hashed with it, so adding it changes the hash.
const layoutOf = (e: AuditEvent): Layout => (e.schema_version === SCHEMA_V1 && ADDED_IN_V2.every((k) => e[k] === null) ? V1 : CURRENT);

/** Hot path: top-level values are mostly strings and nulls. */
function value(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  return canonicalize(v);
}

/** `"key":value` members of a validated event in canonical order, `hash` left out. */
export function eventMembersWithoutHash(event: AuditEvent): string[] {
  const rec = event as unknown as Record<string, unknown>;
  const { members } = layoutOf(event);
  const parts = new Array<string>(members.length);
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    parts[i] = m.prefix + value(rec[m.key]);
  }
  return parts;
}

/** Joins members from eventMembersWithoutHash with the given hash in its sorted place. */
export function joinWithHash(members: string[], hash: string): string {
  // Both layouts put `hash` at the same place unless a removed key sorts before it.
  const at = members.length === CURRENT.keys.length ? CURRENT.hashIndex : V1.hashIndex;
  const withHash = members.slice();
  withHash.splice(at, 0, '"hash":' + JSON.stringify(hash));
  return '{' + withHash.join(',') + '}';
}

/**
 * The canonical text of an already-validated event, with and without its `hash` member.
 * Built once from the sorted field list so verifying a million lines serialises each event once.
 */
export function canonicalEventParts(event: AuditEvent): { withoutHash: string; full: string } {
  const members = eventMembersWithoutHash(event);
  return { withoutHash: '{' + members.join(',') + '}', full: joinWithHash(members, event.hash) };
}

/** Validates against the schema first (so every key is present and typed) and serialises. */
export function canonicalEvent(event: unknown): string {
  return canonicalEventParts(AuditEventSchema.parse(event)).full;
}
