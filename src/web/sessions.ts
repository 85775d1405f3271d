// Browser sessions: the token a sign-in produced is verified once and never stored; the browser
// holds only a random session id in an HttpOnly cookie, and a session ends no later than the
// token it was made from would have. Held in memory: a restart signs everyone out, which the
// identity provider's own session makes a silent redirect.
import { randomBytes } from 'node:crypto';
import type { Identity } from '../identity/types.js';

const MAX_SESSIONS = 10_000;
// A person rarely has more browsers than this; a script that sends its credential in a header
// and drops the cookie starts a session per request, and must only ever push out its own.
const MAX_PER_IDENTITY = 8;

export interface WebSession {
  id: string;
  identity: Identity;
  createdAt: number;
  expiresAt: number;
  /** ID token of the sign-in, kept for RP-initiated logout at the identity provider (id_token_hint). */
  idToken: string | null;
}

export interface SessionLimits {
  maxSessions?: number;
  maxPerIdentity?: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, WebSession>();
  /** Session ids per person (issuer + subject), oldest first. */
  private readonly byIdentity = new Map<string, string[]>();
  /** Sessions whose cookie came back at least once: a browser, not a script that dropped it. */
  private readonly returned = new Set<string>();
  private readonly maxSessions: number;
  private readonly maxPerIdentity: number;

  constructor(
    private readonly maxSeconds: number,
    private readonly now: () => number = Date.now,
    limits: SessionLimits = {},
  ) {
    this.maxSessions = limits.maxSessions ?? MAX_SESSIONS;
    this.maxPerIdentity = limits.maxPerIdentity ?? MAX_PER_IDENTITY;
  }

  get size(): number {
    return this.sessions.size;
  }

  start(identity: Identity, idToken: string | null = null): { session: WebSession; maxAge: number } {
    const who = personKey(identity);
    const mine = (this.byIdentity.get(who) ?? []).filter((id) => this.get(id) !== null);
    if (mine.length >= this.maxPerIdentity) {
      // This person's sessions make room first: one that was never used again (a script's) before a browser's.
      const victim = mine.find((id) => !this.returned.has(id)) ?? mine[0];
      if (victim !== undefined) this.end(victim);
    }
    if (this.sessions.size >= this.maxSessions) {
      for (const [k, s] of this.sessions) if (s.expiresAt <= this.now()) this.end(k);
      const oldest = this.sessions.keys().next();
      if (this.sessions.size >= this.maxSessions && !oldest.done) this.end(oldest.value);
    }
    const tokenEnds = identity.expiresAt ? identity.expiresAt * 1000 : Infinity;
    const now = this.now();
    const expiresAt = Math.min(now + this.maxSeconds * 1000, tokenEnds);
    const session: WebSession = { id: randomBytes(32).toString('base64url'), identity, createdAt: now, expiresAt, idToken };
    this.sessions.set(session.id, session);
    this.byIdentity.set(who, [...(this.byIdentity.get(who) ?? []).filter((id) => this.sessions.has(id)), session.id]);
    return { session, maxAge: Math.max(1, Math.floor((expiresAt - now) / 1000)) };
  }

  /** The live session of an id (null when unknown, ended or expired). */
  get(id: string | undefined): WebSession | null {
    if (!id) return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    if (session.expiresAt <= this.now()) {
      this.end(id);
      return null;
    }
    return session;
  }

  /** The cookie came back with a request: the session belongs to a browser. */
  touch(id: string): void {
    if (this.sessions.has(id)) this.returned.add(id);
  }

  end(id: string): void {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    this.returned.delete(id);
    const who = personKey(session.identity);
    const rest = (this.byIdentity.get(who) ?? []).filter((x) => x !== id);
    if (rest.length) this.byIdentity.set(who, rest);
    else this.byIdentity.delete(who);
  }
}

function personKey(identity: Identity): string {
  return `${identity.issuer}\u0000${identity.subject}`;
}
