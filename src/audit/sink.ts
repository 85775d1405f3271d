// Where chained audit events go: the port the audit writer owns and src/sinks/ implements
// (so sinks depend on audit's record format, never the reverse). The audit writer builds the
// chain and hands complete events to a sink; the sink only persists. A sink's write() resolves when the
// events are durable (fsync'd file, acknowledged Pub/Sub publish); a rejection makes the
// caller fail closed (the response is not released).
import type { AuditEvent } from './event.js';

export interface ChainHead {
  chain_id: string;
  seq: number;
  hash: string;
}

export interface AuditSink {
  readonly name: string;
  /** Persist events in order; resolve only once durable. */
  write(events: AuditEvent[]): Promise<void>;
  /** The last durable event of a chain, so a restarted gateway continues it. */
  recoverHead(chainId: string): Promise<ChainHead | null>;
  /** False when the sink cannot currently persist (drives /readyz). */
  isReady(): boolean;
  close(): Promise<void>;
}
