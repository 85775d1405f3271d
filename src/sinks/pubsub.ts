// Audit sink that publishes every event to a Pub/Sub topic, from where a BigQuery subscription
// loads the audit table and a Cloud Storage subscription feeds the write-once archive.
//
// Durability contract (src/audit/sink.ts): write() resolves only once Pub/Sub acknowledged
// every event of the call. Ordering: the ordering key is the chain id, and writes of one chain
// go out as a group commit (one flush in flight per chain; writes that arrive meanwhile join
// the next flush), so a retry can never overtake a later event. Failure: after the client's
// own retries and our bounded re-attempts the write rejects with PubSubSinkError (the pipeline
// then denies the request) and isReady() turns false until a publish succeeds again.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { PubSub, type Topic, type ClientConfig } from '@google-cloud/pubsub';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { invalidField, type AuditEvent } from '../audit/event.js';
import { canonicalLine } from '../audit/canonical-cache.js';
import type { AuditSink, ChainHead } from '../audit/sink.js';
import type { PubSubBatching, PubSubRetry, SpoolConfig } from '../gcp/config.js';
import { SpoolSink } from './spool.js';
import { BqwardenError } from '../common/errors.js';

export class PubSubSinkError extends BqwardenError {
  constructor(
    /** Stable reason for audit/logs: invalid_event, publish_failed, publish_rejected, closed. */
    readonly reason: 'invalid_event' | 'publish_failed' | 'publish_rejected' | 'closed',
    message: string,
    readonly grpcCode?: number,
  ) {
    super('pubsub_sink_failed', message);
    this.name = 'PubSubSinkError';
  }
}

export interface PubSubSinkOptions {
  /** Short topic name or projects/<p>/topics/<t>. */
  topic: string;
  project?: string;
  /** host:port of an emulator / test server (plain-text gRPC). */
  endpoint?: string;
  /** Same as endpoint, as named in the gateway config's gcp section. */
  pubsubEndpoint?: string;
  batching?: Partial<PubSubBatching>;
  retry?: Partial<PubSubRetry>;
  /** Inject a client (tests, shared client); the sink then does not close it. */
  client?: PubSub;
  /** Extra ClientConfig for the PubSub constructor (credentials, …). */
  clientConfig?: ClientConfig;
  /** Called on each failed attempt, for logs/metrics. */
  onAttemptFailed?: (info: { chainId: string; attempt: number; error: Error }) => void;
  /** Chain this process writes; default: a new one per process, see instanceChainId(). */
  chainId?: string;
}

/**
 * A new chain id per gateway process, naming where and when it started:
 * `<K_REVISION or hostname>.<UTC start, to the second>.<8 hex>`. Per-instance chains are the
 * design on Pub/Sub (docs/gcp.md, "Chain continuity"): Cloud Run instances come and go and run
 * side by side, one chain cannot have two writers, and the head cannot be read back reliably
 * (BigQuery lags Pub/Sub), so every process starts its own chain at seq 0 and seals it with
 * gateway_stop + a signed checkpoint when it shuts down.
 */
export function instanceChainId(now = new Date(), host = process.env.K_REVISION ?? hostname()): string {
  const where =
    host
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 80) || 'gateway';
  const when = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${where}.${when}.${randomBytes(4).toString('hex')}`;
}

// Codes worth another attempt of our own after the client's retries gave up. Anything else
// (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED …) will not heal by retrying.
const RETRYABLE = new Set<number>([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.ABORTED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
  GrpcStatus.CANCELLED,
]);

const DEFAULT_BATCHING: PubSubBatching = { maxMessages: 10, maxMilliseconds: 5, maxBytes: 1024 * 1024 };
const DEFAULT_RETRY: PubSubRetry = {
  rpcTimeoutMs: 5_000,
  totalTimeoutMs: 15_000,
  initialBackoffMs: 50,
  maxBackoffMs: 2_000,
  maxAttempts: 3,
};

interface Pending {
  events: AuditEvent[];
  resolve: () => void;
  reject: (e: Error) => void;
}

interface ChainState {
  queue: Pending[];
  running: boolean;
  head: ChainHead | null;
}

function errorCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}

export class PubSubAuditSink implements AuditSink {
  readonly name = 'pubsub';
  /** The audit log adopts this chain id (AuditLog.open: options, else the sink's, else random). */
  readonly chainId: string;
  private readonly client: PubSub;
  private readonly ownsClient: boolean;
  private readonly topic: Topic;
  private readonly retry: PubSubRetry;
  private readonly chains = new Map<string, ChainState>();
  private ready = true;
  private closed = false;
  private lastError: Error | null = null;
  private readonly inflight = new Set<Promise<void>>();
  private readonly batching: PubSubBatching;

  constructor(private readonly opts: PubSubSinkOptions) {
    this.chainId = opts.chainId ?? instanceChainId();
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    const batching = { ...DEFAULT_BATCHING, ...opts.batching };
    this.batching = batching;
    this.ownsClient = !opts.client;
    const endpoint = opts.endpoint ?? opts.pubsubEndpoint;
    this.client =
      opts.client ??
      new PubSub({
        ...opts.clientConfig,
        ...(opts.project ? { projectId: opts.project } : {}),
        ...(endpoint ? { apiEndpoint: endpoint, emulatorMode: true } : {}),
      });
    this.topic = this.client.topic(opts.topic, {
      messageOrdering: true,
      batching: { maxMessages: batching.maxMessages, maxMilliseconds: batching.maxMilliseconds, maxBytes: batching.maxBytes },
      gaxOpts: {
        retry: {
          retryCodes: [...RETRYABLE],
          backoffSettings: {
            initialRetryDelayMillis: this.retry.initialBackoffMs,
            retryDelayMultiplier: 2,
            maxRetryDelayMillis: this.retry.maxBackoffMs,
            initialRpcTimeoutMillis: this.retry.rpcTimeoutMs,
            rpcTimeoutMultiplier: 1,
            maxRpcTimeoutMillis: this.retry.rpcTimeoutMs,
            totalTimeoutMillis: this.retry.totalTimeoutMs,
          },
        },
      },
    });
  }

  isReady(): boolean {
    return this.ready && !this.closed;
  }

  /** The last error that made the sink unready (for /readyz details). */
  get lastFailure(): Error | null {
    return this.lastError;
  }

  async recoverHead(chainId: string): Promise<ChainHead | null> {
    // Pub/Sub cannot be read back, and the BigQuery copy lags by seconds, so a head read from
    // there could fork the chain. Only heads acknowledged by this process are known (what the
    // audit log needs to heal after a failed publish); a new process starts a new chain.
    return this.chains.get(chainId)?.head ?? null;
  }

  write(events: AuditEvent[]): Promise<void> {
    if (this.closed) return Promise.reject(new PubSubSinkError('closed', 'audit sink pubsub: closed, event not written'));
    if (events.length === 0) return Promise.resolve();
    // The audit log hands over events it built and checked; a field-table check (no copy, no
    // zod parse) still keeps a direct caller's broken event from being published.
    const valid: AuditEvent[] = [];
    for (const e of events) {
      const bad = e && typeof e === 'object' ? invalidField(e as unknown as Record<string, unknown>) : '(root)';
      if (bad) {
        return Promise.reject(
          new PubSubSinkError('invalid_event', `audit sink pubsub: event ${String((e as { event_id?: unknown })?.event_id)} does not match the audit schema (${bad}: invalid value)`),
        );
      }
      valid.push(e);
    }
    const byChain = new Map<string, AuditEvent[]>();
    for (const e of valid) {
      const list = byChain.get(e.chain_id) ?? [];
      list.push(e);
      byChain.set(e.chain_id, list);
    }
    const parts = [...byChain].map(
      ([chainId, list]) =>
        new Promise<void>((resolve, reject) => {
          const state = this.chainState(chainId);
          state.queue.push({ events: list, resolve, reject });
          this.kick(chainId, state);
        }),
    );
    return Promise.all(parts).then(() => undefined);
  }

  private chainState(chainId: string): ChainState {
    let s = this.chains.get(chainId);
    if (!s) {
      s = { queue: [], running: false, head: null };
      this.chains.set(chainId, s);
    }
    return s;
  }

  private kick(chainId: string, state: ChainState): void {
    if (state.running || state.queue.length === 0) return;
    state.running = true;
    const batch = state.queue.splice(0);
    const p = this.flushChain(chainId, state, batch).finally(() => {
      this.inflight.delete(p);
      state.running = false;
      this.kick(chainId, state);
    });
    this.inflight.add(p);
  }

  private async flushChain(chainId: string, state: ChainState, batch: Pending[]): Promise<void> {
    const events = batch.flatMap((b) => b.events);
    const acked = new Set<AuditEvent>();
    let lastErr: unknown = null;
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
      const remaining = events.filter((e) => !acked.has(e));
      const pending = remaining.map((e) => this.publishOne(e).then(() => e));
      // Our per-chain group commit already formed the batch; waiting for the client's batch
      // timer would only add latency on the request path, so send it now. But only when it is
      // one client batch: the client's flush() sends every queued batch of an ordering key at
      // once, even while an earlier one is in flight, and a later batch could then land first
      // (seen on Node 24). Larger flushes go out batch after batch on the client's own timer.
      if (this.fitsOneBatch(remaining)) this.topic.flush().catch(() => undefined);
      const results = await Promise.allSettled(pending);
      let failed = false;
      for (const r of results) {
        if (r.status === 'fulfilled') acked.add(r.value);
        else if (!failed) {
          failed = true;
          lastErr = r.reason;
        }
      }
      if (!failed) break;
      // A failed publish pauses the ordering key; nothing more goes out for this chain until
      // it is resumed, which is what keeps a retry from landing after a later event.
      this.topic.resumePublishing(chainId);
      const code = errorCode(lastErr);
      this.opts.onAttemptFailed?.({ chainId, attempt, error: lastErr as Error });
      if (code !== undefined && !RETRYABLE.has(code)) break;
      if (attempt < this.retry.maxAttempts) {
        await new Promise((r) => setTimeout(r, Math.min(this.retry.maxBackoffMs, this.retry.initialBackoffMs * 2 ** attempt)));
      }
    }
    let anyFailed = false;
    for (const b of batch) {
      if (b.events.every((e) => acked.has(e))) {
        b.resolve();
      } else {
        anyFailed = true;
        b.reject(this.failure(chainId, b.events, lastErr));
      }
    }
    const ackedEvents = events.filter((e) => acked.has(e));
    const last = ackedEvents.at(-1);
    if (last && (!state.head || last.seq >= state.head.seq)) state.head = { chain_id: chainId, seq: last.seq, hash: last.hash };
    if (anyFailed) {
      this.ready = false;
      this.lastError = this.failure(chainId, events, lastErr);
    } else {
      this.ready = true;
      this.lastError = null;
    }
  }

  private fitsOneBatch(events: AuditEvent[]): boolean {
    if (events.length > this.batching.maxMessages) return false;
    // A rough size of what the client counts (data plus attributes); a margin keeps it on the safe side.
    const bytes = events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 256, 0);
    return bytes <= this.batching.maxBytes / 2;
  }

  private failure(chainId: string, events: AuditEvent[], err: unknown): PubSubSinkError {
    const code = errorCode(err);
    const retryable = code === undefined || RETRYABLE.has(code);
    const detail = err instanceof Error ? err.message : String(err);
    const seqs = events.map((e) => e.seq);
    return new PubSubSinkError(
      retryable ? 'publish_failed' : 'publish_rejected',
      `audit sink pubsub: publish to ${this.topic.name} not acknowledged for chain ${chainId} seq ${Math.min(...seqs)}..${Math.max(...seqs)} ` +
        `after ${retryable ? this.retry.maxAttempts + ' attempts' : 'a non-retryable error'}: ${detail}`,
      code,
    );
  }

  private publishOne(e: AuditEvent): Promise<string> {
    return this.topic.publishMessage({
      // The canonical text the log already serialised to hash the event (no second stringify).
      data: Buffer.from(canonicalLine(e)),
      orderingKey: e.chain_id,
      // Routing facts only (no actor, no SQL): attributes are copied to the archive and the
      // table's metadata column and must not carry sensitive data.
      attributes: {
        event_id: e.event_id,
        event_type: e.event_type,
        chain_id: e.chain_id,
        seq: String(e.seq),
        schema_version: e.schema_version,
      },
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await this.topic.flush().catch(() => undefined);
    if (this.ownsClient) await this.client.close();
  }
}

/**
 * Accepts the gateway config's `gcp` section as is. With `spool.enabled` the returned sink
 * acknowledges once the event is fsync'd locally and drains to Pub/Sub in the background.
 */
export function createPubSubSink(opts: PubSubSinkOptions & { spool?: Partial<SpoolConfig> }): AuditSink {
  const pubsub = new PubSubAuditSink(opts);
  if (!opts.spool?.enabled) return pubsub;
  return new SpoolSink(pubsub, { dir: opts.spool.dir ?? 'data/spool', maxBytes: opts.spool.maxBytes, drainIntervalMs: opts.spool.drainIntervalMs });
}
