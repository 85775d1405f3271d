// Several upstream MCP servers behind one client session. Each client session holds one
// upstream session per upstream; tools/list is the union of their tools under the names clients
// see (namespaced where two share a name), tools/call goes to the upstream that serves the
// tool under that upstream's own name, and everything else (ping, resources, prompts …) to the
// first upstream. The routing table is policy's (which upstream serves which tool), read per
// request so a policy reload applies; the transport only follows it.
import { GatewayError } from '../pipeline/types.js';
import { isObject, type JsonObject } from './messages.js';
import type { RequestOptions, Upstream, UpstreamClient, UpstreamReply, UpstreamSession, UpstreamStream, UpstreamMessageHandler } from './upstream.js';

/** Pages of one upstream's tools/list followed for a client's single request. */
const MAX_TOOL_PAGES = 100;

export interface ToolRoutes {
  /** The upstream and its own name for a tool clients call by `publicName`; null when no upstream serves it. */
  route(publicName: string): { upstream: string; name: string } | null;
  /** The name clients see for an upstream's tool; null when policy does not describe it. */
  publicName(upstream: string, name: string): string | null;
}

export interface RoutedMember {
  id: string;
  client: UpstreamClient;
}

export class RoutedUpstream implements Upstream {
  private nextId = 1;
  /** Member sessions of each composite session (the composite is what the client session holds). */
  private readonly members = new WeakMap<UpstreamSession, Map<string, UpstreamSession>>();
  /** Which member sent a server→client request, so the client's answer goes back to it. */
  private readonly asked = new WeakMap<UpstreamSession, Map<string, string>>();

  /** Answers what is not a tool call (and speaks for the gateway's session): the first upstream. */
  private readonly primary: RoutedMember;

  constructor(
    private readonly upstreams: RoutedMember[],
    private readonly routes: () => ToolRoutes,
  ) {
    const [first] = upstreams;
    if (!first) throw new Error('no upstream to route to');
    this.primary = first;
  }

  id(): number {
    return this.nextId++;
  }

  private member(session: UpstreamSession, id: string): { m: RoutedMember; s: UpstreamSession } {
    const m = this.upstreams.find((u) => u.id === id);
    const s = this.members.get(session)?.get(id);
    if (!m || !s) throw GatewayError.of('upstream_not_connected', `upstream ${id} is not connected to this gateway (it was added to policy after start); restart the gateway to reach it`);
    return { m, s };
  }

  async initialize(capabilities: JsonObject): Promise<{ session: UpstreamSession; result: JsonObject; sse: boolean }> {
    // Each upstream with its outcome, so no index pairs an answer with the wrong upstream.
    const opened = await Promise.all(
      this.upstreams.map((u) =>
        u.client.initialize(capabilities).then(
          (value) => ({ u, value, failure: null }),
          (err: unknown) => ({ u, value: null, failure: { err } }),
        ),
      ),
    );
    const failed = opened.find((o) => o.failure !== null);
    if (failed) {
      // One session per upstream or none: a client must not see half the tools.
      await Promise.all(opened.map((o) => (o.value ? o.u.client.terminate(o.value.session) : undefined)));
      throw failed.failure?.err;
    }
    const sessions = new Map<string, UpstreamSession>();
    let first: { session: UpstreamSession; result: JsonObject; sse: boolean } | null = null;
    for (const o of opened) {
      if (!o.value) continue;
      sessions.set(o.u.id, o.value.session);
      if (o.u === this.primary) first = o.value;
    }
    if (!first) throw new Error('the first upstream opened no session');
    const session: UpstreamSession = { ...first.session };
    this.members.set(session, sessions);
    this.asked.set(session, new Map());
    return { session, result: first.result, sse: first.sse };
  }

  private relay(session: UpstreamSession, from: string, onMessage: UpstreamMessageHandler | undefined): UpstreamMessageHandler | undefined {
    if (!onMessage) return undefined;
    return (msg, raw) => {
      if (typeof msg.method === 'string' && (typeof msg.id === 'string' || typeof msg.id === 'number')) this.asked.get(session)?.set(String(msg.id), from);
      onMessage(msg, raw);
    };
  }

  async request(session: UpstreamSession, id: number, method: string, body: string, o: RequestOptions = {}): Promise<UpstreamReply> {
    if (method === 'tools/list') return this.listTools(session, id, body, o);
    if (method === 'tools/call') {
      const msg = JSON.parse(body) as JsonObject;
      const params = isObject(msg.params) ? msg.params : {};
      const name = typeof params.name === 'string' ? params.name : '';
      const r = this.routes().route(name);
      if (!r) throw GatewayError.of('unknown_tool', `Unknown tool: ${name.slice(0, 100)}`);
      const { m, s } = this.member(session, r.upstream);
      const sent = r.name === name ? body : JSON.stringify({ ...msg, params: { ...params, name: r.name } });
      return m.client.request(s, id, method, sent, { ...o, onMessage: this.relay(session, m.id, o.onMessage) });
    }
    const { m, s } = this.member(session, this.primary.id);
    return m.client.request(s, id, method, body, { ...o, onMessage: this.relay(session, m.id, o.onMessage) });
  }

  /** Every upstream's tools under the names clients call them by; tools policy does not describe are left out. */
  private async listTools(session: UpstreamSession, id: number, body: string, o: RequestOptions): Promise<UpstreamReply> {
    const routes = this.routes();
    const lists = await Promise.all(this.upstreams.map((u) => this.allTools(session, u, id, body, o)));
    const tools: JsonObject[] = [];
    for (const [i, u] of this.upstreams.entries()) {
      for (const t of lists[i]?.tools ?? []) {
        if (!isObject(t) || typeof t.name !== 'string') continue;
        const name = routes.publicName(u.id, t.name);
        if (name !== null) tools.push({ ...t, name });
      }
    }
    // The union is one page: a member's cursor means nothing to the client (and is followed above).
    const { nextCursor: _pages, ...first } = lists[0]?.first ?? {};
    return { result: { ...first, tools }, sse: lists.some((l) => l.sse), raw: null };
  }

  /** One upstream's whole tool list: its pages followed to the end (bounded, for a server that never ends). */
  private async allTools(session: UpstreamSession, u: RoutedMember, id: number, body: string, o: RequestOptions): Promise<{ first: JsonObject; tools: unknown[]; sse: boolean }> {
    const { s } = this.member(session, u.id);
    const opts = { ...o, onMessage: this.relay(session, u.id, o.onMessage) };
    let reply = await u.client.request(s, id, 'tools/list', body, opts);
    const first = reply.result;
    const tools: unknown[] = [];
    let sse = reply.sse;
    for (let page = 1; ; page++) {
      if (Array.isArray(reply.result.tools)) tools.push(...reply.result.tools);
      const cursor = reply.result.nextCursor;
      if (typeof cursor !== 'string') return { first, tools, sse };
      if (page >= MAX_TOOL_PAGES) throw GatewayError.of('upstream_invalid_response', `upstream ${u.id}: tools/list did not end after ${MAX_TOOL_PAGES} pages; its tools are not listed`);
      const next = this.id();
      reply = await u.client.request(s, next, 'tools/list', JSON.stringify({ jsonrpc: '2.0', id: next, method: 'tools/list', params: { cursor } }), opts);
      sse ||= reply.sse;
    }
  }

  async send(session: UpstreamSession, body: string, what: string): Promise<void> {
    const msg = JSON.parse(body) as JsonObject;
    // An answer to a server→client request goes back to the upstream that asked.
    if (typeof msg.method !== 'string' && msg.id !== undefined) {
      const from = this.asked.get(session)?.get(String(msg.id)) ?? this.primary.id;
      this.asked.get(session)?.delete(String(msg.id));
      const { m, s } = this.member(session, from);
      return m.client.send(s, body, what);
    }
    // Notifications (cancelled, roots/list_changed …) concern every upstream; an unknown
    // requestId in notifications/cancelled is ignored by the receiver (spec).
    await Promise.all(this.upstreams.map((u) => u.client.send(this.member(session, u.id).s, body, what)));
  }

  async stream(session: UpstreamSession, onMessage: UpstreamMessageHandler): Promise<UpstreamStream | null> {
    const opened = await Promise.all(this.upstreams.map(async (u) => u.client.stream(this.member(session, u.id).s, this.relay(session, u.id, onMessage)!)));
    const streams = opened.filter((s): s is UpstreamStream => s !== null);
    if (streams.length === 0) return null;
    const close = () => streams.forEach((s) => s.close());
    return { closed: Promise.race(streams.map((s) => s.closed)).then(close), close };
  }

  async terminate(session: UpstreamSession): Promise<void> {
    const members = this.members.get(session);
    await Promise.all(this.upstreams.map((u) => (members?.get(u.id) ? u.client.terminate(members.get(u.id)!) : undefined)));
  }

  async probe(): Promise<boolean> {
    return (await Promise.all(this.upstreams.map((u) => u.client.probe()))).every(Boolean);
  }

  async close(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.client.close()));
  }
}
