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
import { AUDIT_SCHEMA_VERSION, EVENT_FIELDS, ZERO_HASH, emptyEvent, invalidField, type AuditEvent, type AuditEventInput } from './event.js';
import type { AuditSink, ChainHead } from './sink.js';
import type { CheckpointSigner } from './checkpoint.js';
import { sealEvent } from './hash.js';
import { rememberCanonical } from './canonical-cache.js';
import { CHAIN_ID_PATTERN } from './files.js';
import { BqwardenError } from '../common/errors.js';

const SIGN_RETRY_MS = 1000;

export class AuditInputError extends BqwardenError {
  constructor(message: string) {
    super('audit_input_invalid', message);
    this.name = 'AuditInputError';
  }
}

/** The audit record could not be made durable: the caller must not release the response. */
export class AuditUnavailableError extends BqwardenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('audit_log_unavailable', message, options);
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
  /**
   * Group commit window: how long the first append of an idle log waits for others to join its
   * write (0 = flush on the next microtask; appends arriving while a write is in flight join the
   * next group either way). Measured in bench/audit.bench.ts.
   */
  commitWindowMs?: number;
  /**
   * How long events may stay unsigned while checkpoint signing fails (KMS unreachable) before
   * appends are refused (fail closed). Default 30 s.
   */
  maxUnsignedMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** The durable head after a flush: what anchors export. */
export interface DurableHead {
  chainId: string;
  seq: number;
  hash: string;
  /** Last checkpoint whose signature was written, and its key. */
  signedSeq: number | null;
  signingKeyId: string | null;
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
  private readonly maxUnsignedMs: number;
  private signedSeq: number | null = null;
  private signedKeyId: string | null = null;
  /** When the first event after the last written checkpoint became durable; null when all is signed. */
  private unsignedSince: number | null = null;
  private signingError: string | null = null;
  /** After a failed signature, the next attempt waits this long (KMS down must not slow every flush). */
  private signRetryAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly durableListeners = new Set<(head: DurableHead) => void>();
  private readonly gates = new Set<() => string | null>();

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
    this.maxUnsignedMs = opts.maxUnsignedMs ?? 30_000;
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
    return !this.closing && !this.closed && !this.needsRecovery && this.opts.sink.isReady() && this.gateReason() === null;
  }

  /** Why the log is not ready (last write or recovery error, a closed gate), for /readyz and logs. */
  lastFailure(): string | null {
    return this.gateReason() ?? this.lastError;
  }

  /** Called after every durable flush with the new head (anchors export it). Returns an unsubscribe. */
  onDurable(listener: (head: DurableHead) => void): () => void {
    this.durableListeners.add(listener);
    return () => this.durableListeners.delete(listener);
  }

  /**
   * A condition every append must pass (e.g. anchors not too far behind): a non-null reason
   * refuses the append with AuditUnavailableError, so the caller fails closed.
   */
  addGate(gate: () => string | null): () => void {
    this.gates.add(gate);
    return () => this.gates.delete(gate);
  }

  private gateReason(): string | null {
    if (this.unsignedSince !== null && this.signingError !== null && this.now() - this.unsignedSince > this.maxUnsignedMs) {
      return `audit checkpoints could not be signed for ${Math.round((this.now() - this.unsignedSince) / 1000)} s (limit ${this.maxUnsignedMs / 1000} s): ${this.signingError}`;
    }
    for (const g of this.gates) {
      const reason = g();
      if (reason) return reason;
    }
    return null;
  }

  /** The durable head and the last signed checkpoint. */
  durableHead(): DurableHead | null {
    if (this.nextSeq === 0) return null;
    return { chainId: this.chainId, seq: this.nextSeq - 1, hash: this.lastHash, signedSeq: this.signedSeq, signingKeyId: this.signedKeyId };
  }

  /** Adds an event to the chain; resolves with the complete event once the sink has made it durable. */
  append(input: AuditEventInput): Promise<AuditEvent> {
    if (this.closing || this.closed) return Promise.reject(new AuditUnavailableError('audit log is closed'));
    const refused = this.gateReason();
    if (refused) return Promise.reject(new AuditUnavailableError(refused));
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
    if (this.retryTimer) clearTimeout(this.retryTimer);
    while (this.flushing) await this.flushing;
    this.closed = true;
    await this.opts.sink.close();
    if (failure) throw failure;
  }

  /**
   * One object per event, filled from the input's defined fields over the empty event. The input
   * is the gateway's own code, so it is checked field by field (invalidField), not re-parsed:
   * an invalid event is still refused before it gets a seq.
   */
  private build(input: AuditEventInput): AuditEvent {
    if (input === null || typeof input !== 'object') throw new AuditInputError('audit input must be an object');
    if (input.event_type === 'checkpoint') throw new AuditInputError('checkpoint events are written by the audit log itself');
    const e = emptyEvent() as Record<string, unknown>;
    e.gateway_version = this.opts.gatewayVersion;
    e.gateway_instance = this.opts.instance;
    const src = input as Record<string, unknown>;
    for (const k of EVENT_FIELDS) {
      const v = src[k];
      if (v !== undefined) e[k] = v;
    }
    e.event_id = randomUUID();
    e.event_time = input.event_time ?? new Date(this.now()).toISOString();
    e.schema_version = AUDIT_SCHEMA_VERSION;
    e.chain_id = this.chainId;
    e.seq = 0;
    e.prev_hash = ZERO_HASH;
    e.hash = ZERO_HASH;
    e.signature = null;
    e.signing_key_id = null;
    const bad = invalidField(e);
    // The field and the type it holds, never its value: it may be client text not yet scanned.
    if (bad) throw new AuditInputError(`invalid audit event: ${bad} (${e[bad] === null ? 'null' : Array.isArray(e[bad]) ? 'array' : typeof e[bad]}) does not match the audit schema`);
    return e as AuditEvent;
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

  private scheduleSignRetry(): void {
    this.signRetryAt = this.now() + SIGN_RETRY_MS;
    if (this.retryTimer || this.closing || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closing || this.closed || this.checkpointQueued) return;
      this.enqueue('checkpoint', null).catch(() => undefined);
    }, SIGN_RETRY_MS);
    this.retryTimer.unref();
  }

  private window(): Promise<void> {
    const ms = this.opts.commitWindowMs ?? 0;
    if (ms <= 0 || this.closing) return Promise.resolve();
    return new Promise((r) => setTimeout(r, ms));
  }

  private onTimer(): void {
    if (this.closing || this.closed || this.checkpointQueued) return;
    if (this.sinceCheckpoint === 0 && !this.queue.some((p) => p.kind === 'event')) return;
    this.enqueue('checkpoint', null).catch(() => undefined); // a failed checkpoint write already marks the log not ready
  }

  private async flushLoop(): Promise<void> {
    // Let appends made in the same tick (or within the commit window) join the first group.
    await Promise.resolve();
    await this.window();
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
    let signed: { seq: number; keyId: string } | null = null;
    let signFailure: string | null = null;
    const events: AuditEvent[] = [];
    const seal = (e: AuditEvent) => {
      rememberCanonical(e, sealEvent(e));
      prev = e.hash;
      events.push(e);
    };
    // A checkpoint is placed at the next seq and signed there; if signing fails (KMS down) it is
    // left out (no seq taken) and events go on unsigned until maxUnsignedMs, then appends stop.
    const checkpoint = async (e: AuditEvent): Promise<boolean> => {
      e.seq = seq;
      e.prev_hash = prev;
      try {
        e.signature = await this.opts.signer.sign(this.chainId, e.seq, e.prev_hash);
      } catch (err) {
        signFailure = `checkpoint signing with ${this.opts.signer.description ?? 'the signing key'} failed: ${(err as Error).message}`;
        this.scheduleSignRetry();
        return false;
      }
      e.signing_key_id = this.opts.signer.keyId;
      seq++;
      since = 0;
      signed = { seq: e.seq, keyId: e.signing_key_id };
      seal(e);
      return true;
    };
    for (const p of group) {
      if (p.kind === 'checkpoint') {
        p.event = this.checkpointEvent();
        if (!(await checkpoint(p.event))) p.event = null;
      } else {
        const e = p.event!;
        e.seq = seq++;
        e.prev_hash = prev;
        since++;
        seal(e);
        // Count-based checkpoints ride in the same group, right after the Nth event.
        if (since >= this.every.events && !signFailure && this.now() >= this.signRetryAt) await checkpoint(this.checkpointEvent());
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
    const now = this.now();
    const wrote = signed as { seq: number; keyId: string } | null;
    if (wrote) {
      this.signedSeq = wrote.seq;
      this.signedKeyId = wrote.keyId;
    }
    if (since === 0) this.unsignedSince = null;
    else if (this.unsignedSince === null) this.unsignedSince = now;
    if (signFailure) this.signingError = signFailure;
    else if (wrote) this.signingError = null;
    for (const p of group) {
      if (p.kind === 'checkpoint') this.checkpointQueued = false;
      if (p.event) p.resolve(p.event);
      else p.reject(new AuditUnavailableError(signFailure ?? 'checkpoint not written'));
    }
    if (events.length && this.durableListeners.size) {
      const head = this.durableHead()!;
      for (const l of this.durableListeners) l(head);
    }
  }
}
