// The audit writer: turns AuditEventInputs into a hash chain and hands them to a sink.
//
// Ordering: append() validates the input and queues it; seq, prev_hash and hash are assigned
// only when a group is flushed, in queue (= call) order. Because chain fields are given at
// flush time, a failed write never leaves a hole: events that were not written never got a
// seq that later events build on.
//
// Group commit: while one sink.write (write + fsync) is in flight, new appends queue up and
// the next flush takes all of them (up to maxBatch) in one write. Every append in a group
// resolves only after the sink reports that group durable, and rejects if it fails, so the
// caller fails closed (no response released without its audit record).
//
// After a failed write the log is not ready until it re-learns the durable head from the sink
// (recoverHead): the next flush tries that first, so the log heals when the sink does, and
// the chain continues from the last event that is really on disk (a partly written group's
// complete lines stay in the chain; a torn line is quarantined by the sink).
import { randomUUID } from 'node:crypto';
import { AUDIT_SCHEMA_VERSION, AuditEventSchema, ZERO_HASH, emptyEvent, type AuditEvent, type AuditEventInput } from './event.js';
import type { AuditSink, ChainHead } from '../sinks/types.js';
import type { CheckpointSigner } from './checkpoint.js';
import { sealEvent } from './hash.js';
import { rememberCanonical } from './canonical-cache.js';
import { CHAIN_ID_PATTERN } from './files.js';

export class AuditInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditInputError';
  }
}

/** The audit record could not be made durable: the caller must not release the response. */
export class AuditUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditUnavailableError';
  }
}

export interface AuditLogOptions {
  sink: AuditSink;
  signer: CheckpointSigner;
  /** Defaults to the sink's own chain id (JsonlSink keeps it in <audit>/CHAIN_ID), else a new UUID. */
  chainId?: string;
  gatewayVersion: string;
  instance: string;
  /** Checkpoint after this many events or this many ms with new events, whichever first. */
  checkpointEvery?: { events: number; ms: number };
  /** Largest group handed to one sink.write. 1 = one fsync per event (the benchmark baseline). */
  maxBatch?: number;
  /** Clock, for tests. */
  now?: () => number;
}

interface Pending {
  kind: 'event' | 'checkpoint';
  event: AuditEvent | null;
  resolve: (e: AuditEvent) => void;
  reject: (err: Error) => void;
}

export class AuditLog {
  private nextSeq: number;
  private lastHash: string;
  private sinceCheckpoint = 0;
  private checkpointQueued = false;
  private lastQueuedType: string | null = null;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private needsRecovery = false;
  private lastError: string | null = null;
  private closing = false;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly maxBatch: number;
  private readonly every: { events: number; ms: number };
  private readonly now: () => number;

  private constructor(
    private readonly opts: AuditLogOptions,
    readonly chainId: string,
    head: ChainHead | null,
  ) {
    this.nextSeq = head ? head.seq + 1 : 0;
    this.lastHash = head ? head.hash : ZERO_HASH;
    this.maxBatch = Math.max(1, opts.maxBatch ?? 512);
    this.every = opts.checkpointEvery ?? { events: 1000, ms: 60_000 };
    this.now = opts.now ?? Date.now;
  }

  /** Recovers the chain head from the sink (a restart continues the chain) and starts the checkpoint timer. */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    const sinkChain = (opts.sink as { chainId?: unknown }).chainId;
    const chainId = opts.chainId ?? (typeof sinkChain === 'string' ? sinkChain : randomUUID());
    if (!CHAIN_ID_PATTERN.test(chainId)) throw new AuditInputError(`chain id ${JSON.stringify(chainId)} must match ${CHAIN_ID_PATTERN}`);
    const head = await opts.sink.recoverHead(chainId);
    const log = new AuditLog(opts, chainId, head);
    log.timer = setInterval(() => log.onTimer(), log.every.ms);
    log.timer.unref();
    return log;
  }

  /** The next event's seq and the hash it will link to. */
  head(): { chainId: string; nextSeq: number; lastHash: string } {
    return { chainId: this.chainId, nextSeq: this.nextSeq, lastHash: this.lastHash };
  }

  isReady(): boolean {
    return !this.closing && !this.closed && !this.needsRecovery && this.opts.sink.isReady();
  }

  /** Why the log is not ready (last write or recovery error), for /readyz and logs. */
  lastFailure(): string | null {
    return this.lastError;
  }

  /** Adds an event to the chain; resolves with the complete event once the sink has made it durable. */
  append(input: AuditEventInput): Promise<AuditEvent> {
    if (this.closing || this.closed) return Promise.reject(new AuditUnavailableError('audit log is closed'));
    let event: AuditEvent;
    try {
      event = this.build(input);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue('event', event);
  }

  /**
   * Seals the chain: a gateway_stop event (unless the caller's last append was one; the given
   * fields go into it) and a final signed checkpoint right after it, then closes the sink. The
   * checkpoint's signature covers the gateway_stop, which is how the verifier tells a cleanly
   * sealed chain from one whose tail was cut off.
   */
  async close(stop: Partial<Omit<AuditEventInput, 'event_type'>> = {}): Promise<void> {
    if (this.closing || this.closed) return;
    let failure: unknown = null;
    try {
      const parts: Promise<AuditEvent>[] = [];
      if (this.lastQueuedType !== 'gateway_stop') parts.push(this.enqueue('event', this.build({ ...stop, event_type: 'gateway_stop' })));
      parts.push(this.enqueue('checkpoint', null));
      const done = Promise.all(parts);
      this.closing = true;
      await done;
    } catch (err) {
      failure = err;
    }
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    while (this.flushing) await this.flushing;
    this.closed = true;
    await this.opts.sink.close();
    if (failure) throw failure;
  }

  private build(input: AuditEventInput): AuditEvent {
    if (input === null || typeof input !== 'object') throw new AuditInputError('audit input must be an object');
    if (input.event_type === 'checkpoint') throw new AuditInputError('checkpoint events are written by the audit log itself');
    const candidate = {
      ...emptyEvent(),
      gateway_version: this.opts.gatewayVersion,
      gateway_instance: this.opts.instance,
      ...input,
      event_id: randomUUID(),
      event_time: input.event_time ?? new Date(this.now()).toISOString(),
      schema_version: AUDIT_SCHEMA_VERSION,
      chain_id: this.chainId,
      seq: 0,
      prev_hash: ZERO_HASH,
      hash: ZERO_HASH,
      signature: null,
      signing_key_id: null,
    };
    const parsed = AuditEventSchema.safeParse(candidate);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new AuditInputError(`invalid audit event: ${i ? `${i.path.join('.')}: ${i.message}` : 'schema check failed'}`);
    }
    return parsed.data;
  }

  private checkpointEvent(): AuditEvent {
    return {
      ...emptyEvent(),
      gateway_version: this.opts.gatewayVersion,
      gateway_instance: this.opts.instance,
      event_id: randomUUID(),
      event_time: new Date(this.now()).toISOString(),
      event_type: 'checkpoint',
      chain_id: this.chainId,
      seq: 0,
      prev_hash: ZERO_HASH,
      hash: ZERO_HASH,
    };
  }

  private enqueue(kind: Pending['kind'], event: AuditEvent | null): Promise<AuditEvent> {
    return new Promise<AuditEvent>((resolve, reject) => {
      this.queue.push({ kind, event, resolve, reject });
      if (event) this.lastQueuedType = event.event_type;
      if (kind === 'checkpoint') this.checkpointQueued = true;
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private onTimer(): void {
    if (this.closing || this.closed || this.checkpointQueued) return;
    if (this.sinceCheckpoint === 0 && !this.queue.some((p) => p.kind === 'event')) return;
    this.enqueue('checkpoint', null).catch(() => undefined); // a failed checkpoint write already marks the log not ready
  }

  private async flushLoop(): Promise<void> {
    // Let appends made in the same tick join the first group.
    await Promise.resolve();
    try {
      while (this.queue.length) await this.flushGroup(this.queue.splice(0, this.maxBatch));
    } finally {
      this.flushing = null;
    }
  }

  private async recover(): Promise<void> {
    const recovered = await this.opts.sink.recoverHead(this.chainId);
    if (recovered && recovered.seq + 1 < this.nextSeq) {
      throw new AuditUnavailableError(`audit sink ${this.opts.sink.name} reports head seq ${recovered.seq} but seq ${this.nextSeq - 1} was acknowledged; refusing to fork the chain`);
    }
    // A sink that cannot tell (null) keeps our last acknowledged head.
    if (recovered) {
      this.nextSeq = recovered.seq + 1;
      this.lastHash = recovered.hash;
    }
    this.needsRecovery = false;
  }

  private async flushGroup(group: Pending[]): Promise<void> {
    if (this.needsRecovery) {
      try {
        await this.recover();
      } catch (err) {
        this.lastError = `audit recovery failed: ${(err as Error).message}`;
        for (const p of group) {
          if (p.kind === 'checkpoint') this.checkpointQueued = false;
          p.reject(new AuditUnavailableError(this.lastError, { cause: err }));
        }
        return;
      }
    }
    let seq = this.nextSeq;
    let prev = this.lastHash;
    let since = this.sinceCheckpoint;
    const events: AuditEvent[] = [];
    const owners: (Pending | null)[] = [];
    const add = (e: AuditEvent, owner: Pending | null) => {
      e.seq = seq++;
      e.prev_hash = prev;
      if (e.event_type === 'checkpoint') {
        e.signature = this.opts.signer.sign(this.chainId, e.seq, e.prev_hash);
        e.signing_key_id = this.opts.signer.keyId;
        since = 0;
      } else {
        since++;
      }
      rememberCanonical(e, sealEvent(e));
      prev = e.hash;
      events.push(e);
      owners.push(owner);
    };
    for (const p of group) {
      if (p.kind === 'checkpoint') {
        p.event = this.checkpointEvent();
        add(p.event, p);
      } else {
        add(p.event!, p);
        // Count-based checkpoints ride in the same group, right after the Nth event.
        if (since >= this.every.events) add(this.checkpointEvent(), null);
      }
    }
    try {
      await this.opts.sink.write(events);
    } catch (err) {
      this.needsRecovery = true;
      this.lastError = `audit write to ${this.opts.sink.name} failed: ${(err as Error).message}`;
      for (const p of group) {
        if (p.kind === 'checkpoint') this.checkpointQueued = false;
        p.reject(new AuditUnavailableError(this.lastError, { cause: err }));
      }
      return;
    }
    this.nextSeq = seq;
    this.lastHash = prev;
    this.sinceCheckpoint = since;
    this.lastError = null;
    for (const p of group) {
      if (p.kind === 'checkpoint') this.checkpointQueued = false;
      p.resolve(p.event!);
    }
  }
}
