// Anchors: the durable chain head, exported at least every second to a store the gateway can
// add to but not rewrite (production: a Cloud Storage bucket with a locked retention policy,
// objects created with ifGenerationMatch=0; demo: a directory outside the audit directory,
// files created O_EXCL). `verify` compares the chain with every anchor: an anchored seq that is
// missing (tail cut, newest file deleted) or holds another hash (tail rewritten) is a break. So
// what can be cut or rewritten unseen is only what became durable after the last anchor: at
// most one export interval plus one store write.
//
// An anchor needs no signature: its worth is where it is stored. It names the last signed
// checkpoint and its key, so the anchor store also records when a chain's key changed.
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHAIN_ID_PATTERN } from './files.js';
import type { AuditLog, DurableHead } from './log.js';
import { BqwardenError } from '../common/errors.js';

export interface Anchor {
  chain_id: string;
  seq: number;
  hash: string;
  /** When the anchor was written (the exporter's clock). */
  anchored_at: string;
  instance: string;
  /** Last signed checkpoint at or before seq, and its key (null before the first). */
  signed_seq: number | null;
  signing_key_id: string | null;
}

export class AnchorConflictError extends BqwardenError {
  constructor(message: string) {
    super('anchor_conflict', message);
    this.name = 'AnchorConflictError';
  }
}

export interface AnchorStore {
  /** Where the anchors live, for reports (`dir:/…`, `gs://bucket/prefix`). */
  readonly name: string;
  /** Create-only: an existing anchor with the same content is fine (a retry), another one is AnchorConflictError. */
  put(anchor: Anchor): Promise<void>;
  /** Every anchor (of one chain), in chain and seq order. Unreadable entries are returned as `invalid`. */
  list(opts?: { chainId?: string }): Promise<{ anchors: Anchor[]; invalid: { ref: string; reason: string }[] }>;
}

/** Object / file name of an anchor: <chain>/<seq, 12 digits>.json, so a listing is in chain order. */
export function anchorName(a: Pick<Anchor, 'chain_id' | 'seq'>): string {
  return `${a.chain_id}/${String(a.seq).padStart(12, '0')}.json`;
}

export function anchorJson(a: Anchor): string {
  // Fixed key order: a retried put compares byte for byte.
  return JSON.stringify({
    chain_id: a.chain_id,
    seq: a.seq,
    hash: a.hash,
    anchored_at: a.anchored_at,
    instance: a.instance,
    signed_seq: a.signed_seq,
    signing_key_id: a.signing_key_id,
  });
}

/** Reads an anchor back; throws with the reason when it is not one. */
export function parseAnchor(text: string): Anchor {
  const v = JSON.parse(text) as Record<string, unknown>;
  const ok =
    v !== null &&
    typeof v === 'object' &&
    typeof v.chain_id === 'string' &&
    CHAIN_ID_PATTERN.test(v.chain_id) &&
    Number.isSafeInteger(v.seq) &&
    (v.seq as number) >= 0 &&
    typeof v.hash === 'string' &&
    /^[0-9a-f]{64}$/.test(v.hash) &&
    typeof v.anchored_at === 'string' &&
    typeof v.instance === 'string' &&
    (v.signed_seq === null || Number.isSafeInteger(v.signed_seq)) &&
    (v.signing_key_id === null || typeof v.signing_key_id === 'string');
  if (!ok) throw new Error('not an anchor record');
  return v as unknown as Anchor;
}

export function sortAnchors(list: Anchor[]): Anchor[] {
  return list.sort((a, b) => (a.chain_id < b.chain_id ? -1 : a.chain_id > b.chain_id ? 1 : a.seq - b.seq));
}

/** Demo / single host: <dir>/<chain>/<seq>.json, created O_EXCL and fsync'd. */
export function dirAnchorStore(dir: string): AnchorStore {
  return {
    name: `dir:${dir}`,
    async put(a) {
      const file = join(dir, anchorName(a));
      const text = anchorJson(a);
      await mkdir(join(dir, a.chain_id), { recursive: true });
      let fh;
      try {
        fh = await open(file, 'wx', 0o444);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const existing = await readFile(file, 'utf8');
        if (existing === text) return;
        throw new AnchorConflictError(`anchor ${file} already exists with other content`);
      }
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
    async list(opts = {}) {
      const anchors: Anchor[] = [];
      const invalid: { ref: string; reason: string }[] = [];
      let chains: string[];
      try {
        chains = opts.chainId ? [opts.chainId] : (await readdir(dir)).sort();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { anchors, invalid };
        throw err;
      }
      for (const c of chains) {
        let names: string[];
        try {
          names = (await readdir(join(dir, c))).filter((n) => n.endsWith('.json')).sort();
        } catch {
          continue;
        }
        for (const n of names) {
          const ref = join(dir, c, n);
          try {
            const a = parseAnchor(await readFile(ref, 'utf8'));
            if (anchorName(a) !== `${c}/${n}`) throw new Error(`names chain ${a.chain_id} seq ${a.seq}, not its file name`);
            anchors.push(a);
          } catch (err) {
            invalid.push({ ref, reason: (err as Error).message });
          }
        }
      }
      return { anchors: sortAnchors(anchors), invalid };
    },
  };
}

export interface AnchorExporterOptions {
  log: Pick<AuditLog, 'onDurable' | 'durableHead' | 'addGate' | 'chainId'>;
  store: AnchorStore;
  instance: string;
  /** Export interval (default 1000 ms): the window in which a cut tail goes unseen. */
  intervalMs?: number;
  /**
   * Refuse appends (fail closed) once durable events have waited this long for an anchor
   * (the store is unreachable). Default 10 s; 0 = never refuse.
   */
  maxLagMs?: number;
  now?: () => number;
  onError?: (err: Error) => void;
}

/**
 * Exports the durable head every intervalMs while it moves. The lag gate makes the window a
 * guarantee rather than a hope: when the store cannot be written for maxLagMs, the log refuses
 * new events, so no call is served whose record could be cut without a trace.
 */
export class AnchorExporter {
  private timer: NodeJS.Timeout | null = null;
  private lastSeq = -1;
  /** When the oldest durable, not yet anchored event became durable. */
  private pendingSince: number | null = null;
  private running: Promise<void> | null = null;
  private lastErr: Error | null = null;
  private readonly offDurable: () => void;
  private readonly offGate: () => void;
  private readonly now: () => number;
  readonly intervalMs: number;
  readonly maxLagMs: number;
  /** Anchors written, for tests and metrics. */
  written = 0;

  constructor(private readonly o: AnchorExporterOptions) {
    this.now = o.now ?? Date.now;
    this.intervalMs = o.intervalMs ?? 1000;
    this.maxLagMs = o.maxLagMs ?? 10_000;
    this.offDurable = o.log.onDurable((h) => {
      if (h.seq > this.lastSeq && this.pendingSince === null) this.pendingSince = this.now();
    });
    this.offGate = o.log.addGate(() => this.gate());
  }

  start(): this {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Why appends are refused, or null. */
  gate(): string | null {
    if (this.maxLagMs <= 0 || this.pendingSince === null) return null;
    const lag = this.now() - this.pendingSince;
    if (lag <= this.maxLagMs) return null;
    return `audit anchors to ${this.o.store.name} are ${Math.round(lag / 1000)} s behind (limit ${this.maxLagMs / 1000} s)${this.lastErr ? `: ${this.lastErr.message}` : ''}`;
  }

  lastError(): Error | null {
    return this.lastErr;
  }

  /** Writes an anchor for the current durable head if it moved; one write at a time. */
  flush(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.exportHead().finally(() => (this.running = null));
    return this.running;
  }

  private async exportHead(): Promise<void> {
    const head: DurableHead | null = this.o.log.durableHead();
    if (!head || head.seq <= this.lastSeq) return;
    const anchor: Anchor = {
      chain_id: head.chainId,
      seq: head.seq,
      hash: head.hash,
      anchored_at: new Date(this.now()).toISOString(),
      instance: this.o.instance,
      signed_seq: head.signedSeq,
      signing_key_id: head.signingKeyId,
    };
    const startedAt = this.now();
    try {
      await this.o.store.put(anchor);
    } catch (err) {
      this.lastErr = err as Error;
      this.o.onError?.(err as Error);
      throw err;
    }
    this.lastErr = null;
    this.written++;
    this.lastSeq = head.seq;
    const now = this.o.log.durableHead();
    // Events that became durable while this anchor was being written wait for the next one
    // (counted from the start of this write: an over-estimate of their wait, never an under-).
    this.pendingSince = now && now.seq > head.seq ? startedAt : null;
  }

  /** Final anchor (after the log sealed the chain), then stop. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      while (this.running) await this.running.catch(() => undefined);
      await this.flush();
    } finally {
      this.offDurable();
      this.offGate();
    }
  }
}
