// Local append-only audit store: one canonical JSON line per event, partitioned by UTC day,
// rotated by size, fsync'd before write() resolves. The audit writer hands whole groups of
// events to write(), so one write+fdatasync covers many requests (group commit).
//
// Crash model: an event is acknowledged only after the fdatasync covering its full line
// (newline included) returned. After a crash the newest file may end in a torn line or in
// garbage; those bytes were never acknowledged. recoverHead() moves them to
// <file>.torn-<epoch ms> (kept, never deleted, and reported by the verifier), truncates the
// file to its last complete event and returns that event as the chain head. A complete line
// that parses as an event but fails its hash is not crash damage: recovery refuses (fail closed).
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, stat, writeFile, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AuditEvent } from '../audit/event.js';
import { AuditEventSchema } from '../audit/event.js';
import { canonicalLine } from '../audit/canonical-cache.js';
import { hashValidEvent } from '../audit/hash.js';
import { CHAIN_ID_PATTERN, dayDir, fileName, listAuditFiles, type ChainFile } from '../audit/files.js';
import type { AuditSink, ChainHead } from '../audit/sink.js';
import { BqwardenError } from '../common/errors.js';

class JsonlSinkError extends BqwardenError {
  constructor(message: string) {
    super('jsonl_sink_failed', message);
    this.name = 'JsonlSinkError';
  }
}

export interface TornRepair {
  file: string;
  quarantine: string;
  bytes: number;
  /** Offset where the cut began (the end of the last complete event). */
  offset: number;
}

export interface JsonlSinkOptions {
  /** The audit directory (<data>/audit). */
  dir: string;
  /** Overrides the chain id stored in <dir>/CHAIN_ID (created on first open). */
  chainId?: string;
  maxFileBytes?: number;
  /** Accepted for config symmetry only: the group size is AuditLog's maxBatch (the sink writes whatever group it is handed). */
  maxBatch?: number;
  /** Told about repairs (torn tails) so the gateway can log them. */
  onNotice?: (message: string, repair: TornRepair) => void;
}

const LOCK_FILE = 'LOCK';
const CHAIN_ID_FILE = 'CHAIN_ID';
const heldLocks = new Set<string>();

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    if (bytesWritten <= 0) throw new JsonlSinkError('short write');
    off += bytesWritten;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One writer per audit directory: two gateways appending to one chain would fork it. */
async function acquireLock(dir: string): Promise<string> {
  const file = join(dir, LOCK_FILE);
  if (heldLocks.has(file)) throw new JsonlSinkError(`audit directory ${dir} is already open in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx', mode: 0o644 });
      heldLocks.add(file);
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      // Our own pid in the file means a previous life of this container (pid reuse), not a live writer.
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new JsonlSinkError(`audit directory ${dir} is locked by running process ${pid} (${file})`);
      }
      await unlink(file).catch(() => undefined);
    }
  }
  throw new JsonlSinkError(`could not lock audit directory ${dir}`);
}

async function loadChainId(dir: string, override?: string): Promise<string> {
  const file = join(dir, CHAIN_ID_FILE);
  if (override) {
    if (!CHAIN_ID_PATTERN.test(override)) throw new JsonlSinkError(`chain id ${JSON.stringify(override)} must match ${CHAIN_ID_PATTERN}`);
    return override;
  }
  try {
    await writeFile(file, randomUUID() + '\n', { flag: 'wx', mode: 0o644 });
    await fsyncDir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const id = (await readFile(file, 'utf8')).trim();
  if (!CHAIN_ID_PATTERN.test(id)) throw new JsonlSinkError(`${file} holds an invalid chain id`);
  return id;
}

interface Current {
  fh: FileHandle;
  path: string;
  day: string;
  size: number;
}

interface TailScan {
  last: AuditEvent | null;
  /** Byte offset just after the last complete, valid event. */
  validEnd: number;
  size: number;
}

const NL = 0x0a;

/** Finds the last complete event in a file, reading backwards in growing chunks. */
async function scanTail(path: string): Promise<TailScan> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let chunk = 256 * 1024;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      if (buf.length) await fh.read(buf, 0, buf.length, start);
      // Complete lines end with \n; bytes after the final \n are a torn line.
      let end = buf.lastIndexOf(NL);
      while (end >= 0) {
        const prev = end === 0 ? -1 : buf.lastIndexOf(NL, end - 1);
        if (prev < 0 && start > 0) break; // the line may begin before this chunk
        const text = buf.subarray(prev + 1, end).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined; // crash garbage (zero-filled blocks, half-flushed pages)
        }
        if (parsed !== undefined) {
          const res = AuditEventSchema.safeParse(parsed);
          if (!res.success || hashValidEvent(res.data) !== res.data.hash) {
            throw new JsonlSinkError(`${path} byte ${start + prev + 1}: last event fails its schema or hash; the log was altered, refusing to continue the chain`);
          }
          return { last: res.data, validEnd: start + end + 1, size };
        }
        end = prev;
      }
      if (start === 0) return { last: null, validEnd: 0, size };
      chunk *= 4;
    }
  } finally {
    await fh.close();
  }
}

export class JsonlSink implements AuditSink {
  readonly name = 'jsonl';
  readonly repairs: TornRepair[] = [];
  private cur: Current | null = null;
  private nextN = 1;
  private needsRecovery = true;
  private broken: string | null = null;
  private closed = false;
  /** Set when the file being written was unlinked or replaced under us: never write again. */
  private tampered: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly maxFileBytes: number;

  private constructor(
    readonly dir: string,
    readonly chainId: string,
    private readonly lockFile: string,
    private readonly opts: JsonlSinkOptions,
  ) {
    this.maxFileBytes = opts.maxFileBytes ?? 64 * 1024 * 1024;
  }

  /** Locks the directory and loads (or creates) the chain id kept in <dir>/CHAIN_ID. */
  static async open(opts: JsonlSinkOptions): Promise<JsonlSink> {
    await mkdir(opts.dir, { recursive: true });
    const lock = await acquireLock(opts.dir);
    try {
      const chainId = await loadChainId(opts.dir, opts.chainId);
      return new JsonlSink(opts.dir, chainId, lock, opts);
    } catch (err) {
      heldLocks.delete(lock);
      await unlink(lock).catch(() => undefined);
      throw err;
    }
  }

  isReady(): boolean {
    return !this.closed && this.broken === null && this.tampered === null;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  write(events: AuditEvent[]): Promise<void> {
    return this.serial(() => this.doWrite(events));
  }

  recoverHead(chainId: string): Promise<ChainHead | null> {
    return this.serial(() => this.doRecover(chainId));
  }

  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      try {
        if (this.cur) {
          await this.cur.fh.datasync();
          await this.cur.fh.close();
          this.cur = null;
        }
      } finally {
        heldLocks.delete(this.lockFile);
        await unlink(this.lockFile).catch(() => undefined);
      }
    });
  }

  private async doWrite(events: AuditEvent[]): Promise<void> {
    if (this.closed) throw new JsonlSinkError('jsonl audit sink is closed');
    if (this.tampered) throw new JsonlSinkError(this.tampered);
    if (events.length === 0) return;
    if (this.needsRecovery) await this.doRecover(this.chainId);
    try {
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      for (const e of events) {
        if (e.chain_id !== this.chainId) throw new JsonlSinkError(`event for chain ${e.chain_id} handed to the sink of chain ${this.chainId}`);
        const line = Buffer.from(canonicalLine(e) + '\n', 'utf8');
        const eday = e.event_time.slice(0, 10);
        // Never go back a day: a late event lands in the current partition, so a partition holds
        // events of its own day or earlier (readers widen date filters by one day for that).
        const day = this.cur && this.cur.day > eday ? this.cur.day : eday;
        const full = this.cur !== null && this.cur.size + chunkBytes > 0 && this.cur.size + chunkBytes + line.length > this.maxFileBytes;
        if (!this.cur || day !== this.cur.day || full) {
          if (this.cur && chunkBytes) {
            await writeAll(this.cur.fh, Buffer.concat(chunk, chunkBytes));
            this.cur.size += chunkBytes;
          }
          chunk = [];
          chunkBytes = 0;
          await this.rotate(day);
        }
        chunk.push(line);
        chunkBytes += line.length;
      }
      const cur = this.cur!;
      await writeAll(cur.fh, Buffer.concat(chunk, chunkBytes));
      cur.size += chunkBytes;
      await cur.fh.datasync();
      // An fsync on an unlinked file still "succeeds": the events would exist nowhere. Check the
      // file is still the one at its path before acknowledging, and stop for good if not —
      // continuing (or recovering an older head) would hide the removal.
      const [byHandle, byPath] = await Promise.all([cur.fh.stat(), stat(cur.path).catch(() => null)]);
      if (byHandle.nlink === 0 || !byPath || byPath.ino !== byHandle.ino || byPath.dev !== byHandle.dev) {
        this.tampered = `audit file ${cur.path} was removed or replaced while the gateway was writing it; refusing to write further events (possible tampering: investigate, then restart)`;
        throw new JsonlSinkError(this.tampered);
      }
    } catch (err) {
      // Part of the group may be on disk; recovery re-reads the file before the next write.
      this.needsRecovery = true;
      throw err instanceof JsonlSinkError ? err : new JsonlSinkError(`audit write failed: ${(err as Error).message}`);
    }
  }

  private async rotate(day: string): Promise<void> {
    if (this.cur) {
      const old = this.cur;
      this.cur = null;
      await old.fh.datasync();
      await old.fh.close();
    }
    const dir = dayDir(this.dir, day);
    const created = await mkdir(dir, { recursive: true });
    if (created) await fsyncDir(this.dir);
    const path = join(dir, fileName(this.chainId, this.nextN));
    // 'ax': O_APPEND so every write lands at the end, O_EXCL so an existing file is never reused.
    const fh = await open(path, 'ax', 0o644);
    this.nextN++;
    await fsyncDir(dir);
    this.cur = { fh, path, day, size: 0 };
  }

  private async quarantine(file: ChainFile, scan: TailScan): Promise<void> {
    const bytes = scan.size - scan.validEnd;
    const fh = await open(file.path, 'r+');
    try {
      const buf = Buffer.alloc(bytes);
      await fh.read(buf, 0, bytes, scan.validEnd);
      const quarantine = `${file.path}.torn-${Date.now()}`;
      await writeFile(quarantine, buf, { flag: 'wx', mode: 0o644 });
      const q = await open(quarantine, 'r');
      await q.sync();
      await q.close();
      await fh.truncate(scan.validEnd);
      await fh.sync();
      await fsyncDir(dirname(file.path));
      const repair: TornRepair = { file: file.path, quarantine, bytes, offset: scan.validEnd };
      this.repairs.push(repair);
      this.opts.onNotice?.(`audit: cut ${bytes} unacknowledged byte(s) of a torn line from ${file.path} at offset ${scan.validEnd}; kept in ${quarantine}`, repair);
    } finally {
      await fh.close();
    }
  }

  private async doRecover(chainId: string): Promise<ChainHead | null> {
    const own = chainId === this.chainId;
    try {
      if (own && this.cur) {
        const old = this.cur;
        this.cur = null;
        await old.fh.close().catch(() => undefined);
      }
      const { files } = await listAuditFiles(this.dir, { chainId });
      if (own) this.nextN = (files.at(-1)?.n ?? 0) + 1;
      let head: ChainHead | null = null;
      let repairedNewest = false;
      for (const file of [...files].reverse()) {
        if (head) break;
        const scan = await scanTail(file.path);
        // Only the newest non-empty file can hold crash damage; older files were fsync'd and closed.
        if (own && !repairedNewest && scan.validEnd < scan.size) await this.quarantine(file, scan);
        if (scan.size > 0) repairedNewest = true;
        if (scan.last) head = { chain_id: chainId, seq: scan.last.seq, hash: scan.last.hash };
      }
      if (own) {
        this.needsRecovery = false;
        this.broken = null;
      }
      return head;
    } catch (err) {
      if (own) {
        this.needsRecovery = true;
        this.broken = (err as Error).message;
      }
      throw err instanceof JsonlSinkError ? err : new JsonlSinkError(`audit recovery failed: ${(err as Error).message}`);
    }
  }
}
