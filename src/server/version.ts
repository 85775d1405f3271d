import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));

function findPackageJson(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return readFileSync(join(here, rel), 'utf8');
    } catch {
      // try the next layout (src/ vs dist/)
    }
  }
  return '{"version":"0.0.0"}';
}

export const GATEWAY_VERSION: string = (JSON.parse(findPackageJson()) as { version: string }).version;

/** Identifies this process in audit events (Cloud Run sets K_REVISION; hostname is the instance). */
export const GATEWAY_INSTANCE = `${process.env.K_REVISION ?? hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
