// Where pins live, shared by every gateway instance and kept across restarts. Pins are never
// rewritten: each accepted definition of a tool is a new record with the next sequence number,
// created once (a file opened O_EXCL, or a Cloud Storage object written with
// ifGenerationMatch=0 in src/gcp/pins-gcs.ts, whose bucket may be retention-locked). The
// current pin is the record with the highest number; of two instances racing to pin the first
// sight of a tool, or to accept the same change, exactly one creates the record.
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from './definition.js';

export interface ToolPin {
  upstream: string;
  tool: string;
  /** 1 for the first sight; +1 for every accepted change. */
  seq: number;
  sha256: string;
  /** The canonical definition text (hashes to sha256). */
  definition: string;
  pinned_at: string;
  /** first_sight, or approved (with the approval that accepted it). */
  how: 'first_sight' | 'approved';
  approval_id: string | null;
  approved_by: string[];
  instance: string;
}

export interface PinStore {
  readonly name: string;
  /** The pin with the highest sequence number, or null when the tool was never pinned. */
  current(upstream: string, tool: string): Promise<ToolPin | null>;
  /** Creates record pin.seq for its tool; false when that number exists already (someone else won). */
  create(pin: ToolPin): Promise<boolean>;
  /** Every current pin (the console, the CLI). */
  list(): Promise<ToolPin[]>;
}

/** Folder / object prefix of a tool: a hash, since tool and upstream names are upstream text. */
export function pinKey(upstream: string, tool: string): string {
  return sha256Hex(`${upstream}\u0000${tool}`).slice(0, 40);
}

export function pinName(seq: number): string {
  return `${String(seq).padStart(8, '0')}.json`;
}

/** A stored record, checked: a record that does not hash to its own sha256 is refused (fail closed). */
export function parsePin(text: string, where: string): ToolPin {
  const p = JSON.parse(text) as ToolPin;
  if (typeof p?.definition !== 'string' || sha256Hex(p.definition) !== p.sha256 || !Number.isInteger(p.seq) || p.seq < 1) {
    throw new Error(`tool pin ${where} is damaged (its definition does not hash to its sha256); refusing to use it`);
  }
  return p;
}

const PIN_FILE = /^\d{8}\.json$/;

export function filePinStore(dir: string): PinStore {
  const folder = (upstream: string, tool: string) => join(dir, pinKey(upstream, tool));
  async function latest(path: string): Promise<ToolPin | null> {
    let names: string[];
    try {
      names = (await readdir(path)).filter((n) => PIN_FILE.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const last = names[names.length - 1];
    return last ? parsePin(await readFile(join(path, last), 'utf8'), join(path, last)) : null;
  }
  return {
    name: `dir:${dir}`,
    current: (upstream, tool) => latest(folder(upstream, tool)),
    async create(pin) {
      const path = folder(pin.upstream, pin.tool);
      await mkdir(path, { recursive: true, mode: 0o700 });
      let fh;
      try {
        fh = await open(join(path, pinName(pin.seq)), 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
      try {
        await fh.writeFile(JSON.stringify(pin));
        await fh.sync();
      } finally {
        await fh.close();
      }
      return true;
    },
    async list() {
      let keys: string[];
      try {
        keys = await readdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      const pins = await Promise.all(keys.map((k) => latest(join(dir, k))));
      return pins.filter((p): p is ToolPin => p !== null);
    },
  };
}

export function memoryPinStore(): PinStore {
  const byKey = new Map<string, ToolPin[]>();
  return {
    name: 'memory',
    async current(upstream, tool) {
      const all = byKey.get(pinKey(upstream, tool));
      return all?.[all.length - 1] ?? null;
    },
    async create(pin) {
      const k = pinKey(pin.upstream, pin.tool);
      const all = byKey.get(k) ?? [];
      if (all.some((p) => p.seq === pin.seq)) return false;
      byKey.set(
        k,
        [...all, pin].sort((a, b) => a.seq - b.seq),
      );
      return true;
    },
    async list() {
      // The newest pin of each key (the lists are sorted by seq and never empty).
      return [...byKey.values()].flatMap((a) => a.slice(-1));
    },
  };
}
