// JSON-RPC message shapes, checked by hand on the already-parsed body (one parse per message,
// no schema library on the hot path). The rules are the SDK's JSONRPCMessageSchema (strict
// top-level keys, integer or string ids); params of protocol methods are still checked with the
// SDK's own request schemas, because those encode the MCP spec.
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

export type JsonObject = Record<string, unknown>;
export type RequestId = string | number;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface RequestMessage {
  kind: 'request';
  id: RequestId;
  method: string;
  params: JsonObject | undefined;
}
export interface NotificationMessage {
  kind: 'notification';
  method: string;
  params: JsonObject | undefined;
}
export interface ResponseMessage {
  kind: 'response';
  id: RequestId | undefined;
  result?: JsonObject;
  error?: { code: number; message: string; data?: unknown };
}
export type Classified = RequestMessage | NotificationMessage | ResponseMessage;

function isId(v: unknown): v is RequestId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v));
}

function onlyKeys(o: JsonObject, allowed: readonly string[]): boolean {
  for (const k in o) if (!allowed.includes(k)) return false;
  return true;
}

const REQUEST_KEYS = ['jsonrpc', 'id', 'method', 'params'] as const;
const NOTIFICATION_KEYS = ['jsonrpc', 'method', 'params'] as const;
const RESULT_KEYS = ['jsonrpc', 'id', 'result'] as const;
const ERROR_KEYS = ['jsonrpc', 'id', 'error'] as const;

/** What a JSON value is as a JSON-RPC 2.0 message, or null when it is none (→ -32600). */
export function classify(v: unknown): Classified | null {
  if (!isObject(v) || v.jsonrpc !== '2.0') return null;
  if (typeof v.method === 'string') {
    if (v.params !== undefined && !validParams(v.params)) return null;
    const params = v.params as JsonObject | undefined;
    if ('id' in v) return isId(v.id) && onlyKeys(v, REQUEST_KEYS) ? { kind: 'request', id: v.id, method: v.method, params } : null;
    return onlyKeys(v, NOTIFICATION_KEYS) ? { kind: 'notification', method: v.method, params } : null;
  }
  if ('result' in v) {
    return isId(v.id) && isObject(v.result) && onlyKeys(v, RESULT_KEYS) ? { kind: 'response', id: v.id, result: v.result } : null;
  }
  if ('error' in v) {
    const e = v.error;
    if (!isObject(e) || typeof e.code !== 'number' || !Number.isInteger(e.code) || typeof e.message !== 'string') return null;
    if (v.id !== undefined && !isId(v.id)) return null;
    return onlyKeys(v, ERROR_KEYS) ? { kind: 'response', id: v.id as RequestId | undefined, error: e as ResponseMessage['error'] } : null;
  }
  return null;
}

/** params is an object; its _meta, when present, an object whose progressToken is a string or integer. */
function validParams(p: unknown): boolean {
  if (!isObject(p)) return false;
  const meta = p._meta;
  if (meta === undefined) return true;
  if (!isObject(meta)) return false;
  const t = meta.progressToken;
  return t === undefined || isId(t);
}

/** Ids 1 and "1" are different requests: the key keeps the type. */
export function idKey(id: RequestId): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}

/**
 * Params are validated with the SDK's own request schemas (bad params → -32602 before the
 * pipeline sees them), but the ORIGINAL params are forwarded: parsing is a check, never a
 * rewrite. Methods not listed (tasks/*, future methods) go through unvalidated and the
 * pipeline's method default decides.
 */
const REQUEST_SCHEMAS: Record<string, { safeParse(v: unknown): { success: boolean; error?: { message: string } } }> = {
  'tools/list': ListToolsRequestSchema,
  'tools/call': CallToolRequestSchema,
  'resources/list': ListResourcesRequestSchema,
  'resources/templates/list': ListResourceTemplatesRequestSchema,
  'resources/read': ReadResourceRequestSchema,
  'resources/subscribe': SubscribeRequestSchema,
  'resources/unsubscribe': UnsubscribeRequestSchema,
  'prompts/list': ListPromptsRequestSchema,
  'prompts/get': GetPromptRequestSchema,
  'completion/complete': CompleteRequestSchema,
  'logging/setLevel': SetLevelRequestSchema,
};

/** Null when the params are acceptable for the method, else the reason. */
export function paramsProblem(method: string, params: JsonObject | undefined): string | null {
  const schema = REQUEST_SCHEMAS[method];
  if (!schema) return null;
  const r = schema.safeParse(params === undefined ? { method } : { method, params });
  return r.success ? null : (r.error?.message.slice(0, 500) ?? 'rejected');
}
