// `npm run bench`: runs every bench/*.bench.ts in its own process, one after another (so they
// do not compete for the two cores), and writes docs/benchmarks.md from that one run.
// `npm run bench -- gateway sql` runs only the benches whose name contains an argument; such
// a partial run writes the document only with --write.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render, snapshotLoad, type BenchOutput } from './lib/report.js';

const dir = import.meta.dirname;
const args = process.argv.slice(2);
const write = args.includes('--write');
const filters = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const resultsDir = mkdtempSync(join(tmpdir(), 'bqw-bench-results-'));
const info = { startedAt: new Date(), loadBefore: snapshotLoad(), loadAfter: [] as number[] };
const outputs: BenchOutput[] = [];

for (const f of files) {
  process.stdout.write(`\n=== ${f} ===\n`);
  const t0 = performance.now();
  const { ok, output } = await new Promise<{ ok: boolean; output: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(dir, f)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BENCH_RESULTS_DIR: resultsDir },
    });
    let text = '';
    const tee = (d: Buffer) => {
      process.stdout.write(d);
      text += d;
    };
    child.stdout.on('data', tee);
    child.stderr.on('data', tee);
    child.on('exit', (code) => resolve({ ok: code === 0, output: text }));
  });
  outputs.push({ file: f, ok, seconds: (performance.now() - t0) / 1000, output });
}
info.loadAfter = snapshotLoad();

const result = (name: string) => {
  const file = join(resultsDir, `${name}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
};
const gateway = result('gateway') ?? null;
if (gateway) Object.assign(gateway, { masking: result('masking'), audit: result('audit') });
rmSync(resultsDir, { recursive: true, force: true });
if (filters.length === 0 || write) {
  const doc = join(dir, '..', 'docs', 'benchmarks.md');
  writeFileSync(doc, render(info, gateway, outputs));
  process.stdout.write(`\nwrote ${doc}\n`);
}
process.exit(outputs.every((o) => o.ok) ? 0 : 1);
