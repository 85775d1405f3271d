// The evidence manifest vouches for a pack only through a pinned key, and only for files beside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signManifest, verifyManifest } from '../../src/report/manifest.js';

function pack() {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-manifest-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyFile = join(dir, 'signer.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { dir, keyFile, pub, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

async function write(dir: string, keyFile: string, files: { name: string; data: Buffer }[]): Promise<string> {
  const m = await signManifest({
    period: { from: '2026-01-01', to: '2026-01-31' },
    generatedAt: '2026-02-01T00:00:00Z',
    preparer: null,
    exceptions: 0,
    files: files.map((f) => ({ ...f, bytes: f.data.length })),
    signKey: keyFile,
  });
  const path = join(dir, 'evidence.manifest.json');
  writeFileSync(path, JSON.stringify(m));
  return path;
}

test("attack: an edited pack re-signed with the editor's own key is not OK without a pinned key, nor with the real one", async () => {
  const real = pack();
  const forger = pack();
  try {
    writeFileSync(join(forger.dir, 'evidence.html'), 'edited');
    const path = await write(forger.dir, forger.keyFile, [{ name: 'evidence.html', data: Buffer.from('edited') }]);
    const unpinned = await verifyManifest(path);
    assert.equal(unpinned.ok, false, unpinned.lines.join('\n'));
    assert.ok(unpinned.lines.some((l) => l.startsWith('UNVERIFIED signer')));
    assert.equal((await verifyManifest(path, [real.pub])).ok, false);
    assert.equal((await verifyManifest(path, [forger.pub])).ok, true, 'control: with its own key pinned it verifies');
  } finally {
    real.cleanup();
    forger.cleanup();
  }
});

test('attack: a manifest naming a path outside the pack is refused, not read', async () => {
  const p = pack();
  const outside = mkdtempSync(join(tmpdir(), 'bqw-outside-'));
  try {
    writeFileSync(join(outside, 'secret.txt'), 'x');
    const name = join('..', outside.split('/').pop()!, 'secret.txt');
    const path = await write(p.dir, p.keyFile, [{ name, data: Buffer.from('x') }]);
    const r = await verifyManifest(path, [p.pub]);
    assert.equal(r.ok, false);
    assert.ok(
      r.lines.some((l) => l.startsWith('REFUSED')),
      r.lines.join('\n'),
    );
  } finally {
    p.cleanup();
    rmSync(outside, { recursive: true, force: true });
  }
});
