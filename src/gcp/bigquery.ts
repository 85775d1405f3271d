// One place that builds the BigQuery client, so verify, the catalog and tests agree on how an
// endpoint override (REST fake, emulator) is applied.
import { BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';

export interface BigQueryClientOptions {
  projectId?: string;
  /** http(s)://host:port of a BigQuery REST fake or emulator. */
  apiEndpoint?: string;
  /** Extra options (credentials, authClient, …). */
  clientOptions?: BigQueryOptions;
}

export function createBigQueryClient(o: BigQueryClientOptions = {}): BigQuery {
  return new BigQuery({
    ...o.clientOptions,
    ...(o.projectId ? { projectId: o.projectId } : {}),
    ...(o.apiEndpoint ? { apiEndpoint: o.apiEndpoint } : {}),
  });
}

/** Backquoted identifier path; refuses anything that is not a plain BigQuery name. */
export function quoteIdent(...parts: string[]): string {
  for (const p of parts) {
    if (!/^[A-Za-z0-9_.:-]+$/.test(p)) throw new Error(`not a BigQuery identifier: ${JSON.stringify(p)}`);
  }
  return '`' + parts.join('`.`') + '`';
}
