import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyze } from '../../src/sql/analyze.js';
import { columnKey } from '../../src/sql/types.js';
import { cases } from './cases.js';
import { oracleCases } from './oracles.js';
import { bqCatalog, short, sqliteCatalog } from './helpers.js';

function shortFq(fq: string): string {
  return short(fq);
}

for (const [i, k] of [...cases, ...oracleCases].entries()) {
  const dialect = k.d ?? 'bigquery';
  test(`case ${i} [${dialect}] ${k.sql.slice(0, 90)}`, () => {
    const a = analyze(k.sql, {
      dialect,
      defaultProject: dialect === 'sqlite' ? 'demo' : 'p',
      defaultDataset: dialect === 'sqlite' ? 'main' : 'd',
      catalog: k.nocat ? undefined : dialect === 'sqlite' ? sqliteCatalog : bqCatalog,
    });
    const flags = [...new Set(a.opaque.map((f) => f.kind))].sort();
    assert.deepEqual(flags, [...(k.f ?? [])].sort(), `flags: ${JSON.stringify(a.opaque)}`);
    if (k.c !== undefined) assert.equal(a.statements.map((s) => s.class).join(','), k.c);
    if (k.x)
      assert.deepEqual(
        a.statements.map((s) => s.destructive),
        k.x,
      );
    const union = (f: 'tablesRead' | 'tablesWritten') => [...new Set(a.statements.flatMap((s) => s[f].map((t) => shortFq(t.fq))))].sort();
    if (k.r) assert.deepEqual(union('tablesRead'), [...k.r].sort(), 'tables read');
    if (k.w) assert.deepEqual(union('tablesWritten'), [...k.w].sort(), 'tables written');
    if (k.o) {
      const last = a.statements.filter((s) => s.output).at(-1);
      assert.ok(last, 'a statement with output');
      const got = last.output!.map(
        (o) =>
          `${o.unresolved ? '~' : ''}${o.name}=${o.sources
            .map((s) => short(columnKey(s)))
            .sort()
            .join('|')}`,
      );
      assert.deepEqual(got, k.o);
    }
    const uses = new Set(a.statements.flatMap((s) => s.uses.map((u) => `${u.clause}:${short(columnKey(u.column))}`)));
    for (const u of k.u ?? []) assert.ok(uses.has(u), `missing use ${u}; got ${[...uses].join(', ')}`);
    for (const u of k.nu ?? []) assert.ok(!uses.has(u), `unexpected use ${u}; got ${[...uses].join(', ')}`);
  });
}
