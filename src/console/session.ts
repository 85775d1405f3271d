// Console sign-in sessions: the pasted bearer token is verified once and never stored; the
// browser holds only a random session id in an HttpOnly, SameSite=Strict cookie scoped to
// /console, and the session ends no later than the token would have. Same shape as the
// approvals page (src/approvals/ui.ts), whose helpers are private to it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../identity/types.js';

export const CONSOLE_COOKIE = 'bqw_console';
const MAX_SESSIONS = 10_000;

export interface ConsoleSession {
  identity: Identity;
  csrf: string;
  expiresAt: number;
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  private readonly sessions = new Map<string, ConsoleSession>();
  constructor(
    private readonly maxSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  start(identity: Identity): { sid: string; session: ConsoleSession; maxAge: number } {
    if (this.sessions.size >= MAX_SESSIONS) {
      for (const [k, s] of this.sessions) if (s.expiresAt <= this.now()) this.sessions.delete(k);
      if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    }
    const tokenEnds = identity.expiresAt ? identity.expiresAt * 1000 : Infinity;
    const expiresAt = Math.min(this.now() + this.maxSeconds * 1000, tokenEnds);
    const sid = randomBytes(32).toString('base64url');
    const session = { identity, csrf: randomBytes(32).toString('base64url'), expiresAt };
    this.sessions.set(sid, session);
    return { sid, session, maxAge: Math.max(1, Math.floor((expiresAt - this.now()) / 1000)) };
  }

  get(cookieHeader: string | undefined): { sid: string; session: ConsoleSession } | null {
    const sid = parseCookies(cookieHeader)[CONSOLE_COOKIE];
    if (!sid) return null;
    const session = this.sessions.get(sid);
    if (!session) return null;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(sid);
      return null;
    }
    return { sid, session };
  }

  end(sid: string): void {
    this.sessions.delete(sid);
  }
}
