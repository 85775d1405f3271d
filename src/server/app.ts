// Composition root: builds every module from config and wires them into one Fastify app.
// The data path stays one-directional: transport → pipeline → (identity, policy, sql,
// masking, approvals, audit) → sinks. Nothing below this file knows about Fastify routes
// other than its own.
import Fastify, { type FastifyInstance } from 'fastify';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { GatewayConfig } from './config.js';
import { publicBaseUrl } from './config.js';
import { GATEWAY_INSTANCE, GATEWAY_VERSION } from './version.js';
import { createCatalogView } from './catalog.js';
import { createLogger, type Logger } from '../ops/logger.js';
import { createMetrics } from '../ops/metrics.js';
import { createPipeline } from '../pipeline/interceptor.js';
import { createRateLimiter } from '../pipeline/rate-limit.js';
import type { PipelineDeps, PolicyView } from '../pipeline/deps.js';
import { registerMcpGateway } from '../transport/gateway.js';
import { createAuthenticator, protectedResourceMetadata, protectedResourceMetadataPaths, wwwAuthenticateHeader } from '../identity/authenticate.js';
import { devIssuerUrl } from '../identity/config.js';
import { freePort } from '../demo/toolbox.js';
import { createUpstreamCredential, type UpstreamCredential } from '../identity/upstream-credential.js';
import { createUpstreamToolClient, createWriterUpstream, type UpstreamToolClient } from './upstream-tool-client.js';
import type { CatalogProvider } from '../sql/types.js';
import { AuthError } from '../identity/types.js';
import { AuditLog } from '../audit/log.js';
import { anchorStoreFor, claimStoreFor, createAuditSigner, pinStoreFor, startAnchors } from './audit-setup.js';
import { ToolPins } from '../pins/service.js';
import { JsonlSink } from '../sinks/jsonl.js';
import { JsonlAuditStore } from '../audit/store-jsonl.js';
import type { AuditSink } from '../audit/sink.js';
import type { AuditStore } from '../audit/store.js';
import { registerConsoleRoutes } from '../console/routes.js';
import { createWeb } from '../web/index.js';
import { demoSignIn, DEMO_SCOPE } from '../web/demo-client.js';
import { AUTH_BASE } from '../web/pages.js';
import { readFileSync } from 'node:fs';
import { DEMO_APPROVER, createApprovals, storeApprovalSource } from '../approvals/index.js';
import { cliCommand } from '../config/invocation.js';
import { PolicyStore } from '../policy/store.js';
import type { UpstreamSummary } from '../policy/engine.js';
import type { KindName } from '../upstreams/types.js';
import { analyzeCached, redactLiterals, loadStaticCatalog } from '../sql/index.js';
import { createUpstreamCatalogProvider } from '../upstreams/catalog.js';
import { upstreamKind } from '../upstreams/registry.js';
import { UPSTREAM_SHAPES } from '../upstreams/result-shapes.js';
import { applyMasking, redactDetected } from '../masking/apply.js';
import { resolveMaskingOptions } from '../masking/config.js';
import { resolveHandles } from '../masking/handles.js';
import { maskValue } from '../masking/methods.js';

export interface GatewayHandle {
  app: FastifyInstance;
  /** Base URL (no /mcp). */
  url: string;
  port: number;
  audit: AuditLog;
  reloadPolicy(): Promise<void>;
  close(): Promise<void>;
}

/** Demo-only secrets are generated under the data directory; production mounts them. */
function demoSecretFile(dataDir: string, name: string, bytes: number): string {
  const dir = join(dataDir, 'keys');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, name);
  if (!existsSync(file)) writeFileSync(file, randomBytes(bytes).toString('hex'), { mode: 0o600 });
  return file;
}

/** How the pages sign people in: the configured identity provider, else (demo) the embedded authorization server. */
function signInSettings(config: GatewayConfig, resource: string, demoIssuer: string | null, port: number, demoWebSecret: string) {
  const s = config.web.signIn;
  if (s) {
    return {
      issuer: s.issuer,
      clientId: s.clientId,
      clientSecret: s.clientSecretFile ? readFileSync(s.clientSecretFile, 'utf8').trim() : null,
      scopes: s.scopes,
      resource: s.resource === false ? null : (s.resource ?? resource),
      identityToken: s.identityToken,
    };
  }
  if (!demoIssuer) return null;
  const host = ['0.0.0.0', '::', ''].includes(config.server.host) ? '127.0.0.1' : config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  return demoSignIn({ issuer: demoIssuer, resource, secret: demoWebSecret, loopback: `http://${host}:${port}` });
}

async function createSink(config: GatewayConfig): Promise<AuditSink> {
  if (config.auditSink === 'pubsub') {
    const { createPubSubSink } = await import('../sinks/pubsub.js');
    return createPubSubSink(config.gcp);
  }
  return JsonlSink.open({ dir: config.audit.dir ?? join(config.dataDir, 'audit'), maxFileBytes: config.audit.maxFileBytes });
}

/**
 * The read side of the sink createSink picks (AuditStore beside AuditSink): what approvals and
 * the console read. With Pub/Sub the gateway reads approvals through the polling source over
 * the BigQuery store (gcp/approval-source.ts) and serves no console (examiners use the views,
 * `verify --bigquery` and `report --bigquery`), so there is none to open here.
 */
function openAuditStore(config: GatewayConfig): AuditStore | null {
  if (config.auditSink === 'pubsub') return null;
  return new JsonlAuditStore(config.audit.dir ?? join(config.dataDir, 'audit'));
}

/**
 * Where each policy upstream is and which credential the gateway presents there. Without
 * upstreams in policy, the gateway config's one upstream (named upstream.name).
 */
function upstreamEndpoints(ups: UpstreamSummary[], config: GatewayConfig, fallback: UpstreamCredential) {
  if (ups.length === 0) return [{ id: config.upstream.name, kind: null, url: config.upstream.url, credential: fallback, defaultProject: null as string | null }];
  const bare = ups.filter((u) => !u.url);
  if (bare.length > 1) throw new Error(`upstreams ${bare.map((u) => u.id).join(', ')} name no url in policy (rules/upstreams.yaml); only one may use the gateway config's upstream.url`);
  return ups.map((u) => ({
    id: u.id,
    kind: u.kind as KindName | null,
    url: u.url ?? config.upstream.url,
    credential: u.credential ? createUpstreamCredential(u.credential) : fallback,
    defaultProject: u.defaultProject,
  }));
}

export interface StartGatewayOptions {
  log?: Logger;
  /** Credentials made in this process (the demo's per-run Toolbox tokens) instead of config. */
  upstreamCredential?: UpstreamCredential;
  writerCredential?: UpstreamCredential;
}

export async function startGateway(config: GatewayConfig, opts: StartGatewayOptions = {}): Promise<GatewayHandle> {
  const log = opts.log ?? createLogger();
  const metrics = createMetrics();
  const demo = config.mode === 'demo' || config.mode === 'dev';
  mkdirSync(config.dataDir, { recursive: true });

  // Audit first: nothing is served until events can be made durable.
  const sink = await createSink(config);
  const signer = await createAuditSigner(config, demo);
  const audit = await AuditLog.open({
    sink,
    signer,
    gatewayVersion: GATEWAY_VERSION,
    instance: GATEWAY_INSTANCE,
    checkpointEvery: config.audit.checkpointEvery,
    maxBatch: config.audit.maxBatch,
    commitWindowMs: config.audit.commitWindowMs,
    maxUnsignedMs: config.audit.maxUnsignedMs,
  });
  const anchors = await startAnchors(config, audit, GATEWAY_INSTANCE, log);

  const policyStore = await PolicyStore.open(config.rules.dir);
  await audit.append({ event_type: 'gateway_start', policy_version: policyStore.current().version, gateway_version: GATEWAY_VERSION, gateway_instance: GATEWAY_INSTANCE });
  const onPolicyChange = (r: { ok: boolean; version: string; error?: string }) => {
    void audit
      .append({
        event_type: 'policy_loaded',
        policy_version: r.version,
        outcome: r.ok ? 'success' : 'failure',
        error_message: r.error ?? null,
      })
      .catch((err) => log.error({ err: (err as Error).message }, 'could not audit policy reload'));
    if (r.ok) log.info({ version: r.version }, 'policy reloaded');
    else log.error({ error: r.error }, 'policy reload refused; previous policy stays in force');
  };
  const unwatch = policyStore.watch(onPolicyChange);

  // Upstream: the gateway's own credential, never the client's.
  const credential = opts.upstreamCredential ?? createUpstreamCredential(config.identity.upstreamCredential);
  const writer = config.upstream.writer
    ? createWriterUpstream({
        url: config.upstream.writer.url,
        name: config.upstream.writer.name,
        timeoutMs: config.upstream.timeoutMs,
        credential: opts.writerCredential ?? createUpstreamCredential(config.upstream.writer.credential),
      })
    : null;
  // The upstreams policy describes (rules/upstreams.yaml) are the ones the transport connects
  // to: one object. The gateway config's upstream.url (the demo's Toolbox, BQWARDEN_UPSTREAM_URL)
  // stands in for the one upstream that names no url; each may name its own credential.
  const endpoints = upstreamEndpoints(policyStore.current().upstreams(), config, credential);
  const metaClients: UpstreamToolClient[] = [];
  /** The gateway's own calls to an upstream's metadata tools (catalog), off the data path: fresh credentials per request, reconnect after a failure. */
  const metaCaller = (e: (typeof endpoints)[number]) => {
    const client = createUpstreamToolClient({ url: e.url, clientName: 'bqwarden-catalog', timeoutMs: config.upstream.timeoutMs, credential: e.credential });
    metaClients.push(client);
    return async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as { content: { type: string; text?: string }[] };
  };
  // BigQuery's own catalog first: it carries the policy tags that classify columns.
  const catalogProviders: CatalogProvider[] = [];
  if (config.gcp.bigquery.catalog) {
    if (!config.gcp.project) throw new Error('gcp.bigquery.catalog needs gcp.project (the project that runs the INFORMATION_SCHEMA queries)');
    const { createBigQueryCatalogProvider } = await import('../gcp/catalog.js');
    catalogProviders.push(
      createBigQueryCatalogProvider({ projectId: config.gcp.project, location: config.gcp.bigquery.location, ttlMs: config.gcp.bigquery.catalogTtlMs, apiEndpoint: config.gcp.bigquery.apiEndpoint }),
    );
  }
  for (const e of endpoints) {
    const source = e.kind ? upstreamKind(e.kind).catalog : null;
    if (!source) continue;
    // Several upstreams share one catalog view: an upstream whose names are its own (SQLite,
    // named by its defaultProject) answers only for those.
    const owns = endpoints.length > 1 && e.kind !== 'toolbox-bigquery' && e.kind !== 'bigquery-managed' ? (t: { project: string | null }) => t.project === e.defaultProject : undefined;
    catalogProviders.push(createUpstreamCatalogProvider(metaCaller(e), source, { name: e.id, ...(owns ? { owns } : {}) }));
  }
  // A policy without a catalog/ directory (e.g. one mounted from a bucket) has no static tables:
  // knowing less only makes the analyzer report unresolved columns, which policy refuses.
  const staticCatalog = () => (existsSync(config.rules.catalogDir) ? loadStaticCatalog(config.rules.catalogDir) : []);
  const catalog = createCatalogView({ staticTables: staticCatalog(), providers: catalogProviders });

  const maskingConfig = { ...config.masking };
  if (!maskingConfig.pseudonym.key && !maskingConfig.pseudonym.keyFile) {
    if (!demo) throw new Error('masking.pseudonym.keyFile is required outside demo/dev mode (mount it from Secret Manager)');
    maskingConfig.pseudonym = { ...maskingConfig.pseudonym, keyFile: demoSecretFile(config.dataDir, 'pseudonym.key', 32) };
  }
  const maskingOptions = resolveMaskingOptions(maskingConfig, UPSTREAM_SHAPES);

  // The resource URL (token audience) must be known before routes exist, so port 0 (tests)
  // is resolved to a concrete free port first.
  const port = config.server.port === 0 ? await freePort() : config.server.port;
  const base = publicBaseUrl(config, port);
  const identityConfig = {
    ...config.identity,
    resource: config.server.publicUrl ? config.identity.resource : `${base}/mcp`,
    devIssuer: { ...config.identity.devIssuer, enabled: config.identity.devIssuer.enabled && demo, dataDir: config.identity.devIssuer.dataDir ?? config.dataDir },
  };
  if (config.server.publicUrl && identityConfig.resource !== `${base}/mcp`) identityConfig.resource = `${base}/mcp`;
  // The demo authorization server's scope is what MCP clients should ask for.
  if (identityConfig.devIssuer.enabled && identityConfig.scopesSupported.length === 0) identityConfig.scopesSupported = [DEMO_SCOPE];
  const authenticator = createAuthenticator(identityConfig, { mode: config.mode });

  let dryRunner: Promise<import('../gcp/dry-run.js').DryRunner> | null = null;
  const deps: PipelineDeps = {
    audit,
    policy: (): PolicyView => policyStore.current(),
    sql: { analyze: analyzeCached, redactLiterals },
    catalog,
    mask: (result, plan) => applyMasking(result, plan, maskingOptions),
    resolveHandles: (result, plan, run) => resolveHandles(result, plan, run, (method, value) => maskValue(method, value, maskingOptions.key)),
    scrub: (result) => {
      const r = redactDetected(result, maskingOptions);
      return { result: r.value as Record<string, unknown>, report: { maskedColumns: [], detectorHits: r.detectorHits, rows: null, notes: [] } };
    },
    approvals: null,
    writer,
    metrics,
    log,
    upstreamName: config.upstream.name,
    upstreamPerTool: endpoints.length > 1,
    maxPayloadBytes: config.pipeline.maxPayloadBytes,
    rateLimiter: createRateLimiter({ perMinute: config.pipeline.callsPerMinute, burst: config.pipeline.callBurst }),
    // BigQuery dry runs (upstreams[].dryRun in policy), with the gateway's identity; the client
    // is loaded on first use, so gateways whose policy asks for none never load it.
    dryRun: {
      run: async (req) =>
        (
          await (dryRunner ??= import('../gcp/dry-run.js')
            .then((m) => m.createDryRunner({ projectId: config.gcp.project, apiEndpoint: config.gcp.bigquery.apiEndpoint, location: config.gcp.bigquery.location }))
            // A failed load denies this call (fail closed) but is tried again by the next one.
            .catch((err: unknown) => {
              dryRunner = null;
              throw err;
            }))
        ).run(req),
    },
  };

  // Approvals: state is rebuilt from the audit files before the first request is served.
  // With Pub/Sub, approval state is read back from the BigQuery audit table, so every
  // instance sees approvals granted through another one.
  const auditStore = openAuditStore(config);
  const approvalSource =
    config.auditSink === 'pubsub' || !auditStore
      ? (await import('../gcp/approval-source.js')).approvalSourceFromConfig(config.gcp, {
          onError: (err: Error) => log.error({ err: err.message }, 'approval state: BigQuery poll failed; state unchanged until a poll succeeds'),
        })
      : storeApprovalSource(auditStore);
  const approvals = await createApprovals({
    audit,
    source: approvalSource,
    policy: () => policyStore.current(),
    sql: { redactLiterals },
    publicUrl: base,
    config: config.approvals,
    log,
    dataDir: config.dataDir,
    claims: await claimStoreFor(config, log),
    instance: GATEWAY_INSTANCE,
    // Printed in hold messages: lines that work pasted in any folder (see config/invocation.ts).
    cli: { command: cliCommand({ dataDir: config.dataDir }), demoApprover: demo ? DEMO_APPROVER : null },
  });
  deps.approvals = approvals.gate;
  // Tool-definition pinning: pins shared like approval claims, changes accepted through the approval doors.
  const pins = config.toolPins.enabled
    ? new ToolPins({
        store: await pinStoreFor(config, log),
        upstream: config.upstream.name,
        audit,
        approvals,
        approverRoles: config.toolPins.approverRoles,
        required: config.toolPins.required,
        expirySeconds: config.toolPins.expirySeconds,
        refreshMs: config.toolPins.refreshSeconds * 1000,
        instance: GATEWAY_INSTANCE,
        log,
      })
    : null;
  pins?.start();
  deps.pins = pins;

  const app = Fastify({ logger: false, bodyLimit: config.transport.bodyLimitBytes, trustProxy: config.server.trustProxy, return503OnClosing: true, forceCloseConnections: true });

  const pipeline = createPipeline(deps);

  // Node keeps only the first of repeated Authorization headers; a proxy in front may keep the
  // last. Two credentials in one request would let the two disagree about who is calling, so
  // such a request is refused everywhere (MCP, approvals, console) before any route runs.
  app.addHook('onRequest', async (request, reply) => {
    const distinct = request.raw.headersDistinct;
    const repeated = ['authorization', 'x-goog-iap-jwt-assertion'].find((h) => (distinct[h]?.length ?? 0) > 1);
    if (!repeated) return;
    const message = `Unauthorized (malformed_token): more than one ${repeated} header`;
    await pipeline
      .onHttpFailure({ code: 'auth_failed', message, httpStatus: 401, identity: null, sessionId: null, sourceIp: request.ip, userAgent: request.headers['user-agent'] ?? null, method: null })
      .catch(() => undefined);
    reply.code(401).header('www-authenticate', wwwAuthenticateHeader(identityConfig, null)).send({ error: 'malformed_token', message });
  });

  // Operations endpoints: unauthenticated by design (probes and scrapers), and they expose
  // no data — only liveness, readiness and counters.
  app.get('/healthz', async () => ({ status: 'ok', version: GATEWAY_VERSION }));
  app.get('/readyz', async (_req, reply) => {
    // The data path's own probe: reachable AND our credential accepted (a 401/403 is unready).
    const checks = { audit: audit.isReady(), upstream: await mcp.upstreamReady(), policy: true };
    const ready = checks.audit && checks.upstream && !closing;
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'unready', checks };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  const prm = protectedResourceMetadata(identityConfig);
  for (const path of protectedResourceMetadataPaths(identityConfig)) app.get(path, async () => prm);

  // Browser pages: one web module (sessions, cookies, CSRF, headers, sign-in) for the console
  // and the approvals page; refused credentials go through the pipeline's audited, scanned path.
  const demoIssuer = identityConfig.devIssuer.enabled ? devIssuerUrl(identityConfig) : null;
  // The embedded authorization server and the pages share the secret of the pages' own client.
  const demoWebSecret = randomBytes(32).toString('base64url');
  const web = createWeb({
    publicUrl: base,
    authenticate: (h) => authenticator.authenticate(h),
    recordFailure: (f) => pipeline.onHttpFailure(f),
    scanClientText: (t) => pipeline.scanClientText(t),
    signIn: signInSettings(config, identityConfig.resource, demoIssuer, port, demoWebSecret),
    sessionSeconds: config.web.sessionSeconds,
    pages: [
      { path: '/console', label: 'examiner console' },
      { path: '/approvals/ui', label: 'approvals page' },
    ],
  });
  if (demoIssuer) {
    const { registerDemoAuthServer } = await import('../web/auth-server.js');
    await registerDemoAuthServer(app, {
      mode: config.mode,
      issuer: demoIssuer,
      resource: identityConfig.resource,
      dataDir: config.dataDir,
      accessTokenTtlSeconds: identityConfig.devIssuer.accessTokenTtlSeconds,
      refreshTokenTtlSeconds: identityConfig.devIssuer.refreshTokenTtlSeconds,
      webClient: config.web.signIn ? undefined : { redirectUri: `${base}${AUTH_BASE}/callback`, postLogoutRedirectUri: `${base}${AUTH_BASE}/signed-out`, secret: demoWebSecret },
      web,
    });
  }
  await web.routes(app);

  // Sealed session ids: one key for every instance, so a session survives a move between them.
  const sessionSecretFile = config.transport.sessionSecretFile ?? (demo ? demoSecretFile(config.dataDir, 'session.key', 32) : undefined);
  const mcp = await registerMcpGateway(app, {
    upstream: { url: config.upstream.url, headers: () => credential.headers(), timeoutMs: config.upstream.timeoutMs },
    upstreams: {
      endpoints: endpoints.map((e) => ({ id: e.id, url: e.url, headers: () => e.credential.headers(), timeoutMs: config.upstream.timeoutMs })),
      routes: () => policyStore.current().toolRoutes(),
    },
    interceptor: pipeline,
    authenticate: (req) => authenticator.authenticate(req.headers),
    wwwAuthenticate: (err) => wwwAuthenticateHeader(identityConfig, err instanceof AuthError ? err : null),
    allowedOrigins: config.transport.allowedOrigins,
    bodyLimitBytes: config.transport.bodyLimitBytes,
    sessionIdleTimeoutMs: config.transport.sessionIdleTimeoutMs,
    maxSessionsPerIdentity: config.transport.maxSessionsPerIdentity,
    sessionSecret: sessionSecretFile ? readFileSync(sessionSecretFile) : null,
    sessionMaxAgeMs: config.transport.sessionMaxAgeMs,
    logger: log,
  });

  await approvals.routes(app, { authenticate: (h) => authenticator.authenticate(h), web });

  // The examiner console reads the local audit store; with Pub/Sub, examiners use BigQuery views.
  if (config.auditSink === 'jsonl' && auditStore) {
    const anchorStore = await anchorStoreFor(config);
    await registerConsoleRoutes(app, {
      store: auditStore,
      web,
      rolesFor: (id) => policyStore.current().rolesFor(id),
      can: (roles, capability) => policyStore.current().can(roles, capability),
      audit,
      // What the integrity panel trusts: the keys pinned in config and the key this gateway signs
      // with (held in memory), as `verify` does; never whatever *.pub.pem lies in keys/.
      publicKeys: [...config.audit.trustedKeys.map((k) => (k.includes('-----BEGIN') ? k : readFileSync(k, 'utf8'))), signer.publicKeyPem],
      anchors: anchorStore ? async () => ({ store: anchorStore.name, ...(await anchorStore.list()) }) : undefined,
      pins,
    });
  }

  await app.listen({ host: config.server.host, port });
  log.info({ url: `${base}/mcp`, upstream: config.upstream.url, mode: config.mode, policy: policyStore.current().version }, 'gateway listening');

  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    unwatch();
    // Stop accepting, let in-flight requests finish (bounded), then end sessions and audit.
    const drained = app.close();
    await Promise.race([drained, new Promise((r) => setTimeout(r, config.server.drainTimeoutMs))]);
    await mcp.close();
    await Promise.all(metaClients.map((c) => c.close()));
    await writer?.close();
    pins?.close();
    await approvals.close().catch((err) => log.error({ err: (err as Error).message }, 'approvals close failed'));
    await audit.append({ event_type: 'gateway_stop', policy_version: policyStore.current().version }).catch(() => undefined);
    try {
      await audit.close();
    } finally {
      // The sealed head is anchored last, so a later deletion of this whole run shows.
      await anchors?.close().catch((err) => log.error({ err: (err as Error).message }, 'final audit anchor could not be written'));
    }
  };

  return {
    app,
    url: base,
    port,
    audit,
    async reloadPolicy() {
      onPolicyChange(await policyStore.reload());
      catalog.reset(staticCatalog());
    },
    close,
  };
}
