// Public surface of the SQL analysis module.
export { analyze, tablesOf, analyzeWithProvider, redactLiterals, fingerprint, createStaticCatalog, loadStaticCatalog, createUpstreamToolCatalogProvider, analyzeCached, createAnalysisCache } from './analyze.js';
export { sqlConfigSchema, type SqlConfig } from './config.js';
export type { CallTool, UpstreamCatalogOptions } from './upstream-catalog.js';
export type { AnalysisCache } from './cache.js';
