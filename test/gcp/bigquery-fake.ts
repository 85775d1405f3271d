// A local HTTP server answering the BigQuery REST calls the Node client makes for queries:
// jobs.query (POST /projects/{p}/queries), jobs.getQueryResults (GET /projects/{p}/queries/{job})
// and jobs.insert + jobs.get for the slow path. Row encoding follows the REST reference:
// rows are {f:[{v}]}, INT64 as strings, TIMESTAMP as int64 microseconds (the client asks for
// formatOptions.useInt64Timestamp), REPEATED as [{v}], RECORD as {f:[…]}. Results are paged
// (small pages) so the client's pagination is exercised. Dry runs (jobs.insert with
// configuration.dryRun) are answered as BigQuery answers them: no job id, state DONE, and
// statistics.query with statementType, referencedTables and totalBytesProcessed (int64 as
// strings); a statement the handler rejects gets BigQuery's 400 invalidQuery error body.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Client } from 'google-auth-library';
import type { BigQueryField } from '../../src/gcp/audit-schema.js';

export interface FakeQuery {
  query: string;
  params: Record<string, unknown>;
}
export interface FakeResult {
  schema: BigQueryField[];
  rows: Record<string, unknown>[];
}

function encodeValue(f: BigQueryField, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (f.type) {
    case 'RECORD':
      return { f: (f.fields ?? []).map((sub) => ({ v: encodeCell(sub, (v as Record<string, unknown>)[sub.name]) })) };
    case 'TIMESTAMP':
      return String(BigInt(Date.parse(String(v))) * 1000n);
    case 'BOOL':
      return v ? 'true' : 'false';
    default:
      return String(v);
  }
}
function encodeCell(f: BigQueryField, v: unknown): unknown {
  if (f.mode === 'REPEATED') return ((v as unknown[] | null) ?? []).map((x) => ({ v: encodeValue(f, x) }));
  return encodeValue(f, v);
}
function encodeRows(schema: BigQueryField[], rows: Record<string, unknown>[]): unknown[] {
  return rows.map((r) => ({ f: schema.map((f) => ({ v: encodeCell(f, r[f.name]) })) }));
}

function decodeParam(p: { name: string; parameterType: { type: string }; parameterValue: { value?: string; arrayValues?: { value: string }[] } }): [string, unknown] {
  if (p.parameterType.type === 'ARRAY') return [p.name, (p.parameterValue.arrayValues ?? []).map((a) => a.value)];
  return [p.name, p.parameterValue.value ?? null];
}

/** What BigQuery's dry run says about a statement. */
interface FakeDryRun {
  statementType: string;
  /** project.dataset.table */
  referencedTables: string[];
  totalBytesProcessed: number;
  ddlTargetTable?: string;
}
export type FakeDryRunAnswer = FakeDryRun | { invalid: string };

function tableRef(fq: string) {
  const [projectId, datasetId, tableId] = fq.split('.');
  return { projectId, datasetId, tableId };
}

export class FakeBigQuery {
  readonly queries: FakeQuery[] = [];
  /** Every dry run asked for, with the default dataset it carried. */
  readonly dryRuns: (FakeQuery & { project: string; defaultDataset: { projectId?: string; datasetId?: string } | null })[] = [];
  /** Answers dry runs; without it a dry run is a 400 (as if BigQuery refused it). */
  dryRunHandler: ((q: FakeQuery) => FakeDryRunAnswer) | null = null;
  private server: Server | null = null;
  private jobs = new Map<string, { result: FakeResult }>();
  private nextJob = 1;
  pageSize = 7;
  /** Fail the next N query calls with this HTTP status (e.g. 403 for a missing permission). */
  failNext: { status: number; reason: string; message: string; count: number } | null = null;

  constructor(private readonly handler: (q: FakeQuery) => FakeResult) {}

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** Client options that point at this fake with a static token (no metadata server, no ADC). */
  clientOptions(projectId = 'test-project') {
    const authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: 'fake-token', expiry_date: Date.now() + 3_600_000 });
    return { projectId, apiEndpoint: this.endpoint, authClient };
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
          const out = this.route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://x'), body);
          res.writeHead(out.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(out.body));
        } catch (e) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 500, message: String(e) } }));
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
  }

  private page(jobId: string, project: string, offset: number): Record<string, unknown> {
    const { result } = this.jobs.get(jobId)!;
    const slice = result.rows.slice(offset, offset + this.pageSize);
    const next = offset + this.pageSize < result.rows.length ? String(offset + this.pageSize) : undefined;
    return {
      kind: 'bigquery#getQueryResultsResponse',
      jobReference: { projectId: project, jobId, location: 'US' },
      jobComplete: true,
      totalRows: String(result.rows.length),
      schema: { fields: result.schema },
      rows: encodeRows(result.schema, slice),
      ...(next ? { pageToken: next } : {}),
    };
  }

  private run(project: string, query: string, rawParams: unknown[] | undefined): { status: number; body: unknown } | string {
    if (this.failNext && this.failNext.count > 0) {
      this.failNext.count--;
      const f = this.failNext;
      return { status: f.status, body: { error: { code: f.status, message: f.message, errors: [{ reason: f.reason, message: f.message }] } } };
    }
    const params = Object.fromEntries((rawParams ?? []).map((p) => decodeParam(p as Parameters<typeof decodeParam>[0])));
    const q = { query, params };
    this.queries.push(q);
    const jobId = `job_${this.nextJob++}`;
    this.jobs.set(jobId, { result: this.handler(q) });
    void project;
    return jobId;
  }

  private route(method: string, url: URL, body: any): { status: number; body: unknown } {
    const m = /^\/bigquery\/v2\/projects\/([^/]+)\/(queries|jobs)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return { status: 404, body: { error: { code: 404, message: `no route ${method} ${url.pathname}` } } };
    // project and kind are mandatory groups of the pattern; the id is optional.
    const project = m[1]!;
    const kind = m[2]!;
    const id = m[3];
    if (method === 'POST' && kind === 'queries' && !id) {
      const r = this.run(project, body.query, body.queryParameters);
      if (typeof r !== 'string') return r;
      return { status: 200, body: { ...this.page(r, project, 0), kind: 'bigquery#queryResponse' } };
    }
    if (method === 'GET' && kind === 'queries' && id) {
      if (!this.jobs.has(id)) return { status: 404, body: { error: { code: 404, message: `Not found: Job ${id}` } } };
      return { status: 200, body: this.page(id, project, Number(url.searchParams.get('pageToken') ?? 0)) };
    }
    if (method === 'POST' && kind === 'jobs' && !id && body.configuration?.dryRun) return this.dryRun(project, body);
    if (method === 'POST' && kind === 'jobs' && !id) {
      const cfg = body.configuration?.query ?? {};
      const r = this.run(project, cfg.query, cfg.queryParameters);
      if (typeof r !== 'string') return r;
      return {
        status: 200,
        body: { kind: 'bigquery#job', id: `${project}:US.${r}`, jobReference: { projectId: project, jobId: r, location: 'US' }, status: { state: 'DONE' }, configuration: body.configuration },
      };
    }
    if (method === 'GET' && kind === 'jobs' && id) {
      return { status: 200, body: { kind: 'bigquery#job', jobReference: { projectId: project, jobId: id, location: 'US' }, status: { state: 'DONE' } } };
    }
    return { status: 405, body: { error: { code: 405, message: `unsupported ${method} ${url.pathname}` } } };
  }

  private dryRun(project: string, body: any): { status: number; body: unknown } {
    if (this.failNext && this.failNext.count > 0) {
      this.failNext.count--;
      const f = this.failNext;
      return { status: f.status, body: { error: { code: f.status, message: f.message, errors: [{ reason: f.reason, message: f.message }] } } };
    }
    const cfg = body.configuration.query ?? {};
    const q = { query: String(cfg.query), params: {} };
    this.dryRuns.push({ ...q, project, defaultDataset: cfg.defaultDataset ?? null });
    const a = this.dryRunHandler?.(q) ?? { invalid: 'no dry-run handler in this test' };
    if ('invalid' in a) {
      return {
        status: 400,
        body: {
          error: { code: 400, message: a.invalid, errors: [{ message: a.invalid, domain: 'global', reason: 'invalidQuery', location: 'q', locationType: 'parameter' }], status: 'INVALID_ARGUMENT' },
        },
      };
    }
    const bytes = String(a.totalBytesProcessed);
    return {
      status: 200,
      body: {
        kind: 'bigquery#job',
        etag: 'fake',
        selfLink: `/bigquery/v2/projects/${project}/jobs?location=US`,
        user_email: 'gateway@test-project.iam.gserviceaccount.com',
        configuration: { ...body.configuration, jobType: 'QUERY' },
        jobReference: { projectId: project, location: 'US' },
        statistics: {
          creationTime: String(Date.now()),
          totalBytesProcessed: bytes,
          query: {
            totalBytesProcessed: bytes,
            totalBytesBilled: '0',
            cacheHit: false,
            statementType: a.statementType,
            referencedTables: a.referencedTables.map(tableRef),
            ...(a.ddlTargetTable ? { ddlTargetTable: tableRef(a.ddlTargetTable) } : {}),
          },
        },
        status: { state: 'DONE' },
        principal_subject: 'serviceAccount:gateway@test-project.iam.gserviceaccount.com',
        jobCreationReason: { code: 'REQUESTED' },
      },
    };
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/** What BigQuery answers to the audit store's heads query (GROUP BY chain_id: n, last_seq, last_time) over the rows it selected. */
export function chainHeadsResult(selected: Record<string, unknown>[]): FakeResult {
  const by = new Map<string, Record<string, unknown>[]>();
  for (const r of selected) by.set(String(r.chain_id), [...(by.get(String(r.chain_id)) ?? []), r]);
  return {
    schema: [
      { name: 'chain_id', type: 'STRING', mode: 'NULLABLE' },
      { name: 'n', type: 'INT64', mode: 'NULLABLE' },
      { name: 'last_seq', type: 'INT64', mode: 'NULLABLE' },
      { name: 'last_time', type: 'TIMESTAMP', mode: 'NULLABLE' },
    ],
    rows: [...by].map(([chain_id, rs]) => ({
      chain_id,
      n: rs.length,
      last_seq: Math.max(...rs.map((r) => Number(r.seq))),
      last_time: rs
        .map((r) => String(r.event_time))
        .sort()
        .at(-1),
    })),
  };
}
