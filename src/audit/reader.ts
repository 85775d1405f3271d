// Reading the local store by directory, for callers that hold a path rather than a store
// (tests, benches, the CLI's --dir): the events of a JsonlAuditStore with their file and line.
import type { AuditEvent } from './event.js';
import { JsonlAuditStore } from './store-jsonl.js';
import type { RangeFilter, ReadOptions } from './store.js';

export { AuditReadError, type ReadIssue } from './store.js';

export async function* readEvents(auditDir: string, filter: RangeFilter = {}, opts: ReadOptions = {}): AsyncGenerator<{ event: AuditEvent; file: string; line: number }> {
  for await (const { event, loc } of new JsonlAuditStore(auditDir).range(filter, opts)) yield { event, file: loc.file ?? '', line: loc.line ?? 0 };
}
