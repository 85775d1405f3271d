// The writer serialises each event once to hash it; sinks that store the canonical text reuse
// that string instead of serialising again. Keyed weakly so dropped events free their text.
import type { AuditEvent } from './event.js';
import { canonicalEventParts } from './canonical.js';

const cache = new WeakMap<AuditEvent, string>();

export function rememberCanonical(event: AuditEvent, full: string): void {
  cache.set(event, full);
}

/** The canonical serialisation of a complete event (hash included). */
export function canonicalLine(event: AuditEvent): string {
  return cache.get(event) ?? canonicalEventParts(event).full;
}
