// Optional durable local spool in front of another sink (Pub/Sub). write() resolves once the
// events are appended and fsync'd to a local file; a single background drainer forwards them
// in file order (so per-chain order is kept) and records how far it got.
//
// Trade-off, chosen explicitly in config (gcp.spool.enabled): a Pub/Sub outage no longer
// denies requests, but until drained an event exists only on this instance's disk, not in
// BigQuery or the archive. On Cloud Run that disk is memory and dies with the instance, so the
// spool suits deployments with a persistent volume. Delivery downstream is at least once: a
// crash between a publish and the offset update re-sends events (same event_id; the BigQuery
// dedup view collapses them).
import { open, mkdir, readFile, writeFile, rename, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidField, type AuditEvent } from '../audit/event.js';
import { canonicalLine } from '../audit/canonical-cache.js';
import type { AuditSink, ChainHead } from '../audit/sink.js';
import { BqwardenError } from '../common/errors.js';

export class SpoolError extends BqwardenError {
  constructor(
    readonly reason: 'full' | 'io' | 'invalid_event' | 'closed',
    message: string,
  ) {
    super('spool_failed', message);
    this.name = 'SpoolError';
  }
}

export interface SpoolOptions {
  dir: string;
  /** Undrained bytes above which writes are refused (fail closed). */
  maxBytes?: number;
  drainIntervalMs?: number;
  /** Events per forwarded batch. */
  drainBatch?: number;
}

const LOG = 'spool.jsonl';
const OFFSET = 'spool.offset';

export class SpoolSink implements AuditSink {
  readonly name: string;
  /** The wrapped sink's chain id, so the audit log adopts it through the spool too. */
  readonly chainId: string | undefined;
  private fh: FileHandle | null = null;
  private size = 0;
  private offset = 0;
  private readonly heads = new Map<string, ChainHead>();
  private appendChain: Promise<void> = Promise.resolve();
  private draining: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private ioFailed: Error | null = null;
  private readonly init: Promise<void>;
  private readonly maxBytes: number;
  private readonly intervalMs: number;
  private readonly batch: number;
  /** Last drain error, for /readyz details and logs (the spool stays ready while it has room). */
  lastDrainError: Error | null = null;

  constructor(
    private readonly inner: AuditSink,
    private readonly opts: SpoolOptions,
  ) {
    this.name = `spool+${inner.name}`;
    const innerChain = (inner as { chainId?: unknown }).chainId;
    this.chainId = typeof innerChain === 'string' ? innerChain : undefined;
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
    this.intervalMs = opts.drainIntervalMs ?? 500;
    this.batch = opts.drainBatch ?? 100;
    this.init = this.openFiles();
    this.init.catch((e: Error) => (this.ioFailed = e));
  }

  private async openFiles(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    const logPath = join(this.opts.dir, LOG);
    this.offset = Number((await readFile(join(this.opts.dir, OFFSET), 'utf8').catch(() => '0')).trim()) || 0;
    const existing = await readFile(logPath).catch(() => Buffer.alloc(0));
    // A torn last line was never acknowledged to anyone: cut it off.
    const lastNl = existing.lastIndexOf(0x0a);
    const whole = lastNl + 1;
    this.fh = await open(logPath, 'a+');
    if (whole !== existing.length) await this.fh.truncate(whole);
    this.size = whole;
    if (this.offset > this.size) this.offset = this.size;
    for (const line of existing.subarray(0, whole).toString('utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as AuditEvent;
      this.noteHead(e);
    }
    this.timer = setInterval(() => void this.drain(), this.intervalMs);
    this.timer.unref();
  }

  private noteHead(e: AuditEvent): void {
    const h = this.heads.get(e.chain_id);
    if (!h || e.seq >= h.seq) this.heads.set(e.chain_id, { chain_id: e.chain_id, seq: e.seq, hash: e.hash });
  }

  /** Bytes spooled but not yet forwarded. */
  backlogBytes(): number {
    return this.size - this.offset;
  }

  isReady(): boolean {
    return !this.closed && !this.ioFailed && this.backlogBytes() < this.maxBytes;
  }

  async recoverHead(chainId: string): Promise<ChainHead | null> {
    await this.init;
    return this.heads.get(chainId) ?? (await this.inner.recoverHead(chainId));
  }

  async write(events: AuditEvent[]): Promise<void> {
    if (this.closed) throw new SpoolError('closed', 'audit spool: closed, event not written');
    await this.init;
    if (this.ioFailed) throw new SpoolError('io', `audit spool: unusable after an I/O error: ${this.ioFailed.message}`);
    const lines: string[] = [];
    for (const e of events) {
      const bad = invalidField(e as unknown as Record<string, unknown>);
      if (bad) throw new SpoolError('invalid_event', `audit spool: event does not match the audit schema (${bad})`);
      lines.push(canonicalLine(e) + '\n');
    }
    const buf = Buffer.from(lines.join(''));
    const run = this.appendChain.then(async () => {
      if (this.backlogBytes() + buf.length > this.maxBytes) {
        throw new SpoolError('full', `audit spool: ${this.backlogBytes()} bytes undrained, limit ${this.maxBytes}; refusing the write (Pub/Sub unreachable?)`);
      }
      try {
        await this.fh!.write(buf, 0, buf.length, null);
        await this.fh!.datasync();
      } catch (e) {
        this.ioFailed = e as Error;
        throw new SpoolError('io', `audit spool: append/fsync failed: ${(e as Error).message}`);
      }
      this.size += buf.length;
      for (const e of events) this.noteHead(e);
    });
    this.appendChain = run.catch(() => undefined);
    await run;
    void this.drain();
  }

  /** Forward everything spooled so far; resolves when the spool is empty or a forward failed. */
  drain(): Promise<void> {
    if (this.draining) return this.draining;
    this.draining = this.drainLoop().finally(() => (this.draining = null));
    return this.draining;
  }

  private async drainLoop(): Promise<void> {
    await this.init;
    while (this.offset < this.size) {
      let len = Math.min(this.size - this.offset, 4 * 1024 * 1024);
      let buf = Buffer.alloc(len);
      await this.fh!.read(buf, 0, len, this.offset);
      let lastNl = buf.lastIndexOf(0x0a);
      if (lastNl < 0) {
        // One event larger than the read window: read up to the end (bounded by maxBytes).
        len = this.size - this.offset;
        buf = Buffer.alloc(len);
        await this.fh!.read(buf, 0, len, this.offset);
        lastNl = buf.lastIndexOf(0x0a);
        if (lastNl < 0) return;
      }
      const lines = buf
        .subarray(0, lastNl + 1)
        .toString('utf8')
        .split('\n')
        .filter(Boolean);
      const chunk = lines.slice(0, this.batch);
      const bytes = Buffer.byteLength(chunk.join('\n') + '\n');
      try {
        await this.inner.write(chunk.map((l) => JSON.parse(l) as AuditEvent));
        this.lastDrainError = null;
      } catch (e) {
        this.lastDrainError = e as Error;
        return;
      }
      this.offset += bytes;
      await this.saveOffset();
    }
    await this.compact();
  }

  private async saveOffset(): Promise<void> {
    const tmp = join(this.opts.dir, OFFSET + '.tmp');
    await writeFile(tmp, String(this.offset));
    const h = await open(tmp, 'r');
    await h.sync();
    await h.close();
    await rename(tmp, join(this.opts.dir, OFFSET));
  }

  /** Once everything is forwarded, start the file over so it does not grow forever. */
  private async compact(): Promise<void> {
    await (this.appendChain = this.appendChain
      .then(async () => {
        if (this.offset !== this.size || this.size === 0) return;
        await this.fh!.truncate(0);
        await this.fh!.datasync();
        this.size = 0;
        this.offset = 0;
        await this.saveOffset();
      })
      .catch(() => undefined));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.init.catch(() => undefined);
    await this.appendChain;
    await this.drain().catch(() => undefined);
    await this.fh?.close();
    await this.inner.close();
  }

  /** Size of the spool file on disk (tests, metrics). */
  async fileBytes(): Promise<number> {
    return (await stat(join(this.opts.dir, LOG)).catch(() => ({ size: 0 }))).size;
  }
}
