// CLI wiring: `schema check` against the checked-in files, and the verify --bigquery hook.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { bigQueryVerifySource } from '../../src/cli/gcp.js';
import { runCli } from '../helpers/cli.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('`bqwarden schema check` passes on the checked-in generated files', async () => {
  const r = await runCli(['schema', 'check'], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /up to date/);
});

test('verify --bigquery hook: adds its options, falls through without --bigquery, refuses a range-less run', async () => {
  const cmd = new Command('verify');
  bigQueryVerifySource.configure(cmd);
  const names = cmd.options.map((o) => o.long);
  for (const n of ['--bigquery', '--from', '--to', '--location', '--bigquery-endpoint']) assert.ok(names.includes(n), n);
  const ctx = { publicKeys: [], requireSealed: false };
  assert.equal(bigQueryVerifySource.run({}, ctx), null);
  await assert.rejects(bigQueryVerifySource.run({ bigquery: 'p.d.t', from: '2026-01-01' }, ctx)!, /--from YYYY-MM-DD and --to/);
});
