// Loads the gateway's modules the way production runs them: the compiled JavaScript in dist/
// when BQWARDEN_USE_DIST=1 and it has been built (as the Docker image does), else the
// TypeScript sources through tsx (as `npm start` does in a clone). Plain JS on purpose: a
// compiled run must not carry the tsx loader.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const repo = resolve(import.meta.dirname, '..', '..');
export const compiled = process.env.BQWARDEN_USE_DIST === '1' && existsSync(join(repo, 'dist', 'server', 'app.js'));
if (!compiled) {
  const { register } = await import('tsx/esm/api');
  register();
}

/** Imports src/<path>.ts or dist/<path>.js. */
export function load(path) {
  return import(pathToFileURL(join(repo, compiled ? 'dist' : 'src', `${path}${compiled ? '.js' : '.ts'}`)).href);
}
