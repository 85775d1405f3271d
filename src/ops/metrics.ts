// Prometheus metrics (prom-client). One registry per gateway so tests can run several.
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bqwarden_process_' });
  return {
    registry,
    requests: new Counter({
      name: 'bqwarden_mcp_requests_total',
      help: 'MCP requests handled, by method and decision',
      labelNames: ['method', 'decision'] as const,
      registers: [registry],
    }),
    decisions: new Counter({
      name: 'bqwarden_policy_decisions_total',
      help: 'Policy decisions on tool calls, by action',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'bqwarden_request_duration_seconds',
      help: 'End-to-end gateway latency per MCP request, by method and stage',
      labelNames: ['method', 'stage'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'bqwarden_upstream_errors_total',
      help: 'Errors talking to the upstream MCP server',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    httpFailures: new Counter({
      name: 'bqwarden_http_failures_total',
      help: 'Requests refused before the pipeline (auth, bad input, unknown session)',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    auditFailures: new Counter({
      name: 'bqwarden_audit_failures_total',
      help: 'Audit appends that failed (each failed request was denied)',
      registers: [registry],
    }),
    maskedCells: new Counter({
      name: 'bqwarden_masked_values_total',
      help: 'Values masked in responses, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    sessions: new Gauge({ name: 'bqwarden_sessions', help: 'Open MCP sessions', registers: [registry] }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
