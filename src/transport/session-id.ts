// Mcp-Session-Id values that carry their own session record, sealed with AES-256-GCM under a
// key every gateway instance shares. Any instance can open one and rebuild the session (a new
// upstream session with the same client capabilities), so a client whose requests move to
// another instance (scale-out, redeploy, a lost affinity cookie) keeps its session. The record
// binds the session to its owner (issuer + subject, hashed) and keeps the negotiated protocol
// version, the client's declared capabilities and its clientInfo for the audit trail.
// Encryption, not only a signature: clientInfo is client text, and ids end up in logs and audit.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { Identity } from '../identity/types.js';
import { isObject, type JsonObject } from './messages.js';

export interface SessionRecord {
  /** Hash of issuer + subject of the identity that created the session. */
  owner: string;
  protocolVersion: string;
  clientName: string | null;
  clientVersion: string | null;
  /** The client capabilities relayed upstream (sampling, elicitation, roots, experimental). */
  capabilities: JsonObject;
  /** Epoch ms when the session was created. */
  createdAt: number;
}

const PREFIX = 'v1.';
const AAD = Buffer.from('bqwarden mcp session id v1');
/** clientInfo is kept short in the id: it is for the audit trail, not for protocol use. */
const MAX_NAME = 100;
const MAX_CAPABILITIES_JSON = 2048;

export function ownerOf(identity: Pick<Identity, 'issuer' | 'subject'>): string {
  return createHash('sha256').update(identity.issuer).update('\0').update(identity.subject).digest('base64url').slice(0, 32);
}

export class SessionIds {
  private readonly key: Buffer;

  /**
   * @param secret shared by every instance (≥ 32 bytes, e.g. a Secret Manager file); without
   *   one a random per-process key is used, and sessions then live on their instance only.
   */
  constructor(secret?: Uint8Array | null) {
    if (secret && secret.length < 32) throw new Error('session id secret must be at least 32 bytes');
    const ikm = secret ?? randomBytes(32);
    this.key = Buffer.from(hkdfSync('sha256', ikm, 'bqwarden', 'mcp-session-id v1', 32));
  }

  seal(r: SessionRecord): string {
    let caps = r.capabilities;
    if (JSON.stringify(caps).length > MAX_CAPABILITIES_JSON) {
      const { experimental: _dropped, ...rest } = caps;
      caps = rest;
    }
    const body = Buffer.from(
      JSON.stringify({
        n: randomBytes(12).toString('base64url'),
        o: r.owner,
        p: r.protocolVersion,
        c: r.clientName?.slice(0, MAX_NAME) ?? null,
        cv: r.clientVersion?.slice(0, MAX_NAME) ?? null,
        k: caps,
        t: r.createdAt,
      }),
    );
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(AAD);
    const ct = Buffer.concat([cipher.update(body), cipher.final()]);
    return PREFIX + Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url');
  }

  /** The record of a genuine id, or null for anything else (forged, altered, other key, garbage). */
  open(id: string): SessionRecord | null {
    if (!id.startsWith(PREFIX) || id.length > 4096) return null;
    const text = id.slice(PREFIX.length);
    const buf = Buffer.from(text, 'base64url');
    // Base64 has slack bits and ignores stray characters: only the canonical spelling counts,
    // so one id has exactly one accepted form.
    if (buf.length < 12 + 16 + 2 || buf.toString('base64url') !== text) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, buf.subarray(0, 12));
      decipher.setAAD(AAD);
      decipher.setAuthTag(buf.subarray(buf.length - 16));
      const body = Buffer.concat([decipher.update(buf.subarray(12, buf.length - 16)), decipher.final()]);
      const v = JSON.parse(body.toString('utf8')) as unknown;
      if (!isObject(v) || typeof v.o !== 'string' || typeof v.p !== 'string' || typeof v.t !== 'number' || !isObject(v.k)) return null;
      return {
        owner: v.o,
        protocolVersion: v.p,
        clientName: typeof v.c === 'string' ? v.c : null,
        clientVersion: typeof v.cv === 'string' ? v.cv : null,
        capabilities: v.k,
        createdAt: v.t,
      };
    } catch {
      return null;
    }
  }
}
