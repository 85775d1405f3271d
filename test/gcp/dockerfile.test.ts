// The Dockerfile's security-relevant properties, checked by reading it (Docker does not run
// here); test/gcp/image.test.ts lays out what it copies and starts the gateway on that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { problems } from './dockerfile.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('the linter catches a bad Dockerfile (adversarial)', () => {
  const bad = ['FROM node:20', 'ENV API_KEY=abc', 'COPY service-account.json /app/', 'COPY src ./src', 'ADD https://x/y /y', 'CMD node bin/bqwarden.js serve'].join('\n');
  const found = problems(bad);
  for (const want of [
    'not multi-stage',
    'final stage is not Node 24',
    'final stage runs as root',
    'secret-looking ENV',
    'copies secret material',
    'ADD from URL',
    'PORT default',
    'exec form',
    'does not copy the compiled dist/',
    'copies TypeScript sources',
    'does not copy rules/',
  ]) {
    assert.ok(
      found.some((f) => f.includes(want)),
      `expected problem: ${want} in ${JSON.stringify(found)}`,
    );
  }
  assert.ok(
    problems(`FROM node:24 AS a\nFROM node:24\nUSER root\nENV PORT=8080\nCOPY --from=a /app/dist ./dist\nCOPY rules ./rules\nCMD ["node","bin/bqwarden.js","serve"]`).includes(
      'final stage runs as root',
    ),
  );
});

test('Dockerfile: multi-stage Node 24, non-root, no secrets, PORT, compiled entry, policy, runtime dependencies only', () => {
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
  assert.deepEqual(problems(text), []);
  assert.match(text, /npm run build/);
  assert.match(text, /--omit=dev/);
  // The runtime dependencies are installed with --ignore-scripts, which skips postinstall: the
  // stage must apply patches/ itself (sql-parser-cst's BigQuery grammar fixes, docs/sql.md).
  assert.match(text, /COPY patches \.\/patches\nRUN npm install [^\n]*--omit=dev[^\n]*\\\n && npx --yes patch-package@[\d.]+ --error-on-fail/);
});

test('.dockerignore keeps local state and key material out of the build context', () => {
  const lines = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  for (const must of ['.git', 'node_modules', 'data', '.env', '**/*.pem', '**/*.key']) assert.ok(lines.includes(must), must);
});
