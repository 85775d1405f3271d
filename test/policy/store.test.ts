// Reloads: a good policy replaces the old one atomically, a bad one is refused and the old one
// stays; requests holding a snapshot keep it; file changes trigger a (debounced) reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync, rmSync, cpSync, mkdirSync, readFileSync, symlinkSync, renameSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PolicyStore, type ReloadResult } from '../../src/policy/store.js';
import { PolicyLoadError } from '../../src/policy/errors.js';

const RULES = join(import.meta.dirname, '..', '..', 'rules');

function copyRules(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-store-'));
  for (const f of ['upstreams.yaml', 'roles.yaml', 'access.yaml', 'data.yaml']) cpSync(join(RULES, f), join(dir, f));
  mkdirSync(join(dir, 'catalog'));
  cpSync(join(RULES, 'catalog', 'demo.yaml'), join(dir, 'catalog', 'demo.yaml'));
  return dir;
}

test('open refuses a broken policy (the gateway must not start without one)', async () => {
  const dir = copyRules();
  try {
    writeFileSync(join(dir, 'roles.yaml'), 'roles:\n  - id: x\n    rol: analyst\n');
    await assert.rejects(PolicyStore.open(dir), (e) => e instanceof PolicyLoadError && /roles\.yaml:3/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reload: a valid change swaps the policy; a snapshot taken before keeps deciding the old way', async () => {
  const dir = copyRules();
  try {
    const store = await PolicyStore.open(dir);
    const before = store.current();
    assert.equal(before.can(['analyst'], 'console'), false);
    const same = await store.reload();
    assert.deepEqual([same.ok, same.changed, same.version], [true, false, before.version]);
    writeFileSync(join(dir, 'roles.yaml'), readFileSync(join(dir, 'roles.yaml'), 'utf8').replace('groups: [analyst]', 'groups: [analyst]\n    capabilities: [console]'));
    const r = await store.reload();
    assert.equal(r.ok, true);
    assert.equal(r.changed, true);
    assert.notEqual(r.version, before.version);
    assert.equal(store.current().version, r.version);
    assert.equal(store.current().can(['analyst'], 'console'), true);
    assert.equal(before.can(['analyst'], 'console'), false, 'an in-flight request keeps its snapshot');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reload: an invalid policy is refused with the reason and the old one stays in force', async () => {
  const dir = copyRules();
  try {
    const store = await PolicyStore.open(dir);
    const v = store.current().version;
    writeFileSync(join(dir, 'access.yaml'), readFileSync(join(dir, 'access.yaml'), 'utf8').replace('effect: deny', 'effect: dney'));
    const r = await store.reload();
    assert.equal(r.ok, false);
    assert.equal(r.version, v);
    assert.match(r.error ?? '', /access\.yaml:\d+.*did you mean deny/);
    assert.equal(store.current().version, v);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('watch: a file change reloads after the debounce and reports through the callback', async () => {
  const dir = copyRules();
  const store = await PolicyStore.open(dir, { debounceMs: 50 });
  const results: ReloadResult[] = [];
  let resolveNext: (() => void) | null = null;
  const stop = store.watch((r) => {
    results.push(r);
    resolveNext?.();
  });
  const next = () => new Promise<void>((res) => (resolveNext = res));
  // The store's watcher and timer do not keep a process alive (a gateway has its server for that).
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    let p = next();
    writeFileSync(join(dir, 'extra.yaml'), 'roles:\n  - { id: role-x, role: x, groups: [x] }\n');
    await p;
    assert.equal(results.at(-1)?.ok, true);
    assert.deepEqual(store.current().rolesFor({ subject: 's', email: null, issuer: 'i', groups: ['x'], roles: [], actorType: 'human', authMethod: 'dev', expiresAt: null, name: null }), ['x']);
    p = next();
    writeFileSync(join(dir, 'extra.yaml'), 'roles: [\n');
    await p;
    assert.equal(results.at(-1)?.ok, false);
    assert.match(results.at(-1)?.error ?? '', /extra\.yaml/);
    assert.ok(store.current().summary().roles.includes('x'), 'the last good policy stays');
  } finally {
    clearInterval(keepAlive);
    stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('watch: a Kubernetes-style ConfigMap update (atomic ..data symlink swap) reloads', async () => {
  const src = copyRules();
  const live = mkdtempSync(join(tmpdir(), 'bqw-cm-'));
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    const v1 = join(live, '..2026_v1');
    mkdirSync(v1);
    for (const f of readdirSync(src)) if (f.endsWith('.yaml')) cpSync(join(src, f), join(v1, f));
    symlinkSync('..2026_v1', join(live, '..data'));
    for (const f of readdirSync(v1)) symlinkSync(join('..data', f), join(live, f));
    const store = await PolicyStore.open(live, { debounceMs: 50 });
    const first = store.current().version;
    const changed = new Promise<ReloadResult>((res) => {
      const stop = store.watch((r) => {
        stop();
        res(r);
      });
    });
    const v2 = join(live, '..2026_v2');
    mkdirSync(v2);
    for (const f of readdirSync(v1)) cpSync(join(v1, f), join(v2, f));
    writeFileSync(join(v2, 'roles.yaml'), readFileSync(join(v1, 'roles.yaml'), 'utf8') + '  - { id: role-cm, role: cm, groups: [cm] }\n');
    symlinkSync('..2026_v2', join(live, '..data_tmp'));
    renameSync(join(live, '..data_tmp'), join(live, '..data'));
    const r = await changed;
    assert.equal(r.ok, true);
    assert.notEqual(r.version, first);
    assert.ok(store.current().summary().roles.includes('cm'));
  } finally {
    clearInterval(keepAlive);
    rmSync(live, { recursive: true, force: true });
    rmSync(src, { recursive: true, force: true });
  }
});
