#!/usr/bin/env node
// The code-health gate, run by `npm test` before the suite (and alone by `npm run lint`):
//   biome      lint rules and formatting (biome.json; `npx biome format --write .` fixes format)
//   depcruise  the layering and no import cycles (.dependency-cruiser.cjs)
//   knip       no unused files, exports or dependencies (knip.json)
//   tsc        the types (tsconfig.json: strict, noUncheckedIndexedAccess, noUnusedLocals); the
//              suite itself runs through tsx, which strips types without checking them
// Any failure fails the run: a guardrail that only warns is remembered by no one.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const steps = [
  ['biome', [bin('biome'), 'ci', '--error-on-warnings', '--reporter=summary', '.']],
  ['dependency-cruiser', [bin('depcruise'), 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err']],
  ['knip', [bin('knip'), '--no-progress']],
  ['tsc', [bin('tsc'), '--noEmit', '-p', 'tsconfig.json']],
];

const failed = [];
for (const [name, [cmd, ...args]] of steps) {
  process.stdout.write(`lint: ${name}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed.push(name);
}
if (failed.length) {
  console.error(`lint failed: ${failed.join(', ')}`);
  process.exit(1);
}
console.log('lint: ok');
