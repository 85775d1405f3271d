// Streams the local audit store in chain order: chains sorted by id, each chain's files by n,
// each file line by line. Built for the examiner console's million-event reads: files are read
// in large chunks, and filters that can be decided from the canonical text (session id, time)
// are checked on the raw line before it is parsed.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { AuditEventSchema, type AuditEvent } from './event.js';
import { listAuditFiles, type ChainFile } from './files.js';

export interface ReadFilter {
  from?: Date;
  to?: Date;
  sessionId?: string;
  chainId?: string;
}

export interface RawLine {
  file: string;
  /** 1-based line number within the file. */
  line: number;
  text: string;
  /** The file's last line had no newline: a write that never completed (or a cut file). */
  torn: boolean;
}

export interface ReadIssue {
  file: string;
  line: number;
  torn: boolean;
  reason: string;
}

export class AuditReadError extends Error {
  constructor(
    message: string,
    readonly issue: ReadIssue | null = null,
  ) {
    super(message);
    this.name = 'AuditReadError';
  }
}

function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Chain files that can hold events of the filter's window (a partition holds its day or earlier days). */
export async function filesFor(auditDir: string, filter: ReadFilter = {}): Promise<ChainFile[]> {
  try {
    await stat(auditDir);
  } catch {
    throw new AuditReadError(`audit directory ${auditDir} does not exist`);
  }
  const { files } = await listAuditFiles(auditDir, {
    chainId: filter.chainId,
    fromDay: filter.from ? utcDay(filter.from) : undefined,
    // Late events land in the next partition, so look one day past the window.
    toDay: filter.to ? utcDay(new Date(filter.to.getTime() + 86_400_000)) : undefined,
  });
  return files;
}

/** Every line of one file, torn last line included (flagged). */
export async function* readFileLines(file: string): AsyncGenerator<RawLine> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let rest = '';
  let line = 0;
  for await (const chunk of stream as AsyncIterable<string>) {
    let start = 0;
    const buf = rest ? rest + chunk : chunk;
    for (;;) {
      const nl = buf.indexOf('\n', start);
      if (nl < 0) break;
      line++;
      yield { file, line, text: buf.slice(start, nl), torn: false };
      start = nl + 1;
    }
    rest = buf.slice(start);
  }
  if (rest.length) yield { file, line: line + 1, text: rest, torn: true };
}

export async function* readLines(auditDir: string, filter: ReadFilter = {}): AsyncGenerator<RawLine> {
  for (const f of await filesFor(auditDir, filter)) yield* readFileLines(f.path);
}

export interface ReadOptions {
  /** Called for lines that are not valid events. Without it a malformed complete line throws; a torn last line is skipped (it was never acknowledged). */
  onInvalid?: (issue: ReadIssue) => void;
  /**
   * Schema-check each event (default true). The zod check is most of the per-line cost; a
   * read-only view over lines that `verify` already passed may turn it off for speed.
   */
  validate?: boolean;
}

/** Parses one canonical line into a validated event, or explains why it is not one. */
export function parseEventLine(text: string, validate = true): { event: AuditEvent } | { reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { reason: 'not JSON' };
  }
  if (!validate) return raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? { event: raw as AuditEvent } : { reason: 'not an object' };
  const res = AuditEventSchema.safeParse(raw);
  if (!res.success) {
    const i = res.error.issues[0];
    return { reason: `not an audit event: ${i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'schema check failed'}` };
  }
  return { event: res.data };
}

export async function* readEvents(auditDir: string, filter: ReadFilter = {}, opts: ReadOptions = {}): AsyncGenerator<{ event: AuditEvent; file: string; line: number }> {
  const sessionNeedle = filter.sessionId !== undefined ? `"session_id":${JSON.stringify(filter.sessionId)}` : null;
  const fromIso = filter.from?.toISOString();
  const toIso = filter.to?.toISOString();
  for await (const l of readLines(auditDir, filter)) {
    // Canonical lines hold `"session_id":"…"` verbatim, so a miss is decided without parsing.
    if (sessionNeedle && !l.torn && !l.text.includes(sessionNeedle)) continue;
    if ((fromIso || toIso) && !l.torn) {
      const at = l.text.indexOf('"event_time":"');
      if (at >= 0) {
        const t = l.text.slice(at + 14, at + 38);
        if ((fromIso && t < fromIso) || (toIso && t > toIso)) continue;
      }
    }
    const parsed = parseEventLine(l.text, opts.validate !== false);
    if ('reason' in parsed) {
      const issue: ReadIssue = { file: l.file, line: l.line, torn: l.torn, reason: l.torn ? `torn last line (${parsed.reason})` : parsed.reason };
      if (opts.onInvalid) opts.onInvalid(issue);
      else if (!l.torn) throw new AuditReadError(`${l.file}:${l.line}: ${issue.reason}`, issue);
      continue;
    }
    const e = parsed.event;
    if (filter.sessionId !== undefined && e.session_id !== filter.sessionId) continue;
    if (fromIso && e.event_time < fromIso) continue;
    if (toIso && e.event_time > toIso) continue;
    yield { event: e, file: l.file, line: l.line };
  }
}
