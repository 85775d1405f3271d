// JSON-RPC error shapes and the HTTP-level checks the gateway applies before a message
// reaches the SDK. They live here, not in the SDK transport, so that every refusal is answered
// in one shape and reported to the pipeline (onHttpFailure) for audit.
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';

import { BqwardenError, ERROR_CATALOG, INTERNAL_ERROR, type ErrorCode } from '../common/errors.js';
export { INTERNAL_ERROR, SERVER_ERROR, REQUEST_TIMEOUT } from '../common/errors.js';

export type JsonRpcId = string | number | null;

export function errorBody(id: JsonRpcId, code: number, message: string, data?: Record<string, unknown>) {
  return { jsonrpc: '2.0' as const, id, error: data === undefined ? { code, message } : { code, message, data } };
}

/**
 * A refusal decided at the HTTP layer: its catalog code (audited as the failure's error_code)
 * gives the HTTP status and JSON-RPC code, unless the refusal carries the one it was handed
 * (Fastify's 4xx status, an upstream's JSON-RPC code).
 */
export class HttpRefusal extends BqwardenError {
  readonly httpStatus: number;
  readonly rpcCode: number;
  readonly headers: Record<string, string>;
  constructor(
    readonly failureCode: ErrorCode,
    message: string,
    opts: { headers?: Record<string, string>; httpStatus?: number; rpcCode?: number } = {},
  ) {
    super(failureCode, message);
    this.name = 'HttpRefusal';
    const entry = ERROR_CATALOG[failureCode];
    this.httpStatus = opts.httpStatus ?? entry.http;
    this.rpcCode = opts.rpcCode ?? entry.rpc ?? INTERNAL_ERROR;
    this.headers = opts.headers ?? {};
  }

  /** What the client reads: the message, or the code's summary when an agent may not read it. */
  get clientMessage(): string {
    return ERROR_CATALOG[this.failureCode].agent ? this.message : `${ERROR_CATALOG[this.failureCode].summary} (${this.failureCode})`;
  }
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Media-type essence match (never a substring match: "application/jsonx" is not JSON). */
function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  return (value.split(';', 1)[0] ?? '').trim().toLowerCase() === 'application/json';
}

/**
 * POST must accept both JSON and SSE (spec: the client "MUST include an Accept header, listing
 * both"). Literal names, not wildcards: the SDK transport behind this check compares literally.
 */
export function checkPostAccept(h: Record<string, string | string[] | undefined>): void {
  const accept = header(h, 'accept') ?? '';
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
    throw new HttpRefusal('not_acceptable', 'Not Acceptable: the Accept header must list both application/json and text/event-stream');
  }
}

export function checkGetAccept(h: Record<string, string | string[] | undefined>): void {
  if (!(header(h, 'accept') ?? '').includes('text/event-stream')) {
    throw new HttpRefusal('not_acceptable', 'Not Acceptable: the Accept header must list text/event-stream');
  }
}

export function checkContentType(h: Record<string, string | string[] | undefined>): void {
  const ct = header(h, 'content-type');
  if (!isJsonContentType(ct)) {
    throw new HttpRefusal('wrong_content_type', `Unsupported Media Type: Content-Type must be application/json (got ${ct ? JSON.stringify(ct.slice(0, 100)) : 'none'})`);
  }
}

export function parseJson(body: Buffer | string | undefined): unknown {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : (body ?? '');
  if (text.trim() === '') throw new HttpRefusal('malformed_json', 'Parse error: empty request body');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpRefusal('malformed_json', `Parse error: ${(err as Error).message}`);
  }
}

export function checkProtocolVersionHeader(h: Record<string, string | string[] | undefined>): string | undefined {
  const v = header(h, 'mcp-protocol-version');
  if (v !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(v)) {
    throw new HttpRefusal('unsupported_protocol_version', `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(v.slice(0, 40))} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
  }
  return v;
}

/**
 * JSON-RPC batching exists in 2024-11-05 and 2025-03-26 and was removed in 2025-06-18; the SDK
 * transport accepts arrays on every version, so the gateway decides: arrays only on sessions
 * that negotiated a revision that still has batching.
 */
export function batchAllowed(negotiatedVersion: string | null): boolean {
  return negotiatedVersion !== null && negotiatedVersion <= '2025-03-26';
}

/** The method of the first message, for audit ("what was refused"). */
export function methodOf(message: unknown): string | null {
  const first = Array.isArray(message) ? message[0] : message;
  const m = (first as { method?: unknown } | null)?.method;
  return typeof m === 'string' ? m.slice(0, 200) : null;
}

export function idOf(message: unknown): JsonRpcId {
  if (Array.isArray(message)) return null;
  const id = (message as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}
