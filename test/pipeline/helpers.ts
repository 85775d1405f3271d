// The real pipeline over a real audit log, without a transport: what the pipeline-level audit
// tests need (policy from rules/, real SQL analysis and masking, a JSONL sink on disk).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { createPipeline } from '../../src/pipeline/interceptor.js';
import type { PipelineDeps } from '../../src/pipeline/deps.js';
import { loadPolicy } from '../../src/policy/index.js';
import { applyMasking, redactDetected, resolveMaskingOptions } from '../../src/masking/index.js';
import { analyzeCached, loadStaticCatalog, redactLiterals } from '../../src/sql/index.js';
import { UPSTREAM_SHAPES } from '../../src/upstreams/result-shapes.js';
import { createCatalogView } from '../../src/server/catalog.js';
import { resolveHandles } from '../../src/masking/handles.js';
import { maskValue } from '../../src/masking/methods.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { createLogger } from '../../src/ops/logger.js';
import type { RequestContext } from '../../src/pipeline/types.js';
import { REPO } from '../helpers/gateway.js';

/** The demo rules, except that engineers may write without approval (to exercise a plain allowed write). */
export function rulesWithDirectWrites(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-rules-'));
  cpSync(join(REPO, 'rules'), dir, { recursive: true });
  rmSync(join(dir, 'tests'), { recursive: true, force: true });
  const file = join(dir, 'access.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { statements: { id: string }[] };
  doc.statements = doc.statements.filter((s) => !s.id.startsWith('engineer-'));
  doc.statements.unshift({ id: 'test-engineer-writes', roles: ['engineer'], classes: ['write'], effect: 'allow' } as never);
  writeFileSync(file, stringify(doc));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function pipelineFor(rulesDir: string, audit: PipelineDeps['audit'], over: Partial<PipelineDeps> = {}) {
  const policy = await loadPolicy(rulesDir);
  const masking = resolveMaskingOptions({ pseudonym: { key: 'k'.repeat(48) } }, UPSTREAM_SHAPES);
  return createPipeline({
    audit,
    policy: () => policy,
    sql: { analyze: analyzeCached, redactLiterals },
    catalog: createCatalogView({ staticTables: loadStaticCatalog(join(rulesDir, 'catalog')), providers: [] }),
    mask: (r, plan) => applyMasking(r, plan, masking),
    resolveHandles: (r, plan, run) => resolveHandles(r, plan, run, (m, v) => maskValue(m, v, masking.key)),
    scrub: (r) => ({ result: redactDetected(r, masking).value as Record<string, unknown>, report: { maskedColumns: [], detectorHits: [], rows: null, notes: [] } }),
    approvals: null,
    metrics: createMetrics(),
    log: createLogger('silent'),
    upstreamName: 'toolbox-test',
    maxPayloadBytes: 100_000,
    ...over,
  });
}

let requestId = 0;
export function ctxFor(email: string, groups: string[]): RequestContext {
  return {
    identity: { subject: email, email, issuer: 'https://idp.example', groups, roles: [], actorType: 'human', authMethod: 'oidc', expiresAt: null, name: null },
    sessionId: 's-1',
    requestId: String(++requestId),
    traceId: `t-${requestId}`,
    sourceIp: '127.0.0.1',
    userAgent: 'test',
    clientName: 'c',
    clientVersion: '1',
    protocolVersion: '2025-11-25',
    signal: new AbortController().signal,
    sendProgress: async () => undefined,
    receivedAt: Date.now(),
  };
}

export const sqlCall = (sql: string) => ({ name: 'execute_sql', arguments: { sql } });
