// Shared catalog and helpers for the SQL analyzer tests.
import { createStaticCatalog } from '../../src/sql/catalog.js';
import type { CatalogTable } from '../../src/sql/types.js';

const bqTables: CatalogTable[] = [
  {
    fq: 'p.d.customers',
    columns: [
      { name: 'customer_id', type: 'INT64' },
      { name: 'name', type: 'STRING' },
      { name: 'ssn', type: 'STRING', policyTags: ['pii_ssn'] },
      { name: 'email', type: 'STRING' },
      {
        name: 'address',
        type: 'STRUCT',
        fields: [
          { name: 'city', type: 'STRING' },
          { name: 'zip', type: 'STRING' },
        ],
      },
      { name: 'phones', type: 'ARRAY<STRUCT>', fields: [{ name: 'number', type: 'STRING' }] },
    ],
  },
  {
    fq: 'p.d.accounts',
    columns: [
      { name: 'account_id', type: 'INT64' },
      { name: 'customer_id', type: 'INT64' },
      { name: 'balance', type: 'NUMERIC' },
      { name: 'opened', type: 'DATE' },
    ],
  },
  {
    fq: 'p.d.txns',
    columns: [
      { name: 'txn_id', type: 'INT64' },
      { name: 'account_id', type: 'INT64' },
      { name: 'amount', type: 'NUMERIC' },
      { name: 'quarter', type: 'STRING' },
      { name: 'ts', type: 'TIMESTAMP' },
    ],
  },
  {
    fq: 'p.d.v_customers',
    columns: [
      { name: 'customer_id', type: 'INT64' },
      { name: 'ssn_last4', type: 'STRING' },
    ],
    viewSql: 'SELECT customer_id, SUBSTR(ssn, -4) AS ssn_last4 FROM p.d.customers',
  },
  {
    fq: 'other.x.events_*',
    columns: [
      { name: 'user_id', type: 'STRING' },
      { name: 'payload', type: 'JSON' },
    ],
  },
];

export const sqliteTables: CatalogTable[] = [
  { fq: 'demo.main.customers', columns: ['customer_id', 'name', 'ssn', 'email', 'dob'].map((name) => ({ name, type: 'TEXT' })) },
  { fq: 'demo.main.accounts', columns: ['account_id', 'customer_id', 'balance'].map((name) => ({ name, type: 'NUMERIC' })) },
];

export const bqCatalog = createStaticCatalog(bqTables);
export const sqliteCatalog = createStaticCatalog(sqliteTables);

/** p.d.customers.ssn → customers.ssn; demo.main.x → x (keeps expectations short). */
export function short(key: string): string {
  return key.replace(/^p\.d\./, '').replace(/^demo\.main\./, '');
}
