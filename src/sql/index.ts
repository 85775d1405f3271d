// Public surface of the SQL analysis module.
export { analyze, tablesOf, analyzeAgainstCatalog } from './analyze.js';
export { redactLiterals } from './fingerprint.js';
export { createStaticCatalog, loadStaticCatalog } from './catalog.js';
export { analyzeCached } from './cache.js';
