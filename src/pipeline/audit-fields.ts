// Maps request context and decisions onto audit event fields, in one place, so every event
// the pipeline writes names its actor, session and client the same way.
import { sha256Hex } from '../common/digest.js';
import { sortKeys } from '../common/sorted-json.js';
import type { AuditEventInput } from '../audit/event.js';
import { actorFields } from '../audit/actor.js';
import { isErrorCode, type ErrorCode } from '../common/errors.js';
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
    ...closedErrorCode(authReason ?? f.code, f.message),
    outcome: 'denied',
    decision: 'deny',
  };
}

/**
 * The audit keeps only codes of the error catalog. A code it lacks (a new thrower nobody listed,
 * a reason chosen by a component the gateway does not control) must not make the append fail,
 * which would deny the call and lose its record: it is kept as unlisted_error_code, with the
 * original named in error_message. That text goes through the content detectors like any
 * client text (the pipeline's writer scans error_message whenever the code is unlisted).
 */
export function closedErrorCode(code: string, message: string | null): { error_code: ErrorCode; error_message: string | null } {
  if (isErrorCode(code)) return { error_code: code, error_message: message };
  return { error_code: 'unlisted_error_code', error_message: `unlisted error code ${JSON.stringify(code.slice(0, 80))}${message === null ? '' : `: ${message}`}` };
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
