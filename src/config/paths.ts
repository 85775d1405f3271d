// Where runtime state lives. Defaults are anchored at the bqwarden checkout (the folder that
// holds package.json), not at the current folder, so a command pasted in any folder reads the
// same database, keys, audit log and policy as the demo `npm start` runs in the checkout.
// BQWARDEN_DATA and BQWARDEN_RULES override them for the demo and for every CLI command.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout (or installed package) this module belongs to: src/config/ and dist/config/ are both two levels down. */
export function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function dataDir(): string {
  return resolve(process.env.BQWARDEN_DATA ?? join(packageRoot(), 'data'));
}

/** The policy directory: BQWARDEN_RULES, else the rules/ shipped in the checkout. */
export function rulesDir(): string {
  return resolve(process.env.BQWARDEN_RULES ?? join(packageRoot(), 'rules'));
}

export const paths = {
  audit: (data = dataDir()) => join(data, 'audit'),
  keys: (data = dataDir()) => join(data, 'keys'),
  database: (data = dataDir()) => join(data, 'bank.db'),
  catalog: (rules = rulesDir()) => join(rules, 'catalog'),
};

/** The bin script people run; present in a checkout and in an installed package. */
export function binScript(): string | null {
  const bin = join(packageRoot(), 'bin', 'bqwarden.js');
  return existsSync(bin) ? bin : null;
}
