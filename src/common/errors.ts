// JSON-RPC error codes, in one list, so the transport, the pipeline and the approval gate can
// never disagree about what a code means (test/common/errors.test.ts fails on a numeric code
// written anywhere else): the spec's own, then the gateway's in the server-defined range.
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** Implementation-defined server errors (the SDK uses the same two). */
export const SERVER_ERROR = -32000;
export const SESSION_NOT_FOUND = -32001;
export const REQUEST_TIMEOUT = -32001;
/** The gateway refused the call (policy, rate limit, identity): an agent may read why. */
export const ERR_FORBIDDEN = -32003;
/** Nothing is released that was not durably audited. */
export const ERR_AUDIT_UNAVAILABLE = -32004;
export const ERR_UPSTREAM = -32005;

/** An error the transport returns to the client as a JSON-RPC error. */
export class GatewayError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}
