// Who did it, as audit fields: one mapping from a verified identity, shared by every surface
// that writes events (MCP pipeline, approvals, examiner console).
import type { AuditEventInput } from './event.js';
import type { Identity } from '../identity/types.js';

export function actorFields(identity: Identity | null, roles: string[] = identity?.roles ?? []): Partial<AuditEventInput> {
  if (!identity) return { actor_type: 'anonymous', auth_method: 'none', actor_roles: roles };
  return {
    actor_subject: identity.subject,
    actor_email: identity.email,
    actor_issuer: identity.issuer,
    actor_groups: identity.groups,
    actor_roles: roles,
    actor_type: identity.actorType,
    auth_method: identity.authMethod,
  };
}
