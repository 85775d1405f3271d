// Real-world BigQuery SQL from ../shared/corpus: parse + analyse rate per folder, with floors so
// coverage never regresses. Failing files and why: test/sql/corpus-failures.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyze } from '../../src/sql/analyze.js';

const corpus = join(fileURLToPath(import.meta.url), '..', '..', '..', '..', 'shared', 'corpus', 'bigquery');
// Measured with sql-parser-cst 0.42.1 plus patches/ (docs/sql.md): every file the parser accepts
// is analysed without error.
const FLOORS: Record<string, number> = { spider2: 148, sqlfluff: 118 };

for (const [folder, floor] of Object.entries(FLOORS)) {
  const dir = join(corpus, folder);
  test(`corpus ${folder}: parse and analyse rate`, { skip: existsSync(dir) ? false : `corpus not found at ${dir} (../shared absent)` }, () => {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    let ok = 0;
    const failed: string[] = [];
    for (const f of files) {
      const a = analyze(readFileSync(join(dir, f), 'utf8'), { dialect: 'bigquery', defaultProject: 'proj', defaultDataset: 'ds' });
      // An analyzer crash is reported as an `analyzer error` flag: never acceptable.
      assert.ok(!a.opaque.some((x) => x.detail.startsWith('analyzer error')), `${f}: ${JSON.stringify(a.opaque)}`);
      if (a.ok) {
        ok++;
        for (const s of a.statements) assert.ok(s.class, `${f}: statement without class`);
      } else failed.push(f);
    }
    console.log(`# corpus ${folder}: ${ok}/${files.length} parsed and analysed (floor ${floor}); failing: ${failed.join(', ') || 'none'}`);
    assert.ok(ok >= floor, `${folder}: ${ok} < floor ${floor}`);
  });
}
