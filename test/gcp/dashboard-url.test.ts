// The Terraform output examiner_dashboard_url must be the same link `bqwarden dashboard-url`
// prints (src/gcp/dashboard-url.ts) for the same inputs. Two ways of checking, both against
// the checked-in module: with a terraform binary the dashboard-url module is evaluated for real;
// always, its parameter templates are read from the parsed HCL and rebuilt here with a small
// evaluator that knows only the few forms the module may use (anything else fails the test).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { examinerDashboardUrl, DASHBOARD_VIEWS, EVENTS_VIEW } from '../../src/gcp/dashboard-url.js';
import { first } from '../helpers/present.js';

const moduleDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'terraform', 'modules', 'bqwarden');
const urlModuleDir = join(moduleDir, 'dashboard-url');

interface Sources {
  report_name: string;
  data_sources: { alias: string; table_id: string }[];
}
const sources = JSON.parse(readFileSync(join(moduleDir, 'generated', 'looker_data_sources.json'), 'utf8')) as Sources;

const CASES = [
  { projectId: 'bank-prod-123', datasetId: 'bqwarden_audit_views', templateReportId: '1b2c3d4e-aaaa-bbbb-cccc-0123456789ab' },
  { projectId: 'example.com:bank-audit', datasetId: 'views', templateReportId: 'tpl_0' },
];

type Obj = Record<string, any>;
let urlModule: Obj;
let outputs: Obj;

before(async () => {
  urlModule = await parse('main.tf', readFileSync(join(urlModuleDir, 'main.tf'), 'utf8'));
  outputs = await parse('outputs.tf', readFileSync(join(moduleDir, 'outputs.tf'), 'utf8'));
});

function terraformBinary(): string | null {
  const r = spawnSync('terraform', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? 'terraform' : null;
}

test('the data-source list Terraform reads is the CLI list: audit → events, then every dashboard view in order', () => {
  assert.deepEqual(sources.data_sources, [{ alias: 'audit', table_id: EVENTS_VIEW }, ...DASHBOARD_VIEWS.map((v) => ({ alias: v, table_id: v }))]);
});

test('the module output is the dashboard-url module fed from the generated list and the views dataset', () => {
  assert.equal(outputs.output.examiner_dashboard_url[0].value, '${module.examiner_dashboard.url}');
  const call = outputs.module.examiner_dashboard[0];
  assert.equal(call.source, './dashboard-url');
  assert.equal(call.data_sources, '${local.looker.data_sources}');
  assert.equal(call.report_name, '${local.looker.report_name}');
  assert.equal(call.template_report_id, '${var.looker_template_report_id}');
  assert.match(call.dataset_id, /google_bigquery_dataset\.views\.dataset_id/);
  assert.match(JSON.stringify(outputs.locals), /generated\/looker_data_sources\.json/);
});

/**
 * Rebuilds the link from the module's parameter templates. Knows `${urlencode(x)}` and `${x}`
 * for the module's variables and the loop variable `ds`; throws on anything else.
 */
function rebuildFromHcl(o: (typeof CASES)[number]): string {
  const params = urlModule.locals[0].params as string;
  const strings = [...params.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!); // the group is mandatory.filter((s) => s.includes('='));
  const head = strings.filter((s) => !s.startsWith('ds.'));
  const perSource = strings.filter((s) => s.startsWith('ds.'));
  assert.match(params, /for ds in var\.data_sources/, 'one group of parameters per data source, in list order');
  const value = (expr: string, ds: Sources['data_sources'][number] | null): string => {
    const vars: Record<string, string | undefined> = {
      'var.template_report_id': o.templateReportId,
      'var.report_name': sources.report_name,
      'var.project_id': o.projectId,
      'var.dataset_id': o.datasetId,
      'ds.alias': ds?.alias,
      'ds.table_id': ds?.table_id,
    };
    const enc = /^urlencode\(([\w.]+)\)$/.exec(expr);
    const name = enc ? enc[1]! : expr; // the group is mandatory
    const v = vars[name];
    if (v === undefined) throw new Error(`the dashboard-url module uses ${expr}, which this test cannot evaluate: keep to urlencode(var.x) / var.x / ds.x`);
    // Terraform's urlencode (Go QueryEscape) and URLSearchParams agree on identifier characters and spaces.
    return enc ? encodeURIComponent(v).replace(/%20/g, '+') : v;
  };
  const render = (tpl: string, ds: Sources['data_sources'][number] | null) => tpl.replace(/\$\{([^}]+)\}/g, (_, e: string) => value(e.trim(), ds));
  const query = [...head.map((s) => render(s, null)), ...sources.data_sources.flatMap((ds) => perSource.map((s) => render(s, ds)))];
  const out = urlModule.output.url[0].value as string;
  const base = /"(https:\/\/lookerstudio\.google\.com\/reporting\/create\?)\$\{join\(\\?"&\\?", local\.params\)\}"/.exec(out);
  assert.ok(base, `output url is <base>?join("&", local.params): ${out}`);
  return base[1] + query.join('&');
}

test('rebuilt from the parsed HCL, the Terraform link equals the CLI link (aliases, order, encoding)', () => {
  for (const c of CASES) {
    assert.equal(rebuildFromHcl(c), examinerDashboardUrl(c));
  }
  // The comparison can fail: a reordered or missing data source shows up.
  const saved = sources.data_sources;
  const [one, two, ...rest] = saved;
  assert.ok(one && two, 'the module declares at least two data sources to swap');
  sources.data_sources = [two, one, ...rest];
  const c = first(CASES, 'dashboard case');
  try {
    assert.notEqual(rebuildFromHcl(c), examinerDashboardUrl(c));
  } finally {
    sources.data_sources = saved;
  }
});

test('evaluated by terraform, the module output equals the CLI link; no template id gives null', (t) => {
  const tf = terraformBinary();
  if (!tf) {
    t.skip('no terraform binary on PATH: the parsed-HCL comparison above still runs');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bqw-tf-dashboard-'));
  try {
    const call = (name: string, c: { projectId: string; datasetId: string; templateReportId: string }) => `
module "${name}" {
  source             = ${JSON.stringify(urlModuleDir)}
  template_report_id = ${JSON.stringify(c.templateReportId)}
  report_name        = ${JSON.stringify(sources.report_name)}
  project_id         = ${JSON.stringify(c.projectId)}
  dataset_id         = ${JSON.stringify(c.datasetId)}
  data_sources       = jsondecode(file(${JSON.stringify(join(moduleDir, 'generated', 'looker_data_sources.json'))})).data_sources
}
output "${name}" { value = module.${name}.url }
`;
    const cases = [...CASES, { projectId: 'p', datasetId: 'd', templateReportId: '' }];
    writeFileSync(join(dir, 'main.tf'), cases.map((c, i) => call(`case${i}`, c)).join('\n'));
    // No providers and no resources: init and apply need no network and create nothing.
    const env = { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0' };
    execFileSync(tf, ['init', '-input=false', '-no-color'], { cwd: dir, env, stdio: 'pipe' });
    execFileSync(tf, ['apply', '-auto-approve', '-input=false', '-no-color'], { cwd: dir, env, stdio: 'pipe' });
    const out = JSON.parse(execFileSync(tf, ['output', '-json', '-no-color'], { cwd: dir, env, encoding: 'utf8' })) as Record<string, { value: string | null } | undefined>;
    CASES.forEach((c, i) => assert.equal(out[`case${i}`]?.value, examinerDashboardUrl(c), `case ${i}`));
    // Terraform leaves null outputs out of `output -json`.
    assert.equal(out[`case${CASES.length}`]?.value ?? null, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('terraform fmt: the module and example are formatted (when terraform is installed)', (t) => {
  const tf = terraformBinary();
  if (!tf) {
    t.skip('no terraform binary on PATH');
    return;
  }
  const r = spawnSync(tf, ['fmt', '-check', '-recursive', '-no-color', join(moduleDir, '..', '..')], { encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
  assert.equal(r.status, 0, `terraform fmt -check lists unformatted files:\n${r.stdout}`);
});
