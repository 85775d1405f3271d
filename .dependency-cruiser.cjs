// The layering as rules, checked by `npm test` (scripts/lint.mjs). One direction of imports:
//   entry (server, cli) → surfaces (transport, web, console, report) → pipeline
//   → concerns (identity, policy, sql, masking, approvals, audit, upstreams, gcp, demo, pins)
//   → base (ops, config, common); sinks are adapters of audit's AuditSink port, wired only by the entry;
//   readers of the audit take its AuditStore port, and the entry picks the store.
// docs/architecture.md explains each layer and where a new kind goes.
const CONCERNS = '^src/(identity|policy|sql|masking|approvals|audit|upstreams|gcp|demo|pins)/';
/** Concern files that implement a pipeline port (ApprovalGate, ToolPinsView): they may import its types, nothing that runs. */
const PORT_IMPLEMENTATIONS = '^src/(approvals/(gate|index)|pins/service)\\.ts$';
const SURFACES = '^src/(transport|web|console|report)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'Import cycles hide which module owns a concern.', from: { path: '^src/' }, to: { circular: true } },
    {
      name: 'entry-is-top',
      severity: 'error',
      comment: 'Only the composition roots (server, cli) wire modules together.',
      from: { path: '^src/', pathNot: '^src/(server|cli)/' },
      to: { path: '^src/(server|cli)/' },
    },
    {
      name: 'pipeline-below-surfaces',
      severity: 'error',
      comment: 'The pipeline knows nothing of HTTP routes or pages.',
      from: { path: '^src/pipeline/' },
      to: { path: SURFACES },
    },
    {
      name: 'concerns-below-pipeline',
      severity: 'error',
      comment: 'Concerns are called by the pipeline, never the reverse.',
      from: { path: CONCERNS, pathNot: PORT_IMPLEMENTATIONS },
      to: { path: '^src/(pipeline|transport)/' },
    },
    {
      name: 'ports-are-types',
      severity: 'error',
      comment: 'The approval gate and the tool pins implement pipeline ports: they may import the port types, nothing that runs.',
      from: { path: PORT_IMPLEMENTATIONS },
      to: { path: '^src/(pipeline|transport)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'concerns-below-surfaces',
      severity: 'error',
      comment: 'Concerns do not reach into surfaces. Exception: the approvals pages use the shared web module.',
      from: { path: CONCERNS, pathNot: '^src/approvals/(routes|ui|html|index)\\.ts$' },
      to: { path: SURFACES },
    },
    {
      name: 'masking-reads-upstreams-through-its-port',
      severity: 'error',
      comment: 'Upstream result shapes reach masking through its UpstreamShapes port (masking/upstream-shapes.ts), filled by src/upstreams/result-shapes.ts and wired by the entry.',
      from: { path: '^src/masking/' },
      to: { path: '^src/upstreams/' },
    },
    {
      name: 'sinks-wired-by-entry',
      severity: 'error',
      comment: 'Sinks implement audit/sink.ts; only the composition root picks one.',
      from: { path: '^src/', pathNot: '^src/(server|cli|sinks)/' },
      to: { path: '^src/sinks/' },
    },
    {
      name: 'sinks-are-adapters',
      severity: 'error',
      comment: 'A sink persists audit records: it reads audit record format, GCP clients and base modules only.',
      from: { path: '^src/sinks/' },
      to: { path: '^src/', pathNot: '^src/(sinks|audit|gcp|ops|config|common)/' },
    },
    {
      name: 'audit-store-port-only',
      severity: 'error',
      comment:
        'Readers of the audit (approvals, console, report …) take the AuditStore port (audit/store.ts); the audit module owns the JSONL store, gcp implements the BigQuery one, and only the entry layer picks one.',
      from: { path: '^src/', pathNot: '^src/(server|cli|audit|gcp)/' },
      to: { path: '^src/(audit/store-jsonl|gcp/audit-store)\\.ts$' },
    },
    {
      name: 'base-is-leaf',
      severity: 'error',
      comment: 'ops, config and common are used by everyone and use no one.',
      from: { path: '^src/(ops|config|common)/' },
      to: { path: '^src/', pathNot: '^src/(ops|config|common)/' },
    },
    { name: 'no-test-code-in-src', severity: 'error', from: { path: '^src/' }, to: { path: '^(test|bench)/' } },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment: 'Run-time code may not import a devDependency (it is absent from the image). The demo (src/demo, loaded only by `bqwarden demo` from a checkout) may.',
      from: { path: '^src/', pathNot: '^src/demo/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    // node_modules is not followed but stays in the graph, so rules about packages can see it.
    exclude: { path: '^dist/' },
  },
};
