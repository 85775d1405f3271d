// Deterministic JSON for hashing: object keys sorted by UTF-16 code units (as RFC 8785 / JCS
// sorts them), no whitespace, strings and integers exactly as JSON.stringify writes them.
// Audit events only hold strings, integers, booleans, null, arrays and plain objects, and for
// that domain this is byte-identical to JCS; anything outside it (non-finite or fractional
// numbers, undefined, bigint, functions) is refused instead of silently changing the hash.
import { AuditEventSchema, type AuditEvent } from './event.js';

export class CanonicalError extends Error {
  constructor(message: string) {
    super(message);
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
      for (let i = 0; i < keys.length; i++) {
        const v = obj[keys[i]];
        if (v === undefined) throw new CanonicalError(`key ${keys[i]} is undefined`);
        out += (i ? ',' : '') + JSON.stringify(keys[i]) + ':' + canonicalize(v);
      }
      return out + '}';
    }
    default:
      throw new CanonicalError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

const EVENT_KEYS = Object.keys(AuditEventSchema.shape).sort();
const HASH_INDEX = EVENT_KEYS.indexOf('hash');
const MEMBER_KEYS = EVENT_KEYS.filter((k) => k !== 'hash');
const MEMBER_PREFIX = MEMBER_KEYS.map((k) => JSON.stringify(k) + ':');

/** Hot path: top-level values are mostly strings and nulls. */
function value(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  return canonicalize(v);
}

/** `"key":value` members of a validated event in canonical order, `hash` left out. */
export function eventMembersWithoutHash(event: AuditEvent): string[] {
  const rec = event as unknown as Record<string, unknown>;
  const parts = new Array<string>(MEMBER_KEYS.length);
  for (let i = 0; i < MEMBER_KEYS.length; i++) parts[i] = MEMBER_PREFIX[i] + value(rec[MEMBER_KEYS[i]]);
  return parts;
}

/** Joins members from eventMembersWithoutHash with the given hash in its sorted place. */
export function joinWithHash(members: string[], hash: string): string {
  const withHash = members.slice();
  withHash.splice(HASH_INDEX, 0, '"hash":' + JSON.stringify(hash));
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
