// The gateway's side of the upstream MCP connection: one SDK Client per downstream session,
// carrying the gateway's own credentials (never the client's), and the translation of every
// way an upstream can fail into a GatewayError the pipeline and the client can read.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError, ResultSchema, type ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../pipeline/types.js';
import { REQUEST_TIMEOUT, SERVER_ERROR } from './jsonrpc.js';

export interface UpstreamOptions {
  url: string;
  headers: () => Promise<Record<string, string>>;
  timeoutMs: number;
}

/** Gateway identity presented upstream; the client's own name goes to the audit trail instead. */
const GATEWAY_CLIENT_INFO = { name: 'bqwarden-gateway', version: '0.1.0' };

/** Results are forwarded unchanged: a loose schema keeps fields this SDK version does not know. */
export const PassthroughResultSchema = ResultSchema;

/**
 * fetch with fresh credentials on every upstream HTTP request (tokens such as Google ID tokens
 * expire within a session), and with any caller-supplied Authorization replaced, never merged.
 */
export function credentialedFetch(headers: UpstreamOptions['headers']) {
  return async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const h = new Headers(init?.headers);
    h.delete('authorization');
    for (const [k, v] of Object.entries(await headers())) h.set(k, v);
    return fetch(url, { ...init, headers: h });
  };
}

export interface UpstreamConnection {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Ends the upstream session (DELETE when it issued a session id) and closes the client. */
  close(): Promise<void>;
}

/** Capabilities the client declared that the upstream may use through us. */
export function relayedClientCapabilities(caps: ClientCapabilities | undefined): ClientCapabilities {
  const out: ClientCapabilities = {};
  if (caps?.sampling) out.sampling = caps.sampling;
  if (caps?.elicitation) out.elicitation = caps.elicitation;
  if (caps?.roots) out.roots = caps.roots;
  if (caps?.experimental) out.experimental = caps.experimental;
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    t.unref?.();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(undefined);
      },
    );
  });
}

export async function connectUpstream(opts: UpstreamOptions, clientCapabilities: ClientCapabilities): Promise<UpstreamConnection> {
  const client = new Client(GATEWAY_CLIENT_INFO, { capabilities: clientCapabilities });
  // Server->client pings are relayed to the real client like any other request.
  client.removeRequestHandler('ping');
  const transport = new StreamableHTTPClientTransport(new URL(opts.url), {
    fetch: credentialedFetch(opts.headers),
    // A lost upstream GET stream is retried a few times, then given up (requests still work).
    reconnectionOptions: { initialReconnectionDelay: 500, maxReconnectionDelay: 5000, reconnectionDelayGrowFactor: 2, maxRetries: 3 },
  });
  try {
    await client.connect(transport, { timeout: opts.timeoutMs });
  } catch (err) {
    await withTimeout(client.close(), 1000);
    throw upstreamError(err, opts.timeoutMs, 'initialize');
  }
  let closed = false;
  return {
    client,
    transport,
    async close() {
      if (closed) return;
      closed = true;
      if (transport.sessionId) await withTimeout(transport.terminateSession(), Math.min(opts.timeoutMs, 5000));
      await withTimeout(client.close(), 1000);
    },
  };
}

/** Probe for readiness: reachable, and our credentials are accepted (401/403 mean not ready). */
export async function probeUpstream(opts: UpstreamOptions): Promise<boolean> {
  try {
    const res = await credentialedFetch(opts.headers)(opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'bqwarden-readiness', method: 'ping' }),
      signal: AbortSignal.timeout(Math.min(opts.timeoutMs, 5000)),
    });
    await res.body?.cancel().catch(() => {});
    return res.status < 500 && res.status !== 401 && res.status !== 403;
  } catch {
    return false;
  }
}

const SDK_PREFIX = /^MCP error -?\d+: /;

/** Upstream JSON-RPC error messages arrive prefixed by the SDK; the client sees the original. */
export function stripSdkPrefix(message: string): string {
  return message.replace(SDK_PREFIX, '');
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  const msg = String(e?.message ?? err).slice(0, 300);
  return cause && !msg.includes(cause) ? `${msg} (${cause})` : msg;
}

/**
 * Maps an upstream failure to a GatewayError. data.reason is stable for audit and metrics:
 * upstream_error (the upstream answered a JSON-RPC error: passed through with its code),
 * upstream_timeout, upstream_unavailable, upstream_http_error, upstream_invalid_response.
 */
export function upstreamError(err: unknown, timeoutMs: number, method: string): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof McpError) {
    // JSON-RPC error data may be any JSON value; only a plain object is merged into ours.
    const raw = err.data;
    const data = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : raw === undefined ? undefined : { upstreamData: raw };
    // The SDK raises RequestTimeout itself (with data.timeout) and has then cancelled upstream.
    if (err.code === REQUEST_TIMEOUT && data && 'timeout' in data && /timed out|timeout/i.test(err.message)) {
      return new GatewayError(REQUEST_TIMEOUT, `Upstream MCP server did not answer ${method} within ${timeoutMs} ms; the request was cancelled upstream`, {
        reason: 'upstream_timeout',
        timeoutMs,
      });
    }
    if (err.code === -32000 && /Connection closed/i.test(err.message)) {
      return new GatewayError(SERVER_ERROR, `Upstream MCP server unavailable during ${method}: connection closed`, { reason: 'upstream_unavailable' });
    }
    return new GatewayError(err.code, stripSdkPrefix(err.message), { ...(data ?? {}), reason: data?.reason ?? 'upstream_error' });
  }
  if (err instanceof StreamableHTTPError) {
    const status = err.code ?? 0;
    const invalid = status === -1; // the SDK's code for an unexpected content type
    return new GatewayError(
      SERVER_ERROR,
      invalid
        ? `Upstream MCP server sent an invalid response to ${method}: ${describe(err)}`
        : `Upstream MCP server answered ${method} with HTTP ${status}: ${describe(err)}`,
      { reason: invalid ? 'upstream_invalid_response' : 'upstream_http_error', httpStatus: status },
    );
  }
  const e = err as Error;
  if (e?.name === 'SyntaxError' || e?.name === 'ZodError' || /JSON|invalid_type|invalid_union|Unrecognized/i.test(e?.message ?? '')) {
    return new GatewayError(SERVER_ERROR, `Upstream MCP server sent an invalid response to ${method}: ${describe(err)}`, {
      reason: 'upstream_invalid_response',
    });
  }
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') {
    return new GatewayError(REQUEST_TIMEOUT, `Upstream MCP request ${method} was aborted: ${describe(err)}`, { reason: 'upstream_timeout' });
  }
  return new GatewayError(SERVER_ERROR, `Upstream MCP server unavailable during ${method}: ${describe(err)}`, { reason: 'upstream_unavailable' });
}
