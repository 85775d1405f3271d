// The gateway's errors, in one catalog: every stable error code with the JSON-RPC code and HTTP
// status it is answered with, and whether an agent (the MCP client) may read its message. The
// audit event's error_code is one of these codes (src/audit/event.ts); the transport maps errors
// to JSON-RPC and HTTP through this table, not by hand at each site; docs/errors.md is checked
// against it (test/common/error-catalog.test.ts). JSON-RPC codes are written only here
// (test/common/errors.test.ts fails on a numeric code written anywhere else).

// The spec's own codes, then the gateway's in the server-defined range.
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** Implementation-defined server errors (the SDK uses the same two). */
export const SERVER_ERROR = -32000;
const SESSION_NOT_FOUND = -32001;
export const REQUEST_TIMEOUT = -32001;
/** The gateway refused the call (policy, rate limit, identity): an agent may read why. */
export const ERR_FORBIDDEN = -32003;
/** Nothing is released that was not durably audited. */
export const ERR_AUDIT_UNAVAILABLE = -32004;
export const ERR_UPSTREAM = -32005;

/**
 * How an error reaches whoever caused it.
 * - `rpc`: the JSON-RPC error code it is answered with; null when it is not a JSON-RPC error
 *   (a tools/call refusal is a tool result with isError, so the agent can act on it; an event
 *   written by the approvals API, the console or a background job).
 * - `http`: the HTTP status (200 for a JSON-RPC error or tool result inside a 200 response).
 * - `agent`: may the MCP client read the message? When false it receives `summary` only and the
 *   audit event keeps the detail (scanned by the content detectors first).
 * - `retired`: no longer written; kept so older audit logs still read and verify.
 */
export interface CatalogEntry {
  readonly rpc: number | null;
  readonly http: number;
  readonly agent: boolean;
  readonly summary: string;
  readonly retired?: true;
}

const e = (rpc: number | null, http: number, agent: boolean, summary: string, retired?: true): CatalogEntry => (retired ? { rpc, http, agent, summary, retired } : { rpc, http, agent, summary });
/** A token or sign-in refused (the identity layer's specific reason). */
const auth = (summary: string) => e(SERVER_ERROR, 401, true, summary);
/** A tools/call refused by a rule: answered as a tool error naming the rule. */
const refusal = (summary: string) => e(null, 200, true, summary);
/** An approval API action refused (src/approvals/service.ts), audited as approval_<code>. */
const approvalApi = (http: number, summary: string) => e(null, http, true, summary);
/** An error of a component that is never answered to an agent (configuration, CLI, sinks, readers). */
const internal = (summary: string) => e(null, 500, false, summary);

export const ERROR_CATALOG = {
  // HTTP layer (src/transport/jsonrpc.ts, gateway.ts, session.ts): refused before the pipeline.
  not_acceptable: e(SERVER_ERROR, 406, true, 'the Accept header does not list what the endpoint sends'),
  wrong_content_type: e(SERVER_ERROR, 415, true, 'the request body is not application/json'),
  malformed_json: e(PARSE_ERROR, 400, true, 'the request body is not JSON'),
  unsupported_protocol_version: e(SERVER_ERROR, 400, true, 'the MCP-Protocol-Version header names a version the gateway does not speak'),
  invalid_jsonrpc: e(INVALID_REQUEST, 400, true, 'not a JSON-RPC 2.0 message'),
  invalid_initialize: e(INVALID_REQUEST, 400, true, 'the initialize request is not valid'),
  batch_not_allowed: e(INVALID_REQUEST, 400, true, 'JSON-RPC batches are not allowed on this session'),
  bad_request: e(INVALID_REQUEST, 400, true, 'the HTTP request is malformed'),
  body_too_large: e(SERVER_ERROR, 413, true, 'the request body is larger than the gateway accepts'),
  method_not_allowed: e(SERVER_ERROR, 405, true, 'the HTTP method is not one the MCP endpoint serves'),
  stream_not_offered: e(SERVER_ERROR, 405, true, 'the gateway offers no standalone event stream here', true),
  bad_origin: e(SERVER_ERROR, 403, true, 'the Origin header is not allowed'),
  missing_session: e(SERVER_ERROR, 400, true, 'the Mcp-Session-Id header is required'),
  unknown_session: e(SESSION_NOT_FOUND, 404, true, 'the session is unknown, expired or closed'),
  session_identity_mismatch: e(SERVER_ERROR, 403, true, 'the session belongs to a different identity'),
  stream_conflict: e(SERVER_ERROR, 409, true, 'only one event stream is allowed per session'),
  too_many_sessions: e(SERVER_ERROR, 429, true, 'this identity holds as many sessions as it may'),
  session_start_failed: e(INTERNAL_ERROR, 503, true, 'the session could not be started upstream'),
  shutting_down: e(SERVER_ERROR, 503, true, 'the gateway is shutting down'),
  auth_failed: auth('the token was refused'),

  // Identity: the reason a token was refused (src/identity AuthError) or a browser sign-in failed
  // (src/web SignInError); audited as the auth_failure event's error_code.
  auth_error: auth('authentication failed for a reason the identity layer did not name'),
  missing_token: auth('no bearer token was sent'),
  malformed_token: auth('the token is not a well-formed JWT'),
  alg_not_allowed: auth("the token's signing algorithm is not allowed"),
  bad_signature: auth("the token's signature does not verify"),
  unknown_kid: auth("the token's signing key is not in the issuer's key set"),
  expired: auth('the token has expired'),
  not_yet_valid: auth('the token is not valid yet'),
  wrong_issuer: auth('the token comes from an issuer the gateway does not trust'),
  wrong_audience: auth('the token is for another audience'),
  missing_claim: auth('the token lacks a required claim'),
  jwks_unavailable: auth("the issuer's key set could not be fetched"),
  iap_invalid: auth('the IAP assertion is not valid'),
  google_token_invalid: auth('the Google ID token is not valid'),
  idp_unavailable: auth('the identity provider could not be reached'),
  sign_in_expired: auth('the sign-in was not started here or took too long'),
  idp_refused: auth('the identity provider refused the sign-in'),
  code_exchange_failed: auth('the sign-in response could not be verified'),
  no_token: auth('the identity provider returned no token'),

  // Pipeline: JSON-RPC errors (src/pipeline, src/transport/upstream.ts, src/approvals/gate.ts).
  method_denied: e(ERR_FORBIDDEN, 200, true, 'policy does not allow this MCP method'),
  notification_not_allowed: e(ERR_FORBIDDEN, 200, true, 'an MCP client may not send this notification'),
  policy: e(ERR_FORBIDDEN, 200, true, 'refused by policy', true),
  invalid_params: e(INVALID_PARAMS, 200, true, 'the params of the request are not valid'),
  audit_unavailable: e(ERR_AUDIT_UNAVAILABLE, 200, true, 'the audit record could not be written, so nothing is released (fail closed)'),
  masking_failed: e(INTERNAL_ERROR, 200, false, 'the response could not be masked, so it is withheld; the audit log keeps the detail'),
  internal_error: e(INTERNAL_ERROR, 500, false, 'internal gateway error; the request was not completed (the audit or gateway log keeps the detail)'),
  gateway_error: e(SERVER_ERROR, 200, true, 'the gateway refused the request'),
  unlisted_error_code: e(INTERNAL_ERROR, 200, false, 'an error the catalog does not list; the audit log keeps the detail'),
  upstream_error: e(ERR_UPSTREAM, 200, true, 'the upstream MCP server failed'),
  upstream_unavailable: e(SERVER_ERROR, 502, true, 'the upstream MCP server could not be reached'),
  upstream_timeout: e(REQUEST_TIMEOUT, 200, true, 'the upstream MCP server did not answer in time'),
  upstream_http_error: e(SERVER_ERROR, 200, true, 'the upstream MCP server answered with an HTTP error'),
  upstream_invalid_response: e(SERVER_ERROR, 200, true, 'the upstream MCP server sent an invalid response'),
  upstream_not_connected: e(INVALID_PARAMS, 200, true, 'the upstream is not connected to this gateway'),
  unknown_tool: e(INVALID_PARAMS, 200, true, 'no upstream offers this tool'),
  client_error: e(null, 200, true, 'the client could not answer a request the upstream relayed to it'),
  approval_claims_unavailable: e(INTERNAL_ERROR, 200, true, 'the approval claim store could not be reached (fail closed)'),
  approval_store_unavailable: e(INTERNAL_ERROR, 200, true, 'the statement could not be held for approval (fail closed)'),
  approval_state: e(INTERNAL_ERROR, 200, true, 'the approval request could not be read back (fail closed)'),
  approval_binding: e(INTERNAL_ERROR, 200, true, 'the analysed statement is not the statement in the call'),
  approval_misconfigured: e(INTERNAL_ERROR, 200, true, 'the policy rule asks for approval but names no approvers'),

  // tools/call refusals (src/pipeline/stages): a tool result with isError naming the rule.
  missing_sql: refusal('the tool call carries no SQL in its SQL argument (rule tool-shape)'),
  no_dialect: refusal('policy names no dialect for the tool (rule tool-shape)'),
  policy_denied: refusal('policy denies the statement'),
  rate_limited: refusal("the caller's tool-call budget is spent (rule rate-limit)"),
  tool_pins_unavailable: e(INTERNAL_ERROR, 200, true, 'tool definitions could not be checked against their pins (rule tool-pinning, fail closed)'),
  tool_definition_changed: refusal("the tool's definition changed since it was pinned (rule tool-pinning)"),
  tool_not_listed: refusal('the upstream does not list the tool (rule tool-pinning)'),
  dry_run_unavailable: refusal('policy asks for a dry run but no dry-run client is configured (rule dry-run)'),
  dry_run_failed: refusal("BigQuery's dry run of the statement failed (rule dry-run)"),
  dry_run_statement_mismatch: refusal("BigQuery's dry run types the statement differently (rule dry-run)"),
  dry_run_table_mismatch: refusal("BigQuery's dry run references a table the analysis did not find (rule dry-run)"),
  over_byte_budget: refusal("the statement would process more bytes than the caller's roles may (rule byte-budget)"),
  approvals_disabled: refusal('the statement needs approval but approvals are not enabled'),
  approvals_unavailable: refusal('approval state could not be checked (fail closed)'),
  approval_pending: refusal('the statement is held for approval'),
  approval_rejected: refusal('the approval was rejected'),
  approval_expired: approvalApi(409, 'the approval expired'),
  approval_used: refusal('the approval was already claimed by another instance'),
  approval_executed: refusal('the approval was already used'),
  upstream_tool_error: refusal('the upstream tool answered with an error'),

  // Approval API actions refused (audited as approval_<code>), and other audited events.
  approval_not_found: approvalApi(404, 'no such approval'),
  approval_forbidden: approvalApi(403, 'the reviewer may not act on this approval'),
  approval_self_approval: approvalApi(403, 'a requester may not approve their own statement'),
  approval_not_an_approver: approvalApi(403, "the reviewer holds none of the approval's roles"),
  approval_actor_type_not_allowed: approvalApi(403, 'this kind of actor may not approve'),
  approval_already_voted: approvalApi(409, 'the reviewer already voted'),
  approval_not_open: approvalApi(409, 'the approval is no longer open'),
  approval_sql_mismatch: approvalApi(409, 'the statement reviewed is not the statement held'),
  approval_statement_unavailable: approvalApi(409, 'the held statement could not be read'),
  approval_reason_required: approvalApi(400, 'a rejection needs a reason'),
  approval_audit_unavailable: approvalApi(503, 'the approval action could not be audited (fail closed)'),
  webhook_failed: e(null, 200, false, 'the approver webhook could not be delivered'),
  console_forbidden: e(null, 403, true, 'the examiner console refused the access'),

  // Errors of the gateway's own components, never answered to an agent: raised at start-up, by
  // the CLI, or inside a sink or reader (their callers turn them into one of the codes above).
  config_invalid: internal('the configuration is not valid'),
  policy_invalid: internal('the policy files are not valid'),
  masking_config_invalid: internal('the masking configuration is not valid'),
  policy_refusal: internal('a policy rule refused the statement while it was judged'),
  dev_issuer_refused: internal('the development issuer may not run here'),
  upstream_credential_unavailable: internal('no upstream credential could be produced'),
  json_syntax: internal('the text is not JSON'),
  audit_input_invalid: internal('an audit event the gateway built breaks the schema'),
  audit_log_unavailable: internal('the audit log cannot accept events'),
  canonical_invalid: internal('a value has no canonical JSON form'),
  normalize_failed: internal('an audit event read back could not be normalised'),
  audit_read_failed: internal('the audit log could not be read'),
  anchor_conflict: internal('an audit anchor conflicts with one already stored'),
  signing_key_invalid: internal('the checkpoint signing key is not usable'),
  jsonl_sink_failed: internal('the JSONL audit sink failed'),
  pubsub_sink_failed: internal('the Pub/Sub audit sink failed'),
  spool_failed: internal('the audit spool failed'),
  approval_source_unavailable: internal('approval events could not be read'),
  report_failed: internal('the report could not be generated'),
  cli_error: internal('the command failed'),
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;
export const ERROR_CODES = Object.freeze(Object.keys(ERROR_CATALOG)) as readonly ErrorCode[];

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && Object.hasOwn(ERROR_CATALOG, v);
}

/** The common base of the gateway's own errors: a stable code from the catalog. */
export class BqwardenError extends Error {
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An error the transport returns to the client as a JSON-RPC error. `code` is the JSON-RPC code
 * (as on the MCP SDK's errors); `data.reason` is the catalog code, which the audit event records.
 * Build one with `GatewayError.of(code, message)` so the JSON-RPC code comes from the catalog.
 */
/** JSON-RPC error data; its reason, when the gateway sets one, is a catalog code (the compiler checks). */
export type GatewayErrorData = Record<string, unknown> & { reason?: ErrorCode };

export class GatewayError extends BqwardenError {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: GatewayErrorData,
  ) {
    const reason = data?.reason;
    super(isErrorCode(reason) ? reason : reason === undefined ? 'gateway_error' : 'unlisted_error_code', message);
    this.name = 'GatewayError';
  }

  static of(reason: ErrorCode, message: string, data?: Record<string, unknown>): GatewayError {
    return new GatewayError(ERROR_CATALOG[reason].rpc ?? INTERNAL_ERROR, message, { ...data, reason });
  }

  /** What the client receives: the message when the catalog lets an agent read it, else the code's summary. */
  forClient(): { code: number; message: string; data?: Record<string, unknown> } {
    if (ERROR_CATALOG[this.errorCode].agent) return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
    return { code: this.code, message: `${ERROR_CATALOG[this.errorCode].summary} (${this.errorCode})`, data: { reason: this.errorCode } };
  }
}
