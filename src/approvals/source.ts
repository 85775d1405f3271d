// Approval event sources. The store source reads the approval events of an audit store once at
// start; with the local JSONL store the service then follows its own appends (the events the
// audit log hands back), so a single gateway needs nothing else. A shared store (the BigQuery
// audit dataset, src/gcp/approval-source.ts) also delivers events other instances wrote,
// through subscribe().
import type { AuditEvent } from '../audit/event.js';
import { AuditReadError, type AuditStore } from '../audit/store.js';
import type { ApprovalEventSource } from './types.js';
import { BqwardenError } from '../common/errors.js';

export class ApprovalSourceError extends BqwardenError {
  constructor(message: string) {
    super('approval_source_unavailable', message);
    this.name = 'ApprovalSourceError';
  }
}

export interface StoreSourceOptions {
  /** Only events at or after this time (requests older than the longest expiry are all closed). */
  from?: Date;
}

export function storeApprovalSource(store: AuditStore, opts: StoreSourceOptions = {}): ApprovalEventSource {
  return {
    name: store.name,
    async *load() {
      try {
        yield* store.approvalEvents(opts.from);
      } catch (err) {
        // A damaged record means approval state cannot be derived from the store (fail closed, name the record).
        if (err instanceof AuditReadError && err.issue) throw new ApprovalSourceError(`approval state cannot be rebuilt: ${err.message}`);
        throw err;
      }
    },
  };
}

/** In-memory source: tests, and a base for shared stores (push events with publish()). */
export function memoryApprovalSource(initial: AuditEvent[] = []): ApprovalEventSource & { publish(e: AuditEvent): void } {
  const listeners = new Set<(e: AuditEvent) => void>();
  const events = [...initial];
  return {
    name: 'memory',
    async *load() {
      yield* events;
    },
    subscribe(onEvent) {
      listeners.add(onEvent);
      return () => listeners.delete(onEvent);
    },
    publish(e) {
      events.push(e);
      for (const l of listeners) l(e);
    },
  };
}
