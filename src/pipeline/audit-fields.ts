// Maps request context and decisions onto audit event fields, in one place, so every event
// the pipeline writes names its actor, session and client the same way.
import { sha256Hex } from '../common/digest.js';
import { sortKeys } from '../common/sorted-json.js';
import type { AuditEventInput } from '../audit/event.js';
import { actorFields } from '../audit/actor.js';
import type { HttpFailure } from './types.js';

export function httpFailureFields(f: HttpFailure): Partial<AuditEventInput> {
  // The transport reports every refused token as auth_failed with the identity layer's
  // specific reason in the message ("Unauthorized (expired): …"); examiners filter on the reason.
  const authReason = f.code === 'auth_failed' ? /^Unauthorized \(([a-z_]+)\)/.exec(f.message)?.[1] : undefined;
  return {
    ...actorFields(f.identity),
    session_id: f.sessionId,
    source_ip: f.sourceIp,
    user_agent: f.userAgent,
    mcp_method: f.method,
    http_status: f.httpStatus,
    error_code: authReason ?? f.code,
    error_message: f.message,
    outcome: 'denied',
    decision: 'deny',
  };
}

/** Canonical-enough JSON for payload columns: stable key order, capped size. */
export function payloadJson(value: unknown, maxBytes: number): string | null {
  if (value === undefined) return null;
  const text = JSON.stringify(sortKeys(value));
  if (Buffer.byteLength(text) <= maxBytes) return text;
  // Truncation is recorded in the payload itself so an examiner knows it happened and can
  // match the full response by hash.
  return JSON.stringify({
    truncated: true,
    original_bytes: Buffer.byteLength(text),
    sha256: sha256Hex(text),
    head: text.slice(0, Math.max(0, maxBytes - 200)),
  });
}
