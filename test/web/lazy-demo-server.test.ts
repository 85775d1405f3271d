// A production gateway never loads oidc-provider (≈ 28 MB resident): the demo authorization
// server is imported only when the demo runs it. Checked on the static import graph of the
// server's composition root — type-only imports and dynamic import() do not load a module at
// start-up, every other import does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Specifiers a file loads when it is evaluated: static imports and re-exports, not `import type`. */
function staticImports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(?!type\b)([^;'"]*?\bfrom\s+)?['"]([^'"]+)['"]/gm)) out.push(m[3]!);
  return out;
}

/** Path of each module reachable from `entry` by static imports; packages by name. */
function reachable(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const spec of staticImports(f)) {
      if (!spec.startsWith('.')) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
        continue;
      }
      const ts = resolve(dirname(f), spec).replace(/\.js$/, '.ts');
      if (existsSync(ts)) todo.push(ts);
    }
  }
  return { files, packages };
}

test('the server loads oidc-provider only when the demo authorization server runs', () => {
  const { files, packages } = reachable(join(root, 'src/server/app.ts'));
  assert.ok(files.size > 50 && packages.has('fastify'), `the walk followed the imports (${files.size} files)`);
  assert.ok(!packages.has('oidc-provider'), 'oidc-provider is reachable by static imports from src/server/app.ts');
  // …and the demo's server itself does load it (the walk can see it).
  assert.ok(reachable(join(root, 'src/web/auth-server.ts')).packages.has('oidc-provider'));
});
