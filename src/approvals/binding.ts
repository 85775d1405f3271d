// What ties an approval to one call: the requester, the tool, the exact statement text and the
// call's other arguments. Separation of duties is decided on the same notion of "same person".
import type { Identity } from '../identity/types.js';
import type { ApprovalActor } from './types.js';

import { sha256Hex } from '../common/digest.js';
import { sortKeys } from '../common/sorted-json.js';

export { sha256Hex as sha256 };

/**
 * Hash of the arguments other than the SQL itself and the free-text justification: a dry-run
 * flag, a target project or a row limit changed after approval must not reuse it.
 */
export function argsSha256(args: Record<string, unknown>, sqlArgument: string | null): string {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (k === sqlArgument || k === 'justification') continue;
    rest[k] = v;
  }
  return sha256Hex(JSON.stringify(sortKeys(rest)));
}

export function actorOf(identity: Identity, roles: string[] = identity.roles): ApprovalActor {
  return {
    subject: identity.subject,
    issuer: identity.issuer,
    email: identity.email,
    display: identity.email ?? identity.subject,
    roles: [...roles],
  };
}

/**
 * Same person for separation of duties: same subject at the same issuer, or the same email
 * (case-insensitive) — one person holding a second account at another IdP is still one person.
 */
export function sameActor(a: Pick<ApprovalActor, 'subject' | 'issuer' | 'email'>, b: Pick<ApprovalActor, 'subject' | 'issuer' | 'email'>): boolean {
  if (a.subject !== null && a.subject === b.subject && a.issuer === b.issuer) return true;
  if (a.email && b.email && a.email.trim().toLowerCase() === b.email.trim().toLowerCase()) return true;
  return false;
}

/**
 * The one notion of "the same call" for approvals: same identity (subject at issuer), tool,
 * statement text and other arguments. A re-run finds its request by it, an executed statement
 * spends its duplicates by it, and the pages group by it. null (no subject, an unreadable
 * argument hash): the request matches no call, not even one like it (fail closed).
 */
export function callBinding(b: { requester: Pick<ApprovalActor, 'subject' | 'issuer'>; tool: string; sqlSha256: string; argsSha256: string | null }): string | null {
  if (b.requester.subject === null || b.argsSha256 === null) return null;
  return sha256Hex(JSON.stringify([b.requester.issuer, b.requester.subject, b.tool, b.sqlSha256, b.argsSha256]));
}
