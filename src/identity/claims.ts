// Turning verified token claims into the fields of an Identity: groups from a configurable
// (possibly nested) claim, an email only when it is not marked unverified, and the actor type
// from ordered rules. Runs only on claims whose signature has already been verified.
import { AuthError, type ActorType } from './types.js';
import type { ActorTypeRule, AssignableActorType } from './config.js';

export type Claims = Record<string, unknown>;

/**
 * Read a claim by name, or by dotted path when no claim has that literal name: Auth0/custom
 * namespaced claims (`https://bank.example/groups`) contain dots and must be read whole, while
 * Keycloak's `realm_access.roles` is a nested object.
 */
function readClaim(claims: Claims, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let node: unknown = claims;
  for (const part of name.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Groups as strings. Absent → [] (policy then grants nothing); present but ill-typed → refused. */
export function readGroups(claims: Claims, groupsClaim: string): string[] {
  const value = readClaim(claims, groupsClaim);
  if (value === undefined || value === null) {
    // Entra ID replaces `groups` with an overage pointer when a user is in too many groups; treating
    // that as "no groups" would silently drop memberships, so refuse and say what to configure.
    const names = claims._claim_names;
    if (names && typeof names === 'object' && Object.hasOwn(names, groupsClaim)) {
      throw new AuthError('missing_claim', `the "${groupsClaim}" claim was replaced by a groups overage reference; emit app roles or filter groups assigned to the application`);
    }
    return [];
  }
  if (typeof value === 'string') return value.length > 0 ? [value] : [];
  if (Array.isArray(value) && value.every((g) => typeof g === 'string')) return [...new Set(value as string[])];
  throw new AuthError('missing_claim', `the "${groupsClaim}" claim must be a string or a list of strings`);
}

/** The email claim, unless the issuer says it is unverified (a self-asserted address is not an identity). */
export function readEmail(claims: Claims, emailClaim: string): string | null {
  const value = readClaim(claims, emailClaim);
  if (typeof value !== 'string' || value.length === 0) return null;
  if (claims.email_verified === false || claims.email_verified === 'false') return null;
  return value;
}

export function readString(claims: Claims, name: string): string | null {
  const value = readClaim(claims, name);
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function ruleMatches(rule: ActorTypeRule, claims: Claims, groups: string[], email: string | null): boolean {
  if (rule.group !== undefined && !groups.includes(rule.group)) return false;
  if (rule.emailSuffix !== undefined && !(email !== null && email.toLowerCase().endsWith(rule.emailSuffix.toLowerCase()))) return false;
  if (rule.claim !== undefined) {
    const value = readClaim(claims, rule.claim);
    const values = Array.isArray(value) ? value : [value];
    if (!values.some((v) => typeof v === 'string' && rule.values!.includes(v))) return false;
  }
  return true;
}

/** First matching rule wins; issuer rules are passed before the global ones. */
export function resolveActorType(rules: ActorTypeRule[], fallback: AssignableActorType, claims: Claims, groups: string[], email: string | null): ActorType {
  for (const rule of rules) if (ruleMatches(rule, claims, groups, email)) return rule.actorType;
  return fallback;
}
