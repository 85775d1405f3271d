// Pin stores: records created once (files O_EXCL; Cloud Storage ifGenerationMatch=0 through the
// real @google-cloud/storage client against a local JSON API server, bucket retention-locked),
// so of two instances racing for the same record exactly one wins, and a damaged record is
// refused rather than trusted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filePinStore, pinKey, type PinStore, type ToolPin } from '../../src/pins/store.js';
import { gcsPinStore } from '../../src/gcp/pins-gcs.js';
import { canonicalDefinition, changedFields, definitionOf, sha256Hex } from '../../src/pins/definition.js';
import { Storage } from '@google-cloud/storage';
import { FakeGcsServer } from '../fixtures/gcs-server.js';

process.env.METADATA_SERVER_DETECTION = 'none';

let gcs: FakeGcsServer;
before(async () => {
  gcs = new FakeGcsServer();
  gcs.retentionLocked.add('bank-pins');
  await gcs.start();
});
after(() => gcs.stop());

function pin(seq: number, description: string, instance: string): ToolPin {
  const definition = canonicalDefinition(definitionOf({ name: 'execute_sql', description, inputSchema: { type: 'object' } }));
  return {
    upstream: 'toolbox',
    tool: 'execute_sql',
    seq,
    sha256: sha256Hex(definition),
    definition,
    pinned_at: new Date().toISOString(),
    how: seq === 1 ? 'first_sight' : 'approved',
    approval_id: null,
    approved_by: [],
    instance,
  };
}

async function race(a: PinStore, b: PinStore): Promise<void> {
  // Two instances see different first definitions at once: exactly one becomes the pin.
  const won = await Promise.all([a.create(pin(1, 'honest', 'gw-a')), b.create(pin(1, 'poisoned', 'gw-b'))]);
  assert.deepEqual(won.filter(Boolean).length, 1);
  const winner = won[0] ? 'honest' : 'poisoned';
  assert.equal((await a.current('toolbox', 'execute_sql'))!.sha256, pin(1, winner, '').sha256);
  assert.equal((await b.current('toolbox', 'execute_sql'))!.sha256, pin(1, winner, '').sha256);
  // The next record: again once, and the current pin is the highest number.
  assert.equal(await a.create(pin(2, 'accepted', 'gw-a')), true);
  assert.equal(await b.create(pin(2, 'other', 'gw-b')), false);
  assert.equal((await b.current('toolbox', 'execute_sql'))!.seq, 2);
  assert.equal((await b.list()).length, 1);
  assert.equal(await a.current('toolbox', 'list_tables'), null);
}

test('file pin store: create once, highest record is current, a damaged record is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-pinstore-'));
  try {
    await race(filePinStore(dir), filePinStore(dir));
    const folder = join(dir, pinKey('toolbox', 'execute_sql'));
    const [, second] = readdirSync(folder).sort();
    assert.ok(second, 'two pin records after the race');
    writeFileSync(join(folder, second), JSON.stringify({ ...pin(2, 'accepted', 'gw-a'), definition: '{"name":"execute_sql","description":"swapped"}' }));
    await assert.rejects(filePinStore(dir).current('toolbox', 'execute_sql'), /is damaged \(its definition does not hash to its sha256\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Cloud Storage pin store: two instances, one bucket, create once; records cannot be replaced', async () => {
  const store = () => gcsPinStore({ bucket: 'bank-pins', apiEndpoint: gcs.endpoint, projectId: 'bank-prod' });
  await race(store(), store());
  const names = gcs.list('bank-pins', 'pins/').map((o) => o.name);
  assert.ok(names.length === 2 && names.every((n) => /^pins\/[0-9a-f]{40}\/\d{8}\.json$/.test(n)), names.join());
  // The gateway's own identity cannot rewrite a pin in the locked bucket.
  const bucket = new Storage({ apiEndpoint: gcs.endpoint, projectId: 'bank-prod' }).bucket('bank-pins');
  await assert.rejects(bucket.file(names[0]!).save('{}', { resumable: false }), (e: { code?: number }) => e.code === 403);
  gcs.unavailable = true;
  try {
    await assert.rejects(store().current('toolbox', 'execute_sql'));
  } finally {
    gcs.unavailable = false;
  }
});

test('canonical definition: key order does not matter, every pinned field does', () => {
  const a = canonicalDefinition(
    definitionOf({ name: 't', description: 'd', inputSchema: { type: 'object', properties: { sql: { type: 'string' } } }, annotations: { readOnlyHint: false }, title: 'ignored' }),
  );
  const b = canonicalDefinition(definitionOf({ annotations: { readOnlyHint: false }, inputSchema: { properties: { sql: { type: 'string' } }, type: 'object' }, description: 'd', name: 't' }));
  assert.equal(a, b);
  const c = canonicalDefinition(definitionOf({ name: 't', description: 'd', inputSchema: { type: 'object', properties: { sql: { type: 'string' } } }, annotations: { readOnlyHint: true } }));
  assert.deepEqual(changedFields(a, c), ['annotations']);
  assert.deepEqual(
    changedFields(
      a,
      canonicalDefinition(
        definitionOf({ name: 't', description: 'd', inputSchema: { type: 'object', properties: { sql: { type: 'string' }, x: { type: 'string' } } }, annotations: { readOnlyHint: false } }),
      ),
    ),
    ['inputSchema'],
  );
});
