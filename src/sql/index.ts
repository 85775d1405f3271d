// Public surface of the SQL analysis module.
export { analyze, tablesOf, analyzeWithProvider, redactLiterals, fingerprint, createStaticCatalog, loadStaticCatalog, analyzeCached, createAnalysisCache } from './analyze.js';
export { sqlConfigSchema, type SqlConfig } from './config.js';
export type { AnalysisCache } from './cache.js';
