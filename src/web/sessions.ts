// Browser sessions: the token a sign-in produced is verified once and never stored; the browser
// holds only a random session id in an HttpOnly cookie, and a session ends no later than the
// token it was made from would have. Held in memory: a restart signs everyone out, which the
// identity provider's own session makes a silent redirect.
import { randomBytes } from 'node:crypto';
import type { Identity } from '../identity/types.js';

const MAX_SESSIONS = 10_000;

export interface WebSession {
  id: string;
  identity: Identity;
  createdAt: number;
  expiresAt: number;
  /** ID token of the sign-in, kept for RP-initiated logout at the identity provider (id_token_hint). */
  idToken: string | null;
}

export class SessionStore {
  private readonly sessions = new Map<string, WebSession>();
  constructor(
    private readonly maxSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  start(identity: Identity, idToken: string | null = null): { session: WebSession; maxAge: number } {
    if (this.sessions.size >= MAX_SESSIONS) {
      for (const [k, s] of this.sessions) if (s.expiresAt <= this.now()) this.sessions.delete(k);
      if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    }
    const tokenEnds = identity.expiresAt ? identity.expiresAt * 1000 : Infinity;
    const now = this.now();
    const expiresAt = Math.min(now + this.maxSeconds * 1000, tokenEnds);
    const session: WebSession = { id: randomBytes(32).toString('base64url'), identity, createdAt: now, expiresAt, idToken };
    this.sessions.set(session.id, session);
    return { session, maxAge: Math.max(1, Math.floor((expiresAt - now) / 1000)) };
  }

  get(id: string | undefined): WebSession | null {
    if (!id) return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    return session;
  }

  end(id: string): void {
    this.sessions.delete(id);
  }
}
