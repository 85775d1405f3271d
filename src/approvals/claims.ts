// Exactly-once use of an approval across gateway instances. Within one instance concurrent
// re-runs are serialised by a lock; across instances each must win a create-once record before
// it writes the claim event and forwards the statement. The loser answers "already used".
// Stores: a file created O_EXCL (one host or a shared POSIX filesystem), or a Cloud Storage
// object created with ifGenerationMatch=0 (src/gcp/claims-gcs.ts) for Cloud Run. A store that
// cannot be reached denies the call: a claim we cannot make is a claim we do not have.
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';

interface Claimant {
  instance: string;
  session_id: string | null;
  request_id: string | null;
  at: string;
}

export interface ClaimStore {
  readonly name: string;
  /** True when this call created the claim; false when someone else holds it. */
  claim(approvalId: string, by: Claimant): Promise<boolean>;
}

const ID = /^apr-[a-z0-9]{6,64}$/;

export function checkClaimId(id: string): void {
  if (!ID.test(id)) throw new Error(`invalid approval id ${JSON.stringify(id.slice(0, 80))}`);
}

export function fileClaimStore(dir: string): ClaimStore {
  return {
    name: `dir:${dir}`,
    async claim(id, by) {
      checkClaimId(id);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      let fh;
      try {
        fh = await open(join(dir, `${id}.claim.json`), 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
      try {
        await fh.writeFile(JSON.stringify({ approval_id: id, ...by }));
        await fh.sync();
      } finally {
        await fh.close();
      }
      return true;
    },
  };
}

export function memoryClaimStore(): ClaimStore {
  const held = new Set<string>();
  return {
    name: 'memory',
    async claim(id) {
      if (held.has(id)) return false;
      held.add(id);
      return true;
    },
  };
}
