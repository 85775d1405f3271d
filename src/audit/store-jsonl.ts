// The local JSONL audit store (files.ts has the layout) as an AuditStore. Streams chains sorted
// by id, each chain's files by n, each file line by line. Built for the examiner console's
// million-event reads: files are read in large chunks, and filters that can be decided from
// the canonical text (session id, time, event type) are checked on the raw line before it is
// parsed.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { sha256Hex } from '../common/digest.js';
import { eventMembersWithoutHash, joinWithHash } from './canonical.js';
import { AuditEventSchema, EVENT_TYPES, type AuditEvent } from './event.js';
import { listAuditFiles, type ChainFile } from './files.js';
import {
  APPROVAL_TYPES,
  AuditReadError,
  dayWindow,
  type AuditRecord,
  type AuditStore,
  type FollowSink,
  type FollowState,
  type HeadFilter,
  type RangeFilter,
  type RecordRef,
  type ReadIssue,
  type ReadOptions,
  type StoredEvent,
  type StoredHead,
} from './store.js';

interface RawLine {
  file: string;
  /** 1-based line number within the file. */
  line: number;
  text: string;
  /** The file's last line had no newline: a write that never completed (or a cut file). */
  torn: boolean;
}

function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Parses one canonical line into a validated event, or explains why it is not one. */
function parseEventLine(text: string, validate = true): { event: AuditEvent } | { reason: string } {
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

/** Every line of one file, torn last line included (flagged). */
async function* readFileLines(file: string): AsyncGenerator<RawLine> {
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

interface FileProgress {
  offset: number;
  line: number;
}

interface JsonlFollowState extends FollowState {
  files: Map<string, FileProgress>;
  /** Each chain's newest file: older ones are never appended to again. */
  heads: Map<string, { n: number; day: string }>;
}

const READ_CHUNK = 4 << 20;

const KNOWN_TYPES = new Set<string>(EVENT_TYPES);
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** `approval` of `approval_rejected`: event types come in families named by their first word. */
function familyOf(type: string): string {
  return type.split('_', 1)[0] ?? type;
}

/**
 * A top-level string (or null) field as the line states it, when it states it exactly once and
 * without an escape; undefined when only parsing can tell. A key cannot match inside a string
 * value: there its quotes are escaped.
 */
function plainValue(text: string, key: string): string | null | undefined {
  const needle = `"${key}":`;
  const at = text.indexOf(needle);
  if (at < 0 || text.indexOf(needle, at + needle.length) >= 0) return undefined;
  const start = at + needle.length;
  if (text.startsWith('null', start)) return null;
  if (text[start] !== '"') return undefined;
  const end = text.indexOf('"', start + 1);
  if (end < 0) return undefined;
  const value = text.slice(start + 1, end);
  return value.includes('\\') ? undefined : value;
}

export class JsonlAuditStore implements AuditStore {
  readonly name: string;

  constructor(readonly dir: string) {
    this.name = `local:${dir}`;
  }

  /** Chain files that can hold events of the window (a partition holds its day or earlier days). */
  async files(filter: Pick<RangeFilter, 'from' | 'to' | 'chainId'> = {}): Promise<ChainFile[]> {
    try {
      await stat(this.dir);
    } catch {
      throw new AuditReadError(`audit directory ${this.dir} does not exist`);
    }
    const { files } = await listAuditFiles(this.dir, {
      chainId: filter.chainId,
      fromDay: filter.from ? utcDay(filter.from) : undefined,
      // Late events land in the next partition, so look one day past the window.
      toDay: filter.to ? utcDay(new Date(filter.to.getTime() + 86_400_000)) : undefined,
    });
    return files;
  }

  private async *lines(filter: RangeFilter): AsyncGenerator<RawLine> {
    for (const f of await this.files(filter)) yield* readFileLines(f.path);
  }

  async *range(filter: RangeFilter = {}, opts: ReadOptions = {}): AsyncGenerator<StoredEvent> {
    const types = filter.eventTypes ? new Set<string>(filter.eventTypes) : null;
    const families = filter.eventTypes ? new Set(filter.eventTypes.map(familyOf)) : null;
    const fromIso = filter.from?.toISOString();
    const toIso = filter.to?.toISOString();
    for await (const l of this.lines(filter)) {
      // Canonical lines state each field once, verbatim, so a miss is decided without parsing.
      // Only a plainly stated value may skip a line: an escaped, repeated or unknown one is
      // parsed and judged (or refused) like any other, so an edited line cannot hide here.
      if (!l.torn) {
        if (filter.sessionId !== undefined) {
          const v = plainValue(l.text, 'session_id');
          if (v !== undefined && v !== filter.sessionId) continue;
        }
        if (types) {
          const v = plainValue(l.text, 'event_type');
          // A type no release writes is skipped too, unless it is of a requested family
          // (`approval_rejectedX` for an approvals read): that one is parsed, and refused.
          if (typeof v === 'string' && !types.has(v) && (KNOWN_TYPES.has(v) || !families?.has(familyOf(v)))) continue;
        }
        if (fromIso || toIso) {
          const t = plainValue(l.text, 'event_time');
          if (typeof t === 'string' && TIME_RE.test(t) && ((fromIso && t < fromIso) || (toIso && t > toIso))) continue;
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
      if (types && !types.has(e.event_type)) continue;
      if (fromIso && e.event_time < fromIso) continue;
      if (toIso && e.event_time > toIso) continue;
      yield { event: e, loc: { file: l.file, line: l.line } };
    }
  }

  byDay(fromDay: string, toDay: string, filter: Omit<RangeFilter, 'from' | 'to'> = {}, opts: ReadOptions = {}): AsyncIterable<StoredEvent> {
    return this.range({ ...filter, ...dayWindow(fromDay, toDay) }, opts);
  }

  async *approvalEvents(from?: Date): AsyncGenerator<AuditEvent> {
    for await (const { event } of this.range({ eventTypes: APPROVAL_TYPES, ...(from ? { from } : {}) })) yield event;
  }

  /** Every line as the verifier needs it: torn and non-canonical lines are reported, not skipped. */
  async *records(filter: { chainId?: string; days?: { from: string; to: string } } = {}): AsyncGenerator<AuditRecord> {
    const window = filter.days ? dayWindow(filter.days.from, filter.days.to) : null;
    const fromIso = window?.from.toISOString();
    const toIso = window?.to.toISOString();
    for await (const l of this.lines({ chainId: filter.chainId, ...window })) {
      const loc = { file: l.file, line: l.line };
      const parsed = parseEventLine(l.text);
      if ('reason' in parsed) {
        if (l.torn)
          yield {
            kind: 'invalid',
            defect: 'torn_line',
            reason: `file ends in half a line (${Buffer.byteLength(l.text)} bytes without newline): truncated mid-line, and crash recovery has not repaired it`,
            loc,
            chain: null,
            seq: null,
          };
        else yield { kind: 'invalid', defect: 'malformed', reason: `line is ${parsed.reason}`, loc, chain: null, seq: null };
        continue;
      }
      const e = parsed.event;
      if ((fromIso && e.event_time < fromIso) || (toIso && e.event_time > toIso)) continue;
      if (l.torn) yield { kind: 'invalid', defect: 'torn_line', reason: 'last line has no newline: the file was cut', loc, chain: e.chain_id, seq: e.seq };
      const members = eventMembersWithoutHash(e);
      if (joinWithHash(members, e.hash) !== l.text)
        yield {
          kind: 'invalid',
          defect: 'not_canonical',
          reason: 'line is not the canonical serialisation of its event (fields added, removed or reformatted)',
          loc,
          chain: e.chain_id,
          seq: e.seq,
        };
      yield { kind: 'event', event: e, loc, computedHash: sha256Hex('{' + members.join(',') + '}') };
    }
    const { quarantined } = await listAuditFiles(this.dir, { chainId: filter.chainId });
    for (const q of quarantined) {
      yield { kind: 'notice', notice: 'repaired_torn_line', message: `crash recovery cut an unacknowledged torn line from ${q.from}; the bytes are kept in ${q.path}`, loc: { file: q.path } };
    }
  }

  async heads(filter: HeadFilter = {}): Promise<StoredHead[]> {
    const wanted = filter.chainIds ? new Set(filter.chainIds) : null;
    const from = filter.afterDay ? new Date(Date.parse(`${filter.afterDay}T00:00:00.000Z`) + 86_400_000) : undefined;
    const out = new Map<string, StoredHead>();
    for await (const { event: e } of this.range(from ? { from } : {})) {
      if (wanted && !wanted.has(e.chain_id)) continue;
      const h = out.get(e.chain_id);
      if (!h) out.set(e.chain_id, { chain_id: e.chain_id, seq: e.seq, event_time: e.event_time, events: 1 });
      else {
        h.events++;
        if (e.seq > h.seq) h.seq = e.seq;
        if (e.event_time > h.event_time) h.event_time = e.event_time;
      }
    }
    return [...out.values()].sort((a, b) => (a.chain_id < b.chain_id ? -1 : 1));
  }

  async follow(state: FollowState | null, sink: FollowSink): Promise<FollowState> {
    const st: JsonlFollowState = state && state.store === this.name && 'files' in state ? (state as JsonlFollowState) : { store: this.name, files: new Map(), heads: new Map() };
    // Writers only ever append to the newest file of each chain, in the newest day partition
    // (late events land in the current one), so after the first pass only partitions from the
    // oldest chain head onwards are listed, and older files of a chain are not reopened.
    const fromDay = st.heads.size ? [...st.heads.values()].reduce((m, h) => (h.day < m ? h.day : m), '9999-12-31') : undefined;
    const { files } = await listAuditFiles(this.dir, { fromDay });
    for (const f of files) {
      let progress = st.files.get(f.path);
      if (!progress) {
        progress = { offset: 0, line: 0 };
        st.files.set(f.path, progress);
      } else {
        const head = st.heads.get(f.chainId);
        if (head && f.n < head.n) continue;
      }
      await followFile(f.path, progress, sink);
      const head = st.heads.get(f.chainId);
      if (!head || f.n >= head.n) st.heads.set(f.chainId, { n: f.n, day: f.day });
    }
    return st;
  }

  async readRecord(ref: RecordRef): Promise<AuditEvent> {
    const fh = await open(ref.part, 'r');
    try {
      const buf = Buffer.alloc(ref.length);
      await fh.read(buf, 0, ref.length, ref.offset);
      const parsed = parseEventLine(buf.toString('utf8'));
      if ('reason' in parsed) throw new AuditReadError(`${ref.part}: event at byte ${ref.offset} is ${parsed.reason}`);
      return parsed.event;
    } finally {
      await fh.close();
    }
  }
}

/** Hands over the complete lines appended to one file since `progress`, and moves it on. */
async function followFile(path: string, progress: FileProgress, sink: FollowSink): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    if (size < progress.offset) {
      // Crash recovery only ever cuts bytes never handed over (an unterminated tail); a file
      // shorter than what was read was rewritten. Say so instead of serving stale data.
      sink.issue(path, progress.line, `file shrank from ${progress.offset} to ${size} bytes after it was indexed; restart the console to re-read it`);
      progress.offset = size;
      return;
    }
    let buf = Buffer.alloc(0);
    let bufStart = progress.offset;
    let pos = progress.offset;
    while (pos < size) {
      const want = Math.min(READ_CHUNK, size - pos);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(chunk, 0, want, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      buf = buf.length ? Buffer.concat([buf, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl < 0) break;
        progress.line++;
        sink.record(buf.toString('utf8', start, nl), path, bufStart + start, nl - start, progress.line);
        start = nl + 1;
      }
      // An unterminated tail is a write in progress (or a torn line): leave it for next time.
      bufStart += start;
      buf = buf.subarray(start);
    }
    progress.offset = bufStart;
  } finally {
    await fh.close();
  }
}
