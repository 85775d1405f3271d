#!/usr/bin/env node
// Entry point for `bqwarden` (npm link or npm install -g . in the checkout), `npm start` and the container. Runs the compiled JavaScript
// in dist/ (built by `npm install` through the `prepare` script, or `npm run build`).
// In a source checkout whose src/ changed after the last build, the sources run through tsx
// instead, so a developer never runs stale code; tsx is a development dependency and is
// never needed where dist/ is current (the image has no src/ at all).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'index.js');
const sources = join(root, 'src');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    const t = entry.isDirectory() ? newestMtime(p) : entry.name.endsWith('.ts') ? statSync(p).mtimeMs : 0;
    if (t > newest) newest = t;
  }
  return newest;
}

function stale() {
  if (process.env.BQWARDEN_USE_DIST === '1' || !existsSync(sources)) return false;
  return newestMtime(sources) > statSync(compiled).mtimeMs;
}

async function runSources(why) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`bqwarden: ${why} and tsx (a development dependency) is not installed: run \`npm run build\`\n`);
    process.exit(1);
  }
  register();
  await import(pathToFileURL(join(sources, 'cli', 'index.ts')).href);
}

if (!existsSync(compiled)) await runSources('dist/ is missing');
else if (stale()) await runSources('src/ is newer than dist/');
else await import(pathToFileURL(compiled).href);
