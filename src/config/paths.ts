// Where runtime state lives. BQWARDEN_DATA overrides the default ./data for the demo and for
// every CLI command (database, keys, audit, approvals all live below it).
import { resolve, join } from 'node:path';

export function dataDir(): string {
  return resolve(process.env.BQWARDEN_DATA ?? 'data');
}

export const paths = {
  audit: (data = dataDir()) => join(data, 'audit'),
  keys: (data = dataDir()) => join(data, 'keys'),
  database: (data = dataDir()) => join(data, 'bank.db'),
};
