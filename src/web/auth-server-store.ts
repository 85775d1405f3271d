// Where the demo authorization server keeps its state (registered clients, sessions, grants,
// codes, refresh tokens): in memory, by design — it is the demo's, a restart signs everyone
// in again (MCP clients re-register and open the sign-in page), and nothing about a person
// outlives the process. Entries expire when the provider says they do.
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  expiresAt: number;
}

export interface DemoStore {
  adapter: AdapterFactory;
  /** Drop everything issued under a grant (the provider revokes grants on refresh-token reuse, logout). */
  onGrantRevoked(listener: (grantId: string) => void): void;
}

export function createDemoStore(now: () => number = Date.now): DemoStore {
  const entries = new Map<string, Entry>();
  const revokedListeners: ((grantId: string) => void)[] = [];
  let writes = 0;

  const live = (key: string): Entry | undefined => {
    const e = entries.get(key);
    if (e && e.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return e;
  };

  class MemoryAdapter implements Adapter {
    constructor(private readonly model: string) {}
    private key(id: string): string {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      if (++writes % 1000 === 0) for (const k of [...entries.keys()]) live(k);
      entries.set(this.key(id), { payload, expiresAt: expiresIn ? now() + expiresIn * 1000 : Infinity });
      if (payload.uid) entries.set(`${this.model}:uid:${payload.uid}`, { payload: { id } as AdapterPayload, expiresAt: expiresIn ? now() + expiresIn * 1000 : Infinity });
      if (payload.userCode) entries.set(`${this.model}:userCode:${payload.userCode}`, { payload: { id } as AdapterPayload, expiresAt: expiresIn ? now() + expiresIn * 1000 : Infinity });
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      return live(this.key(id))?.payload;
    }
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const ref = live(`${this.model}:uid:${uid}`);
      return ref ? this.find(String(ref.payload.id)) : undefined;
    }
    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const ref = live(`${this.model}:userCode:${userCode}`);
      return ref ? this.find(String(ref.payload.id)) : undefined;
    }
    async consume(id: string): Promise<void> {
      const e = live(this.key(id));
      if (e) e.payload.consumed = Math.floor(now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      entries.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [k, e] of entries) if (e.payload.grantId === grantId) entries.delete(k);
      for (const l of revokedListeners) l(grantId);
    }
  }

  return {
    adapter: (name: string) => new MemoryAdapter(name),
    onGrantRevoked: (l) => revokedListeners.push(l),
  };
}
