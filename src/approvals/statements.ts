// Exact statement text awaiting review. The audit log keeps the statement with literals
// redacted (unless policy keeps them for the requester's roles), but an approver must see
// the exact statement. So the exact text lives here: one 0600 file per open request in a
// 0700 directory, read back only if it still hashes to the sha256 the audit event recorded,
// and deleted when the request closes. What stays at rest long-term is only the audit form.
import { chmod, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { sha256 } from './binding.js';
import type { StatementStore } from './types.js';

const ID = /^apr-[a-z0-9]{6,64}$/;

function checkId(id: string): void {
  // Ids come from URLs: never let one name a path outside the directory.
  if (!ID.test(id)) throw new Error(`invalid approval id ${JSON.stringify(id.slice(0, 80))}`);
}

export function fileStatementStore(dir: string): StatementStore {
  let ready: Promise<void> | null = null;
  const ensureDir = () =>
    (ready ??= (async () => {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
    })());
  const file = (id: string) => join(dir, `${id}.json`);

  return {
    async put(id, hash, sql) {
      checkId(id);
      if (sha256(sql) !== hash) throw new Error('statement text does not match its sha256');
      await ensureDir();
      const tmp = join(dir, `.${id}.${randomUUID()}.tmp`);
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(JSON.stringify({ approval_id: id, sql_sha256: hash, sql }));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file(id));
    },
    async get(id, hash) {
      if (!ID.test(id)) return null;
      let raw: string;
      try {
        raw = await readFile(file(id), 'utf8');
      } catch {
        return null;
      }
      try {
        const doc = JSON.parse(raw) as { sql_sha256?: unknown; sql?: unknown };
        // Bound by hash: an edited file is treated as missing, never shown as the statement.
        if (typeof doc.sql !== 'string' || doc.sql_sha256 !== hash || sha256(doc.sql) !== hash) return null;
        return doc.sql;
      } catch {
        return null;
      }
    },
    async delete(id) {
      if (!ID.test(id)) return;
      await unlink(file(id)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },
    async prune(keep) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return;
      }
      for (const name of names) {
        const id = /^(apr-[a-z0-9]+)\.json$/.exec(name)?.[1];
        if (id && !keep.has(id)) await unlink(join(dir, name)).catch(() => undefined);
      }
    },
  };
}

/** For tests and stateless deployments: lost on restart (a re-run restores it, see gate). */
export function memoryStatementStore(): StatementStore {
  const texts = new Map<string, { hash: string; sql: string }>();
  return {
    async put(id, hash, sql) {
      if (sha256(sql) !== hash) throw new Error('statement text does not match its sha256');
      texts.set(id, { hash, sql });
    },
    async get(id, hash) {
      const t = texts.get(id);
      return t && t.hash === hash && sha256(t.sql) === hash ? t.sql : null;
    },
    async delete(id) {
      texts.delete(id);
    },
    async prune(keep) {
      for (const id of [...texts.keys()]) if (!keep.has(id)) texts.delete(id);
    },
  };
}
