// An audit log written before audit error codes became a closed list still reads and verifies.
// Releases up to e858a85 wrote any string as error_code: an upstream's own reason, codes since
// retired. Such a log is rebuilt here as that writer produced it: the real writer, then the
// codes set and every later hash, link and checkpoint signature redone with the chain's own key.
// Closing the list on write must not make history unreadable (verify, replay, the report, the
// console and approvals all read it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadOrCreateSigner, loadPublicKeysFromDir } from '../../src/audit/checkpoint.js';
import { verifyDir } from '../../src/audit/verify.js';
import { JsonlAuditStore } from '../../src/audit/store-jsonl.js';
import { chainFiles, openLog, readLinesOf, request, rewrite, tempData } from './helpers.js';
import { first } from '../helpers/present.js';

test('a log written before the closed list of error codes reads and verifies', async () => {
  const t = tempData();
  try {
    const signer = loadOrCreateSigner({ keysDir: t.keys });
    const { log } = await openLog(t.audit, t.keys, { signer });
    await log.append(request(1, { outcome: 'error', error_code: 'upstream_error', error_message: 'an upstream reason recorded as the code' }));
    await log.append(request(2, { decision: 'deny', outcome: 'denied', error_code: 'policy_denied', error_message: 'a code since retired' }));
    await log.append(request(3));
    await log.close();
    const file = first(chainFiles(t.audit), 'audit chain file');
    const resign = (e: { chain_id: string; seq: number; prev_hash: string; signature: string | null }) => {
      e.signature = signer.sign(e.chain_id, e.seq, e.prev_hash);
    };
    for (const [now, then] of [
      ['upstream_error', 'toolbox_reason'],
      ['policy_denied', 'policy'],
    ] as const) {
      const at = readLinesOf(file).findIndex((l) => l.includes(`"error_code":"${now}"`));
      assert.ok(at >= 0, now);
      rewrite(
        file,
        at,
        (e) => {
          (e as { error_code: string }).error_code = then;
        },
        resign,
      );
    }

    const report = await verifyDir(t.audit, { publicKeys: loadPublicKeysFromDir(t.keys) });
    assert.equal(report.ok, true, JSON.stringify(report.breaks));
    const codes: (string | null)[] = [];
    for await (const { event } of new JsonlAuditStore(t.audit).range()) codes.push(event.error_code);
    assert.deepEqual(
      codes.filter((c) => c !== null),
      ['toolbox_reason', 'policy'],
    );
  } finally {
    t.cleanup();
  }
});
