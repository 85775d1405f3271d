// Public surface of the SQL analysis module.
export { analyze, tablesOf, analyzeWithProvider } from './analyze.js';
export { redactLiterals, fingerprint } from './fingerprint.js';
export { createStaticCatalog, loadStaticCatalog } from './catalog.js';
export { analyzeCached, createAnalysisCache } from './cache.js';
export { sqlConfigSchema, type SqlConfig } from './config.js';
export type { AnalysisCache } from './cache.js';
