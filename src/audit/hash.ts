// The hash of an event: hex SHA-256 over the canonical serialisation of every field but `hash`.
import { sha256Hex } from '../common/digest.js';
import { AuditEventSchema, type AuditEvent } from './event.js';
import { canonicalEventParts, eventMembersWithoutHash, joinWithHash } from './canonical.js';

/** Hash of an event that has already passed AuditEventSchema (hot path of the writer and verifier). */
export function hashValidEvent(event: AuditEvent): string {
  return sha256Hex(canonicalEventParts(event).withoutHash);
}

/** Hash of any event-shaped value: validated by the schema first, so a missing key is an error, not a different hash. */
export function hashEvent(event: unknown): string {
  return hashValidEvent(AuditEventSchema.parse(event));
}

export function isHashValid(event: AuditEvent): boolean {
  return hashValidEvent(event) === event.hash;
}

/** Computes and sets event.hash; returns the canonical line (hash included) for the sink. */
export function sealEvent(event: AuditEvent): string {
  const members = eventMembersWithoutHash(event);
  event.hash = sha256Hex('{' + members.join(',') + '}');
  return joinWithHash(members, event.hash);
}
