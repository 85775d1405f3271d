// The examiner console at /console: sign-in, overview, event list, event detail, session
// replay, approvals and the chain-integrity panel. Only holders of the console capability
// (the examiner role in the demo policy) get in; every page view, and every refusal, is
// itself written to the audit log as a console_access event before the page is sent, and a
// page whose access cannot be recorded is not shown (fail closed).
import { actorFields } from '../audit/actor.js';
import type { KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditEventInput } from '../audit/event.js';
import type { Identity } from '../identity/types.js';
import { keyFingerprint, publicKeyMap } from '../audit/checkpoint.js';
import type { Anchor } from '../audit/anchors.js';
import type { AuditStore } from '../audit/store.js';
import { verifyStore, type VerifyReport } from '../audit/verify.js';
import { AuditIndex, FLAG_PRIVILEGED } from './audit-index.js';
import { CONSOLE_BASE as B, CONSOLE_CSS, CONSOLE_JS, uplotAssets } from './assets.js';
import type { Web } from '../web/index.js';
import { approvalsFor, listEvents, matcher, overview, parseFilter, sessionEvents, type Filter } from './queries.js';
import * as html from './html.js';

export interface ConsoleDeps {
  /** The audit store the console reads (the gateway's, chosen from config in server/app.ts). */
  store: AuditStore;
  /** Sign-in, sessions, cookies, CSRF and headers: the shared web module. */
  web: Web;
  rolesFor(identity: Identity): string[];
  /** Policy capability check (Policy.can); without it only the examiner role may enter. */
  can?(roles: string[], capability: string): boolean;
  /** Where console_access events go (the gateway's AuditLog); refused credentials go through web.authFailure. */
  audit: { append(input: AuditEventInput): Promise<unknown> };
  /** Checkpoint verification keys (PEM or KeyObject): pinned keys and the gateway's own. A keys
   * directory is never trusted by listing it (a key dropped in there would vouch for a forgery). */
  publicKeys?: (KeyObject | string)[] | (() => (KeyObject | string)[]);
  /** The anchors the gateway exported (as `verify --anchors` reads them): a cut or rewritten tail
   * shows as a break here too. */
  anchors?: () => Promise<{ store: string; anchors: Anchor[]; invalid?: { ref: string; reason: string }[] } | undefined>;
  /** An index built elsewhere (tests, benchmarks); default: one over the store. */
  index?: AuditIndex;
  /** Min ms between audit-directory refreshes (default 500). */
  refreshIntervalMs?: number;
  /** The tool-pin store (current pins); without it the tool pins page shows events only. */
  pins?: { list(): Promise<html.PinRow[]> } | null;
}

const PIN_EVENTS = 500;

export interface ConsoleHandle {
  index: AuditIndex;
}

const PAGE_SIZE = 50;
const CAPABILITY = 'console';

export async function registerConsoleRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<ConsoleHandle> {
  const index = deps.index ?? new AuditIndex(deps.store);
  const { web } = deps;
  const refreshMs = deps.refreshIntervalMs ?? 500;
  const allowed = (roles: string[]) => (deps.can ? deps.can(roles, CAPABILITY) : roles.includes('examiner'));

  const keys = (): (KeyObject | string)[] => {
    const k = typeof deps.publicKeys === 'function' ? deps.publicKeys() : deps.publicKeys;
    return k ?? [];
  };
  const integrity: { report: VerifyReport | null; at: string | null; error: string | null; running: Promise<void> | null } = { report: null, at: null, error: null, running: null };
  const runVerifier = (): Promise<void> => {
    integrity.running ??= (async () => {
      try {
        integrity.report = await verifyStore(deps.store, { publicKeys: keys(), anchors: await deps.anchors?.() });
        integrity.error = null;
      } catch (err) {
        integrity.report = null;
        integrity.error = (err as Error).message;
      }
      integrity.at = new Date().toISOString();
    })().finally(() => {
      integrity.running = null;
    });
    return integrity.running;
  };

  function send(reply: FastifyReply, status: number, body: string): FastifyReply {
    return reply.code(status).type('text/html; charset=utf-8').send(body);
  }

  function requestFields(req: FastifyRequest, identity: Identity | null, roles: string[]): Partial<AuditEventInput> {
    const c = web.client(req);
    return { ...actorFields(identity, roles), source_ip: c.sourceIp, user_agent: c.userAgent };
  }

  /** Who may see this page: signs in, checks the capability, records the access. Sends the refusal itself. */
  async function gate(req: FastifyRequest, reply: FastifyReply, page: string, detail: Record<string, unknown>): Promise<html.Viewer | null> {
    const v = await web.viewer(req, reply, 'console/login');
    if (!v || 'failure' in v) {
      const url = web.signInUrl(req.url);
      if (!v && url) reply.code(303).header('location', url).send();
      else send(reply, 401, html.signInPage(v ? `That credential was not accepted: ${v.failure.message}` : null, url));
      return null;
    }
    const s = v.session;
    const roles = deps.rolesFor(s.identity);
    const who = s.identity.email ?? s.identity.subject;
    const ok = allowed(roles);
    try {
      await deps.audit.append({
        event_type: 'console_access',
        ...requestFields(req, s.identity, roles),
        mcp_method: `console/${page}`,
        request_json: JSON.stringify({ page, ...detail }),
        outcome: ok ? 'success' : 'denied',
        decision: ok ? 'allow' : 'deny',
        decision_reason: ok ? null : `the examiner console needs the ${CAPABILITY} capability (examiner role); ${who} holds ${roles.join(', ') || 'no roles'}`,
        error_code: ok ? null : 'console_forbidden',
        http_status: ok ? 200 : 403,
      });
    } catch (err) {
      send(reply, 503, html.errorPage(503, `Your access to the audit data could not be recorded, so it is not shown: ${(err as Error).message}`, null));
      return null;
    }
    if (!ok) {
      send(reply, 403, html.errorPage(403, `The examiner console is for the examiner role only; ${who} holds ${roles.join(', ') || 'no roles'}.`, { who, csrf: web.csrf(reply, s.id) }));
      return null;
    }
    await index.refresh(refreshMs);
    return { who, csrf: web.csrf(reply, s.id) };
  }

  function filtersOr400(req: FastifyRequest, reply: FastifyReply, viewer: html.Viewer): Filter | null {
    const { filter, errors } = parseFilter(req.query as Record<string, unknown>);
    if (errors.length) {
      send(reply, 400, html.errorPage(400, `Filter not understood: ${errors.join('; ')}`, viewer));
      return null;
    }
    return filter;
  }

  const options = (): html.FilterOptions => ({
    actors: index.actors.values.filter((v): v is string => v !== null).sort(),
    tables: index.tables.values.filter((v): v is string => v !== null).sort(),
  });

  const filterDetail = (req: FastifyRequest) => ({ query: req.query as Record<string, unknown> });

  await app.register(async (scope) => {
    await web.install(scope, {
      scriptSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      refuse: (_req, reply, status, message) => send(reply, status, status === 401 ? html.signInPage(message, web.signInUrl(B)) : html.errorPage(status, message, null)),
    });

    const asset = (name: string, type: string, body: () => string) =>
      scope.get(`${B}/assets/${name}`, async (_req, reply) => reply.header('content-type', type).header('cache-control', 'max-age=3600').send(body()));
    asset('console.css', 'text/css; charset=utf-8', () => CONSOLE_CSS);
    asset('console.js', 'text/javascript; charset=utf-8', () => CONSOLE_JS);
    asset('uPlot.min.css', 'text/css; charset=utf-8', () => uplotAssets().css);
    asset('uPlot.iife.min.js', 'text/javascript; charset=utf-8', () => uplotAssets().js);

    scope.get(B, async (req, reply) => {
      const viewer = await gate(req, reply, 'overview', filterDetail(req));
      if (!viewer) return reply;
      const f = filtersOr400(req, reply, viewer);
      if (!f) return reply;
      const last = integrity.report && integrity.at ? { ok: integrity.report.ok, at: integrity.at } : null;
      return send(reply, 200, html.overviewPage(overview(index, f), f, options(), last, viewer));
    });

    scope.get(`${B}/events`, async (req, reply) => {
      const viewer = await gate(req, reply, 'events', filterDetail(req));
      if (!viewer) return reply;
      const f = filtersOr400(req, reply, viewer);
      if (!f) return reply;
      const pageRaw = Number((req.query as { page?: string }).page ?? 0);
      const page = Number.isInteger(pageRaw) && pageRaw >= 0 && pageRaw < 1e6 ? pageRaw : 0;
      const { total, indexes } = listEvents(index, f, page, PAGE_SIZE);
      const rows: html.EventRow[] = indexes.map((i) => ({
        index: i,
        time: new Date(index.time.at(i)).toISOString(),
        type: index.eventType(i),
        actor: index.actors.get(index.actor.at(i)),
        decision: index.decisionOf(i),
        outcome: index.outcomeOf(i),
        table: index.tables.get(index.table.at(i)),
        rules: index.ruleSetParts[index.ruleSet.at(i)] ?? [],
        session: index.sessions.get(index.session.at(i)),
        chain: index.chains.get(index.chain.at(i)) ?? '',
        seq: index.seq.at(i),
        privileged: (index.flags.at(i) & FLAG_PRIVILEGED) !== 0,
      }));
      return send(reply, 200, html.eventsPage(rows, total, page, PAGE_SIZE, f, options(), viewer));
    });

    scope.get<{ Params: { chain: string; seq: string } }>(`${B}/events/:chain/:seq`, async (req, reply) => {
      const { chain, seq } = req.params;
      const viewer = await gate(req, reply, 'event', { chain_id: chain, seq });
      if (!viewer) return reply;
      const i = /^\d{1,15}$/.test(seq) ? index.findBySeq(chain, Number(seq)) : -1;
      if (i < 0) return send(reply, 404, html.errorPage(404, `No event ${chain}#${seq} in the audit store.`, viewer));
      try {
        return send(reply, 200, html.eventPage(await index.readEvent(i), viewer));
      } catch (err) {
        return send(reply, 500, html.errorPage(500, `The event could not be read back from the audit store: ${(err as Error).message}`, viewer));
      }
    });

    scope.get<{ Params: { id: string } }>(`${B}/sessions/:id`, async (req, reply) => {
      const sessionId = req.params.id;
      const viewer = await gate(req, reply, 'session_replay', { session_id: sessionId });
      if (!viewer) return reply;
      const idx = sessionEvents(index, sessionId);
      try {
        const events = await index.readEvents(idx);
        const approvalIds = [...new Set(events.map((e) => e.approval_id).filter((x): x is string => !!x))];
        const inSession = new Set(idx);
        const approvalIdx = approvalIds.flatMap((id) => index.approvalsById.get(id)?.events ?? []).filter((i) => !inSession.has(i));
        const approvals = await index.readEvents([...new Set(approvalIdx)].sort((a, b) => index.time.at(a) - index.time.at(b)));
        return send(reply, 200, html.sessionPage(sessionId, events, approvals, viewer));
      } catch (err) {
        return send(reply, 500, html.errorPage(500, `The session could not be read back from the audit store: ${(err as Error).message}`, viewer));
      }
    });

    scope.get(`${B}/approvals`, async (req, reply) => {
      const viewer = await gate(req, reply, 'approvals', filterDetail(req));
      if (!viewer) return reply;
      const f = filtersOr400(req, reply, viewer);
      if (!f) return reply;
      return send(reply, 200, html.approvalsPage(approvalsFor(index, matcher(index, f)), f, options(), viewer));
    });

    scope.get(`${B}/tools`, async (req, reply) => {
      const viewer = await gate(req, reply, 'tool_pins', {});
      if (!viewer) return reply;
      let pins: html.PinRow[] | null = null;
      let pinsError: string | null = null;
      try {
        pins = deps.pins ? (await deps.pins.list()).sort((a, b) => (a.upstream + a.tool < b.upstream + b.tool ? -1 : 1)) : null;
      } catch (err) {
        pinsError = (err as Error).message;
      }
      const order = index.ordered();
      const picked: number[] = [];
      for (let k = order.length - 1; k >= 0 && picked.length < PIN_EVENTS; k--) {
        // k runs over order's own indexes, from its length down.
        const i = order[k]!;
        if (index.ruleSetParts[index.ruleSet.at(i)]?.includes('tool-pinning')) picked.push(i);
      }
      try {
        const events = await index.readEvents(picked);
        return send(
          reply,
          200,
          html.toolPinsPage(
            pins,
            pinsError,
            events.map((e) => ({ chain: e.chain_id, seq: e.seq, e })),
            viewer,
          ),
        );
      } catch (err) {
        return send(reply, 500, html.errorPage(500, `The pinning events could not be read back from the audit store: ${(err as Error).message}`, viewer));
      }
    });

    scope.get(`${B}/integrity`, async (req, reply) => {
      const run = (req.query as { run?: string }).run === '1';
      const viewer = await gate(req, reply, 'integrity', { run });
      if (!viewer) return reply;
      if (run || integrity.running) await runVerifier();
      let keyIds: string[] = [];
      try {
        keyIds = [...publicKeyMap(keys()).values()].map((k) => keyFingerprint(k));
      } catch (err) {
        integrity.error ??= `verification keys unusable: ${(err as Error).message}`;
      }
      return send(
        reply,
        200,
        html.integrityPage(
          {
            report: integrity.report,
            at: integrity.at,
            running: false,
            error: integrity.error,
            keys: keyIds,
            signingKeysSeen: [...index.signingKeys].sort(),
            invalid: index.invalid,
            invalidCount: index.invalidCount,
            policies: [...index.policyVersions.values()].sort((a, b) => (a.firstSeen < b.firstSeen ? -1 : 1)),
          },
          viewer,
        ),
      );
    });
  });

  // Build the index up front so the first page view is fast; a failure surfaces on first use.
  await index.refresh().catch(() => undefined);
  return { index };
}
