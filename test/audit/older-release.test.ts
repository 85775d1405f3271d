// An audit log written by an earlier release still reads and verifies. The fixture was written by
// the release at e858a85, before audit error codes became a closed list: one event carries an
// upstream's own reason as its code, one a code since retired. Closing the list on write must not
// make history unreadable (verify, replay, the report, the console and approvals all read it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadPublicKeysFromDir } from '../../src/audit/checkpoint.js';
import { verifyDir } from '../../src/audit/verify.js';
import { JsonlAuditStore } from '../../src/audit/store-jsonl.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'release-e858a85');

test('a log written before the closed list of error codes reads and verifies', async () => {
  const report = await verifyDir(join(FIXTURE, 'audit'), { publicKeys: loadPublicKeysFromDir(join(FIXTURE, 'keys')) });
  assert.equal(report.ok, true, JSON.stringify(report.breaks));
  const codes: (string | null)[] = [];
  for await (const { event } of new JsonlAuditStore(join(FIXTURE, 'audit')).range()) codes.push(event.error_code);
  assert.deepEqual(
    codes.filter((c) => c !== null),
    ['toolbox_reason', 'policy'],
  );
});
