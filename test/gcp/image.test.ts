// The container image without Docker: lay out exactly the files the Dockerfile's last stage
// copies (compiled dist/, the production dependency tree of the lock file, package.json, bin/,
// rules/), start `serve` on it the way Cloud Run does (the Terraform module's environment,
// secrets as root-owned mounted files, a non-root user, credentials from a metadata server)
// against the local Pub/Sub server, BigQuery REST fake and a real MCP Toolbox, and wait until
// /readyz answers. Anything the image lacks (rules/, a runtime dependency, an import that
// only a dev dependency satisfies) makes this fail the way the container would.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { copiesOf, envOf, instructions, stages, NODE_LTS_MAJOR } from './dockerfile.js';
import { FakePubSubServer } from '../fixtures/pubsub-server.js';
import { FakeMetadataServer } from '../fixtures/metadata-server.js';
import { FakeBigQuery } from './bigquery-fake.js';
import { auditTableSchema } from '../../src/gcp/audit-schema.js';
import { freePort, startToolbox, type ToolboxProcess } from '../../src/demo/toolbox.js';
import { bankDbTemplate, REPO } from '../helpers/gateway.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

let layout: string;
let secrets: string;
let pubsub: FakePubSubServer;
let bq: FakeBigQuery;
let metadata: FakeMetadataServer;
let toolbox: ToolboxProcess;
let dbDir: string;
const final = stages(instructions(readFileSync(join(REPO, 'Dockerfile'), 'utf8'))).at(-1)!;

/** The production dependency tree: what `npm install --omit=dev --omit=optional` installs from the lock. */
function productionPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean; link?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.optional && !p.devOptional)
    .map(([path]) => path);
}

/** Lays out one COPY of the final stage, from its stage or the build context. */
function layOut(copy: { from: string | null; sources: string[]; dest: string }): void {
  const dest = join(layout, copy.dest.replace(/^\.\//, ''));
  if (copy.from === 'deps' && copy.sources[0] === '/app/node_modules') {
    for (const pkg of productionPackages()) {
      // Nested node_modules are entries of their own; copy each package without them.
      cpSync(join(REPO, pkg), join(layout, pkg), { recursive: true, filter: (src) => !src.slice(join(REPO, pkg).length).includes('/node_modules/') });
    }
    return;
  }
  if (copy.from === 'build' && copy.sources[0] === '/app/dist') {
    const tsc = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO, 'tsconfig.build.json'), '--outDir', dest], { cwd: REPO, encoding: 'utf8' });
    assert.equal(tsc.status, 0, `npm run build failed:\n${tsc.stdout}${tsc.stderr}`);
    return;
  }
  assert.equal(copy.from, null, `the layout test does not know how to lay out COPY --from=${copy.from} ${copy.sources.join(' ')}`);
  for (const src of copy.sources) cpSync(join(REPO, src), copy.sources.length > 1 ? join(dest, src) : dest, { recursive: true });
}

/** The gateway container's environment as the Terraform module sets it, with local endpoints. */
async function terraformEnv(port: number): Promise<Record<string, string>> {
  const run = await parse('run.tf', readFileSync(join(REPO, 'terraform', 'modules', 'bqwarden', 'run.tf'), 'utf8'));
  const gw = (run.resource.google_cloud_run_v2_service.gateway[0].template[0].containers as { name: string; env: { name: string; value: string }[] }[]).find((c) => c.name === 'gateway')!;
  const publicUrl = `http://127.0.0.1:${port}`;
  // A value for every variable Terraform sets; a new one there fails here until given one.
  const values: Record<string, string> = {
    HOST: '127.0.0.1',
    BQWARDEN_MODE: 'production',
    BQWARDEN_PUBLIC_URL: publicUrl,
    BQWARDEN__server__trustProxy: 'true',
    BQWARDEN__server__drainTimeoutMs: '6000',
    BQWARDEN__auditSink: 'pubsub',
    BQWARDEN__gcp__project: 'test-project',
    BQWARDEN__gcp__topic: 'projects/test-project/topics/bqwarden-audit',
    BQWARDEN__gcp__bigquery__auditTable: 'test-project.bqwarden_audit.events',
    BQWARDEN__gcp__approvals__table: 'test-project.bqwarden_audit_views.approval_events',
    BQWARDEN__gcp__bigquery__location: 'US',
    BQWARDEN_UPSTREAM_URL: toolbox.url,
    BQWARDEN__upstream__name: 'toolbox-bigquery',
    BQWARDEN__audit__signingKeyFile: join(secrets, 'audit-signing-key', 'key.pem'),
    BQWARDEN__masking__pseudonym__keyFile: join(secrets, 'pseudonymise-key', 'key'),
    BQWARDEN__transport__sessionSecretFile: join(secrets, 'session-key', 'key'),
  };
  for (const e of gw.env) assert.ok(e.name in values, `Terraform sets ${e.name}; give the layout test a value for it`);
  return {
    ...Object.fromEntries(gw.env.map((e) => [e.name, values[e.name]])),
    // What local.derived_env adds (identity, writer, catalog), in the shapes run.tf builds.
    BQWARDEN__identity__google__idTokens: JSON.stringify({ audiences: [publicUrl, '32555940559.apps.googleusercontent.com'] }),
    BQWARDEN__upstream__writer: JSON.stringify({
      url: 'http://127.0.0.1:5001/mcp',
      name: 'toolbox-bigquery-writer',
      credential: { type: 'google_impersonated', targetPrincipal: 'bqwarden-writer@test-project.iam.gserviceaccount.com' },
    }),
    BQWARDEN__gcp__bigquery__catalog: 'true',
    // Local stand-ins for the Google endpoints.
    BQWARDEN__gcp__pubsubEndpoint: pubsub.endpoint,
    BQWARDEN__gcp__bigquery__apiEndpoint: bq.endpoint,
    GCE_METADATA_HOST: metadata.host,
  };
}

/** Secret files as Cloud Run mounts them: root-owned, in the mode Terraform asks for. */
function mountSecrets(mode: number): void {
  rmSync(secrets, { recursive: true, force: true });
  for (const [dir, file, content] of [
    ['audit-signing-key', 'key.pem', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    // 64 characters of [A-Za-z0-9], like the random_password Terraform generates.
    [
      'pseudonymise-key',
      'key',
      randomBytes(48)
        .toString('base64')
        .replace(/[^A-Za-z0-9]/g, 'A')
        .slice(0, 64),
    ],
    [
      'session-key',
      'key',
      randomBytes(48)
        .toString('base64')
        .replace(/[^A-Za-z0-9]/g, 'A')
        .slice(0, 64),
    ],
  ] as const) {
    mkdirSync(join(secrets, dir), { recursive: true, mode: 0o755 });
    writeFileSync(join(secrets, dir, file), content, { mode });
    chmodSync(join(secrets, dir, file), mode);
  }
  chmodSync(secrets, 0o755);
}

function startServe(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const cmd = JSON.parse(final.ins.filter((i) => i.op === 'CMD').at(-1)!.args) as string[];
  assert.equal(cmd[0], 'node');
  const child = spawn(process.execPath, cmd.slice(1), {
    cwd: layout,
    // The image's ENV, then Cloud Run's; nothing from this test process leaks in.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...envOf(final), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

async function waitReady(url: string, exited: Promise<number | null>, output: () => string): Promise<Record<string, unknown>> {
  let exit: number | null | undefined;
  void exited.then((c) => (exit = c));
  // A bound on waiting, not a timing assertion: a loaded machine only makes it slower.
  for (let i = 0; i < 600; i++) {
    if (exit !== undefined) assert.fail(`serve exited with ${exit} before /readyz answered:\n${output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return (await res.json()) as Record<string, unknown>;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`/readyz never answered 200:\n${output()}`);
}

before(async () => {
  layout = mkdtempSync(join(tmpdir(), 'bqw-image-'));
  secrets = mkdtempSync(join(tmpdir(), 'bqw-image-secrets-'));
  chmodSync(layout, 0o755);
  for (const copy of copiesOf(final)) layOut(copy);
  for (const i of final.ins.filter((x) => x.op === 'RUN')) {
    const m = /mkdir -p (\S+) && chown node:node \1/.exec(i.args);
    assert.ok(m, `the layout test does not know RUN ${i.args}`);
    const dir = join(layout, m[1]!.replace(/^\/app\/?/, ''));
    mkdirSync(dir, { recursive: true });
    if (asRoot) chownSync(dir, NOBODY, NOBODY);
  }
  pubsub = new FakePubSubServer();
  await pubsub.start();
  bq = new FakeBigQuery(() => ({ schema: auditTableSchema(), rows: [] }));
  await bq.start();
  metadata = new FakeMetadataServer();
  await metadata.start();
  dbDir = mkdtempSync(join(tmpdir(), 'bqw-image-db-'));
  cpSync(await bankDbTemplate(), join(dbDir, 'bank.db'));
  toolbox = await startToolbox({ database: join(dbDir, 'bank.db') });
});

after(async () => {
  await toolbox?.stop();
  await pubsub?.stop();
  await bq?.stop();
  await metadata?.stop();
  for (const d of [layout, secrets, dbDir]) if (d) rmSync(d, { recursive: true, force: true });
});

test('the image holds compiled JS and runtime dependencies only, plus its default policy', () => {
  assert.ok(existsSync(join(layout, 'dist', 'cli', 'index.js')));
  assert.ok(!existsSync(join(layout, 'src')), 'no TypeScript sources');
  for (const dev of ['tsx', 'esbuild', 'typescript', 'sql.js', '@toolbox-sdk/server', '@toolbox-sdk/server-linux-x64', '@cdktf/provider-google', 'fast-check']) {
    assert.ok(!existsSync(join(layout, 'node_modules', dev)), `${dev} is not in the image`);
  }
  assert.ok(existsSync(join(layout, 'node_modules', 'playwright-core')), 'the evidence report imports playwright-core');
  assert.ok(existsSync(join(layout, 'rules', 'roles.yaml')), 'policy from the image by default');
});

test('`bqwarden serve` on the image layout, as Cloud Run starts it, answers /readyz; SIGTERM seals the chain', async (t) => {
  if (Number(process.versions.node.split('.')[0]) < NODE_LTS_MAJOR)
    t.diagnostic(`the image runs Node ${NODE_LTS_MAJOR}; this run uses ${process.version} (CI runs the suite on Node ${NODE_LTS_MAJOR})`);
  if (!asRoot) t.diagnostic('not root: serve runs as the current user, not as an unprivileged one');
  mountSecrets(0o444);
  const port = await freePort();
  const env = await terraformEnv(port);
  const serve = startServe({ ...env, PORT: String(port) });
  t.after(() => {
    if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
  });
  const ready = await waitReady(`http://127.0.0.1:${port}/readyz`, serve.exited, serve.output);
  assert.deepEqual(ready, { status: 'ready', checks: { audit: true, upstream: true, policy: true } });
  // The protected resource metadata names the public URL Terraform passes.
  const prm = (await (await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string };
  assert.equal(prm.resource, `http://127.0.0.1:${port}/mcp`);
  assert.ok(metadata.tokenRequests >= 1, 'BigQuery (approval state) used the identity from the metadata server');
  assert.ok(
    bq.queries.some((q) => /approval_events/.test(q.query)),
    'approval state was rebuilt from the approval_events view',
  );

  serve.child.kill('SIGTERM');
  assert.equal(await serve.exited, 0, serve.output());
  const types = pubsub.messages.map((m) => JSON.parse(m.data.toString('utf8')).event_type as string);
  assert.equal(types[0], 'gateway_start');
  assert.ok(types.includes('gateway_stop'), `the chain was sealed: ${types.join(', ')}`);
});

test('attack on the old mounts: secret files readable only by root (mode 0400) stop the non-root gateway with a clear error', async (t) => {
  if (!asRoot) {
    t.skip('needs root to run serve as another user');
    return;
  }
  mountSecrets(0o400);
  const port = await freePort();
  const serve = startServe({ ...(await terraformEnv(port)), PORT: String(port) });
  const code = await serve.exited;
  assert.notEqual(code, 0);
  assert.match(serve.output(), /cannot read audit signing key .*EACCES/);
});
