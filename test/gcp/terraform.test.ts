// No terraform binary here: the HCL is parsed with @cdktf/hcl2json and the properties an
// examiner or a platform team would check are asserted on the parsed configuration.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { checkBody, loadProviderSchema } from './provider-schema.js';
import { at, present } from '../helpers/present.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'terraform');
const moduleDir = join(root, 'modules', 'bqwarden');
const exampleDir = join(root, 'examples', 'basic');

type Obj = Record<string, any>;
let mod: Obj;
let example: Obj;
let files: Record<string, Obj>;

async function parseDir(dir: string): Promise<{ merged: Obj; files: Record<string, Obj> }> {
  const merged: Obj = {};
  const perFile: Record<string, Obj> = {};
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.tf'))
    .sort()) {
    const json = await parse(f, readFileSync(join(dir, f), 'utf8'));
    perFile[f] = json;
    for (const [block, body] of Object.entries(json)) {
      if (block === 'terraform' || block === 'locals') {
        merged[block] = [...(merged[block] ?? []), ...(body as Obj[])];
        continue;
      }
      merged[block] ??= {};
      for (const [k, v] of Object.entries(body as Obj)) {
        if (block === 'resource' || block === 'data') {
          merged[block][k] = { ...(merged[block][k] ?? {}), ...(v as Obj) };
        } else merged[block][k] = v;
      }
    }
  }
  return { merged, files: perFile };
}

before(async () => {
  const m = await parseDir(moduleDir);
  mod = m.merged;
  files = m.files;
  example = (await parseDir(exampleDir)).merged;
});

/** One .tf file of the module, parsed. */
const file = (name: string): Obj => present(files[name], `terraform/modules/bqwarden/${name}`);
const res = (type: string, name: string): Obj => {
  const r = mod.resource?.[type]?.[name]?.[0];
  assert.ok(r, `resource ${type}.${name} exists`);
  return r;
};
const allResources = (m: Obj): Array<[string, string, Obj]> =>
  Object.entries(m.resource ?? {}).flatMap(([type, byName]) => Object.entries(byName as Obj).map(([n, v]) => [type, n, (v as Obj[])[0]] as [string, string, Obj]));

/** Every role string granted anywhere that is a primitive role. */
export function primitiveRoles(m: Obj): string[] {
  const text = JSON.stringify(m.resource ?? {});
  return [...text.matchAll(/roles\/(owner|editor|viewer)\b/g)].map((x) => x[0]);
}
/** Resources that grant to a public principal. */
export function publicGrants(m: Obj): string[] {
  return allResources(m)
    .filter(([, , r]) => /allUsers|allAuthenticatedUsers/.test(String(r.member ?? '') + JSON.stringify(r.members ?? '')))
    .map(([t, n]) => `${t}.${n}`);
}

test('the checkers catch what they look for (adversarial)', async () => {
  const bad = await parse(
    'bad.tf',
    `resource "google_project_iam_member" "x" {
       project = "p"
       role    = "roles/editor"
       member  = "allUsers"
     }`,
  );
  assert.deepEqual(primitiveRoles(bad), ['roles/editor']);
  assert.deepEqual(publicGrants(bad), ['google_project_iam_member.x']);
});

test('versions.tf pins terraform and every provider with lower and upper bounds', () => {
  const tf = file('versions.tf').terraform[0];
  // 1.11: write-only arguments and ephemeral resources (secrets.tf).
  assert.match(tf.required_version, />=\s*1\.11/);
  const providers = tf.required_providers[0];
  for (const p of ['google', 'google-beta', 'random', 'tls']) {
    assert.match(providers[p].version, />=\s*[\d.]+,\s*<\s*[\d.]+/, `${p} pinned to a range`);
    assert.equal(providers[p].source, `hashicorp/${p}`);
  }
  const used = new Set(allResources(mod).map(([t]) => t.split('_')[0]));
  assert.deepEqual([...used], ['google']);
});

test('every variable (module and example) has a description', () => {
  for (const [where, m] of [
    ['module', mod],
    ['example', example],
  ] as const) {
    for (const [name, v] of Object.entries(m.variable ?? {})) {
      assert.ok((v as Obj[])[0]?.description?.length > 10, `${where} variable ${name} has a description`);
    }
  }
  for (const [name, o] of Object.entries(mod.output ?? {})) assert.ok((o as Obj[])[0]?.description, `output ${name} described`);
});

test('least privilege: no primitive roles, no public principals, runtime SA has nothing on the audit trail', () => {
  assert.deepEqual(primitiveRoles(mod), []);
  assert.deepEqual(primitiveRoles(example), []);
  assert.deepEqual(publicGrants(mod), []);
  assert.deepEqual(publicGrants(example), []);
  const runtimeGrants = allResources(mod).filter(([t, , r]) => /_iam_member$/.test(t) && String(r.member).includes('google_service_account.runtime'));
  const roles = runtimeGrants.map(([t, , r]) => `${t}:${r.role}`).sort();
  assert.deepEqual(roles, [
    'google_bigquery_dataset_iam_member:roles/bigquery.dataViewer',
    'google_bigquery_table_iam_member:roles/bigquery.dataViewer',
    'google_kms_crypto_key_iam_member:roles/cloudkms.publicKeyViewer',
    'google_kms_crypto_key_iam_member:roles/cloudkms.signer',
    'google_project_iam_member:roles/bigquery.jobUser',
    'google_project_iam_member:roles/logging.logWriter',
    'google_project_iam_member:roles/monitoring.metricWriter',
    'google_pubsub_topic_iam_member:roles/pubsub.publisher',
    'google_secret_manager_secret_iam_member:roles/secretmanager.secretAccessor',
    'google_service_account_iam_member:roles/iam.serviceAccountTokenCreator',
    'google_storage_bucket_iam_member:roles/storage.objectCreator',
    'google_storage_bucket_iam_member:roles/storage.objectCreator',
    'google_storage_bucket_iam_member:roles/storage.objectCreator',
    'google_storage_bucket_iam_member:roles/storage.objectViewer',
    'google_storage_bucket_iam_member:roles/storage.objectViewer',
  ]);
  // The runtime may mint tokens for the writer account only, and read the policy bucket only.
  assert.match(res('google_service_account_iam_member', 'runtime_mints_writer_tokens').service_account_id, /^\$\{google_service_account\.writer\[0\]\.name\}$/);
  assert.match(res('google_storage_bucket_iam_member', 'runtime_policy_reader').bucket, /google_storage_bucket\.policy\[0\]\.name/);
  const runtimeWrites = runtimeGrants.filter(([, , r]) => /dataEditor|dataOwner|bigquery\.admin|bigquery\.user\b/.test(String(r.role)));
  assert.deepEqual(runtimeWrites, [], 'the read identity holds no BigQuery write role anywhere');
  assert.equal(res('google_bigquery_dataset_iam_member', 'runtime_data_viewer').for_each, '${toset(var.allowed_datasets)}');
  assert.match(res('google_pubsub_topic_iam_member', 'runtime_publisher').topic, /google_pubsub_topic\.audit\b/);
  // The one piece of audit data the runtime reads: approval events, through one view.
  const approvalReader = res('google_bigquery_table_iam_member', 'runtime_approval_events_reader');
  assert.match(approvalReader.table_id, /google_bigquery_table\.approval_events\.table_id/);
  assert.match(approvalReader.dataset_id, /google_bigquery_dataset\.views\b/);
  const runtimeOnAudit = runtimeGrants.filter(([, , r]) => /dataset\.audit\b|table\.audit\b/.test(`${r.dataset_id} ${r.table_id}`));
  assert.deepEqual(runtimeOnAudit, [], 'nothing on the raw audit dataset or table');
  // Pub/Sub service agent: write the audit table only, at table level.
  const agentTable = allResources(mod).filter(([t, , r]) => t === 'google_bigquery_table_iam_member' && r.member === '${local.pubsub_agent}');
  assert.deepEqual(agentTable.map(([, , r]) => r.role).sort(), ['roles/bigquery.dataEditor', 'roles/bigquery.metadataViewer']);
  // Examiners: views dataset only.
  const ex = res('google_bigquery_dataset_iam_member', 'examiner_views_viewer');
  assert.equal(ex.role, 'roles/bigquery.dataViewer');
  assert.match(ex.dataset_id, /google_bigquery_dataset\.views\b/);
  const examinerOnAudit = allResources(mod).filter(([, , r]) => String(r.member).includes('each.value') && String(r.dataset_id ?? '').includes('dataset.audit'));
  assert.deepEqual(examinerOnAudit, []);
  assert.match(res('google_bigquery_dataset_access', 'views_read_audit').dataset[0].target_types[0], /VIEWS/);
});

test('public invocation is refused unless IAP fronts the service', () => {
  const inv = mod.variable.invoker_members[0];
  assert.match(inv.validation[0].condition, /allUsers/);
  const invoker = res('google_cloud_run_v2_service_iam_member', 'invoker');
  assert.match(invoker.for_each, /var\.iap_enabled \? toset\(\[\]\)/);
  assert.match(invoker.lifecycle[0].precondition[0].condition, /allUsers/);
  const svc = res('google_cloud_run_v2_service', 'gateway');
  assert.equal(svc.iap_enabled, '${var.iap_enabled}');
  assert.equal(mod.variable.iap_enabled[0].default, false);
  assert.equal(res('google_cloud_run_v2_service_iam_member', 'iap_invoker').member, '${local.iap_agent}');
});

test('audit table: day partitions on event_time, retention, partition filter, clustering, deletion protection', () => {
  const t = res('google_bigquery_table', 'audit');
  const p = t.time_partitioning[0];
  assert.equal(p.type, 'DAY');
  assert.equal(p.field, 'event_time');
  assert.match(p.expiration_ms, /var\.audit_retention_days \* 86400000/);
  assert.equal(t.require_partition_filter, true);
  assert.equal(t.deletion_protection, '${var.deletion_protection}');
  assert.match(t.schema, /file\(.*generated\/audit_table_schema\.json/);
  const schema = JSON.parse(readFileSync(join(moduleDir, 'generated', 'audit_table_schema.json'), 'utf8')) as Obj[];
  const top = new Map(schema.map((f) => [f.name, f]));
  assert.ok(t.clustering.length <= 4);
  for (const c of t.clustering) assert.ok(top.has(c) && top.get(c)?.mode !== 'REPEATED' && top.get(c)?.type !== 'RECORD', `cluster column ${c} is top-level scalar`);
  const ret = mod.variable.audit_retention_days[0];
  assert.equal(ret.default, 1826);
  assert.match(ret.validation[0].condition, />= 365/);
  assert.equal(mod.variable.deletion_protection[0].default, true);
});

test('dedup view and every dashboards/views/*.sql deployed as a templated view', () => {
  const dedup = res('google_bigquery_table', 'events_dedup');
  assert.match(dedup.view[0].query, /PARTITION BY event_time, event_id/);
  const dash = res('google_bigquery_table', 'dashboard_views');
  assert.equal(dash.for_each, '${local.view_files}');
  assert.match(dash.view[0].query, /templatefile\(each\.value, local\.view_vars\)/);
  const locals = JSON.stringify(mod.locals);
  assert.match(locals, /fileset\(local\.dashboards_dir, \\"\*\.sql\\"\)/);
  assert.match(locals, /dashboards\/views/);
  const example = readFileSync(join(moduleDir, 'views', 'daily_decisions.sql'), 'utf8');
  for (const ph of ['${project}', '${dataset}', '${table}']) assert.ok(example.includes(ph), `example view uses ${ph}`);
  assert.match(example, /event_time >=/, 'the example view satisfies require_partition_filter');
});

test('Pub/Sub: schema-validated topic, BigQuery subscription with metadata, DLQ with its own subscription and IAM', () => {
  const schema = res('google_pubsub_schema', 'audit');
  assert.equal(schema.type, 'PROTOCOL_BUFFER');
  assert.match(schema.definition, /generated\/audit_topic_schema\.proto/);
  const topic = res('google_pubsub_topic', 'audit');
  assert.equal(topic.schema_settings[0].encoding, 'JSON');
  const sub = res('google_pubsub_subscription', 'bigquery');
  const bq = sub.bigquery_config[0];
  assert.equal(bq.use_table_schema, true);
  assert.equal(bq.write_metadata, true);
  assert.match(sub.dead_letter_policy[0].dead_letter_topic, /google_pubsub_topic\.dead_letter\.id/);
  const dlqSub = res('google_pubsub_subscription', 'dead_letter');
  assert.match(dlqSub.topic, /google_pubsub_topic\.dead_letter\.id/);
  assert.equal(dlqSub.expiration_policy[0].ttl, '');
  assert.equal(res('google_pubsub_topic_iam_member', 'pubsub_dlq_publisher').role, 'roles/pubsub.publisher');
  assert.match(res('google_pubsub_subscription_iam_member', 'pubsub_bq_subscriber').subscription, /subscription\.bigquery/);
  // The generated metadata columns the subscription writes exist in the table schema.
  const cols = JSON.parse(readFileSync(join(moduleDir, 'generated', 'audit_table_schema.json'), 'utf8')).map((c: Obj) => c.name);
  for (const c of ['subscription_name', 'message_id', 'publish_time', 'data', 'attributes']) assert.ok(cols.includes(c), c);
});

test('write-once archive: locked retention bucket fed by a Cloud Storage subscription', () => {
  const b = res('google_storage_bucket', 'archive');
  assert.equal(b.retention_policy[0].is_locked, '${var.archive_retention_locked}');
  assert.match(b.retention_policy[0].retention_period, /var\.archive_retention_days \* 86400/);
  assert.equal(b.public_access_prevention, 'enforced');
  assert.equal(b.force_destroy, false);
  assert.equal(mod.variable.archive_retention_locked[0].default, true);
  const s = res('google_pubsub_subscription', 'archive');
  assert.match(s.topic, /google_pubsub_topic\.audit\.id/);
  assert.match(s.cloud_storage_config[0].bucket, /google_storage_bucket\.archive\.name/);
});

test('Cloud Run: only the gateway has a port, toolbox on localhost, secrets mounted not in env, probes, affinity', () => {
  const svc = res('google_cloud_run_v2_service', 'gateway');
  const tpl = svc.template[0];
  assert.equal(tpl.session_affinity, true);
  assert.match(tpl.service_account, /google_service_account\.runtime\.email/);
  const byName = new Map((tpl.containers as Obj[]).map((c) => [c.name, c]));
  const gw = byName.get('gateway')!;
  const tb = byName.get('toolbox')!;
  assert.deepEqual(gw.ports, [{ container_port: 8080 }]);
  assert.equal(tb.ports, undefined, 'the sidecar exposes no port');
  assert.ok(tb.args.includes('127.0.0.1') && tb.args.includes('--prebuilt') && tb.args.includes('bigquery'));
  assert.match(mod.variable.toolbox_image[0].default, /^us-central1-docker\.pkg\.dev\/database-toolbox\/toolbox\/toolbox:\d/);
  assert.equal(gw.startup_probe[0].http_get[0].path, '/readyz');
  assert.equal(gw.liveness_probe[0].http_get[0].path, '/healthz');
  for (const e of gw.env as Obj[]) {
    assert.equal(e.value_source, undefined);
    assert.doesNotMatch(String(e.value), /google_secret_manager|secret_data|BEGIN .*PRIVATE/, `env ${e.name} carries no secret`);
    if (/key|secret|token|password/i.test(e.name)) assert.match(e.name, /File$/, `${e.name} points at a mounted file`);
  }
  const envNames = (gw.env as Obj[]).map((e) => e.name);
  for (const n of ['HOST', 'BQWARDEN__auditSink', 'BQWARDEN__gcp__topic', 'BQWARDEN__audit__signingKeyFile', 'BQWARDEN__masking__pseudonym__keyFile']) assert.ok(envNames.includes(n), n);
  assert.ok(!envNames.includes('PORT'), 'PORT is reserved: Cloud Run sets it');
  // The chain seal (gateway_stop + checkpoint) must fit in Cloud Run's 10 s after SIGTERM.
  const drain = (gw.env as Obj[]).find((e) => e.name === 'BQWARDEN__server__drainTimeoutMs');
  assert.ok(drain && Number(drain.value) <= 7000, 'drain leaves at least 3 s of the 10 s SIGTERM grace for the seal');
  const vols = (tpl.volumes as Obj[]).map((v) => v.secret?.[0]?.secret);
  assert.equal(vols.length, 3);
  for (const v of vols) assert.match(v, /google_secret_manager_secret\.gateway/);
  assert.doesNotMatch(JSON.stringify(mod.resource), /"secret_data"|secret_data_base64/, 'no secret value as a plain argument (it would be in plan and state)');
  assert.match(mod.variable.gateway_env[0].validation[0].condition, /secret\|password/);
});

test('outputs: gateway URL, audit table, approval events view, Looker Studio dashboard link (compared with the CLI in dashboard-url.test.ts)', () => {
  for (const o of ['gateway_url', 'audit_table', 'approval_events_view', 'examiner_dashboard_url']) assert.ok(mod.output[o], o);
  assert.equal(mod.output.examiner_dashboard_url[0].value, '${module.examiner_dashboard.url}');
  assert.equal(example.module.bqwarden[0].source, '../../modules/bqwarden');
});

test('approval events view: approval_* rows only, event columns only, and the gateway is pointed at it', () => {
  const v = res('google_bigquery_table', 'approval_events');
  assert.match(v.dataset_id, /google_bigquery_dataset\.views\b/);
  const q = v.view[0].query as string;
  for (const t of ['approval_requested', 'approval_granted', 'approval_rejected', 'approval_expired', 'approval_executed']) assert.ok(q.includes(`'${t}'`), t);
  assert.match(q, /WHERE event_type IN \(/);
  assert.match(q, /EXCEPT \(subscription_name, message_id, publish_time, data, attributes\)/);
  const gw = (res('google_cloud_run_v2_service', 'gateway').template[0].containers as Obj[]).find((c) => c.name === 'gateway')!;
  const env = (gw.env as Obj[]).find((e) => e.name === 'BQWARDEN__gcp__approvals__table');
  assert.match(String(env?.value), /google_bigquery_table\.approval_events\.table_id/);
});

// ---- Issue 12: applies in an empty project, serves its first call ---------------------------

const schemas = { google: loadProviderSchema('@cdktf/provider-google'), 'google-beta': loadProviderSchema('@cdktf/provider-google-beta') };

/** Every managed resource and data source of a parsed configuration, with the provider it uses. */
function blocksOf(m: Obj): Array<{ kind: 'resource' | 'data'; type: string; name: string; body: Obj; provider: 'google' | 'google-beta' }> {
  const out: ReturnType<typeof blocksOf> = [];
  for (const kind of ['resource', 'data'] as const) {
    for (const [type, byName] of Object.entries(m[kind] ?? {})) {
      for (const [name, bodies] of Object.entries(byName as Obj)) {
        const body = present((bodies as Obj[])[0], `${kind} ${type}.${name}`);
        out.push({ kind, type, name, body, provider: String(body.provider ?? '').includes('google-beta') ? 'google-beta' : 'google' });
      }
    }
  }
  return out;
}

export function schemaProblems(m: Obj): string[] {
  const problems: string[] = [];
  for (const b of blocksOf(m)) {
    const schema = schemas[b.provider][b.kind === 'resource' ? 'resources' : 'dataSources'].get(b.type);
    if (!schema) {
      problems.push(`${b.kind} ${b.type}.${b.name}: not in ${b.provider} ${schemas[b.provider].version}`);
      continue;
    }
    problems.push(...checkBody(schema, b.body, `${b.type}.${b.name}`, schema.required));
  }
  return problems;
}

test('provider schema checker catches unknown arguments, misplaced blocks, missing required ones and beta-only resources (adversarial)', async () => {
  const bad = await parse(
    'bad.tf',
    `resource "google_cloud_run_v2_service" "x" {
       name     = "s"
       location = "r"
       iap_enabled_typo = true
       template {
         containers {
           image = "i"
           portz { container_port = 1 }
         }
       }
     }
     resource "google_project_service_identity" "y" {
       service = "iap.googleapis.com"
     }
     resource "google_secret_manager_secret_version" "z" {
       secret_data_wo = "x"
     }
     resource "google_storage_bucket" "w" {
       name     = "b"
       location = "US"
       dynamic "versioning_typo" {
         for_each = [1]
         content { enabled = true }
       }
     }`,
  );
  const found = schemaProblems(bad);
  for (const want of [
    'google_cloud_run_v2_service.x.iap_enabled_typo: unknown',
    'google_cloud_run_v2_service.x.template.containers.portz: unknown',
    'resource google_project_service_identity.y: not in google 6.50.0',
    'google_secret_manager_secret_version.z: required argument secret is missing',
    'google_storage_bucket.w.dynamic "versioning_typo": unknown block',
  ]) {
    assert.ok(
      found.some((f) => f.startsWith(want)),
      `expected ${want} in ${JSON.stringify(found, null, 1)}`,
    );
  }
});

test('every resource, data source, argument and block (module, submodule, example) is in the provider schema (google and google-beta 6.50 bindings)', async () => {
  assert.equal(schemas.google.version, '6.50.0');
  assert.equal(schemas['google-beta'].version, '6.50.0');
  const sub = (await parseDir(join(moduleDir, 'dashboard-url'))).merged;
  const all = [...schemaProblems(mod), ...schemaProblems(example), ...schemaProblems(sub)];
  assert.deepEqual(all, []);
  // The checker really looked: nested blocks of the service were walked.
  assert.ok(blocksOf(mod).length > 40);
});

test('ephemeral resources: only the three key generators, from random and tls, written only to write-only arguments', () => {
  const eph = mod.ephemeral ?? {};
  assert.deepEqual(Object.keys(eph).sort(), ['random_password', 'tls_private_key']);
  assert.equal(eph.tls_private_key.audit_signing[0].algorithm, 'ED25519');
  assert.equal(eph.random_password.pseudonymise[0].special, false);
  assert.ok(eph.random_password.pseudonymise[0].length >= 44, 'at least 32 bytes once base64-decoded');
  const uses = JSON.stringify(mod.resource).match(/ephemeral\.[a-z_]+\.[a-z_]+\[0\]\.[a-z_0-9]+/g) ?? [];
  assert.ok(eph.random_password.session[0].length >= 32, 'the session key is read as raw bytes: at least 32');
  assert.deepEqual(uses.sort(), [
    'ephemeral.random_password.pseudonymise[0].result',
    'ephemeral.random_password.session[0].result',
    'ephemeral.tls_private_key.audit_signing[0].private_key_pem_pkcs8',
  ]);
  for (const [, , r] of allResources(mod)) {
    for (const [k, v] of Object.entries(r)) if (JSON.stringify(v).includes('ephemeral.')) assert.match(k, /_wo$/, `${k} takes an ephemeral value, so it must be write-only`);
  }
  assert.ok(!JSON.stringify(mod.output ?? {}).includes('ephemeral.'), 'no output exposes generated keys');
});

test('first apply: secret versions exist before the service, are mounted by version, and readable by the image user', () => {
  for (const [name, secret] of [
    ['audit_signing_key', 'audit-signing-key'],
    ['pseudonymise_key', 'pseudonymise-key'],
    ['session_key', 'session-key'],
  ] as const) {
    const v = res('google_secret_manager_secret_version', name);
    assert.equal(v.count, '${var.manage_secret_versions ? 1 : 0}');
    assert.match(v.secret, new RegExp(`google_secret_manager_secret\\.gateway\\["${secret}"\\]\\.id`));
    assert.match(String(v.secret_data_wo_version), /var\.[a-z_]+_generation/);
  }
  assert.equal(mod.variable.manage_secret_versions[0].default, true);
  const svc = res('google_cloud_run_v2_service', 'gateway');
  for (const dep of [
    'google_secret_manager_secret_version.audit_signing_key',
    'google_secret_manager_secret_version.pseudonymise_key',
    'google_secret_manager_secret_version.session_key',
    'google_secret_manager_secret_iam_member.runtime_secret_access',
  ]) {
    assert.ok(svc.depends_on.includes(`\${${dep}}`), `service depends on ${dep}`);
  }
  const items = (svc.template[0].volumes as Obj[]).filter((v) => v.secret).map((v) => v.secret[0].items[0]);
  assert.deepEqual(
    items.map((i) => i.version),
    ['${local.signing_key_version}', '${local.pseudonymise_key_version}', '${local.session_key_version}'],
  );
  // Every instance reads the same session key, so a sealed session id opens on any of them.
  const env = Object.fromEntries((svc.template[0].containers[0].env as Obj[]).filter((e) => e.name).map((e) => [e.name, e.value]));
  assert.equal(env.BQWARDEN__transport__sessionSecretFile, '/secrets/session-key/key');
  const mounts = (svc.template[0].containers[0].volume_mounts as Obj[]).map((m) => `${m.name}:${m.mount_path}`);
  assert.ok(mounts.includes('session-key:/secrets/session-key'), mounts.join(', '));
  for (const i of items) assert.equal(i.mode & 0o444, 0o444, `mode ${i.mode.toString(8)} is readable by user node (files are owned by root)`);
  const locals = JSON.stringify(mod.locals);
  assert.match(locals, /signing_key_version.*google_secret_manager_secret_version\.audit_signing_key\[0\]\.version : \\"latest\\"/);
});

test('service identities: the Pub/Sub and IAP agents are created (google-beta) before anything names them', () => {
  const pubsub = res('google_project_service_identity', 'pubsub');
  assert.equal(pubsub.service, 'pubsub.googleapis.com');
  assert.equal(pubsub.provider, '${google-beta}');
  const iap = res('google_project_service_identity', 'iap');
  assert.equal(iap.service, 'iap.googleapis.com');
  assert.equal(iap.count, '${var.iap_enabled ? 1 : 0}');
  const locals = JSON.stringify(mod.locals);
  assert.match(locals, /pubsub_agent":"serviceAccount:\$\{google_project_service_identity\.pubsub\.email\}/);
  assert.match(locals, /iap_agent":"\$\{var\.iap_enabled \? \\"serviceAccount:\$\{google_project_service_identity\.iap\[0\]\.email\}/);
});

test('provider floors match what is used: iap_enabled needs google-beta >= 6.31', () => {
  // The version group is mandatory in the pattern; a part a constraint leaves out is 0, as in Terraform.
  const floor = (p: string) => /(>=\s*)([\d.]+)/.exec(file('versions.tf').terraform[0].required_providers[0][p].version)![2]!.split('.').map(Number);
  const atLeast = ([a = 0, b = 0, c = 0]: number[], [x, y, z]: [number, number, number]) => a > x || (a === x && (b > y || (b === y && c >= z)));
  assert.ok(JSON.stringify(res('google_cloud_run_v2_service', 'gateway')).includes('iap_enabled'));
  assert.ok(atLeast(floor('google-beta'), [6, 31, 0]));
  assert.ok(atLeast(floor('google'), [6, 31, 0]));
  const exampleProviders = example.terraform[0].required_providers[0];
  for (const p of ['google', 'google-beta', 'random', 'tls'])
    assert.equal(exampleProviders[p].version, file('versions.tf').terraform[0].required_providers[0][p].version, `example pins ${p} like the module`);
});

test('reachability and identity: ingress all behind Cloud Run IAM by default, first-class issuer/audience/IAP/resource variables', () => {
  assert.equal(mod.variable.ingress[0].default, 'INGRESS_TRAFFIC_ALL');
  for (const v of ['public_url', 'oidc_issuers', 'google_id_token_audiences', 'accept_gcloud_user_tokens', 'google_hosted_domains', 'iap_enabled', 'iap_members']) assert.ok(mod.variable[v], v);
  assert.equal(mod.variable.accept_gcloud_user_tokens[0].default, false);
  const locals = JSON.stringify(mod.locals);
  assert.match(locals, /gateway_url":"\$\{coalesce\(var\.public_url, \\"https:\/\/\$\{local\.service_name\}-\$\{data\.google_project\.this\.number\}\.\$\{var\.region\}\.run\.app\\"\)\}/);
  assert.match(locals, /iap_audience":"\/projects\/\$\{data\.google_project\.this\.number\}\/locations\/\$\{var\.region\}\/services\/\$\{local\.service_name\}/);
  for (const key of [
    'BQWARDEN__identity__issuers',
    'BQWARDEN__identity__google__iap',
    'BQWARDEN__identity__google__idTokens',
    'BQWARDEN__upstream__writer',
    'BQWARDEN__gcp__bigquery__catalog',
    'BQWARDEN__rules__dir',
  ])
    assert.ok(locals.includes(key), key);
  const gw = (res('google_cloud_run_v2_service', 'gateway').template[0].containers as Obj[]).find((c) => c.name === 'gateway')!;
  assert.equal((gw.env as Obj[]).find((e) => e.name === 'BQWARDEN_PUBLIC_URL')?.value, '${local.gateway_url}');
  assert.deepEqual(Object.keys(gw.dynamic.env[0]), ['content', 'for_each']);
  assert.equal(gw.dynamic.env[0].for_each, '${local.derived_env}');
  assert.equal(mod.output.mcp_url[0].value, '${local.gateway_url}/mcp');
});

test('least privilege that still works: a separate writer identity, used only through the credential-less writer Toolbox', () => {
  const sa = res('google_service_account', 'writer');
  assert.equal(sa.count, '${local.writer_enabled ? 1 : 0}');
  const editor = res('google_bigquery_dataset_iam_member', 'writer_data_editor');
  assert.equal(editor.for_each, '${toset(var.writable_datasets)}');
  assert.equal(editor.role, 'roles/bigquery.dataEditor');
  const writerGrants = allResources(mod).filter(([, , r]) => String(r.member).includes('google_service_account.writer'));
  assert.deepEqual(writerGrants.map(([t, , r]) => `${t}:${r.role}`).sort(), ['google_bigquery_dataset_iam_member:roles/bigquery.dataEditor', 'google_project_iam_member:roles/bigquery.jobUser']);
  const tpl = res('google_cloud_run_v2_service', 'gateway').template[0];
  const writer = tpl.dynamic.containers[0];
  assert.equal(writer.for_each, '${local.writer_enabled ? ["toolbox-writer"] : []}');
  const c = writer.content[0];
  assert.equal(c.ports, undefined, 'no port: loopback only');
  assert.ok(c.args.includes('127.0.0.1'));
  const env = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e.value]));
  assert.equal(env.BIGQUERY_USE_CLIENT_OAUTH, 'true', 'it holds no credential: BigQuery calls use the token the gateway sends');
  assert.equal(env.BIGQUERY_IMPERSONATE_SERVICE_ACCOUNT, undefined);
  const locals = JSON.stringify(mod.locals);
  assert.match(locals, /type = \\"google_impersonated\\", targetPrincipal = google_service_account\.writer\[0\]\.email/);
  // The read Toolbox gets no client OAuth and no impersonation: it only ever has the read identity.
  const reader = (tpl.containers as Obj[]).find((x) => x.name === 'toolbox')!;
  assert.ok(!(reader.env as Obj[]).some((e) => /CLIENT_OAUTH|IMPERSONATE/.test(e.name)));
});

test('policy: from the image by default, from a versioned bucket mounted read-only when policy_dir is set', () => {
  assert.equal(mod.variable.policy_dir[0].default, null);
  const b = res('google_storage_bucket', 'policy');
  assert.equal(b.versioning[0].enabled, true);
  assert.equal(b.public_access_prevention, 'enforced');
  const tpl = res('google_cloud_run_v2_service', 'gateway').template[0];
  const vol = tpl.dynamic.volumes[0].content[0];
  assert.equal(vol.gcs[0].read_only, true);
  assert.match(tpl.execution_environment, /EXECUTION_ENVIRONMENT_GEN2/);
  const locals = JSON.stringify(mod.locals);
  assert.match(locals, /BQWARDEN_POLICY_DIGEST/);
  assert.match(locals, /filesha256/);
});

test('operations: 31-day dead letters, copied to the locked archive, alerts on dead letters, backlog and publish failures', () => {
  assert.equal(res('google_pubsub_topic', 'dead_letter').message_retention_duration, '2678400s');
  const dla = res('google_pubsub_subscription', 'dead_letter_archive');
  assert.match(dla.topic, /google_pubsub_topic\.dead_letter\.id/);
  assert.match(dla.cloud_storage_config[0].bucket, /google_storage_bucket\.archive\.name/);
  assert.equal(dla.cloud_storage_config[0].filename_prefix, 'dead-letter/');
  const policies = mod.resource.google_monitoring_alert_policy as Obj;
  const filters = JSON.stringify(policies);
  for (const metric of ['subscription/num_undelivered_messages', 'subscription/oldest_unacked_message_age', 'topic/send_request_count'])
    assert.ok(filters.includes(`pubsub.googleapis.com/${metric}`), metric);
  for (const p of Object.values(policies)) assert.equal((p as Obj[])[0]?.notification_channels, '${var.alert_notification_channels}');
  // The log-match alert names the exact message the gateway logs, under the key pino writes.
  const logFilter = policies.audit_write_failures[0].conditions[0].condition_matched_log[0].filter as string;
  const msg = /jsonPayload\.message = "([^"]+)"/.exec(logFilter)?.[1];
  assert.ok(msg && readFileSync(join(root, '..', 'src', 'pipeline', 'kit.ts'), 'utf8').includes(`'${msg}'`), `the gateway logs "${msg}" (src/pipeline/kit.ts, the one audit writer)`);
  assert.match(readFileSync(join(root, '..', 'src', 'ops', 'logger.ts'), 'utf8'), /messageKey: 'message'/);
  assert.equal(policies.audit_write_failures[0].conditions.length, 1, 'a log-match condition must be alone in its policy');
});

test('gateway_env guard: accepts the identity keys the deploy doc needs, refuses secret-looking names and values (evaluated by terraform when installed)', (t) => {
  const guard = mod.variable.gateway_env[0].validation as Obj[];
  const nameCond = at(guard, 0, 'gateway_env validation (names)').condition as string;
  const valueCond = at(guard, 1, 'gateway_env validation (values)').condition as string;
  const cases: Record<string, Record<string, string>> = {
    identity: {
      BQWARDEN__identity__google__idTokens: '{"audiences":["x"]}',
      BQWARDEN__identity__issuers: '[]',
      BQWARDEN__identity__google__iap: '{}',
      BQWARDEN__identity__resource: 'https://x/mcp',
      BQWARDEN__masking__pseudonym__keyFile: '/secrets/k',
    },
    key: { BQWARDEN__masking__pseudonym__key: 'abc' },
    token: { BQWARDEN__upstream__token: 'abc' },
    secret: { MY_CLIENT_SECRET: 'abc' },
    password: { BQWARDEN__db__password: 'abc' },
    // A real key, generated for this run (never one committed to the repository).
    pem: { BQWARDEN__identity__note: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
  };
  const want: Record<string, boolean> = { identity: true, key: false, token: false, secret: false, password: false, pem: false };
  const tf = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;
  if (!tf) {
    t.skip('no terraform binary on PATH: the guard expressions were only parsed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bqw-guard-'));
  try {
    const expr = (cond: string, env: string) => cond.replace(/^\$\{|\}$/g, '').replaceAll('var.gateway_env', env);
    writeFileSync(
      join(dir, 'main.tf'),
      `variable "cases" {\n  type = map(map(string))\n}\nlocals {\n  ok = { for c, env in var.cases : c => (${expr(nameCond, 'env')}) && (${expr(valueCond, 'env')}) }\n}\n`,
    );
    writeFileSync(join(dir, 'terraform.tfvars.json'), JSON.stringify({ cases }));
    const r = spawnSync('terraform', ['console'], { cwd: dir, input: 'jsonencode(local.ok)\n', encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    assert.equal(r.status, 0, r.stderr);
    const fromConsole = JSON.parse(JSON.parse(r.stdout.trim().split('\n').at(-1)!));
    assert.deepEqual(fromConsole, want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trust (issue 13): KMS signing key (sign-only for the runtime), anchor and claim buckets locked and create-only, wired into the gateway env', () => {
  const key = res('google_kms_crypto_key', 'audit_checkpoints');
  assert.equal(key.purpose, 'ASYMMETRIC_SIGN');
  assert.equal(key.version_template[0].algorithm, '${var.audit_signing_algorithm}');
  assert.equal(key.version_template[0].protection_level, '${var.audit_signing_protection_level}');
  assert.equal(mod.variable.audit_signing_protection_level[0].default, 'HSM');
  assert.equal(mod.variable.audit_signing_algorithm[0].default, 'EC_SIGN_P256_SHA256');
  for (const b of ['anchors', 'approval_claims', 'tool_pins']) {
    const bucket = res('google_storage_bucket', b);
    assert.equal(bucket.retention_policy[0].is_locked, '${var.trust_retention_locked}');
    assert.equal(bucket.public_access_prevention, 'enforced');
  }
  assert.equal(mod.variable.trust_retention_locked[0].default, true);
  const runtimeOnTrustBuckets = allResources(mod).filter(
    ([t, , r]) => t === 'google_storage_bucket_iam_member' && String(r.member).includes('google_service_account.runtime') && /anchors|approval_claims|tool_pins/.test(String(r.bucket)),
  );
  assert.deepEqual(runtimeOnTrustBuckets.map(([, , r]) => `${r.bucket}:${r.role}`).sort(), [
    '${google_storage_bucket.anchors.name}:roles/storage.objectCreator',
    '${google_storage_bucket.approval_claims.name}:roles/storage.objectCreator',
    '${google_storage_bucket.tool_pins.name}:roles/storage.objectCreator',
    '${google_storage_bucket.tool_pins.name}:roles/storage.objectViewer',
  ]);
  const env = JSON.stringify(mod.locals);
  for (const k of ['BQWARDEN__audit__kms__keyVersion', 'BQWARDEN__audit__anchors__gcs__bucket', 'BQWARDEN__approvals__claims__gcs__bucket', 'BQWARDEN__toolPins__gcs__bucket'])
    assert.ok(env.includes(k), k);
  assert.match(JSON.stringify(file('run.tf').locals), /derived_env[^}]*merge\([^)]*local\.trust_env\)/, 'the service env includes the trust settings');
  for (const o of ['audit_signing_public_key_pem', 'audit_signing_key_version', 'anchor_bucket', 'approval_claims_bucket', 'tool_pins_bucket']) assert.ok(mod.output[o], o);
});
