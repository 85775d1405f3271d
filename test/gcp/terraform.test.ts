// No terraform binary here: the HCL is parsed with @cdktf/hcl2json and the properties an
// examiner or a platform team would check are asserted on the parsed configuration.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';

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
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.tf')).sort()) {
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
  const tf = files['versions.tf'].terraform[0];
  assert.match(tf.required_version, />=\s*1\.5/);
  const providers = tf.required_providers[0];
  for (const p of ['google', 'google-beta']) {
    assert.match(providers[p].version, />=\s*[\d.]+,\s*<\s*[\d.]+/, `${p} pinned to a range`);
    assert.equal(providers[p].source, `hashicorp/${p}`);
  }
  const used = new Set(allResources(mod).map(([t]) => t.split('_')[0]));
  assert.deepEqual([...used], ['google']);
});

test('every variable (module and example) has a description', () => {
  for (const [where, m] of [['module', mod], ['example', example]] as const) {
    for (const [name, v] of Object.entries(m.variable ?? {})) {
      assert.ok((v as Obj[])[0].description?.length > 10, `${where} variable ${name} has a description`);
    }
  }
  for (const [name, o] of Object.entries(mod.output ?? {})) assert.ok((o as Obj[])[0].description, `output ${name} described`);
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
    'google_project_iam_member:roles/bigquery.jobUser',
    'google_project_iam_member:roles/logging.logWriter',
    'google_project_iam_member:roles/monitoring.metricWriter',
    'google_pubsub_topic_iam_member:roles/pubsub.publisher',
    'google_secret_manager_secret_iam_member:roles/secretmanager.secretAccessor',
  ]);
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
  assert.equal(vols.length, 2);
  for (const v of vols) assert.match(v, /google_secret_manager_secret\.gateway/);
  assert.doesNotMatch(JSON.stringify(mod.resource), /secret_data/, 'no secret value in Terraform (and so none in state)');
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
