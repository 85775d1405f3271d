// Layout of the local audit store: <audit>/dt=YYYY-MM-DD/<chain_id>-<n>.jsonl, n counting up
// per chain across days so (chain, n) is the chain order. A torn tail cut off during crash
// recovery is kept beside its file as <file>.torn-<epoch ms> for the verifier to report.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface ChainFile {
  chainId: string;
  n: number;
  /** YYYY-MM-DD of the dt= partition. */
  day: string;
  path: string;
}

export interface QuarantineFile {
  path: string;
  /** The .jsonl file the bytes were cut from. */
  from: string;
}

const DAY_DIR = /^dt=(\d{4}-\d{2}-\d{2})$/;
const FILE = /^(.+)-(\d+)\.jsonl$/;
const TORN = /^(.+-\d+\.jsonl)\.torn-\d+$/;
export const CHAIN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function fileName(chainId: string, n: number): string {
  return `${chainId}-${String(n).padStart(6, '0')}.jsonl`;
}

export function dayDir(auditDir: string, day: string): string {
  return join(auditDir, `dt=${day}`);
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export interface ListOptions {
  chainId?: string;
  /** Only partitions within [fromDay, toDay] (inclusive, YYYY-MM-DD). */
  fromDay?: string;
  toDay?: string;
}

/** Every chain file sorted by chain id then n (chain order), plus quarantined torn fragments. */
export async function listAuditFiles(auditDir: string, opts: ListOptions = {}): Promise<{ files: ChainFile[]; quarantined: QuarantineFile[] }> {
  const files: ChainFile[] = [];
  const quarantined: QuarantineFile[] = [];
  for (const d of (await listDir(auditDir)).sort()) {
    const day = DAY_DIR.exec(d)?.[1];
    if (day === undefined) continue;
    if (opts.fromDay && day < opts.fromDay) continue;
    if (opts.toDay && day > opts.toDay) continue;
    for (const name of await listDir(join(auditDir, d))) {
      const tornFrom = TORN.exec(name)?.[1];
      if (tornFrom !== undefined) {
        quarantined.push({ path: join(auditDir, d, name), from: join(auditDir, d, tornFrom) });
        continue;
      }
      const [, chainId, n] = FILE.exec(name) ?? [];
      if (chainId === undefined || n === undefined) continue;
      if (opts.chainId && chainId !== opts.chainId) continue;
      files.push({ chainId, n: Number(n), day, path: join(auditDir, d, name) });
    }
  }
  files.sort((a, b) => (a.chainId < b.chainId ? -1 : a.chainId > b.chainId ? 1 : a.n - b.n));
  quarantined.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { files, quarantined };
}
