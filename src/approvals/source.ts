// Approval event sources. The embedded one reads the local JSONL audit store once at start;
// afterwards the service follows its own appends (the events the audit log hands back), so a
// single gateway needs nothing else. A shared source (the BigQuery audit dataset) would also
// deliver events other instances wrote, through subscribe().
import type { AuditEvent } from '../audit/event.js';
import { parseEventLine, readLines, type ReadFilter } from '../audit/reader.js';
import type { ApprovalEventSource } from './types.js';

export class ApprovalSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApprovalSourceError';
  }
}

export interface LocalSourceOptions {
  /** Only events at or after this time (requests older than the longest expiry are all closed). */
  from?: Date;
}

export function localAuditSource(auditDir: string, opts: LocalSourceOptions = {}): ApprovalEventSource {
  return {
    name: `local:${auditDir}`,
    async *load() {
      const filter: ReadFilter = opts.from ? { from: opts.from } : {};
      for await (const l of readLines(auditDir, filter)) {
        // Canonical lines carry `"event_type":"approval_…"` verbatim: skip the rest unparsed.
        if (!l.text.includes('"event_type":"approval_')) continue;
        const parsed = parseEventLine(l.text);
        if ('reason' in parsed) {
          // A torn last line was never acknowledged; anything else means the store is damaged
          // and approval state cannot be derived from it (fail closed, name the line).
          if (l.torn) continue;
          throw new ApprovalSourceError(`approval state cannot be rebuilt: ${l.file}:${l.line}: ${parsed.reason}`);
        }
        if (opts.from && parsed.event.event_time < opts.from.toISOString()) continue;
        yield parsed.event;
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
